//! Live events: what `courtesy live` tells supervisors and other tools, one typed value per happening.
//!
//! Every event serializes to one JSON object with a `"type"` field (`alert`, `utterance`, `score`,
//! `window`, `overrun`, `dropped`, `failure`, `shutdown`, `capacity`, `load`, `summary`). The same value goes to every live sink: the terminal,
//! JSON lines on stdout, the alert log, the webhook outbox and the `/alerts` page.

use std::path::PathBuf;

use crate::lexicon::Kind;
use crate::matcher::Method;

/// One live event.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    Alert(Alert),
    Utterance(HeardUtterance),
    Score(ScoreUpdate),
    Window(WindowStatus),
    Overrun(Overrun),
    Dropped(Dropped),
    Failure(Failure),
    Shutdown(Shutdown),
    Capacity(Capacity),
    Load(Load),
    Summary(Summary),
}

/// A banned phrase spoken at a window: one per hit, after debouncing.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Alert {
    /// Unique and stable (`<window>-<utterance seq>-<hit index>`, plus the run's start time):
    /// the webhook's idempotency key.
    pub id: String,
    pub window: String,
    /// The window's display name (e.g. 7号窗口); the id when none is configured.
    pub label: String,
    /// Wall-clock time the phrase was spoken (RFC 3339, local time zone).
    pub time: String,
    pub phrase: String,
    pub category: String,
    pub severity: u8,
    /// Where the regulation forbids it (`serde(default)`: alert logs written before it was added
    /// still read).
    #[serde(default)]
    pub clause: String,
    pub confidence: f32,
    pub method: Method,
    /// The whole transcript of the utterance.
    pub text: String,
    /// What the transcript says at the hit.
    pub matched: String,
    /// Byte range of `matched` in `text`.
    pub span: [usize; 2],
    /// Character range of `matched` in `text` (for pages: JavaScript indexes characters).
    pub char_span: [usize; 2],
    /// The utterance's audio, relative to the clip folder (`<window>/<file>.wav`).
    pub clip: Option<PathBuf>,
    /// Seconds from the end of the speech to this alert.
    pub latency: f64,
}

/// Every transcribed utterance (for JSON lines consumers and trainers).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HeardUtterance {
    pub window: String,
    pub seq: u64,
    /// Wall-clock start of the speech (RFC 3339).
    pub time: String,
    /// Seconds from the window's stream start.
    pub start: f64,
    pub end: f64,
    pub text: String,
    /// Who said it: `speaker` (staff, citizen, unknown) and `speaker_confidence`.
    #[serde(flatten)]
    pub speaker: crate::speaker::Speaker,
    pub hits: Vec<HitSummary>,
    pub clip: Option<PathBuf>,
    /// Seconds from the end of the speech until the transcript was ready.
    pub latency: f64,
}

/// A hit, short.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct HitSummary {
    pub kind: Kind,
    pub phrase: String,
    pub category: String,
    pub confidence: f32,
    /// Whether an alert was raised (false for civil hits and debounced repeats).
    pub alerted: bool,
}

/// A window's rolling courtesy score changed.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ScoreUpdate {
    pub window: String,
    pub label: String,
    pub time: String,
    /// 0–100 over the rolling period; `None` before anything was said.
    pub score: Option<f64>,
    pub utterances: usize,
    pub civil_hits: usize,
    pub banned_hits: usize,
}

/// A window went offline (its device failed) or came back.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WindowStatus {
    pub window: String,
    pub label: String,
    pub time: String,
    pub online: bool,
    /// Why it went offline, or what it reconnected to.
    pub detail: String,
}

/// Captured samples lost because the ring buffer was full (the reader fell behind).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Overrun {
    pub device: String,
    pub windows: Vec<String>,
    pub time: String,
    /// Frames lost since the last report.
    pub frames: u64,
    /// Frames lost since the start.
    pub total: u64,
    /// Times the device's own buffer overflowed (ALSA xruns, of unknown length).
    pub xruns: u64,
}

/// Speech that was not transcribed because the box fell too far behind (see the scheduling policy).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Dropped {
    pub window: String,
    pub time: String,
    pub seconds: f64,
    pub reason: String,
}

/// Something that could not be heard, transcribed or written: a replayed file that cannot be read
/// or breaks part-way, a Whisper call that failed, a clip that could not be written, a sink (the
/// alert log, JSON lines, the webhook's outbox, the record) that stopped taking events. Every
/// failure is an event (in the alert log and the JSON lines), not only a line on stderr, and is
/// counted in the [`Summary`].
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Failure {
    /// The window concerned; empty when the failure is not one window's (a sink failing on the
    /// summary).
    pub window: String,
    pub time: String,
    /// What failed: `replay`, `whisper`, `clip`, or the sink's name (`alert log`, `JSON lines`,
    /// `webhook`, `record …`, `terminal`). `serde(default)`: logs written before it still read.
    #[serde(default)]
    pub what: String,
    /// The file concerned, when there is one (replay).
    pub file: Option<PathBuf>,
    /// One line: what failed and what to do.
    pub error: String,
}

/// A live run was stopped (Ctrl-C or SIGINT — not the end of a replay): what its bounded
/// drain (`[live] drain_seconds`) left untranscribed, per window. Sent once, just before the
/// summary, even when nothing was left.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Shutdown {
    pub time: String,
    /// The drain's limit: queued and in-flight utterances were transcribed for at most this long.
    pub drain_seconds: f64,
    /// Seconds the drain took.
    pub drained_seconds: f64,
    /// Utterances not transcribed, over all windows.
    pub utterances: u64,
    /// Seconds of speech not transcribed, over all windows.
    pub seconds: f64,
    /// The windows with something left, in the run's window order.
    pub windows: Vec<Untranscribed>,
}

