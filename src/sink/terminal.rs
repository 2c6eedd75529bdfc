//! The terminal sink: one readable line per live event, for a supervisor watching a console.

use std::io::{self, Write};

use super::event::{Alert, Event};
use super::EventSink;
use crate::matcher::Method;
use crate::message::one_line;

/// Characters of transcript shown either side of the matched words in an alert line.
const CONTEXT_CHARS: usize = 16;

/// Writes one line per event to any writer (normally stderr).
///
/// Alerts, windows going offline or online, dropped speech, overruns and the run's summary are
/// always written; utterances and score changes only when [`Terminal::verbose`] is set. Every line
/// is flushed at once: the writer may be a pipe someone is watching.
///
/// # Example
/// ```
/// use courtesy::sink::Terminal;
/// let sink = Terminal::new(Box::new(std::io::stderr())).verbose(true);
/// # let _ = sink;
/// ```
pub struct Terminal {
    out: Box<dyn Write + Send>,
    verbose: bool,
}

impl Terminal {
    /// A terminal sink writing to `out`; quiet (alerts and status only).
    pub fn new(out: Box<dyn Write + Send>) -> Terminal {
        Terminal {
            out,
            verbose: false,
        }
    }

    /// A quiet terminal sink on stderr.
    pub fn stderr() -> Terminal {
        Terminal::new(Box::new(io::stderr()))
    }

    /// Also writes every utterance and every score change.
    pub fn verbose(mut self, verbose: bool) -> Terminal {
        self.verbose = verbose;
        self
    }

    /// The line written for `event` (without the newline), or `None` when this sink skips it.
    pub fn line(&self, event: &Event) -> Option<String> {
        let line = match event {
            Event::Alert(a) => alert_line(a),
            Event::Window(w) => format!(
                "{}  {}  {} {}",
                clock(&w.time),
                w.label,
                if w.online {
                    "✔ online:"
                } else {
                    "✖ OFFLINE:"
                },
                w.detail
            ),
            Event::Dropped(d) => format!(
                "{}  {}  dropped {:.1} s of speech untranscribed: {}",
                clock(&d.time),
                d.window,
                d.seconds,
                d.reason
            ),
            Event::Failure(f) => format!("{}  {}  failed: {}", clock(&f.time), f.window, f.error),
            Event::Shutdown(d) => {
                let mut line = format!(
                    "{}  stopped after a {:.1} s drain (at most {:.0} s): {} utterance(s), {:.1} s of speech not transcribed",
                    clock(&d.time),
                    d.drained_seconds,
                    d.drain_seconds,
                    d.utterances,
                    d.seconds
                );
                let per: Vec<String> = d
                    .windows
                    .iter()
                    .map(|w| format!("{} {} ({:.1} s)", w.window, w.utterances, w.seconds))
                    .collect();
                if !per.is_empty() {
                    line += &format!(": {}", per.join(", "));
                }
                line
            }
            Event::Capacity(c) => format!(
                "{}  this box{}: one utterance takes {:.2} s of Whisper{} ({} call(s) at once); it serves about {} window(s) at p95 ≤ {:.1} s (speech {:.0} % of the time, {:.1} s utterances){}",
                clock(&c.time),
                if c.basis == "measured" {
                    ", measured on the windows' own speech over the last 10 minutes"
                } else {
                    ""
                },
                c.call_seconds,
                if c.work_seconds > c.call_seconds + 0.005 {
                    format!(", {:.2} s with second hearings", c.work_seconds)
                } else {
                    String::new()
                },
                c.calls,
                c.windows_supported,
                c.latency_target,
                100.0 * c.speech_share,
                c.utterance_seconds,
                if c.windows > c.windows_supported {
                    format!(" — {} configured: expect late alerts, then dropped speech; fewer windows per box or a faster machine", c.windows)
                } else {
                    format!("; {} configured", c.windows)
                }
            ),
            Event::Load(l) => format!(
                "{}  load {}: {:.1} s of speech waiting for Whisper{}",
                clock(&l.time),
                l.level,
                l.backlog_seconds,
                if l.level == "behind" {
                    " — alerts are late; windows that fall further behind drop their oldest speech"
                } else {
                    ""
                }
            ),
            Event::Overrun(o) => format!(
                "{}  {} ({})  overrun: lost {} frames of audio ({} since start)",
                clock(&o.time),
                o.device,
                o.windows.join(", "),
                o.frames,
                o.total
            ),
            Event::Summary(s) => {
                let mut line = format!(
                    "{}  summary: {} window(s), {:.0} s of audio, {} utterance(s), {} alert(s), \
                     {} overrun frame(s), {} dropped utterance(s)",
                    clock(&s.time),
                    s.windows,
                    s.audio_seconds,
                    s.utterances,
                    s.alerts,
                    s.overrun_frames,
                    s.dropped_utterances
                );
                if s.failures > 0 {
                    line += &format!(", {} failure(s)", s.failures);
                }
                if let (Some(p50), Some(p95)) = (s.latency_p50, s.latency_p95) {
                    line += &format!(", latency p50 {p50:.1} s, p95 {p95:.1} s");
                }
                line
            }
            Event::Utterance(u) if self.verbose => {
                let hits: Vec<&str> = u.hits.iter().map(|h| h.phrase.as_str()).collect();
                let mut line = format!(
                    "{}  {}  #{} {} 「{}」 ({:.1} s after speech)",
                    clock(&u.time),
                    u.window,
                    u.seq,
                    u.speaker.role.label(),
                    u.text,
                    u.latency
                );
                if !hits.is_empty() {
                    line += &format!(" hits: {}", hits.join(", "));
                }
                line
            }
            Event::Score(s) if self.verbose => format!(
                "{}  {}  score {} ({} utterance(s), {} civil, {} banned)",
                clock(&s.time),
                s.label,
                s.score.map_or("—".to_string(), |v| format!("{v:.1}")),
                s.utterances,
                s.civil_hits,
                s.banned_hits
            ),
            Event::Utterance(_) | Event::Score(_) => return None,
        };
        Some(one_line(&line))
    }
}

