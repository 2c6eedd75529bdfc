//! The webhook sink against a real HTTP receiver on 127.0.0.1: down, failing, hanging, restarted.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use courtesy::matcher::Method;
use courtesy::sink::event::{Alert, Event, Summary};
use courtesy::sink::{EventSink, Webhook, WebhookOptions};

/// Short back-off so a test sees several retries in well under a second.
fn quick() -> WebhookOptions {
    WebhookOptions {
        first_retry: Duration::from_millis(20),
        max_retry: Duration::from_millis(100),
        timeout: Duration::from_millis(500),
        grace: Duration::from_secs(5),
    }
}

fn alert(id: &str) -> Event {
    Event::Alert(Alert {
        id: id.into(),
        window: "w07".into(),
        label: "7号窗口".into(),
        time: "2026-11-27T11:48:03.120+08:00".into(),
        phrase: "有意见找领导去".into(),
        category: "推诿".into(),
        severity: 3,
        clause: "文明服务用语规范 三、禁忌用语".into(),
        confidence: 0.93,
        method: Method::Sound,
        text: "有意件找领导去".into(),
        matched: "有意件找领导去".into(),
        span: [0, 21],
        char_span: [0, 7],
        clip: None,
        latency: 1.2,
    })
}

fn ids(n: usize, tag: &str) -> Vec<String> {
    (0..n).map(|i| format!("w07-{i}-{tag}")).collect()
}