/// What the box can serve (`live::capacity`): at start one Whisper call timed with the run's
/// settings, later the run's own calls, turned into windows at the latency target.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Capacity {
    pub time: String,
    /// `timed`: the estimate at start, a call timed on the built-in clip and the `[live]`
    /// assumptions; `measured`: again during the run, on the windows' own speech and the calls'
    /// real cost over the last ten minutes (sent once the number of windows has stayed off the
    /// last one said for a minute).
    #[serde(default = "timed")]
    pub basis: String,
    /// Seconds one utterance's Whisper call took (the part of an alert's latency).
    pub call_seconds: f64,
    /// Seconds of a worker each utterance costs in all, second hearings included (what loads
    /// the queue); the same as `call_seconds` in the timed estimate.
    #[serde(default)]
    pub work_seconds: f64,
    /// Whisper calls at once.
    pub calls: usize,
    /// Windows the box can serve at `latency_target` (0: not even one).
    pub windows_supported: usize,
    /// Windows configured for this run.
    pub windows: usize,
    pub latency_target: f64,
    /// The assumptions of the estimate (`[live] speech_share`, `utterance_seconds`).
    pub speech_share: f64,
    pub utterance_seconds: f64,
}

fn timed() -> String {
    "timed".into()
}

/// The box fell behind or caught up: the degradation order in force (`live::schedule`). Sent on
/// each change, so a supervisor knows alerts are late before they arrive late.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Load {
    pub time: String,
    /// `behind` (more than `[live] busy_backlog_seconds` of speech waiting: packed calls and the
    /// shorter encoder context where configured; next, windows over `max_queue_seconds` drop
    /// their oldest utterances) or `normal` (caught up).
    pub level: String,
    /// Seconds of speech waiting for Whisper when the level changed.
    pub backlog_seconds: f64,
}

/// One window's speech that a shutdown left untranscribed.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Untranscribed {
    pub window: String,
    pub utterances: u64,
    pub seconds: f64,
}

/// The end of a live run: totals for the log.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub time: String,
    pub windows: usize,
    pub audio_seconds: f64,
    pub utterances: u64,
    pub alerts: u64,
    pub overrun_frames: u64,
    pub dropped_utterances: u64,
    /// `failure` events sent: replayed files that could not be read (or broke part-way), Whisper
    /// calls that failed, clips that could not be written (once per outage) and sinks that
    /// failed (once per outage, flushing at the end included). The run exits 1 when there were
    /// any.
    #[serde(default)]
    pub failures: u64,
    /// Seconds of speech transcribed.
    pub speech_seconds: f64,
    /// Utterances (and their seconds of speech) a shutdown's drain left untranscribed (see
    /// [`Shutdown`]); 0 when the run ended by itself.
    #[serde(default)]
    pub untranscribed_utterances: u64,
    #[serde(default)]
    pub untranscribed_seconds: f64,
    /// Seconds from the end of speech to the alert: median and 95th percentile.
    pub latency_p50: Option<f64>,
    pub latency_p95: Option<f64>,
    /// Seconds from the end of speech to the transcript, for every utterance.
    pub transcript_latency_p50: Option<f64>,
    pub transcript_latency_p95: Option<f64>,
    /// Whisper calls made.
    pub whisper_calls: u64,
    /// Calls made with the cheaper encoder context because the box was behind.
    pub busy_calls: u64,
    /// Utterances heard a second time with more context because they nearly held a banned phrase
    /// (`[live] recheck_encoder_seconds`); each is one more Whisper call.
    #[serde(default)]
    pub rechecked_utterances: u64,
}

impl Event {
    /// The window the event is about, if one.
    pub fn window(&self) -> Option<&str> {
        match self {
            Event::Alert(a) => Some(&a.window),
            Event::Utterance(u) => Some(&u.window),
            Event::Score(s) => Some(&s.window),
            Event::Window(w) => Some(&w.window),
            Event::Dropped(d) => Some(&d.window),
            Event::Failure(f) => Some(&f.window),
            Event::Overrun(_)
            | Event::Shutdown(_)
            | Event::Capacity(_)
            | Event::Load(_)
            | Event::Summary(_) => None,
        }
    }
}

/// Wall-clock now, RFC 3339 with milliseconds, local time zone.
pub fn now_rfc3339() -> String {
    rfc3339(chrono::Local::now())
}

/// A wall-clock time as the events write it.
pub fn rfc3339(t: chrono::DateTime<chrono::Local>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

/// Where live events go. A sink never blocks the caller for long: slow delivery (the webhook)
/// happens on the sink's own thread behind a durable outbox.
pub trait EventSink: Send {
    /// A short name for error messages ("webhook", "alert log").
    fn name(&self) -> &str;
    /// Takes one event. An error is reported by the caller and the other sinks go on.
    fn send(&mut self, event: &Event) -> std::io::Result<()>;
    /// Called once at shutdown: write out everything buffered (the webhook tries to deliver its
    /// outbox for a short grace period and keeps the rest on disk for the next start).
    fn flush(&mut self) -> std::io::Result<()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_carry_their_type() {
        let e = Event::Dropped(Dropped {
            window: "w07".into(),
            time: now_rfc3339(),
            seconds: 2.5,
            reason: "backlog".into(),
        });
        let json = serde_json::to_string(&e).unwrap();
        assert!(json.starts_with("{\"type\":\"dropped\""), "{json}");
        let back: Event = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
    }
}
