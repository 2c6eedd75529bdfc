//! Live alerts into the record (`courtesy live --db`): each alert becomes a row of `alerts`,
//! written on a thread of its own so a slow or absent database never holds up the live pipeline.
//!
//! [`RecordSink::send`] only queues. The writer thread opens the record (again and again, with
//! back-off, while it cannot) and stores the queue in order; an alert is taken off the queue only
//! once it is stored, and `event_id` is unique, so a retried write never stores it twice. While the
//! record does not answer, alerts wait in memory (the oldest are dropped past
//! [`MAX_WAITING`], counted); `send` returns one error per outage, which the live run reports as a
//! `failure` event, and the writer says on stderr when the record answers again.

use std::collections::VecDeque;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::event::{Alert, Event, EventSink};
use crate::store::{NewAlert, Store};

/// Most alerts kept in memory while the record does not answer (a day of a busy centre).
pub const MAX_WAITING: usize = 10_000;
/// The first wait before trying the record again; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How long `flush` (the end of a run) waits for the queue to be stored.
const FLUSH_GRACE: Duration = Duration::from_secs(5);

/// Where the record stands, as the writer thread last found it.
#[derive(Debug, Default)]
struct State {
    waiting: VecDeque<NewAlert>,
    /// The current outage: why the last attempt failed. `None` while the record answers.
    failure: Option<String>,
    /// Whether `send` has returned the current outage as an error.
    failure_reported: bool,
    stored: u64,
    /// Alerts given up because too many waited.
    dropped: u64,
    /// No more alerts come: store what waits, then stop.
    closing: bool,
    /// Stop now, whatever waits.
    abandon: bool,
}

type Shared = super::watched::Watched<State>;

/// What became of the alerts a sink was given, for the end of a run and for tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordStats {
    pub stored: u64,
    pub waiting: u64,
    pub dropped: u64,
}

/// The sink writing alerts into the record.
#[derive(Debug)]
pub struct RecordSink {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    name: String,
}

impl RecordSink {
    /// Starts the writer for the record at `url` (a SQLite path or `postgres://…`); `host` names
    /// this box in every row. Never fails: a record that cannot be opened now is tried again.
    pub fn start(url: &str, host: &str) -> RecordSink {
        Self::start_with(url, host, FIRST_BACKOFF)
    }

    fn start_with(url: &str, host: &str, first_backoff: Duration) -> RecordSink {
        let shared = Arc::new(Shared::default());
        let name = format!("record {}", crate::store::mask_password(url));
        let thread = {
            let (shared, url, host) = (shared.clone(), url.to_string(), host.to_string());
            std::thread::Builder::new()
                .name("courtesy-record".into())
                .spawn(move || write_loop(&shared, &url, &host, first_backoff))
                .ok()
        };
        RecordSink {
            shared,
            thread,
            name,
        }
    }

    /// What became of the alerts so far.
    pub fn stats(&self) -> RecordStats {
        let s = self.shared.lock();
        RecordStats {
            stored: s.stored,
            waiting: s.waiting.len() as u64,
            dropped: s.dropped,
        }
    }

    /// Waits until nothing waits (or `timeout` passes); `true` when all is stored.
    pub fn wait_stored(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut s = self.shared.lock();
        while !s.waiting.is_empty() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            s = self
                .shared
                .changed
                .wait_timeout(s, left.min(Duration::from_millis(100)))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        true
    }

