//! The webhook sink: alerts POSTed to a URL from a durable on-disk outbox, never dropped.
//!
//! `send` writes each alert to its own file in the outbox folder (temp file, fsync, rename) and
//! returns; a delivery thread POSTs the files oldest first and deletes each one only after a 2xx
//! answer. Anything else (refused, timed out, 5xx, even 4xx) is retried with exponential back-off,
//! so a receiver that is down for an hour gets the hour's alerts when it comes back, and alerts
//! that were still in the outbox when the program stopped go out on its next start.
//!
//! Delivery is at least once: the receiver should deduplicate on the `Idempotency-Key` header (the
//! alert's id), because an answer lost on the way back makes the same alert go out again.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::event::Event;
use super::EventSink;

/// Outbox files end in this; anything else in the folder is not an alert to deliver.
const READY: &str = ".json";
/// An outbox file that is not an alert (bad JSON, no id) is renamed with this suffix and kept.
const BAD: &str = ".bad";
/// Held (locked) while a sink uses the outbox, so two processes never deliver the same files.
const LOCK: &str = ".lock";

/// Timing of a [`Webhook`]; the defaults suit production, tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WebhookOptions {
    /// Wait after the first failed attempt; doubled after each further failure.
    pub first_retry: Duration,
    /// The longest wait between attempts.
    pub max_retry: Duration,
    /// The most one POST may take, connecting included: a receiver that hangs cannot stall
    /// delivery (or shutdown) for longer.
    pub timeout: Duration,
    /// How long [`EventSink::flush`] waits at shutdown for the outbox to drain.
    pub grace: Duration,
}

impl Default for WebhookOptions {
    fn default() -> WebhookOptions {
        WebhookOptions {
            first_retry: Duration::from_millis(500),
            max_retry: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            grace: Duration::from_secs(5),
        }
    }
}

/// What a webhook sink has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookStats {
    /// Alerts the receiver accepted (2xx) since this sink started.
    pub delivered: u64,
    /// Alerts in the outbox waiting for delivery (including any left by an earlier run).
    pub pending: usize,
    /// Failed attempts since this sink started.
    pub retries: u64,
    /// Outbox files that were not alerts, renamed to `*.json.bad` and left for a person.
    pub quarantined: u64,
    /// Why the last attempt failed, if it did.
    pub last_error: Option<String>,
}

/// POSTs every alert to a URL, through a durable outbox. Other events are ignored.
///
/// Each request carries the alert's [`Event`] JSON (`{"type":"alert",…}`) with
/// `Content-Type: application/json` and `Idempotency-Key: <alert id>`.
///
/// # Example
/// ```no_run
/// use courtesy::sink::{Webhook, WebhookOptions};
/// let hook = Webhook::start(
///     "http://10.0.0.5:8080/alerts",
///     std::path::Path::new("/var/lib/courtesy/outbox"),
///     WebhookOptions::default(),
/// )?;
/// println!("{} alert(s) waiting", hook.stats().pending);
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Webhook {
    url: String,
    outbox: PathBuf,
    grace: Duration,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// Orders files written within one millisecond.
    seq: u64,
    /// Holds the outbox's lock until the sink (and its thread) is gone.
    _lock: File,
}

