//! The desk's live view over real HTTP and in Chromium: today's alerts from the record, new ones
//! and acknowledgements pushed within a second or two, the live run's window status and scores,
//! clips from the live clip folder only, and the feed that never waits for a page.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use courtesy::desk::Role;
use courtesy::serve::Feed;
use courtesy::sink::event::{Event, ScoreUpdate, WindowStatus};
use courtesy::sink::EventSink;
use courtesy::store::{NewAlert, Store};

use crate::desk::Desk;

/// Today, as the live view shows it.
fn today() -> String {
    chrono::Local::now().format("%Y-%m-%d").to_string()
}

/// An alert at `window` today whose transcript holds `matched` (found by its text).
pub fn new_alert(n: u32, window: &str, phrase: &str, text: &str, matched: &str) -> NewAlert {
    let start = text
        .find(matched)
        .expect("the matched words are in the text");
    let day = today();
    NewAlert {
        event_id: format!("run1-{window}-{n}-0"),
        window: window.into(),
        label: format!(
            "{}号窗口",
            window.trim_start_matches('w').trim_start_matches('0')
        ),
        at: format!("{day}T11:48:{:02}.250+08:00", n % 60),
        day,
        phrase: phrase.into(),
        category: "推诿".into(),
        severity: 3,
        clause: "文明服务用语规范 三、禁忌用语".into(),
        text: text.into(),
        matched: matched.into(),
        span: [start as i64, (start + matched.len()) as i64],
        confidence: 0.92,
        method: "exact".into(),
        clip: Some(format!("{window}/20261127-114803-{n:04}.wav")),
        host: "box1".into(),
    }
}

/// 0.1 s of a tone at `clips/<window>/20261127-114803-<n>.wav`, and a secret beside the folder.
fn clip(clips: &Path, window: &str, n: u32) -> PathBuf {
    let path = clips.join(format!("{window}/20261127-114803-{n:04}.wav"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tone: Vec<f32> = (0..1600)
        .map(|i| (i as f32 / 16_000.0 * 440.0 * std::f32::consts::TAU).sin() * 0.25)
        .collect();
    crate::samples::write_wav(&path, &tone);
    std::fs::write(clips.parent().unwrap().join("secret.wav"), b"not yours").unwrap();
    path
}

fn status(window: &str, label: &str, online: bool) -> Event {
    Event::Window(WindowStatus {
        window: window.into(),
        label: label.into(),
        time: format!("{}T11:48:00.000+08:00", today()),
        online,
        detail: if online { "hw:1" } else { "device unplugged" }.into(),
    })
}

fn score(window: &str, label: &str, score: f64) -> Event {
    Event::Score(ScoreUpdate {
        window: window.into(),
        label: label.into(),
        time: format!("{}T11:48:00.000+08:00", today()),
        score: Some(score),
        utterances: 12,
        civil_hits: 5,
        banned_hits: 2,
    })
}

/// A desk with a live clip folder, two configured windows and the live run's feed.
fn live_desk() -> (Desk, Feed, PathBuf) {
    let feed = Feed::new(&[
        ("w07".into(), "7号窗口".into()),
        ("w08".into(), "8号窗口".into()),
    ]);
    let clips = std::cell::RefCell::new(PathBuf::new());
    let desk = Desk::start_fed(
        |c| {
            let dir = PathBuf::from(&c.batch.db)
                .parent()
                .unwrap()
                .join("live/clips");
            std::fs::create_dir_all(&dir).unwrap();
            c.live.clips = dir.clone();
            *clips.borrow_mut() = dir;
            for (id, label) in [("w07", "7号窗口"), ("w08", "8号窗口")] {
                c.window.push(courtesy::live::WindowConfig {
                    id: id.into(),
                    label: Some(label.into()),
                    device: "default".into(),
                    channel: 1,
                    staff_channel: None,
                    citizen_channel: None,
                });
            }
        },
        Some(feed.clone()),
    );
    let clips = clips.into_inner();
    (desk, feed, clips)
}

/// One HTTP/1.1 GET over a raw socket (so that paths like `/clips/../x` reach the server as
/// written): status, headers (lowercased names) and body.
pub fn get(addr: SocketAddr, path: &str, extra: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a whole response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_lowercase();
    let status = head[9..12].parse().unwrap();
    (status, head, raw[split + 4..].to_vec())
}

/// Reads an SSE stream until `done` says so (or panics after 10 s): the `(event, data)` pairs.
fn read_events(
    reader: &mut BufReader<TcpStream>,
    mut done: impl FnMut(&[(String, String)]) -> bool,
) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut events = Vec::new();
    let (mut name, mut data) = (String::new(), String::new());
    while !done(&events) {
        assert!(Instant::now() < deadline, "stream stalled; got {events:?}");
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            panic!("stream ended; got {events:?}");
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if let Some(v) = line.strip_prefix("event: ") {
            name = v.to_string();
        } else if let Some(v) = line.strip_prefix("data: ") {
            data = v.to_string();
        } else if line.is_empty() && !name.is_empty() {
            events.push((std::mem::take(&mut name), std::mem::take(&mut data)));
        }
    }
    events
}

/// Opens `path` (an event stream) with a session cookie, past the response head.
fn open_events(addr: SocketAddr, path: &str, cookie: &str) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(s);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_lowercase()
            .contains("content-type: text/event-stream"),
        "{head}"
    );
    reader
}

