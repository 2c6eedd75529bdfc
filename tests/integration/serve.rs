//! The supervisors' page over real HTTP: state, the event stream, clips, and the page in Chromium.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::browser::Browser;
use courtesy::matcher::Method;
use courtesy::serve::{ServeConfig, Server, State};
use courtesy::sink::event::{Alert, Event, ScoreUpdate, WindowStatus};
use courtesy::sink::EventSink;

const TIME: &str = "2026-11-27T11:48:03.250+08:00";

/// A clip folder with `w07/20261127-114803-0005.wav` (0.1 s of a tone); returns its bytes too.
fn clip_dir() -> (tempfile::TempDir, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("clips/w07")).unwrap();
    let path = dir.path().join("clips/w07/20261127-114803-0005.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&path, spec).unwrap();
    for i in 0..1600 {
        let t = i as f32 / 16_000.0;
        w.write_sample(((t * 440.0 * std::f32::consts::TAU).sin() * 8000.0) as i16)
            .unwrap();
    }
    w.finalize().unwrap();
    // A file next to the clip folder that must never be served.
    std::fs::write(dir.path().join("secret.wav"), b"not yours").unwrap();
    let bytes = std::fs::read(&path).unwrap();
    (dir, bytes)
}

fn start(clips: &Path) -> Server {
    Server::start(ServeConfig {
        addr: "127.0.0.1:0".parse().unwrap(),
        clip_dir: clips.join("clips"),
        windows: vec![
            ("w07".into(), "7号窗口".into()),
            ("w08".into(), "8号窗口".into()),
        ],
    })
    .expect("server starts")
}

/// An alert at w07 whose sentence holds `matched` at the given characters.
fn alert(n: u32, phrase: &str, text: &str, char_span: [usize; 2]) -> Event {
    let chars: Vec<char> = text.chars().collect();
    let matched: String = chars[char_span[0]..char_span[1]].iter().collect();
    let byte = |c: usize| chars[..c].iter().map(|c| c.len_utf8()).sum::<usize>();
    Event::Alert(Alert {
        id: format!("w07-{n}-0"),
        window: "w07".into(),
        label: "7号窗口".into(),
        time: TIME.into(),
        phrase: phrase.into(),
        category: "推诿扯皮".into(),
        severity: 3,
        clause: "文明服务用语规范 三、禁忌用语".into(),
        confidence: 0.92,
        method: Method::Sound,
        text: text.into(),
        matched,
        span: [byte(char_span[0]), byte(char_span[1])],
        char_span,
        clip: Some(PathBuf::from("w07/20261127-114803-0005.wav")),
        latency: 1.4,
    })
}

fn online(window: &str, label: &str, online: bool) -> Event {
    Event::Window(WindowStatus {
        window: window.into(),
        label: label.into(),
        time: TIME.into(),
        online,
        detail: if online { "hw:1,0" } else { "设备已断开" }.into(),
    })
}