impl Webhook {
    /// Checks `url`, takes the outbox folder `outbox_dir` (created if missing) and starts the
    /// delivery thread, which first sends whatever an earlier run left in the outbox.
    ///
    /// Fails, with one line naming the URL or folder and the fix, when the URL is not an http(s)
    /// URL, the folder cannot be created or written, or another running sink holds the folder.
    pub fn start(url: &str, outbox_dir: &Path, options: WebhookOptions) -> io::Result<Webhook> {
        check_url(url)?;
        fs::create_dir_all(outbox_dir).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot create the webhook outbox {}: {e}; create it or choose another outbox folder",
                    outbox_dir.display()
                ),
            )
        })?;
        let lock = take_lock(outbox_dir)?;
        remove_stale_temps(outbox_dir);

        // The thread's first pass scans the outbox: what an earlier run left goes out first.
        let shared = Arc::new(Shared::new(State::default()));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(options.timeout))
            // A followed 301/302 turns the POST into a GET without the alert: show the 3xx
            // in `last_error` instead, for a person to fix the URL.
            .max_redirects(0)
            .build()
            .into();
        let delivery = Delivery {
            agent,
            url: url.to_string(),
            outbox: outbox_dir.to_path_buf(),
            shared: Arc::clone(&shared),
            options,
        };
        let thread = std::thread::Builder::new()
            .name("webhook".into())
            .spawn(move || delivery.run())
            .map_err(|e| {
                io::Error::new(e.kind(), format!("cannot start the webhook thread: {e}"))
            })?;
        Ok(Webhook {
            url: url.to_string(),
            outbox: outbox_dir.to_path_buf(),
            grace: options.grace,
            shared,
            thread: Some(thread),
            seq: 0,
            _lock: lock,
        })
    }

    /// The receiver's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The outbox folder.
    pub fn outbox(&self) -> &Path {
        &self.outbox
    }

    /// Counters so far, and how many alerts wait in the outbox now.
    pub fn stats(&self) -> WebhookStats {
        // Listing under the lock: the delivery thread removes and counts a file under it too.
        let s = self.shared.lock();
        WebhookStats {
            delivered: s.delivered,
            pending: ready_files(&self.outbox).map_or(0, |f| f.len()),
            retries: s.retries,
            quarantined: s.quarantined,
            last_error: s.last_error.clone(),
        }
    }

    /// Writes one alert's JSON to the outbox durably: a temp file, fsync, rename, fsync of the
    /// folder. Returns the file's path.
    fn persist(&mut self, id: &str, json: &[u8]) -> io::Result<PathBuf> {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        self.seq = (self.seq + 1) % 1_000_000;
        // Sortable by time; the id makes it findable by a person. The id comes from window names:
        // escaped into one plain name, and the path checked to stay in the outbox.
        let name = format!(
            "{millis:013}-{:06}-{}{READY}",
            self.seq,
            crate::inside::component(id)
        );
        let written = (|| {
            let path = crate::inside::join(&self.outbox, Path::new(&name))?;
            let temp = path.with_file_name(format!(".{name}.tmp"));
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)?;
            f.write_all(json)?;
            f.sync_all()?;
            fs::rename(&temp, &path)?;
            sync_dir(&self.outbox)?;
            Ok(path)
        })();
        written.map_err(|e: io::Error| {
            let _ = fs::remove_file(self.outbox.join(format!(".{name}.tmp")));
            io::Error::new(
                e.kind(),
                format!(
                    "cannot write alert {id} to the webhook outbox {}: {e}; check the disk has room and the folder is writable",
                    self.outbox.display()
                ),
            )
        })
    }

    /// Stops the delivery thread (after any POST in flight, at most one timeout) and waits for it.
    fn stop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.shared.lock().stop = true;
            self.shared.changed.notify_all();
            let _ = thread.join();
        }
    }
}

impl EventSink for Webhook {
    fn name(&self) -> &str {
        "webhook"
    }

    /// Persists an alert and wakes the delivery thread; ignores every other event. After
    /// [`EventSink::flush`] alerts are still persisted, for the next start to deliver.
    fn send(&mut self, event: &Event) -> io::Result<()> {
        let Event::Alert(alert) = event else {
            return Ok(());
        };
        let json = serde_json::to_vec(event)?;
        self.persist(&alert.id, &json)?;
        self.shared.lock().wake = true;
        self.shared.changed.notify_all();
        Ok(())
    }