/// The stream pushes today's alerts, then new ones and acknowledgements given anywhere, read
/// from the record; the acknowledgement API records who and when, once.
#[test]
fn the_stream_pushes_todays_alerts_and_acknowledgements_from_the_record() {
    let (desk, feed, _clips) = live_desk();
    let store: &Store = &desk.store;
    let first = store
        .insert_alert(&new_alert(
            1,
            "w07",
            "不知道",
            "这个事情我不知道啊",
            "不知道",
        ))
        .unwrap();
    let mut yesterday = new_alert(2, "w07", "不知道", "不知道", "不知道");
    yesterday.day = "2000-01-01".into();
    store.insert_alert(&yesterday).unwrap();
    feed.sink().send(&status("w07", "7号窗口", true)).unwrap();

    let mut supervisor = desk.login_as("王主管", Role::Supervisor);
    let cookie = supervisor.cookie_header();
    let mut stream = open_events(desk.addr(), "/live/events", &cookie);
    let seen = read_events(&mut stream, |e| {
        e.iter().any(|(n, _)| n == "alert") && e.iter().any(|(n, _)| n == "window")
    });
    let alerts: Vec<serde_json::Value> = seen
        .iter()
        .filter(|(n, _)| n == "alert")
        .map(|(_, d)| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(alerts.len(), 1, "only today's: {seen:?}");
    assert_eq!(alerts[0]["id"], first);
    assert_eq!(alerts[0]["char_span"], serde_json::json!([5, 8]));
    assert_eq!(alerts[0]["clip"], "w07/20261127-114803-0001.wav");

    // A new alert is pushed within two polls.
    let t = Instant::now();
    let second = store
        .insert_alert(&new_alert(3, "w08", "我不管", "我不管", "我不管"))
        .unwrap();
    read_events(&mut stream, |e| {
        e.iter()
            .any(|(n, d)| n == "alert" && d.contains("run1-w08-3-0"))
    });
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());

    // An acknowledgement through the API (with the CSRF token) is recorded and pushed.
    let reply = supervisor.send_json(
        "POST",
        &format!("/live/alerts/{second}/ack"),
        &serde_json::json!({ "note": "已当面提醒" }),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let ack: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
    assert_eq!(
        (ack["by"].as_str(), ack["already"].as_bool()),
        (Some("王主管"), Some(false))
    );
    let seen = read_events(&mut stream, |e| e.iter().any(|(n, _)| n == "ack"));
    let pushed: serde_json::Value =
        serde_json::from_str(&seen.iter().find(|(n, _)| n == "ack").unwrap().1).unwrap();
    assert_eq!(pushed["id"], second);
    assert_eq!(pushed["note"], "已当面提醒");
    let stored = store
        .alert(second)
        .unwrap()
        .unwrap()
        .acknowledgement
        .unwrap();
    assert_eq!(
        (stored.by.as_str(), stored.note.as_deref()),
        ("王主管", Some("已当面提醒"))
    );
    assert!(stored.at.starts_with(&today()), "{}", stored.at);
    // A second supervisor is told whose stands; a missing alert is 404.
    let mut other = desk.login_as("李主管", Role::Supervisor);
    let again = other.send_json(
        "POST",
        &format!("/live/alerts/{second}/ack"),
        &serde_json::json!({}),
    );
    let again: serde_json::Value = serde_json::from_str(&again.body).unwrap();
    assert_eq!(
        (again["by"].as_str(), again["already"].as_bool()),
        (Some("王主管"), Some(true))
    );
    assert_eq!(
        other
            .send_json("POST", "/live/alerts/999999/ack", &serde_json::json!({}))
            .status,
        404
    );
    let audit = desk.audit();
    let acks: Vec<_> = audit.iter().filter(|(a, _, _)| a == "alert_ack").collect();
    assert_eq!(acks.len(), 1, "{audit:?}");
    assert_eq!(acks[0].1.as_deref(), Some("王主管"));
}

/// Clips come from the live clip folder only, behind the login.
#[test]
fn live_clips_are_served_from_the_live_clip_folder_only() {
    let (desk, _feed, clips) = live_desk();
    let wav = std::fs::read(clip(&clips, "w07", 5)).unwrap();
    let supervisor = desk.login_as("王主管", Role::Supervisor);
    let cookie = supervisor.cookie_header();
    let cookie = format!("Cookie: {cookie}\r\n");
    let (status, head, body) = get(
        desk.addr(),
        "/live/clips/w07/20261127-114803-0005.wav",
        &cookie,
    );
    assert_eq!(status, 200, "{head}");
    assert!(head.contains("content-type: audio/wav"), "{head}");
    assert_eq!(body, wav);
    for bad in [
        "/live/clips/../secret.wav",
        "/live/clips/w07/../../secret.wav",
        "/live/clips/%2e%2e/secret.wav",
    ] {
        let (status, _, body) = get(desk.addr(), bad, &cookie);
        assert!(status == 400 || status == 404, "{bad}: {status}");
        assert_ne!(body, b"not yours", "{bad}");
    }
    let (status, _, _) = get(desk.addr(), "/live/clips/w07/20261127-114803-0005.wav", "");
    assert_eq!(status, 401, "no clip without a login");
}

/// The feed never waits for a page: a subscriber that never reads only misses events.
#[test]
fn a_page_that_does_not_read_never_blocks_the_live_run() {
    let feed = Feed::new(&[("w07".into(), "7号窗口".into())]);
    let mut sink = feed.sink();
    let (_, mut stalled) = feed.subscribe();
    let t = Instant::now();
    for n in 0..5000 {
        sink.send(&score("w07", "7号窗口", f64::from(n % 100)))
            .unwrap();
    }
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    assert!(matches!(
        stalled.try_recv(),
        Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_))
    ));
    let (replay, _) = feed.subscribe();
    assert_eq!(replay.len(), 1, "the latest score only");
    assert_eq!(
        feed.state().windows[0].score.as_ref().unwrap().score,
        Some(99.0)
    );
}

