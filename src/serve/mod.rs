//! What the web servers share: the live feed (each window's status and rolling score, folded from
//! `courtesy live`'s events and broadcast to the desk's live view), the clip handler, the
//! background server thread, and reading `HOST:PORT`.
//!
//! [`Feed::new`] makes the feed; [`Feed::sink`] gives the [`EventSink`] the live run writes to —
//! cheap and non-blocking (a state update and a broadcast), it never waits for a browser. A
//! page that falls behind skips what it missed; one that (re)connects first gets the current
//! state ([`Feed::subscribe`]). The page itself is the desk's `/live`, behind its logins.
//!
//! ```
//! use courtesy::serve::Feed;
//! use courtesy::sink::EventSink;
//! let feed = Feed::new(&[("w07".into(), "7号窗口".into())]);
//! feed.sink().send(&courtesy::sink::Event::Summary(Default::default()))?;
//! assert_eq!(feed.state().windows[0].label, "7号窗口");
//! # Ok::<(), std::io::Error>(())
//! ```

pub(crate) mod background;
pub mod board;
pub(crate) mod clips;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::broadcast;

use crate::sink::{Event, EventSink};
pub(crate) use background::Background;
pub use board::{State, WindowState};

/// Events a page may fall behind by before it skips ahead.
const CHANNEL: usize = 1024;

/// One event, serialized once for every page that receives it.
#[derive(Debug)]
pub struct Message {
    /// The SSE event name: the event's `type`.
    pub kind: &'static str,
    pub json: String,
}

impl Message {
    pub fn new(event: &Event) -> serde_json::Result<Message> {
        Ok(Message {
            kind: kind(event),
            json: serde_json::to_string(event)?,
        })
    }
}

/// What the sink and the HTTP handlers share.
#[derive(Debug)]
struct Shared {
    board: Mutex<board::Board>,
    live: broadcast::Sender<Arc<Message>>,
}

impl Shared {
    /// The board; a panic elsewhere while it was held leaves it usable (it is plain data).
    fn board(&self) -> MutexGuard<'_, board::Board> {
        self.board.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The live feed: shared by the sink the live run writes to and the pages that read it.
#[derive(Debug, Clone)]
pub struct Feed {
    shared: Arc<Shared>,
}

impl Feed {
    /// A feed with the configured windows (id, label), in order, nothing reported yet.
    pub fn new(windows: &[(String, String)]) -> Feed {
        Feed {
            shared: Arc::new(Shared {
                board: Mutex::new(board::Board::new(windows)),
                live: broadcast::channel(CHANNEL).0,
            }),
        }
    }

    /// A sink feeding the pages: cheap and non-blocking.
    pub fn sink(&self) -> ServeSink {
        ServeSink {
            shared: self.shared.clone(),
        }
    }

    /// The events that rebuild the current state, and the events after them: taken under one
    /// lock, so a page sees every event exactly once, in order.
    pub fn subscribe(&self) -> (Vec<Event>, broadcast::Receiver<Arc<Message>>) {
        let board = self.shared.board();
        (board.replay(), self.shared.live.subscribe())
    }

    /// How many pages are connected now.
    pub fn clients(&self) -> usize {
        self.shared.live.receiver_count()
    }

    /// The current state.
    pub fn state(&self) -> State {
        self.shared.board().state()
    }
}

/// The address to serve on, from `HOST:PORT` as a person writes it (`--http`, `[live] http`):
/// a numeric address (`0.0.0.0:8080`, `[::1]:8080`) or a host name the system resolves
/// (`localhost:8080`). Of a name's addresses the first IPv4 one is used, since IPv6 may be off.
/// The error is one line naming the address and the fix.
///
/// # Example
/// ```
/// let addr = courtesy::serve::resolve("localhost:8080")?;
/// assert!(addr.ip().is_loopback());
/// assert!(courtesy::serve::resolve("localhost").is_err());
/// # Ok::<(), String>(())
/// ```
pub fn resolve(addr: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let fix = "give HOST:PORT with --http or [live] http, e.g. 0.0.0.0:8080 or localhost:8080";
    if let Ok(a) = addr.parse::<SocketAddr>() {
        return Ok(a);
    }
    let Some((host, port)) = addr.rsplit_once(':') else {
        return Err(format!("{addr}: not an address (no port) — {fix}"));
    };
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(format!("{addr}: not an address — {fix}"));
    }
    let found: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| format!("{addr}: cannot resolve {host} ({e}) — {fix}"))?
        .collect();
    found
        .iter()
        .find(|a| a.is_ipv4())
        .or(found.first())
        .copied()
        .ok_or_else(|| format!("{addr}: {host} has no address — {fix}"))
}

