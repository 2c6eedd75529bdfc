//! Replay: recordings played back in real time as if a window's microphone were hearing them.
//!
//! For demos and load tests without audio hardware (`courtesy live --replay DIR`). A window plays
//! its files one after another as one continuous stream; each frame is handed over only when its
//! last sample would have been captured, so everything downstream sees live timing.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::audio::{AudioError, AudioFrame, WavSource, SAMPLE_RATE};

/// Frame length for live sources: 0.1 s keeps end-pointing latency low.
pub const LIVE_FRAME_SAMPLES: usize = SAMPLE_RATE as usize / 10;

/// The windows found in a replay folder: `(window id, files in play order)`.
///
/// Each WAV file directly in `dir` is one window (named by its file stem); each subfolder is one
/// window (named by the folder) playing its WAV files in name order.
pub fn replay_windows(dir: &Path) -> Result<Vec<(String, Vec<PathBuf>)>, String> {
    let list = |d: &Path| -> Result<Vec<PathBuf>, String> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(d)
            .map_err(|e| {
                format!(
                    "{}: cannot list it ({e}) — check the --replay folder",
                    d.display()
                )
            })?
            .flatten()
            .map(|e| e.path())
            .collect();
        v.sort();
        Ok(v)
    };
    let is_wav =
        |p: &Path| p.is_file() && p.extension().is_some_and(|e| e.eq_ignore_ascii_case("wav"));
    let mut windows: Vec<(String, Vec<PathBuf>)> = Vec::new();
    // Where each window's name came from, for messages.
    let mut named_by: Vec<PathBuf> = Vec::new();
    for p in list(dir)? {
        // A folder is named by its whole name, a file by its name without `.wav`.
        let name = if p.is_dir() {
            p.file_name()
        } else {
            p.file_stem()
        }
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
        let files = if p.is_dir() {
            list(&p)?.into_iter().filter(|f| is_wav(f)).collect()
        } else if is_wav(&p) {
            vec![p.clone()]
        } else {
            Vec::new()
        };
        if files.is_empty() {
            continue;
        }
        // The name becomes a window id, in events and in clip paths: it must be a safe one.
        crate::window_id::check(&name).map_err(|why| {
            format!(
                "{}: cannot be the window {name:?} ({why}) — rename it",
                p.display()
            )
        })?;
        if let Some(k) = windows.iter().position(|(n, _)| *n == name) {
            return Err(format!(
                "{} and {}: both would be the window {name:?} — rename one of them",
                named_by[k].display(),
                p.display()
            ));
        }
        windows.push((name, files));
        named_by.push(p);
    }
    if windows.is_empty() {
        return Err(format!(
            "{}: no WAV files or folders of them to replay — give a folder with one WAV (or one folder of WAVs) per window",
            dir.display()
        ));
    }
    Ok(windows)
}

/// Slowest and fastest replay speeds (× real time).
pub const SPEEDS: std::ops::RangeInclusive<f64> = 0.01..=100.0;

/// Checks a replay speed (`--speed`): finite, from 0.01 to 100 × real time. Returns it.
pub fn check_speed(speed: f64) -> Result<f64, String> {
    if speed.is_finite() && SPEEDS.contains(&speed) {
        Ok(speed)
    } else {
        Err(format!(
            "--speed {speed}: give a number from {} to {} (1 = real time, 2 = twice as fast)",
            SPEEDS.start(),
            SPEEDS.end()
        ))
    }
}

/// One window's files as one real-time stream of [`AudioFrame`]s (stream time continues across
/// files). A file that cannot be read is reported as an `Err` item and skipped. With
/// [`Replay::looping`] the files play again and again (soak tests), as long as a pass yields audio.
pub struct Replay {
    all: Vec<PathBuf>,
    files: std::vec::IntoIter<PathBuf>,
    looping: bool,
    /// Whether the current pass over the files has yielded a frame yet.
    heard: bool,
    /// The file playing (or the last one tried), for naming it in a failure.
    file: Option<PathBuf>,
    current: Option<WavSource>,
    /// Stream seconds at the start of the current file.
    offset: f64,
    /// Stream seconds played so far.
    played: f64,
    origin: Instant,
    speed: f64,
}

impl Replay {
    /// Plays `files` in order, starting now, at `speed` × real time (1.0 for live timing). A
    /// speed outside [`SPEEDS`] (see [`check_speed`]) is brought into it: a frame due in 1e300 s
    /// must not panic the thread.
    pub fn new(files: Vec<PathBuf>, origin: Instant, speed: f64) -> Replay {
        Replay {
            all: files.clone(),
            files: files.into_iter(),
            looping: false,
            heard: false,
            file: None,
            current: None,
            offset: 0.0,
            played: 0.0,
            origin,
            speed: if speed.is_nan() || speed <= 0.0 {
                1.0
            } else {
                speed.clamp(*SPEEDS.start(), *SPEEDS.end())
            },
        }
    }
}

impl Replay {
    /// Plays the files again from the first when the last ends, until the caller stops asking
    /// (stream time goes on growing). A pass in which no file yielded audio ends the replay, so
    /// a window of broken files cannot spin.
    pub fn looping(mut self, on: bool) -> Replay {
        self.looping = on;
        self
    }

    /// The file playing, or the last one tried: the one an `Err` item is about.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }
}