/// The live view in Chromium as a supervisor: the cards with status and score, today's alerts
/// with the hit marked (markup in a transcript stays text), 播放 loading the clip, a new alert
/// arriving, and 确认 storing who acknowledged it.
#[test]
fn the_live_view_shows_alerts_and_records_an_acknowledgement_in_chromium() {
    let (desk, feed, clips) = live_desk();
    clip(&clips, "w07", 1);
    clip(&clips, "w07", 2);
    clip(&clips, "w07", 3);
    let store = desk.store.clone();
    let mut sink = feed.sink();
    sink.send(&status("w07", "7号窗口", true)).unwrap();
    sink.send(&status("w08", "8号窗口", false)).unwrap();
    sink.send(&score("w07", "7号窗口", 87.5)).unwrap();
    store
        .insert_alert(&new_alert(
            1,
            "w07",
            "不知道",
            "这个事情我不知道啊",
            "不知道",
        ))
        .unwrap();
    // What someone said may hold markup; the emoji before the hit must not shift the mark.
    store
        .insert_alert(&new_alert(
            2,
            "w07",
            "我不管",
            "<img src=x onerror=alert(1)>🙂我不管",
            "我不管",
        ))
        .unwrap();
    let password = desk.user("王主管", Role::Supervisor);
    let mut b = desk.browser_as("王主管", &password, "/live");
    b.wait("document.querySelectorAll('#alerts li').length === 2");
    b.wait("document.getElementById('conn').className === 'open'");
    b.wait("document.querySelector('[data-window=w07] .state').textContent === '在线'");
    b.wait("document.querySelector('[data-window=w08] .state').textContent === '离线'");
    b.wait("document.querySelector('[data-window=w07] .score').textContent === '87.5'");

    // Live: a new alert from the record, a new score from the run.
    let third = store
        .insert_alert(&new_alert(
            3,
            "w07",
            "有意见找领导去",
            "有意见找领导去！",
            "有意见找领导去",
        ))
        .unwrap();
    sink.send(&score("w07", "7号窗口", 79.25)).unwrap();
    b.wait("document.querySelectorAll('#alerts li').length === 3");
    b.wait("document.querySelector('[data-window=w07] .score').textContent === '79.3'");
    b.wait("document.querySelector('[data-window=w07] .counts').textContent.includes('未确认 3')");
    b.eval("document.querySelector('#alerts audio').load()");
    b.wait(
        "(a => a.readyState >= 1 && Math.abs(a.duration - 0.1) < 0.01)\
         (document.querySelector('#alerts audio'))",
    );
    b.screenshot("desk-live.png");

    // 确认 on the newest alert, with a note.
    b.click(&format!("#alerts li[data-id='{third}'] .ack input"));
    b.type_text("已提醒");
    b.click(&format!("#alerts li[data-id='{third}'] .ack button"));
    b.wait(&format!(
        "document.querySelector(\"#alerts li[data-id='{third}'] .acked-by\") !== null"
    ));
    b.wait("document.querySelector('[data-window=w07] .counts').textContent.includes('未确认 2')");
    b.screenshot("desk-live-acknowledged.png");
    let dom = b.eval("document.documentElement.outerHTML");
    let dom = dom.as_str().unwrap_or_default().to_string();
    drop(b);

    let ack = store
        .alert(third)
        .unwrap()
        .unwrap()
        .acknowledgement
        .expect("stored");
    assert_eq!(
        (ack.by.as_str(), ack.note.as_deref()),
        ("王主管", Some("已提醒"))
    );
    assert!(dom.contains("<mark>不知道</mark>"), "{dom}");
    assert!(
        dom.contains("&lt;img src=x onerror=alert(1)&gt;🙂<mark>我不管</mark>"),
        "{dom}"
    );
    assert!(!dom.contains("<img"), "{dom}");
    assert!(
        dom.contains("/live/clips/w07/20261127-114803-0001.wav"),
        "{dom}"
    );
    for expected in [
        "7号窗口",
        "8号窗口",
        "文明服务评分",
        "已确认 · 王主管",
        "播放",
    ] {
        assert!(dom.contains(expected), "no {expected} in the page");
    }
}