    /// Waits up to the grace period for the outbox to drain (retrying at once rather than after
    /// a long back-off), then stops the delivery thread. Undelivered alerts stay on disk.
    fn flush(&mut self) -> io::Result<()> {
        if self.thread.is_none() {
            return Ok(());
        }
        self.shared.lock().hurry = true;
        self.shared.changed.notify_all();
        let deadline = Instant::now() + self.grace;
        loop {
            let pending = ready_files(&self.outbox).map_or(0, |f| f.len());
            let now = Instant::now();
            if pending == 0 || now >= deadline {
                break;
            }
            // The thread signals after each delivery; the timeout covers everything else.
            let state = self.shared.lock();
            let wait = (deadline - now).min(Duration::from_millis(50));
            drop(self.shared.changed.wait_timeout(state, wait));
        }
        self.stop();
        Ok(())
    }
}

impl Drop for Webhook {
    /// Stops the thread without a grace period; the outbox keeps what was not delivered.
    fn drop(&mut self) {
        self.stop();
    }
}

#[derive(Debug, Default)]
struct State {
    /// New alerts may be in the outbox.
    wake: bool,
    /// Shutdown: try now instead of finishing the back-off.
    hurry: bool,
    stop: bool,
    delivered: u64,
    retries: u64,
    quarantined: u64,
    last_error: Option<String>,
}

type Shared = super::watched::Watched<State>;

/// The delivery thread's side.
struct Delivery {
    agent: ureq::Agent,
    url: String,
    outbox: PathBuf,
    shared: Arc<Shared>,
    options: WebhookOptions,
}

/// What became of one attempt.
enum Outcome {
    Delivered,
    /// The file went away (another sink delivered it, or a person removed it).
    Gone,
    /// Not an alert: quarantine it rather than block the queue forever.
    Bad(String),
    Failed(String),
}

impl Delivery {
    fn run(self) {
        let mut backoff = self.options.first_retry;
        loop {
            {
                let mut s = self.shared.lock();
                if s.stop {
                    return;
                }
                s.wake = false;
            }
            let files = match ready_files(&self.outbox) {
                Ok(files) => files,
                Err(e) => {
                    self.failed(format!(
                        "cannot read the webhook outbox {}: {e}",
                        self.outbox.display()
                    ));
                    self.pause(&mut backoff);
                    continue;
                }
            };
            if files.is_empty() {
                self.idle();
                continue;
            }
            // One batch, oldest first; a failure ends it and the next scan starts again from
            // the oldest, so order holds across retries.
            for file in files {
                if self.shared.lock().stop {
                    return;
                }
                match self.post(&file) {
                    Outcome::Delivered => match self.remove_delivered(&file) {
                        Ok(()) => {
                            backoff = self.options.first_retry;
                            self.shared.changed.notify_all();
                        }
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => {
                            // It would go out again (harmless: the id is the idempotency key),
                            // but back off rather than spin.
                            self.failed(format!(
                                "delivered {} but cannot remove it: {e}",
                                file.display()
                            ));
                            self.pause(&mut backoff);
                            break;
                        }
                    },
                    Outcome::Gone => {}
                    Outcome::Bad(why) => {
                        let mut bad = file.clone().into_os_string();
                        bad.push(BAD);
                        let _ = fs::rename(&file, &bad);
                        let mut s = self.shared.lock();
                        s.quarantined += 1;
                        s.last_error = Some(format!(
                            "{} is not an alert ({why}); renamed to *{BAD}, delivery goes on",
                            file.display()
                        ));
                    }
                    Outcome::Failed(why) => {
                        self.failed(why);
                        self.pause(&mut backoff);
                        break;
                    }
                }
            }
        }
    }

