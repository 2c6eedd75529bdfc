//! The JSON lines sink: one event per line, for other tools on stdout and for the alert log.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::event::Event;
use super::EventSink;

/// Which events a [`JsonLines`] sink writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Keep {
    /// Every event, utterances and score changes included (stdout for other tools).
    #[default]
    All,
    /// What an alert log is for: alerts, windows going offline or online, dropped speech,
    /// overruns and the run's summary. Not every utterance nor every score change, which would
    /// bury the alerts and grow the file all day.
    Log,
}

impl Keep {
    /// Whether `event` is written under this choice.
    pub fn keeps(self, event: &Event) -> bool {
        match self {
            Keep::All => true,
            Keep::Log => !matches!(event, Event::Utterance(_) | Event::Score(_)),
        }
    }
}

/// Writes each event as one JSON object on one line (`serde_json` of [`Event`], then `\n`) and
/// flushes after every line, so whoever tails the output sees an event as soon as it happens.
///
/// Each line goes to the writer in a single `write_all`, so with a file opened for appending two
/// processes never interleave within a line.
pub struct JsonLines {
    out: Box<dyn Write + Send>,
    keep: Keep,
    name: String,
    /// The file, for error messages.
    path: Option<PathBuf>,
    line: Vec<u8>,
}

impl JsonLines {
    /// Every event to `out` (e.g. `Box::new(std::io::stdout())`).
    pub fn new(out: Box<dyn Write + Send>) -> JsonLines {
        JsonLines {
            out,
            keep: Keep::All,
            name: "JSON lines".to_string(),
            path: None,
            line: Vec::new(),
        }
    }

    /// The alert log at `path`: appended to (never truncated), its folder created if missing,
    /// and keeping only [`Keep::Log`] events (change it with [`JsonLines::keep`]).
    pub fn append(path: &Path) -> io::Result<JsonLines> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot create the alert log's folder {}: {e}; create it or choose another log path",
                        dir.display()
                    ),
                )
            })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot open the alert log {} for appending: {e}; check its permissions or choose another log path",
                        path.display()
                    ),
                )
            })?;
        Ok(JsonLines {
            out: Box::new(file),
            keep: Keep::Log,
            name: "alert log".to_string(),
            path: Some(path.to_path_buf()),
            line: Vec::new(),
        })
    }

    /// Chooses which events are written.
    pub fn keep(mut self, keep: Keep) -> JsonLines {
        self.keep = keep;
        self
    }

    fn with_path(&self, e: io::Error) -> io::Error {
        match &self.path {
            Some(p) => io::Error::new(
                e.kind(),
                format!(
                    "cannot write the alert log {}: {e}; check the disk has room",
                    p.display()
                ),
            ),
            None => e,
        }
    }
}

impl EventSink for JsonLines {
    fn name(&self) -> &str {
        &self.name
    }

    fn send(&mut self, event: &Event) -> io::Result<()> {
        if !self.keep.keeps(event) {
            return Ok(());
        }
        self.line.clear();
        serde_json::to_writer(&mut self.line, event)?;
        self.line.push(b'\n');
        let written = self
            .out
            .write_all(&self.line)
            .and_then(|()| self.out.flush());
        written.map_err(|e| self.with_path(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        let flushed = self.out.flush();
        flushed.map_err(|e| self.with_path(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::Method;
    use crate::sink::event::*;

    fn events() -> Vec<Event> {
        let time = "2026-11-27T11:48:03.120+08:00".to_string();
        vec![
            Event::Alert(Alert {
                id: "w07-3-0".into(),
                window: "w07".into(),
                label: "7号窗口".into(),
                time: time.clone(),
                phrase: "不知道".into(),
                category: "推诿".into(),
                severity: 2,
                clause: "文明服务用语规范 三、禁忌用语".into(),
                confidence: 1.0,
                method: Method::Exact,
                text: "这个我不知道\n".into(),
                matched: "不知道".into(),
                span: [6, 15],
                char_span: [2, 5],
                clip: None,
                latency: 0.8,
            }),
            Event::Utterance(HeardUtterance {
                window: "w07".into(),
                seq: 3,
                time: time.clone(),
                start: 1.0,
                end: 2.0,
                text: "这个我不知道".into(),
                speaker: crate::speaker::Speaker::UNKNOWN,
                hits: vec![],
                clip: None,
                latency: 0.5,
            }),
            Event::Score(ScoreUpdate {
                window: "w07".into(),
                label: "7号窗口".into(),
                time: time.clone(),
                score: None,
                utterances: 1,
                civil_hits: 0,
                banned_hits: 1,
            }),
            Event::Window(WindowStatus {
                window: "w07".into(),
                label: "7号窗口".into(),
                time: time.clone(),
                online: false,
                detail: "device gone".into(),
            }),
            Event::Overrun(Overrun {
                device: "hw:1".into(),
                windows: vec!["w07".into()],
                time: time.clone(),
                frames: 10,
                total: 10,
                xruns: 0,
            }),
            Event::Dropped(Dropped {
                window: "w07".into(),
                time: time.clone(),
                seconds: 1.5,
                reason: "backlog".into(),
            }),
            Event::Summary(Summary {
                time,
                ..Summary::default()
            }),
        ]
    }

    #[test]
    fn every_line_reads_back_as_the_event() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.jsonl");
        let file = std::fs::File::create(&path).unwrap();
        let mut sink = JsonLines::new(Box::new(file));
        for e in events() {
            sink.send(&e).unwrap();
        }
        // No flush() call: every send must have reached the file already.
        let text = std::fs::read_to_string(&path).unwrap();
        let back: Vec<Event> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(back, events());
    }

    #[test]
    fn the_log_appends_keeps_status_and_skips_chatter() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/nested/alerts.jsonl");
        for _ in 0..2 {
            let mut log = JsonLines::append(&path).unwrap();
            assert_eq!(log.name(), "alert log");
            for e in events() {
                log.send(&e).unwrap();
            }
            log.flush().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let types: Vec<String> = text
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["type"].as_str().unwrap().to_string()
            })
            .collect();
        let once = ["alert", "window", "overrun", "dropped", "summary"];
        let twice: Vec<&str> = once.iter().chain(once.iter()).copied().collect();
        assert_eq!(
            types, twice,
            "second run appends, utterances and scores skipped"
        );
    }

    #[test]
    fn keep_all_on_the_log_writes_everything() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("all.jsonl");
        let mut log = JsonLines::append(&path).unwrap().keep(Keep::All);
        for e in events() {
            log.send(&e).unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), events().len());
    }

    #[test]
    fn an_unopenable_log_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        // A file where the folder should be.
        let blocker = dir.path().join("blocker");
        std::fs::write(&blocker, "").unwrap();
        let path = blocker.join("alerts.jsonl");
        let err = JsonLines::append(&path).err().expect("must fail");
        let msg = err.to_string();
        assert!(msg.contains(&*blocker.to_string_lossy()), "{msg}");
        assert!(!msg.contains('\n'), "{msg}");
    }
}