    fn stop(&mut self) {
        {
            let mut s = self.shared.lock();
            s.closing = true;
            s.abandon = true;
        }
        self.shared.changed.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for RecordSink {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The row for an alert: its day is the local day of the time it was spoken.
pub fn new_alert(a: &Alert, host: &str) -> NewAlert {
    NewAlert {
        event_id: a.id.clone(),
        window: a.window.clone(),
        label: a.label.clone(),
        day: a.time.get(..10).unwrap_or_default().to_string(),
        at: a.time.clone(),
        phrase: a.phrase.clone(),
        category: a.category.clone(),
        severity: i64::from(a.severity),
        clause: a.clause.clone(),
        text: a.text.clone(),
        matched: a.matched.clone(),
        span: [a.span[0] as i64, a.span[1] as i64],
        confidence: f64::from(a.confidence),
        method: crate::batch::record::method_name(a.method).to_string(),
        // Stored with `/` whatever the platform: the desk joins it to the clip folder itself.
        clip: a
            .clip
            .as_ref()
            .map(|c| c.to_string_lossy().replace('\\', "/")),
        host: host.to_string(),
    }
}

impl EventSink for RecordSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn send(&mut self, event: &Event) -> std::io::Result<()> {
        let mut s = self.shared.lock();
        if let Event::Alert(a) = event {
            if s.waiting.len() >= MAX_WAITING {
                s.waiting.pop_front();
                s.dropped += 1;
            }
            // The host is filled in by the writer (it knows it); the queue holds rows.
            s.waiting.push_back(new_alert(a, ""));
            self.shared.changed.notify_all();
        }
        match s.failure.clone() {
            Some(why) if !s.failure_reported => {
                s.failure_reported = true;
                Err(std::io::Error::other(format!(
                    "{why} — {} alert(s) wait in memory and are written when it answers",
                    s.waiting.len()
                )))
            }
            _ => Ok(()),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        {
            self.shared.lock().closing = true;
        }
        self.shared.changed.notify_all();
        let all = self.wait_stored(FLUSH_GRACE);
        let stats = self.stats();
        self.stop();
        let mut lost = Vec::new();
        if !all {
            lost.push(format!(
                "{} alert(s) could not be written to the record before the end",
                stats.waiting
            ));
        }
        if stats.dropped > 0 {
            lost.push(format!(
                "{} alert(s) were given up while the record did not answer (more than {MAX_WAITING} waited)",
                stats.dropped
            ));
        }
        if lost.is_empty() {
            Ok(())
        } else {
            Err(std::io::Error::other(format!(
                "{} — they are in the alert log ([live] log) if one is kept",
                lost.join("; ")
            )))
        }
    }
}

/// The writer thread: open the record, store what waits in order, back off while it fails.
fn write_loop(shared: &Shared, url: &str, host: &str, first_backoff: Duration) {
    let mut store: Option<Store> = None;
    let mut backoff = first_backoff;
    loop {
        let next = {
            let mut s = shared.lock();
            loop {
                if s.abandon || (s.closing && s.waiting.is_empty()) {
                    return;
                }
                if let Some(a) = s.waiting.front() {
                    break a.clone();
                }
                s = shared.changed.wait(s).unwrap_or_else(|e| e.into_inner());
            }
        };
        let result = match &store {
            Some(st) => Ok(st),
            None => Store::open(url).map(|st| &*store.insert(st)),
        }
        .and_then(|st| {
            st.insert_alert(&NewAlert {
                host: host.to_string(),
                ..next.clone()
            })
        });
        let mut s = shared.lock();
        match result {
            Ok(_) => {
                // The front is still `next`: only this thread takes from the front, and `send`
                // drops from it only past MAX_WAITING — then the next one is stored again, harmlessly.
                if s.waiting.front() == Some(&next) {
                    s.waiting.pop_front();
                }
                s.stored += 1;
                if s.failure.take().is_some() {
                    eprintln!(
                        "record {}: written again; {} alert(s) still to store",
                        crate::store::mask_password(url),
                        s.waiting.len()
                    );
                }
                s.failure_reported = false;
                backoff = first_backoff;
                shared.changed.notify_all();
            }
            Err(e) => {
                s.failure = Some(e.to_string());
                shared.changed.notify_all();
                // Wait before the next try, waking early only to stop.
                let until = Instant::now() + backoff;
                while !s.abandon {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    s = shared
                        .changed
                        .wait_timeout(s, left)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::Method;

    fn alert(n: usize) -> Alert {
        Alert {
            id: format!("run1-w07-{n}-0"),
            window: "w07".into(),
            label: "7号窗口".into(),
            time: "2026-11-30T10:15:00.000+08:00".into(),
            phrase: "有意见找领导去".into(),
            category: "推诿".into(),
            severity: 3,
            clause: "文明服务用语规范 三、禁忌用语".into(),
            confidence: 1.0,
            method: Method::Exact,
            text: "有意见找领导去".into(),
            matched: "有意见找领导去".into(),
            span: [0, 21],
            char_span: [0, 7],
            clip: Some("w07/20261130-101500-0003.wav".into()),
            latency: 1.2,
        }
    }

    #[test]
    fn alerts_are_stored_once_in_order_with_their_clip_relative() {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("r.db").display().to_string();
        let mut sink = RecordSink::start(&url, "box1");
        for n in 0..3 {
            sink.send(&Event::Alert(alert(n))).unwrap();
        }
        // The same alert again (a replayed event) is one row.
        sink.send(&Event::Alert(alert(1))).unwrap();
        sink.send(&Event::Summary(Default::default())).unwrap();
        sink.flush().unwrap();
        let store = Store::open(&url).unwrap();
        let rows = store.alerts_since("2026-11-30", 0, 100).unwrap();
        let ids: Vec<&str> = rows.iter().map(|r| r.alert.event_id.as_str()).collect();
        assert_eq!(ids, ["run1-w07-0-0", "run1-w07-1-0", "run1-w07-2-0"]);
        assert_eq!(
            rows[0].alert.clip.as_deref(),
            Some("w07/20261130-101500-0003.wav")
        );
        assert_eq!(rows[0].alert.host, "box1");
        assert_eq!(rows[0].alert.clause, "文明服务用语规范 三、禁忌用语");
        assert_eq!(rows[0].alert.method, "exact");
    }

    /// The record's folder is missing at the start and appears later: the first send after the
    /// failure reports it once, nothing is lost, and the alerts are stored once it can be opened.
    #[test]
    fn an_absent_record_is_reported_once_and_written_when_it_comes() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("later");
        let url = folder.join("r.db").display().to_string();
        let mut sink = RecordSink::start_with(&url, "box1", Duration::from_millis(20));
        sink.send(&Event::Alert(alert(0))).unwrap_or(());
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut errors = Vec::new();
        let mut n = 1;
        while errors.is_empty() && Instant::now() < deadline {
            if let Err(e) = sink.send(&Event::Alert(alert(n))) {
                errors.push(e.to_string());
            }
            n += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(errors.len(), 1, "the outage is reported");
        assert!(
            errors[0].contains("does not exist") && errors[0].contains("wait in memory"),
            "{}",
            errors[0]
        );
        // Still failing: no second error for the same outage.
        for _ in 0..5 {
            sink.send(&Event::Alert(alert(n))).unwrap();
            n += 1;
        }
        std::fs::create_dir(&folder).unwrap();
        assert!(
            sink.wait_stored(Duration::from_secs(10)),
            "{:?}",
            sink.stats()
        );
        sink.flush().unwrap();
        let store = Store::open(&url).unwrap();
        assert_eq!(
            store.alerts_since("2026-11-30", 0, 10_000).unwrap().len(),
            n
        );
    }
}