    fn post(&self, file: &Path) -> Outcome {
        let body = match fs::read(file) {
            Ok(body) => body,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Outcome::Gone,
            Err(e) => return Outcome::Failed(format!("cannot read {}: {e}", file.display())),
        };
        let id = match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(v) => match v.get("id").and_then(|id| id.as_str()) {
                Some(id) => id.to_string(),
                None => return Outcome::Bad("no \"id\"".into()),
            },
            Err(e) => return Outcome::Bad(format!("bad JSON: {e}")),
        };
        let sent = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", header_safe(&id))
            .send(&body[..]);
        match sent {
            Ok(response) if response.status().is_success() => Outcome::Delivered,
            Ok(response) => Outcome::Failed(format!(
                "webhook {} answered {} for alert {id}",
                self.url,
                response.status()
            )),
            Err(e) => Outcome::Failed(format!("webhook {} failed for alert {id}: {e}", self.url)),
        }
    }

    /// Removes a delivered file and counts it in one step under the lock, so `stats` never sees
    /// it neither pending nor delivered.
    fn remove_delivered(&self, file: &Path) -> io::Result<()> {
        let mut s = self.shared.lock();
        fs::remove_file(file)?;
        s.delivered += 1;
        Ok(())
    }

    fn failed(&self, why: String) {
        let mut s = self.shared.lock();
        s.retries += 1;
        s.last_error = Some(why);
    }

    /// Waits for new alerts, shutdown's hurry, or stop.
    fn idle(&self) {
        let mut s = self.shared.lock();
        while !s.wake && !s.hurry && !s.stop {
            s = self
                .shared
                .changed
                .wait(s)
                .unwrap_or_else(|e| e.into_inner());
        }
        s.hurry = false;
    }

    /// Waits out the back-off (cut short by stop, or once by shutdown's hurry) and doubles it.
    /// New alerts do not cut it short: they would hammer a receiver that is down.
    fn pause(&self, backoff: &mut Duration) {
        let deadline = Instant::now() + *backoff;
        *backoff = (*backoff * 2).min(self.options.max_retry);
        let mut s = self.shared.lock();
        loop {
            if s.stop {
                return;
            }
            if s.hurry {
                s.hurry = false;
                *backoff = self.options.first_retry;
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            s = self
                .shared
                .changed
                .wait_timeout(s, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// The outbox's alerts, oldest first (names start with the time).
fn ready_files(outbox: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(outbox)? {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(READY) && !name.starts_with('.') {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// A temp file left by a crash mid-write was never reported as persisted: remove it.
fn remove_stale_temps(outbox: &Path) {
    let Ok(entries) = fs::read_dir(outbox) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(".tmp") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

fn take_lock(outbox: &Path) -> io::Result<File> {
    let path = outbox.join(LOCK);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!(
                    "cannot open {}: {e}; make the webhook outbox writable or choose another outbox folder",
                    path.display()
                ),
            )
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            format!(
                "the webhook outbox {} is in use by another running sink; stop it or give this one another outbox folder",
                outbox.display()
            ),
        )),
        Err(fs::TryLockError::Error(e)) => Err(io::Error::new(
            e.kind(),
            format!(
                "cannot lock {}: {e}; choose an outbox folder on a local disk",
                path.display()
            ),
        )),
    }
}

/// A rename is durable only once the folder's entry is on disk too.
fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn check_url(url: &str) -> io::Result<()> {
    let bad = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "webhook URL {url:?} {why}; give a full http:// or https:// URL such as http://10.0.0.5:8080/alerts"
            ),
        )
    };
    let uri: ureq::http::Uri = url.parse().map_err(|_| bad("does not parse"))?;
    match uri.scheme_str() {
        Some("http" | "https") => {}
        Some(other) => return Err(bad(&format!("has scheme {other:?}, not http or https"))),
        None => return Err(bad("has no scheme")),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    Ok(())
}

/// An id as an HTTP header value: visible ASCII as is, anything else (a window named 七号) as
/// `%XX` bytes, which a header cannot carry raw. `%` itself is encoded so the mapping is one-to-one.
fn header_safe(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for b in id.bytes() {
        if b.is_ascii_graphic() && b != b'%' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::Method;
    use crate::sink::event::*;

    fn alert(id: &str) -> Event {
        Event::Alert(Alert {
            id: id.into(),
            window: "w07".into(),
            label: "7号窗口".into(),
            time: "2026-11-27T11:48:03.120+08:00".into(),
            phrase: "不知道".into(),
            category: "推诿".into(),
            severity: 2,
            clause: "文明服务用语规范 三、禁忌用语".into(),
            confidence: 1.0,
            method: Method::Exact,
            text: "不知道".into(),
            matched: "不知道".into(),
            span: [0, 9],
            char_span: [0, 3],
            clip: None,
            latency: 0.5,
        })
    }

    /// A port nothing listens on (bound, then released).
    fn dead_url() -> String {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/hook", l.local_addr().unwrap())
    }

    fn quick() -> WebhookOptions {
        WebhookOptions {
            first_retry: Duration::from_millis(20),
            max_retry: Duration::from_millis(100),
            timeout: Duration::from_secs(1),
            grace: Duration::from_millis(100),
        }
    }

    #[test]
    fn bad_urls_are_refused_in_one_line_naming_the_url() {
        let dir = tempfile::tempdir().unwrap();
        for url in [
            "",
            "10.0.0.5:8080/alerts",
            "ftp://host/x",
            "http://",
            "not a url",
        ] {
            let err = Webhook::start(url, dir.path(), quick())
                .err()
                .unwrap_or_else(|| panic!("{url:?} accepted"));
            let msg = err.to_string();
            assert!(msg.contains(&format!("{url:?}")), "{msg}");
            assert!(msg.contains("http://"), "{msg}");
            assert!(!msg.contains('\n'), "{msg}");
        }
    }

    #[test]
    fn alerts_are_persisted_one_file_each_in_order_and_other_events_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut hook = Webhook::start(&dead_url(), dir.path(), quick()).unwrap();
        for i in 0..5 {
            hook.send(&alert(&format!("w07/{i}:x"))).unwrap();
        }
        hook.send(&Event::Summary(Summary::default())).unwrap();
        let files = ready_files(dir.path()).unwrap();
        assert_eq!(files.len(), 5);
        for (i, f) in files.iter().enumerate() {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            assert!(name.ends_with(&format!("-w07~2F{i}~3Ax.json")), "{name}");
            let back: Event = serde_json::from_slice(&fs::read(f).unwrap()).unwrap();
            assert_eq!(back, alert(&format!("w07/{i}:x")));
        }
        assert_eq!(hook.stats().pending, 5);
        hook.flush().unwrap();
        // Nothing listened: everything is still there, and the thread is gone.
        assert_eq!(ready_files(dir.path()).unwrap().len(), 5);
        let stats = hook.stats();
        assert!(stats.retries >= 1, "{stats:?}");
        assert!(stats.last_error.is_some());
        assert_eq!(stats.delivered, 0);
    }

    #[test]
    fn one_outbox_one_sink() {
        let dir = tempfile::tempdir().unwrap();
        let first = Webhook::start(&dead_url(), dir.path(), quick()).unwrap();
        let err = Webhook::start(&dead_url(), dir.path(), quick())
            .err()
            .expect("second sink on the same outbox");
        assert!(err.to_string().contains("in use"), "{err}");
        drop(first);
        Webhook::start(&dead_url(), dir.path(), quick()).unwrap();
    }

    #[test]
    fn ids_become_safe_file_names_and_header_values() {
        assert_eq!(crate::inside::component("w07-12-0"), "w07-12-0");
        assert_eq!(crate::inside::component("七号/1:2"), "七号~2F1~3A2");
        assert_eq!(header_safe("w07-12-0"), "w07-12-0");
        assert_eq!(header_safe("七"), "%E4%B8%83");
        assert_eq!(header_safe("a b%"), "a%20b%25");
    }

    #[test]
    fn stale_temp_files_are_cleared_and_bad_files_quarantined() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(".0000000000001-000001-x.json.tmp"), "{").unwrap();
        fs::write(dir.path().join("0000000000001-000001-bad.json"), "{oops").unwrap();
        let hook = Webhook::start(&dead_url(), dir.path(), quick()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while hook.stats().quarantined == 0 {
            assert!(Instant::now() < deadline, "{:?}", hook.stats());
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, [".lock", "0000000000001-000001-bad.json.bad"]);
        assert_eq!(hook.stats().pending, 0);
    }
}