/// A port nothing listens on now (bound, then released), for a receiver to take later.
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// Polls `done` until it holds or `limit` passes; fails with `what` and the last state.
fn wait_until(limit: Duration, what: &str, mut done: impl FnMut() -> Result<(), String>) {
    let deadline = Instant::now() + limit;
    loop {
        match done() {
            Ok(()) => return,
            Err(state) if Instant::now() >= deadline => {
                panic!("timed out after {limit:?} waiting for {what}: {state}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// The alert files left in an outbox.
fn outbox_alerts(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            let name = name.to_string_lossy();
            name.ends_with(".json") && !name.starts_with('.')
        })
        .count()
}

/// One POST the receiver answered 2xx.
#[derive(Debug, Clone)]
struct Accepted {
    key: String,
    content_type: String,
    body: Event,
}

#[derive(Debug, Default)]
struct Log {
    /// Requests seen, answered or not.
    attempts: usize,
    accepted: Vec<Accepted>,
    /// Anything wrong with a request (the assertions look here).
    problems: Vec<String>,
}

/// A minimal HTTP/1.1 receiver: answers 500 to the first `fail_first` requests, leaves the next
/// `hang_first` unanswered, then answers 200. Keep-alive works; bodies need Content-Length.
struct Receiver {
    log: Arc<Mutex<Log>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    fn start(addr: SocketAddr, fail_first: usize, hang_first: usize) -> Receiver {
        // The port was free a moment ago; give the OS a moment if it is slow to release it.
        let deadline = Instant::now() + Duration::from_secs(2);
        let listener = loop {
            match TcpListener::bind(addr) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Err(e) => panic!("cannot listen on {addr}: {e}"),
            }
        };
        listener.set_nonblocking(true).unwrap();
        let log = Arc::new(Mutex::new(Log::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (log, stop) = (Arc::clone(&log), Arc::clone(&stop));
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((conn, _)) => {
                            let (log, stop) = (Arc::clone(&log), Arc::clone(&stop));
                            std::thread::spawn(move || {
                                serve(conn, &log, &stop, fail_first, hang_first)
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(2)),
                    }
                }
            })
        };
        Receiver {
            log,
            stop,
            thread: Some(thread),
        }
    }

    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        self.log.lock().unwrap()
    }

    /// Asserts every id arrived exactly once, in order, well formed.
    fn assert_exactly_once(&self, ids: &[String]) {
        let log = self.log();
        assert!(log.problems.is_empty(), "{:?}", log.problems);
        let keys: Vec<&str> = log.accepted.iter().map(|a| a.key.as_str()).collect();
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for k in &keys {
            *counts.entry(k).or_default() += 1;
        }
        let dupes: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
        assert!(dupes.is_empty(), "delivered more than once: {dupes:?}");
        let missing: Vec<_> = ids
            .iter()
            .filter(|id| !counts.contains_key(id.as_str()))
            .collect();
        assert!(missing.is_empty(), "never delivered: {missing:?}");
        assert_eq!(keys.len(), ids.len(), "unexpected keys: {keys:?}");
        assert_eq!(keys, ids, "oldest first");
        for a in &log.accepted {
            assert_eq!(a.content_type, "application/json");
            match &a.body {
                Event::Alert(alert) => assert_eq!(alert.id, a.key, "key is the alert's id"),
                other => panic!("not an alert: {other:?}"),
            }
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Serves requests on one connection until the client closes it or the receiver stops.
fn serve(conn: TcpStream, log: &Mutex<Log>, stop: &AtomicBool, fail_first: usize, hang: usize) {
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = conn.try_clone().unwrap();
    let mut reader = BufReader::new(conn);
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut headers = HashMap::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
            }
        }
        let problem = |p: String| log.lock().unwrap().problems.push(p);
        let Some(length) = headers
            .get("content-length")
            .and_then(|l| l.parse::<usize>().ok())
        else {
            problem(format!("no Content-Length: {request_line:?} {headers:?}"));
            return;
        };
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if !request_line.starts_with("POST /hook ") {
            problem(format!("unexpected request {request_line:?}"));
        }
        let attempt = {
            let mut l = log.lock().unwrap();
            l.attempts += 1;
            l.attempts
        };
        if attempt <= fail_first {
            let _ = out
                .write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops");
            continue;
        }
        if attempt <= fail_first + hang {
            // Say nothing until the receiver stops; the sender must time out on its own.
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            return;
        }
        let key = headers.get("idempotency-key").cloned().unwrap_or_default();
        match serde_json::from_slice::<Event>(&body) {
            Ok(event) => log.lock().unwrap().accepted.push(Accepted {
                key,
                content_type: headers.get("content-type").cloned().unwrap_or_default(),
                body: event,
            }),
            Err(e) => problem(format!("body is not an event: {e}")),
        }
        if out
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}

#[test]
fn alerts_sent_while_the_receiver_is_down_arrive_once_when_it_comes_up() {
    let outbox = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let mut hook = Webhook::start(&format!("http://{addr}/hook"), outbox.path(), quick()).unwrap();
    let ids = ids(20, "down");
    for id in &ids {
        hook.send(&alert(id)).unwrap();
    }
    // Not alerts: not sent.
    hook.send(&Event::Summary(Summary::default())).unwrap();

    wait_until(Duration::from_secs(5), "failed retries", || {
        let s = hook.stats();
        (s.retries >= 3).then_some(()).ok_or(format!("{s:?}"))
    });
    let stats = hook.stats();
    assert_eq!(stats.delivered, 0);
    assert_eq!(stats.pending, ids.len());
    assert!(stats
        .last_error
        .as_deref()
        .unwrap_or("")
        .contains(&addr.to_string()));

    let receiver = Receiver::start(addr, 0, 0);
    wait_until(Duration::from_secs(10), "delivery", || {
        let s = hook.stats();
        (s.pending == 0 && s.delivered == ids.len() as u64)
            .then_some(())
            .ok_or(format!("{s:?}"))
    });
    hook.flush().unwrap();
    receiver.assert_exactly_once(&ids);
    assert_eq!(outbox_alerts(outbox.path()), 0);
}

#[test]
fn alerts_left_by_a_stopped_process_go_out_once_on_the_next_start() {
    let outbox = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let url = format!("http://{addr}/hook");
    let ids = ids(12, "restart");
    {
        let mut a = Webhook::start(
            &url,
            outbox.path(),
            WebhookOptions {
                grace: Duration::from_millis(200),
                ..quick()
            },
        )
        .unwrap();
        for id in &ids {
            a.send(&alert(id)).unwrap();
        }
        let started = Instant::now();
        a.flush().unwrap();
        // Grace plus at most one request timeout, with room for a slow machine.
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(a.stats().delivered, 0);
        // Persisted after flush too (for the next start).
        a.send(&alert("w07-late-restart")).unwrap();
    }
    let mut ids = ids;
    ids.push("w07-late-restart".into());
    assert_eq!(outbox_alerts(outbox.path()), ids.len());

    let receiver = Receiver::start(addr, 0, 0);
    let mut b = Webhook::start(&url, outbox.path(), quick()).unwrap();
    wait_until(Duration::from_secs(10), "delivery by the new sink", || {
        let s = b.stats();
        (s.pending == 0 && receiver.log().accepted.len() >= ids.len())
            .then_some(())
            .ok_or(format!("{s:?}"))
    });
    b.flush().unwrap();
    assert_eq!(b.stats().delivered, ids.len() as u64);
    receiver.assert_exactly_once(&ids);
    assert_eq!(outbox_alerts(outbox.path()), 0);
}

#[test]
fn server_errors_are_retried_until_accepted_once() {
    let outbox = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let receiver = Receiver::start(addr, 3, 0);
    let mut hook = Webhook::start(&format!("http://{addr}/hook"), outbox.path(), quick()).unwrap();
    let ids = ids(2, "500");
    for id in &ids {
        hook.send(&alert(id)).unwrap();
    }
    wait_until(Duration::from_secs(10), "delivery", || {
        let s = hook.stats();
        (s.pending == 0).then_some(()).ok_or(format!("{s:?}"))
    });
    let stats = hook.stats();
    assert_eq!(stats.delivered, 2);
    assert_eq!(stats.retries, 3, "{stats:?}");
    assert!(stats.last_error.unwrap().contains("500"));
    assert_eq!(receiver.log().attempts, 5);
    receiver.assert_exactly_once(&ids);
    hook.flush().unwrap();
}

#[test]
fn a_receiver_that_hangs_times_out_and_is_retried() {
    let outbox = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let receiver = Receiver::start(addr, 0, 1);
    let mut hook = Webhook::start(&format!("http://{addr}/hook"), outbox.path(), quick()).unwrap();
    let ids = ids(1, "hang");
    let started = Instant::now();
    hook.send(&alert(&ids[0])).unwrap();
    wait_until(Duration::from_secs(10), "delivery", || {
        let s = hook.stats();
        (s.pending == 0).then_some(()).ok_or(format!("{s:?}"))
    });
    // One timeout (500 ms), a short back-off, then the answer.
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(hook.stats().retries, 1);
    receiver.assert_exactly_once(&ids);
    hook.flush().unwrap();
}

#[test]
fn flush_waits_for_the_outbox_to_drain() {
    let outbox = tempfile::tempdir().unwrap();
    let addr = free_addr();
    let receiver = Receiver::start(addr, 0, 0);
    let mut hook = Webhook::start(&format!("http://{addr}/hook"), outbox.path(), quick()).unwrap();
    let ids = ids(30, "flush");
    for id in &ids {
        hook.send(&alert(id)).unwrap();
    }
    hook.flush().unwrap();
    assert_eq!(outbox_alerts(outbox.path()), 0);
    receiver.assert_exactly_once(&ids);
}