/// The bind error as one line with the fix.
pub(crate) fn bind_error(addr: SocketAddr, e: std::io::Error) -> std::io::Error {
    use std::io::ErrorKind::*;
    let why = match e.kind() {
        AddrInUse => "the address is already in use (another courtesy, or another server)".into(),
        PermissionDenied => "permission denied (ports below 1024 need privileges)".into(),
        AddrNotAvailable => "this machine has no such address".into(),
        _ => e.to_string(),
    };
    std::io::Error::new(
        e.kind(),
        format!("cannot serve the page on {addr}: {why} — choose another address with --http (e.g. --http 127.0.0.1:8081)"),
    )
}

/// The event's `type`, as its JSON writes it.
fn kind(event: &Event) -> &'static str {
    match event {
        Event::Alert(_) => "alert",
        Event::Utterance(_) => "utterance",
        Event::Score(_) => "score",
        Event::Window(_) => "window",
        Event::Overrun(_) => "overrun",
        Event::Dropped(_) => "dropped",
        Event::Failure(_) => "failure",
        Event::Shutdown(_) => "shutdown",
        Event::Capacity(_) => "capacity",
        Event::Load(_) => "load",
        Event::Summary(_) => "summary",
    }
}

/// The page's sink. Clones share the same page.
#[derive(Debug, Clone)]
pub struct ServeSink {
    shared: Arc<Shared>,
}

impl EventSink for ServeSink {
    fn name(&self) -> &str {
        "web page"
    }

    fn send(&mut self, event: &Event) -> std::io::Result<()> {
        let message = Arc::new(Message::new(event)?);
        // Broadcast under the lock: a page that connects takes its replay and subscribes under it
        // too, so it sees every event exactly once, in order.
        let mut board = self.shared.board();
        board.apply(event);
        // An error only means no page is connected.
        let _ = self.shared.live.send(message);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_types_are_send() {
        fn send<T: Send>() {}
        fn sync<T: Sync>() {}
        send::<Feed>();
        sync::<Feed>();
        send::<ServeSink>();
        sync::<ServeSink>();
    }

    #[test]
    fn kind_is_the_json_type() {
        let event = Event::Summary(Default::default());
        let json: serde_json::Value = serde_json::to_value(&event).unwrap();
        assert_eq!(json["type"], kind(&event));
    }

    /// Issue 11, defect 8: `--http localhost:8080` was refused (only numbers parsed).
    #[test]
    fn issue_11_host_names_resolve_and_bad_addresses_say_how() {
        assert!(resolve("localhost:8080").unwrap().ip().is_loopback());
        assert_eq!(resolve("localhost:0").unwrap().port(), 0);
        assert_eq!(
            resolve("0.0.0.0:8080").unwrap(),
            "0.0.0.0:8080".parse::<SocketAddr>().unwrap()
        );
        assert!(resolve("[::1]:8080").unwrap().is_ipv6());
        for bad in [
            "localhost",
            "",
            ":8080",
            "localhost:99999",
            "localhost:http",
            "no-such-host.invalid:8080",
        ] {
            let e = resolve(bad).unwrap_err();
            assert!(e.contains("--http") && e.starts_with(bad), "{bad}: {e}");
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn a_taken_port_is_one_line_with_the_fix() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = taken.local_addr().unwrap();
        let e = Background::start(addr, "test", |_, _| async {}).unwrap_err();
        let msg = e.to_string();
        assert_eq!(e.kind(), std::io::ErrorKind::AddrInUse);
        assert!(
            msg.contains(&addr.to_string()) && msg.contains("--http"),
            "{msg}"
        );
        assert!(!msg.contains('\n'), "{msg}");
    }
}