impl EventSink for Terminal {
    fn name(&self) -> &str {
        "terminal"
    }

    fn send(&mut self, event: &Event) -> io::Result<()> {
        if let Some(line) = self.line(event) {
            writeln!(self.out, "{line}")?;
            self.out.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

fn alert_line(a: &Alert) -> String {
    let how = match a.method {
        Method::Exact => "",
        Method::Gapped => ", words apart",
        Method::Sound => ", sounds like",
    };
    let mut line = format!(
        "{}  {}  ⚠ {} ({}, severity {}, {:.2}{})  「{}」",
        clock(&a.time),
        a.label,
        a.phrase,
        a.category,
        a.severity,
        a.confidence,
        how,
        super::report::context_within(&a.text, &(a.span[0]..a.span[1]), CONTEXT_CHARS)
    );
    if let Some(clip) = &a.clip {
        line += &format!(" clip: {}", clip.display());
    }
    line
}

/// `HH:MM:SS` of an RFC 3339 time; the text as given when it does not parse.
fn clock(time: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(time)
        .map(|t| t.format("%H:%M:%S").to_string())
        .unwrap_or_else(|_| time.to_string())
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::sink::event::*;

    fn alert() -> Alert {
        let text = "你这个事情我办不了，有意件找领导去吧";
        let matched = "有意件找领导去";
        let start = text.find(matched).unwrap();
        Alert {
            id: "w07-12-0".into(),
            window: "w07".into(),
            label: "7号窗口".into(),
            time: "2026-11-27T11:48:03.120+08:00".into(),
            phrase: "有意见找领导去".into(),
            category: "推诿".into(),
            severity: 3,
            clause: "文明服务用语规范 三、禁忌用语".into(),
            confidence: 0.93,
            method: Method::Sound,
            text: text.into(),
            matched: matched.into(),
            span: [start, start + matched.len()],
            char_span: [10, 17],
            clip: Some(PathBuf::from("w07/20261127-114803-12.wav")),
            latency: 1.4,
        }
    }

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_alert_line_names_the_window_the_phrase_and_marks_the_match() {
        let out = Shared::default();
        let mut t = Terminal::new(Box::new(out.clone()));
        t.send(&Event::Alert(alert())).unwrap();
        let written = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        assert_eq!(written.lines().count(), 1, "{written}");
        assert!(written.ends_with('\n'));
        for part in [
            "11:48:03",
            "7号窗口",
            "⚠ 有意见找领导去",
            "推诿",
            "severity 3",
            "0.93",
            "【有意件找领导去】",
            "clip: w07/20261127-114803-12.wav",
        ] {
            assert!(written.contains(part), "{part:?} not in {written:?}");
        }
        assert!(
            written.contains("我办不了，【有意件找领导去】吧"),
            "{written}"
        );
    }

    #[test]
    fn long_transcripts_are_cut_around_the_match() {
        let text = format!("{}不知道{}", "啊".repeat(40), "哦".repeat(40));
        let mut a = alert();
        let start = 40 * 3;
        a.span = [start, start + "不知道".len()];
        a.text = text;
        let line = alert_line(&a);
        let ctx = CONTEXT_CHARS;
        let shown = format!("…{}【不知道】{}…", "啊".repeat(ctx), "哦".repeat(ctx));
        assert!(line.contains(&shown), "{line}");
        // A span that does not fit the text (a bad event) shows its start, no panic.
        a.span = [1, 9];
        assert!(!alert_line(&a).contains('【'));
    }

    #[test]
    fn status_events_are_one_line_each() {
        let t = Terminal::new(Box::new(io::sink()));
        let time = "2026-11-27T09:00:01.000+08:00".to_string();
        let offline = t
            .line(&Event::Window(WindowStatus {
                window: "w07".into(),
                label: "7号窗口".into(),
                time: time.clone(),
                online: false,
                detail: "device hw:2 gone\nunplugged?".into(),
            }))
            .unwrap();
        assert!(offline.contains("7号窗口") && offline.contains("OFFLINE"));
        assert!(!offline.contains('\n'), "{offline}");
        let dropped = t
            .line(&Event::Dropped(Dropped {
                window: "w07".into(),
                time: time.clone(),
                seconds: 2.5,
                reason: "backlog".into(),
            }))
            .unwrap();
        assert!(dropped.contains("dropped 2.5 s") && dropped.contains("w07"));
        let overrun = t
            .line(&Event::Overrun(Overrun {
                device: "hw:1".into(),
                windows: vec!["w07".into(), "w08".into()],
                time: time.clone(),
                frames: 1600,
                total: 3200,
                xruns: 0,
            }))
            .unwrap();
        assert!(overrun.contains("1600") && overrun.contains("w07, w08"));
        let summary = t
            .line(&Event::Summary(Summary {
                time,
                alerts: 3,
                ..Summary::default()
            }))
            .unwrap();
        assert!(summary.contains("3 alert(s)"), "{summary}");
    }

    #[test]
    fn utterances_and_scores_only_when_verbose() {
        let u = Event::Utterance(HeardUtterance {
            window: "w07".into(),
            seq: 12,
            time: "2026-11-27T11:48:01.000+08:00".into(),
            start: 10.0,
            end: 12.0,
            text: "您好，请坐".into(),
            speaker: crate::speaker::Speaker::UNKNOWN,
            hits: vec![],
            clip: None,
            latency: 1.1,
        });
        let s = Event::Score(ScoreUpdate {
            window: "w07".into(),
            label: "7号窗口".into(),
            time: "2026-11-27T11:48:01.000+08:00".into(),
            score: Some(87.5),
            utterances: 12,
            civil_hits: 3,
            banned_hits: 1,
        });
        let quiet = Terminal::new(Box::new(io::sink()));
        assert_eq!(quiet.line(&u), None);
        assert_eq!(quiet.line(&s), None);
        let loud = Terminal::new(Box::new(io::sink())).verbose(true);
        assert!(loud.line(&u).unwrap().contains("您好，请坐"));
        assert!(loud.line(&s).unwrap().contains("score 87.5"));
    }

    #[test]
    fn a_time_that_does_not_parse_is_shown_as_given() {
        assert_eq!(clock("yesterday"), "yesterday");
        assert_eq!(clock("2026-11-27T11:48:03.120+08:00"), "11:48:03");
    }
}