/// `courtesy live --replay … --db … --http …` end to end (Whisper, one short window): the run
/// serves the desk behind its logins; a supervisor logged in through the form sees the replayed
/// alert on /live with the window's live status, acknowledges it, and the acknowledgement is in
/// the record the run writes its alerts to.
#[test]
fn a_replayed_alert_reaches_the_live_view_of_courtesy_live_and_is_acknowledged() {
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    // One window: the rude dialogue, then half a minute of quiet so the run outlasts the clicks.
    let window = dir.path().join("replay/w02");
    std::fs::create_dir_all(&window).unwrap();
    std::fs::copy(
        crate::root().join("samples/windows/w02-rude/s1.wav"),
        window.join("a.wav"),
    )
    .unwrap();
    crate::samples::write_wav(&window.join("b.wav"), &vec![0.0; 16_000 * 30]);
    let db = dir.path().join("courtesy.db");
    let store = Store::open(db.to_str().unwrap()).unwrap();
    courtesy::desk::users::add(&store, "王主管", Role::Supervisor, "pw-王主管-0123").unwrap();
    drop(store);

    let model = crate::model_path();
    let _whisper = crate::whisper_lock();
    let mut child = Command::new(env!("CARGO_BIN_EXE_courtesy"))
        .arg("live")
        .arg("--replay")
        .arg(dir.path().join("replay"))
        .args(["--http", "127.0.0.1:0", "--format", "jsonl", "--db"])
        .arg(&db)
        .arg("--model")
        .arg(&model)
        .arg("--clips")
        .arg(dir.path().join("clips"))
        .arg("--log")
        .arg(dir.path().join("alerts.jsonl"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let url = loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("courtesy live names its desk address");
        if let Some(at) = line.find("http://") {
            break line[at..].split_whitespace().next().unwrap().to_string();
        }
    };
    assert!(url.ends_with("/live"), "{url}");
    let base = url.trim_end_matches("/live").to_string();
    // Without a login, nothing: the old open page is gone.
    let addr: SocketAddr = base.trim_start_matches("http://").parse().unwrap();
    assert_eq!(get(addr, "/live", "").0, 303);
    assert_eq!(get(addr, "/live/events", "").0, 401);
    assert_eq!(get(addr, "/alerts", "").0, 404);

    let mut b = crate::browser::Browser::open(&url);
    b.wait_for_path("/login?next=%2Flive");
    crate::desk::log_in(&mut b, "王主管", "pw-王主管-0123");
    b.wait_for_path("/live");
    // The replayed phrase arrives (Whisper on a 2-core box: give it time).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let n = b.eval("document.querySelectorAll('#alerts li').length");
        if n.as_u64().unwrap_or(0) > 0 {
            break;
        }
        assert!(Instant::now() < deadline, "no alert on /live within 60 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    b.wait("document.querySelector('[data-window=w02] .state').textContent === '在线'");
    let id = b.eval("document.querySelector('#alerts li').dataset.id");
    let id: i64 = id.as_str().unwrap().parse().unwrap();
    b.click(&format!("#alerts li[data-id='{id}'] .ack button"));
    b.wait(&format!(
        "document.querySelector(\"#alerts li[data-id='{id}'] .acked-by\") !== null"
    ));
    b.screenshot("live-replay-acknowledged.png");
    drop(b);
    let status = child.wait().unwrap();
    assert!(status.success(), "courtesy live exited with {status}");

    let store = Store::open(db.to_str().unwrap()).unwrap();
    let alert = store
        .alert(id)
        .unwrap()
        .expect("the alert is in the record");
    assert_eq!(alert.alert.window, "w02");
    let ack = alert
        .acknowledgement
        .expect("the acknowledgement is stored");
    assert_eq!(ack.by, "王主管");
    let clip = alert.alert.clip.expect("the alert has its clip");
    assert!(dir.path().join("clips").join(&clip).is_file(), "{clip}");
    let phrases: Vec<String> = store
        .alerts_since(&today(), 0, 100)
        .unwrap()
        .into_iter()
        .map(|a| a.alert.phrase)
        .collect();
    assert!(
        phrases.contains(&"有意见找领导去".to_string()),
        "{phrases:?}"
    );
}
