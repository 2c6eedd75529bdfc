//! What a batch run shows while it works: a bar on a terminal, one plain line per file otherwise.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};

/// How a run reports its progress on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, lines otherwise.
    Auto,
    /// One line per file.
    Lines,
    /// Nothing (tests, libraries).
    Quiet,
}

/// The run's progress: files, hours of audio, speed and time left.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    lines: bool,
    started: Instant,
    total_bytes: u64,
    done_bytes: u64,
    audio_seconds: f64,
    files_done: usize,
    files_total: usize,
}

impl Progress {
    /// `total_bytes` of the files to do drives the time left (file sizes are known up front;
    /// durations of compressed files are not always).
    pub(crate) fn new(mode: ProgressMode, files_total: usize, total_bytes: u64) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = (mode == ProgressMode::Auto && terminal).then(|| {
            let bar = ProgressBar::new(total_bytes.max(1));
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {msg} ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            lines: mode == ProgressMode::Lines || (mode == ProgressMode::Auto && !terminal),
            bar,
            started: Instant::now(),
            total_bytes,
            done_bytes: 0,
            audio_seconds: 0.0,
            files_done: 0,
            files_total,
        }
    }

    /// One file finished (`error`: it failed or stopped early).
    pub(crate) fn file(&mut self, path: &Path, bytes: u64, seconds: f64, error: Option<&str>) {
        self.files_done += 1;
        self.done_bytes += bytes;
        self.audio_seconds += seconds;
        let speed = self.audio_seconds / self.started.elapsed().as_secs_f64().max(1e-3);
        let msg = format!(
            "{}/{} files, {:.2} h of audio, {:.1}× real time",
            self.files_done,
            self.files_total,
            self.audio_seconds / 3600.0,
            speed
        );
        if let Some(bar) = &self.bar {
            bar.set_position(self.done_bytes.min(self.total_bytes));
            bar.set_message(msg);
            if let Some(e) = error {
                bar.println(format!("error: {e}"));
            }
        } else if self.lines {
            match error {
                None => eprintln!("done {} ({:.0} s) — {msg}", path.display(), seconds),
                Some(e) => eprintln!("error: {e}"),
            }
        }
    }

    /// A line that must be seen whatever the mode (a file taken over by another box…).
    pub(crate) fn note(&self, line: &str) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None if self.lines => eprintln!("{line}"),
            None => {}
        }
    }

    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