impl Iterator for Replay {
    type Item = Result<AudioFrame, AudioError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.current.is_none() {
                let file = match self.files.next() {
                    Some(f) => f,
                    None if self.looping && self.heard => {
                        self.heard = false;
                        self.files = self.all.clone().into_iter();
                        continue;
                    }
                    None => return None,
                };
                self.offset = self.played;
                self.file = Some(file.clone());
                match WavSource::open(&file) {
                    Ok(s) => self.current = Some(s.with_frame_samples(LIVE_FRAME_SAMPLES)),
                    Err(e) => return Some(Err(e)),
                }
            }
            let source = self.current.as_mut().expect("opened above");
            match source.next() {
                None => self.current = None,
                Some(Err(e)) => {
                    self.current = None;
                    return Some(Err(e));
                }
                Some(Ok(mut frame)) => {
                    self.heard = true;
                    frame.start += self.offset;
                    self.played = frame.end();
                    // Hand the frame over when its last sample would have been heard.
                    let due = self.origin + Duration::from_secs_f64(frame.end() / self.speed);
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                    return Some(Ok(frame));
                }
            }
        }
    }
}

impl crate::audio::AudioSource for Replay {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_and_files_become_windows() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/windows");
        let w = replay_windows(&root).unwrap();
        let names: Vec<&str> = w.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["w01-polite", "w02-rude", "w03-mixed", "w04-traps"]);
        assert!(w.iter().all(|(_, f)| !f.is_empty()));
        let e = replay_windows(&root.join("w01-polite").join("nothing")).unwrap_err();
        assert!(e.contains("--replay"), "{e}");
    }

    fn silent_wav(p: &Path, samples: usize) {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(p, spec).unwrap();
        for _ in 0..samples {
            w.write_sample(0i16).unwrap();
        }
        w.finalize().unwrap();
    }

    /// Issue 11, defect 6: a file named `...wav` became the window `..`; two recordings that
    /// name the same window were two windows with one id.
    #[test]
    fn issue_11_replayed_names_are_safe_and_unique_window_ids() {
        for bad in ["...wav", "..%2f...wav", ".hidden.wav", "a b.wav"] {
            let dir = tempfile::tempdir().unwrap();
            silent_wav(&dir.path().join(bad), 160);
            let e = replay_windows(dir.path()).expect_err(bad);
            assert!(e.contains(bad) && e.contains("rename"), "{bad}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
        let dir = tempfile::tempdir().unwrap();
        silent_wav(&dir.path().join("w07.wav"), 160);
        std::fs::create_dir(dir.path().join("w07")).unwrap();
        silent_wav(&dir.path().join("w07").join("a.wav"), 160);
        let e = replay_windows(dir.path()).unwrap_err();
        assert!(
            e.contains("w07.wav") && e.contains("w07 ") || e.contains("both"),
            "{e}"
        );
        let dir = tempfile::tempdir().unwrap();
        silent_wav(&dir.path().join("七号窗口.wav"), 160);
        assert_eq!(replay_windows(dir.path()).unwrap()[0].0, "七号窗口");
    }

    /// Issue 11, defect 1: `--speed 1e-300` panicked the replay thread (a frame due in 1e300 s).
    #[test]
    fn issue_11_an_absurd_speed_never_panics() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        silent_wav(&p, 160);
        for speed in [1e-300, f64::NAN, f64::INFINITY, -1.0, 0.0, 1e300] {
            let t0 = Instant::now();
            let frames = Replay::new(vec![p.clone()], t0, speed).count();
            assert_eq!(frames, 1, "{speed}");
            assert!(t0.elapsed() < Duration::from_secs(2), "{speed}");
        }
    }

    #[test]
    fn a_loop_plays_again_with_continuous_time_and_ends_on_broken_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.wav");
        silent_wav(&p, 1_600);
        let bad = dir.path().join("bad.wav");
        std::fs::write(&bad, b"not a wav").unwrap();
        let t0 = Instant::now();
        let items: Vec<_> = Replay::new(vec![p.clone(), bad.clone()], t0, 100.0)
            .looping(true)
            .take(25)
            .collect();
        let frames: Vec<&AudioFrame> = items.iter().filter_map(|i| i.as_ref().ok()).collect();
        // 0.1 s per pass and one failure per pass: 25 items are past the fifth pass.
        assert!(frames.len() >= 10, "{}", frames.len());
        for pair in frames.windows(2) {
            assert!((pair[1].start - pair[0].end()).abs() < 1e-9);
        }
        // Nothing but broken files: one pass, then the end.
        let n = Replay::new(vec![bad.clone(), bad], t0, 100.0)
            .looping(true)
            .count();
        assert_eq!(n, 2);
    }

    #[test]
    fn plays_in_real_time_with_continuous_stream_time() {
        let dir = tempfile::tempdir().unwrap();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut files = Vec::new();
        for name in ["a.wav", "b.wav"] {
            let p = dir.path().join(name);
            let mut w = hound::WavWriter::create(&p, spec).unwrap();
            for _ in 0..4_000 {
                w.write_sample(0i16).unwrap();
            }
            w.finalize().unwrap();
            files.push(p);
        }
        let t0 = Instant::now();
        let frames: Vec<AudioFrame> = Replay::new(files, t0, 1.0).map(|f| f.unwrap()).collect();
        let elapsed = t0.elapsed().as_secs_f64();
        assert!((0.49..0.8).contains(&elapsed), "{elapsed}");
        for pair in frames.windows(2) {
            assert!((pair[1].start - pair[0].end()).abs() < 1e-9);
        }
        assert!((frames.last().unwrap().end() - 0.5).abs() < 1e-9);
    }
}