fn score(window: &str, label: &str, score: f64) -> Event {
    Event::Score(ScoreUpdate {
        window: window.into(),
        label: label.into(),
        time: TIME.into(),
        score: Some(score),
        utterances: 12,
        civil_hits: 5,
        banned_hits: 2,
    })
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

/// Opens `/events`, past the response head. The server sends the body chunked; chunk-size lines
/// are neither `event:` nor `data:` lines, so [`read_events`] skips them.
fn open_events(addr: SocketAddr) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET /events HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
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

fn wait_for_clients(server: &Server, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while server.clients() < n {
        assert!(Instant::now() < deadline, "no client connected to /events");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn state_holds_the_latest_status_score_and_alerts() {
    let (dir, _) = clip_dir();
    let server = start(dir.path());
    let mut sink = server.sink();
    sink.send(&online("w07", "7号窗口", true)).unwrap();
    sink.send(&score("w07", "7号窗口", 91.0)).unwrap();
    sink.send(&score("w07", "7号窗口", 87.5)).unwrap();
    sink.send(&alert(1, "不知道", "这个我不知道", [3, 6]))
        .unwrap();
    sink.send(&online("w08", "8号窗口", false)).unwrap();

    let (status, head, body) = get(server.local_addr(), "/api/state", "");
    assert_eq!(status, 200);
    assert!(head.contains("application/json"), "{head}");
    let state: State = serde_json::from_slice(&body).unwrap();
    let ids: Vec<&str> = state.windows.iter().map(|w| w.id.as_str()).collect();
    assert_eq!(ids, ["w07", "w08"]);
    assert_eq!(state.windows[0].label, "7号窗口");
    assert!(state.windows[0].status.as_ref().unwrap().online);
    assert_eq!(state.windows[0].score.as_ref().unwrap().score, Some(87.5));
    assert!(!state.windows[1].status.as_ref().unwrap().online);
    assert!(state.windows[1].score.is_none());
    assert_eq!(state.alerts.len(), 1);
    assert_eq!(state.alerts[0].phrase, "不知道");
    assert_eq!(state, server.state());

    let (status, head, _) = get(server.local_addr(), "/", "");
    assert!(status == 307 || status == 303, "{status}");
    assert!(head.contains("location: /alerts"), "{head}");
    let (status, _, page) = get(server.local_addr(), "/alerts", "");
    assert_eq!(status, 200);
    let page = String::from_utf8(page).unwrap();
    assert!(
        page.contains("实时告警") && page.contains("7号窗口"),
        "{page}"
    );
    assert!(
        !page.contains("/*WINDOWS*/"),
        "the window list was not filled in"
    );
    server.shutdown();
}

#[test]
fn events_replay_the_state_then_stream_live() {
    let (dir, _) = clip_dir();
    let server = start(dir.path());
    let mut sink = server.sink();
    sink.send(&alert(1, "不知道", "这个我不知道", [3, 6]))
        .unwrap();
    sink.send(&online("w07", "7号窗口", true)).unwrap();
    sink.send(&score("w07", "7号窗口", 87.5)).unwrap();
    sink.send(&alert(2, "我不管", "我不管你的事", [0, 3]))
        .unwrap();

    let mut stream = open_events(server.local_addr());
    let replay = read_events(&mut stream, |e| e.len() == 4);
    let names: Vec<&str> = replay.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["window", "score", "alert", "alert"]);
    // Each data line is the event's own JSON; alerts come oldest first.
    let third: Event = serde_json::from_str(&replay[2].1).unwrap();
    assert_eq!(third, alert(1, "不知道", "这个我不知道", [3, 6]));
    let fourth: Event = serde_json::from_str(&replay[3].1).unwrap();
    assert_eq!(fourth, alert(2, "我不管", "我不管你的事", [0, 3]));

    // Now live: what the sink sends after the page connected.
    wait_for_clients(&server, 1);
    sink.send(&score("w07", "7号窗口", 80.0)).unwrap();
    let live_alert = alert(3, "有意见找领导去", "有意见找领导去！", [0, 7]);
    sink.send(&live_alert).unwrap();
    let live = read_events(&mut stream, |e| e.len() == 2);
    assert_eq!(live[0].0, "score");
    assert_eq!(
        serde_json::from_str::<Event>(&live[0].1).unwrap(),
        score("w07", "7号窗口", 80.0)
    );
    assert_eq!(live[1].0, "alert");
    assert_eq!(
        serde_json::from_str::<Event>(&live[1].1).unwrap(),
        live_alert
    );

    // Shutting down ends the stream instead of hanging on it.
    let t = Instant::now();
    server.shutdown();
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

#[test]
fn a_client_that_does_not_read_never_blocks_the_sink() {
    let (dir, _) = clip_dir();
    let server = start(dir.path());
    let mut sink = server.sink();
    // Connected and never read from: its socket buffers fill, then its channel overflows.
    let stalled = open_events(server.local_addr());
    wait_for_clients(&server, 1);
    let long = "我不知道".repeat(200);
    let t = Instant::now();
    for n in 0..5000 {
        sink.send(&alert(n, "不知道", &long, [1, 4])).unwrap();
    }
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "the sink waited for the client: {:?}",
        t.elapsed()
    );
    // A fresh client still gets the recent alerts, and a live one after them.
    let mut fresh = open_events(server.local_addr());
    let replay = read_events(&mut fresh, |e| e.len() == 100);
    assert!(replay.iter().all(|(n, _)| n == "alert"));
    let last: Event = serde_json::from_str(&replay[99].1).unwrap();
    assert_eq!(last, alert(4999, "不知道", &long, [1, 4]));

    // The stalled client, once it reads again, is told it skipped some and goes on live.
    let mut stalled = stalled;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no skip notice");
        let mut line = String::new();
        assert!(stalled.read_line(&mut line).unwrap() > 0, "stream ended");
        if line.starts_with(": skipped ") {
            break;
        }
    }
    let after = alert(100_000, "我不管", "我不管", [0, 3]);
    sink.send(&after).unwrap();
    let seen = read_events(&mut stalled, |e| {
        e.last().is_some_and(|(_, d)| d.contains("w07-100000-0"))
    });
    let got: Event = serde_json::from_str(&seen.last().unwrap().1).unwrap();
    assert_eq!(got, after);
    server.shutdown();
}

#[test]
fn clips_are_served_from_the_clip_folder_only() {
    let (dir, wav) = clip_dir();
    let server = start(dir.path());
    let addr = server.local_addr();

    let (status, head, body) = get(addr, "/clips/w07/20261127-114803-0005.wav", "");
    assert_eq!(status, 200);
    assert!(head.contains("content-type: audio/wav"), "{head}");
    assert!(body == wav, "the clip's bytes differ");

    // A byte range, as a browser asks for when seeking.
    let (status, head, body) = get(
        addr,
        "/clips/w07/20261127-114803-0005.wav",
        "Range: bytes=4-11\r\n",
    );
    assert_eq!(status, 206);
    assert!(
        head.contains(&format!("content-range: bytes 4-11/{}", wav.len())),
        "{head}"
    );
    assert_eq!(body, wav[4..12]);

    for path in [
        "/clips/../secret.wav",
        "/clips/w07/../../secret.wav",
        "/clips/%2e%2e/secret.wav",
        "/clips/w07/%2e%2e/%2e%2e/secret.wav",
        "/clips/..%2fsecret.wav",
        "/clips//etc/passwd",
        "/clips/%2fetc%2fpasswd",
        "/clips/..%5csecret.wav",
        // Issue 11: NUL, Windows drives and separators, `.` and empty names, very long names.
        "/clips/w07%00/../../secret.wav",
        "/clips/w07/a%00.wav",
        "/clips/C:%5c..%5csecret.wav",
        "/clips/w07/./../secret.wav",
        "/clips/w07//../../secret.wav",
        &format!("/clips/{}/x.wav", "a".repeat(300)),
        &format!("/clips/{}.wav", "../".repeat(50)),
    ] {
        let (status, _, body) = get(addr, path, "");
        assert!(
            status == 400 || status == 404,
            "{path} gave {status}: {}",
            String::from_utf8_lossy(&body)
        );
        assert!(body != b"not yours", "{path} escaped the clip folder");
    }
    for path in [
        "/clips/w07/missing.wav",
        "/clips/w07",
        "/clips/w07/20261127-114803-0005.txt",
    ] {
        assert_eq!(get(addr, path, "").0, 404, "{path}");
    }
    server.shutdown();
}

#[test]
fn the_page_shows_windows_scores_and_alerts_in_chromium() {
    let (dir, _) = clip_dir();
    let server = start(dir.path());
    let addr = server.local_addr();
    let mut sink = server.sink();
    sink.send(&online("w07", "7号窗口", true)).unwrap();
    sink.send(&online("w08", "8号窗口", false)).unwrap();
    sink.send(&score("w07", "7号窗口", 87.5)).unwrap();
    sink.send(&alert(1, "不知道", "这个事情我不知道啊", [5, 8]))
        .unwrap();
    // Transcripts are what someone said: markup in them must stay text. The span counts
    // characters, so the emoji (two UTF-16 units) before the hit must not shift the mark.
    sink.send(&alert(
        2,
        "我不管",
        "<img src=x onerror=alert(1)>🙂我不管",
        [29, 32],
    ))
    .unwrap();

    let mut browser = Browser::open(&format!("http://{addr}/alerts"));
    // The replay.
    browser.wait("document.querySelectorAll('#alerts li').length === 2");
    browser.wait("document.getElementById('conn').className === 'open'");
    // Live, after the page connected.
    assert_eq!(server.clients(), 1);
    sink.send(&alert(3, "有意见找领导去", "有意见找领导去！", [0, 7]))
        .unwrap();
    sink.send(&score("w07", "7号窗口", 79.25)).unwrap();
    sink.send(&online("w08", "8号窗口", true)).unwrap();
    browser.wait("document.querySelectorAll('#alerts li').length === 3");
    browser.wait("document.querySelector('[data-window=w07] .score').textContent === '79.3'");
    browser.wait("document.querySelector('[data-window=w08] .state').textContent === '在线'");
    // The play control loads the clip through /clips (0.1 s of audio).
    browser.eval("document.querySelector('#alerts audio').load()");
    browser.wait(
        "(a => a.readyState >= 1 && Math.abs(a.duration - 0.1) < 0.01)\
         (document.querySelector('#alerts audio'))",
    );

    browser.screenshot("serve-alerts.png");
    let dom = browser.eval("document.documentElement.outerHTML");
    let dom = dom.as_str().unwrap_or_default().to_string();
    let alerts = browser.eval(
        "Array.from(document.querySelectorAll('#alerts li')).map(li => ({
            id: li.dataset.id,
            text: li.textContent,
            mark: Array.from(li.querySelectorAll('mark')).map(m => m.textContent),
            audio: Array.from(li.querySelectorAll('audio')).map(a => a.getAttribute('src')),
        }))",
    );
    drop(browser);
    server.shutdown();

    // Windows: labels, states, live score.
    for expected in [
        "7号窗口",
        "8号窗口",
        "在线",
        "79.3",
        "文明服务评分",
        "实时告警",
    ] {
        assert!(dom.contains(expected), "no {expected} in the page:\n{dom}");
    }
    // Alerts newest first, each with its sentence, its mark and its clip.
    let alerts = alerts.as_array().expect("a list");
    let ids: Vec<&str> = alerts.iter().filter_map(|a| a["id"].as_str()).collect();
    assert_eq!(ids, ["w07-3-0", "w07-2-0", "w07-1-0"], "{alerts:?}");
    let marks: Vec<&serde_json::Value> = alerts.iter().map(|a| &a["mark"]).collect();
    assert_eq!(
        marks,
        [
            &serde_json::json!(["有意见找领导去"]),
            &serde_json::json!(["我不管"]),
            &serde_json::json!(["不知道"])
        ]
    );
    for a in alerts {
        assert_eq!(
            a["audio"],
            serde_json::json!(["/clips/w07/20261127-114803-0005.wav"]),
            "{a}"
        );
        let text = a["text"].as_str().unwrap_or_default();
        for field in [
            "窗口",
            "7号窗口",
            "11:48:03",
            "类别",
            "推诿扯皮",
            "严重程度",
            "置信度",
            "92%",
            "原话",
            "播放",
        ] {
            assert!(text.contains(field), "no {field} in {text}");
        }
    }
    assert!(dom.contains("<mark>不知道</mark>"), "{dom}");
    // The markup in the transcript is shown, not run.
    assert!(
        dom.contains("&lt;img src=x onerror=alert(1)&gt;🙂<mark>我不管</mark>"),
        "{dom}"
    );
    assert!(!dom.contains("<img"), "{dom}");
}
