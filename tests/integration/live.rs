//! `courtesy live` end to end: replayed windows in real time → Whisper → alerts as JSON lines,
//! the alert log and kept clips.

use std::collections::BTreeMap;
use std::process::Command;

use std::time::Duration;

use serde_json::Value;

use crate::{model_path, root};

/// Runs `courtesy live ARGS --format jsonl` with the model and a private log/clip folder added.
pub fn run_live(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    let model = model_path();
    let _whisper = crate::whisper_lock();
    Command::new(env!("CARGO_BIN_EXE_courtesy"))
        .arg("live")
        .args(args)
        .args(["--format", "jsonl", "--model"])
        .arg(&model)
        .arg("--log")
        .arg(dir.join("alerts.jsonl"))
        .arg("--clips")
        .arg(dir.join("clips"))
        .current_dir(root())
        .output()
        .unwrap()
}

/// Runs `courtesy live` with `args` (see [`run_live`]); returns the JSON events printed on
/// stdout, in order.
pub fn live(args: &[&str], dir: &std::path::Path) -> Vec<Value> {
    let out = run_live(args, dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "exit {:?}: {stderr}", out.status);
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// Banned phrases alerted per window.
pub fn alerts_by_window(events: &[Value]) -> BTreeMap<String, Vec<String>> {
    let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in events.iter().filter(|e| e["type"] == "alert") {
        m.entry(e["window"].as_str().unwrap().into())
            .or_default()
            .push(e["phrase"].as_str().unwrap().into());
    }
    m
}

#[test]
fn replayed_windows_raise_the_right_alerts_for_the_right_windows() {
    let dir = tempfile::tempdir().unwrap();
    let events = live(&["--replay", "samples/windows", "--speed", "2"], dir.path());
    // First the box says what it can serve: one timed call, priced into windows.
    let c = &events[0];
    assert_eq!(c["type"], "capacity", "{c}");
    assert_eq!(c["windows"], 4, "{c}");
    assert_eq!(c["basis"], "timed", "{c}");
    assert_eq!(c["work_seconds"], c["call_seconds"], "{c}");
    let call = c["call_seconds"].as_f64().unwrap();
    assert!(call > 0.0 && call < 30.0, "{c}");
    assert_eq!(c["latency_target"], 2.0, "{c}");
    let alerts = alerts_by_window(&events);
    // The polite window and the polite sentences that contain 不知道/不管 raise nothing.
    assert!(!alerts.contains_key("w01-polite"), "{alerts:?}");
    assert!(!alerts.contains_key("w04-traps"), "{alerts:?}");
    // The rude window says all eight; Whisper mishears some, the matcher must still get most.
    let rude = &alerts["w02-rude"];
    assert!(rude.len() >= 6, "{rude:?}");
    assert!(
        alerts["w03-mixed"].contains(&"不行，重填".to_string()),
        "{alerts:?}"
    );

    // Every alert carries its evidence: the highlighted span and a clip that plays.
    for a in events.iter().filter(|e| e["type"] == "alert") {
        let text = a["text"].as_str().unwrap();
        let [s, e] = [0, 1].map(|i| a["span"][i].as_u64().unwrap() as usize);
        assert_eq!(&text[s..e], a["matched"].as_str().unwrap());
        let clip = dir.path().join("clips").join(a["clip"].as_str().unwrap());
        assert!(
            courtesy::audio::read_wav(&clip).unwrap().len() > 8_000,
            "{clip:?}"
        );
        assert!(a["latency"].as_f64().unwrap() >= 0.0);
    }

    // Rolling scores: the rude window ends lowest.
    let last_score = |w: &str| {
        events
            .iter()
            .rev()
            .find(|e| e["type"] == "score" && e["window"] == w)
            .and_then(|e| e["score"].as_f64())
            .unwrap_or_else(|| panic!("no score for {w}"))
    };
    assert!(last_score("w02-rude") < last_score("w01-polite"));

    // Each replayed window shows as online while it plays, and says when it has ended.
    for w in ["w01-polite", "w02-rude", "w03-mixed", "w04-traps"] {
        let states: Vec<bool> = events
            .iter()
            .filter(|e| e["type"] == "window" && e["window"] == w)
            .map(|e| e["online"].as_bool().unwrap())
            .collect();
        assert_eq!(states, [true, false], "{w}");
    }

    // The run ends by itself with a summary: nothing dropped, every alert in the log.
    let summary = events.last().unwrap();
    assert_eq!(summary["type"], "summary", "{summary}");
    assert_eq!(summary["windows"], 4);
    assert_eq!(summary["dropped_utterances"], 0);
    let logged = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    let logged_alerts = logged
        .lines()
        .filter(|l| l.contains("\"type\":\"alert\""))
        .count();
    assert_eq!(logged_alerts, alerts.values().map(Vec::len).sum::<usize>());
}

#[test]
fn live_without_windows_or_with_a_bad_replay_folder_says_what_to_do() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_courtesy"))
            .arg("live")
            .args(args)
            .current_dir(root())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&[]);
    assert_eq!(code, Some(2));
    assert!(
        err.contains("[[window]]") && err.contains("--replay"),
        "{err}"
    );
    let (code, err) = run(&["--replay", "no/such/folder"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("no/such/folder"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// A `courtesy live` process whose JSON lines are read as they come.
struct LiveProcess {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<Value>,
    seen: Vec<Value>,
    /// `wait_for` looks at events from here on.
    from: usize,
}

impl LiveProcess {
    fn spawn(args: &[&str], env: &[(String, String)]) -> LiveProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_courtesy"))
            .arg("live")
            .args(args)
            .args(["--format", "jsonl", "--model"])
            .arg(model_path())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(root())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let v: Value =
                    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
                if tx.send(v).is_err() {
                    return;
                }
            }
        });
        LiveProcess {
            child,
            lines,
            seen: Vec::new(),
            from: 0,
        }
    }

    /// From now on, `wait_for` ignores the events seen so far.
    fn mark(&mut self) {
        self.seen.extend(self.lines.try_iter());
        self.from = self.seen.len();
    }

    /// Waits until an event since the last `mark` satisfies `pred`; panics after `timeout`.
    fn wait_for(
        &mut self,
        what: &str,
        timeout: std::time::Duration,
        pred: impl Fn(&Value) -> bool,
    ) {
        let deadline = std::time::Instant::now() + timeout;
        while !self.seen[self.from..].iter().any(&pred) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(v) => self.seen.push(v),
                Err(_) => panic!("no {what} within {timeout:?}; events: {:#?}", self.seen),
            }
        }
    }

    /// Ctrl-C, then everything it printed until it exited (successfully).
    fn interrupt(self) -> Vec<Value> {
        self.signal("-INT")
    }

    /// `kill SIGNAL`, then everything it printed until it exited (successfully).
    fn signal(mut self, signal: &str) -> Vec<Value> {
        self.seen.extend(self.lines.try_iter());
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
            .success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "live exited with {status:?}");
        self.seen.extend(self.lines.iter());
        std::mem::take(&mut self.seen)
    }
}

impl Drop for LiveProcess {
    /// A failed test must not leave the process running (it holds the output pipe open).
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_status(w: &str, online: bool) -> impl Fn(&Value) -> bool + '_ {
    move |e| e["type"] == "window" && e["window"] == w && e["online"] == online
}

/// The real audio path: a private PulseAudio with one null sink per window stands in for three
/// counters' microphones; `courtesy live` records the sinks' monitors through ALSA's pulse plugin
/// (cpal), while paplay speaks the dialogues into them. Mid-run window 3's device vanishes and
/// comes back: only window 3 goes offline, and it recovers.
#[test]
fn microphones_through_a_real_audio_server_alert_the_right_windows_and_survive_an_unplug() {
    let pulse = crate::pulse::Pulse::start(3, false);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("windows.toml");
    std::fs::write(
        &config,
        format!(
            "[live]\nlog = {:?}\nclips = {:?}\nstall_seconds = 1.5\ndebounce_seconds = 0\n\n\
             [[window]]\nid = \"w01\"\nlabel = \"1号窗口\"\ndevice = \"win01\"\n\n\
             [[window]]\nid = \"w02\"\nlabel = \"2号窗口\"\ndevice = \"win02\"\n\n\
             [[window]]\nid = \"w03\"\nlabel = \"3号窗口\"\ndevice = \"win03\"\n",
            dir.path().join("alerts.jsonl"),
            dir.path().join("clips"),
        ),
    )
    .unwrap();
    let _whisper = crate::whisper_lock();
    let mut live = LiveProcess::spawn(&["--config", config.to_str().unwrap()], &pulse.env);
    for w in ["w01", "w02", "w03"] {
        live.wait_for("window online", Duration::from_secs(30), is_status(w, true));
    }

    // Three counters at once.
    let sample = |p: &str| root().join("samples/windows").join(p);
    let players = [
        pulse.play("win01", &sample("w01-polite/s1.wav")),
        pulse.play("win02", &sample("w02-rude/s1.wav")),
        pulse.play("win03", &sample("w03-mixed/s1.wav")),
    ];
    for p in players {
        p.wait();
    }
    let alert = |w: &'static str, phrase: &'static str| {
        move |e: &Value| e["type"] == "alert" && e["window"] == w && e["phrase"] == phrase
    };
    live.wait_for(
        "w03's 不行，重填",
        Duration::from_secs(60),
        alert("w03", "不行，重填"),
    );

    // Window 3's device vanishes; window 2 keeps talking and keeps being heard.
    live.mark();
    pulse.unload_sink("win03");
    live.wait_for(
        "w03 offline",
        Duration::from_secs(15),
        is_status("w03", false),
    );
    pulse.play("win02", &sample("w02-rude/s2.wav")).wait();
    live.wait_for(
        "w02's 不知道",
        Duration::from_secs(60),
        alert("w02", "不知道"),
    );
    // It comes back and is heard again.
    live.mark();
    pulse.load_sink("win03");
    live.wait_for(
        "w03 back online",
        Duration::from_secs(30),
        is_status("w03", true),
    );
    pulse.play("win03", &sample("w02-rude/s1.wav")).wait();
    live.wait_for(
        "w03's 有牌子 after the unplug",
        Duration::from_secs(60),
        alert("w03", "有牌子，自己看"),
    );

    let events = live.interrupt();
    let alerts = alerts_by_window(&events);
    assert!(!alerts.contains_key("w01"), "the polite window: {alerts:?}");
    assert!(alerts["w02"].len() >= 5, "{alerts:?}");
    // w01 and w02 never went offline.
    assert!(
        !events.iter().any(is_status("w01", false)) && !events.iter().any(is_status("w02", false))
    );
    let summary = events.last().unwrap();
    assert_eq!(summary["type"], "summary", "{summary}");
    assert_eq!(summary["overrun_frames"], 0, "{summary}");
    assert_eq!(summary["dropped_utterances"], 0, "{summary}");
}

/// Issue 11: Ctrl-C on a box that had fallen behind transcribed its whole backlog first (about 20
/// minutes after an overloaded soak). Now the drain lasts at most `[live] drain_seconds`, a call
/// still in flight is cut short, and what was left is one `shutdown` event (per window) and the
/// summary's `untranscribed_*`.
#[test]
fn issue_11_a_stop_is_bounded_by_drain_seconds_and_reports_what_was_left() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    // Eight windows of speech replayed twenty times faster than real time, looping: far more
    // than Whisper can keep up with, so a backlog builds.
    for i in 1..=8 {
        let w = rec.join(format!("w{i}"));
        std::fs::create_dir_all(&w).unwrap();
        for f in ["s1.wav", "s2.wav"] {
            std::fs::copy(root().join("samples/windows/w02-rude").join(f), w.join(f)).unwrap();
        }
    }
    let config = dir.path().join("live.toml");
    std::fs::write(
        &config,
        format!(
            "[live]\nlog = {:?}\nclips = {:?}\ndrain_seconds = 2\n",
            dir.path().join("alerts.jsonl"),
            dir.path().join("clips"),
        ),
    )
    .unwrap();
    let _whisper = crate::whisper_lock();
    let mut live = LiveProcess::spawn(
        &[
            "--replay",
            rec.to_str().unwrap(),
            "--loop",
            "--speed",
            "20",
            "--config",
            config.to_str().unwrap(),
        ],
        &[],
    );
    live.wait_for("an utterance", Duration::from_secs(300), |e| {
        e["type"] == "utterance"
    });
    std::thread::sleep(Duration::from_secs(3));
    let stopped = std::time::Instant::now();
    // SIGTERM, what systemd and `kill` send, stops it the same way as Ctrl-C.
    let events = live.signal("-TERM");
    let took = stopped.elapsed();
    // Overloaded: it said so, as an event, before the drain (never silently late).
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "load" && e["level"] == "behind"),
        "no load event: {events:#?}"
    );
    // 2 s of drain, then the sinks' flush and the process's end.
    assert!(took < Duration::from_secs(10), "stopping took {took:?}");
    let shutdowns: Vec<&Value> = events.iter().filter(|e| e["type"] == "shutdown").collect();
    assert_eq!(shutdowns.len(), 1, "{events:#?}");
    let d = shutdowns[0];
    assert_eq!(d["drain_seconds"], 2.0, "{d}");
    let left = d["utterances"].as_u64().unwrap();
    assert!(left > 0, "no backlog was left, so nothing was tested: {d}");
    let per: u64 = d["windows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["utterances"].as_u64().unwrap())
        .sum();
    assert_eq!(per, left, "{d}");
    let summary = events.last().unwrap();
    assert_eq!(summary["type"], "summary", "{summary}");
    assert_eq!(summary["untranscribed_utterances"], left, "{summary}");
    assert_eq!(summary["untranscribed_seconds"], d["seconds"], "{summary}");
    // Cut short is not a failure.
    assert_eq!(summary["failures"], 0, "{summary}");
    let log = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    assert!(log.contains("\"type\":\"shutdown\""), "{log}");
}

/// Issue 9 (6): an utterance the short encoder context mishears next to a banned phrase is heard
/// again with the full context, and the phrase the first hearing missed is alerted.
#[test]
fn a_near_miss_is_heard_again_with_more_context_and_alerted() {
    let dir = tempfile::tempdir().unwrap();
    // 不行，重填一张 (labelled clip L031): with 10 s of encoder context Whisper writes 不行,重便一张
    // (the banned 不行，重填 not there, its piece 不行 is); with 30 s, 不行,重填一张.
    let window = dir.path().join("replay").join("w01");
    std::fs::create_dir_all(&window).unwrap();
    std::fs::copy(
        crate::root().join("samples/labelled/L031.wav"),
        window.join("L031.wav"),
    )
    .unwrap();
    let replay = dir.path().join("replay");
    let replay = replay.to_str().unwrap();
    let run = |recheck: f64| {
        let config = dir.path().join(format!("recheck-{recheck}.toml"));
        std::fs::write(
            &config,
            format!("[live]\nrecheck_encoder_seconds = {recheck}\n"),
        )
        .unwrap();
        live(
            &["--replay", replay, "--config", config.to_str().unwrap()],
            dir.path(),
        )
    };
    let lexicon = courtesy::lexicon::Lexicon::builtin().unwrap();
    let matcher = courtesy::matcher::Matcher::new(&lexicon);
    let recheck = courtesy::matcher::nearly::Recheck::new(&matcher);

    // Without a second hearing: the first one nearly holds the phrase, and nothing is alerted.
    let once = run(0.0);
    let heard: Vec<&str> = once
        .iter()
        .filter(|e| e["type"] == "utterance")
        .map(|e| e["text"].as_str().unwrap())
        .collect();
    assert_eq!(heard.len(), 1, "{once:?}");
    assert_eq!(
        recheck.nearly(heard[0]).as_deref(),
        Some("不行，重填"),
        "{heard:?}"
    );
    assert!(alerts_by_window(&once).is_empty(), "{once:?}");
    let summary = once.last().unwrap();
    assert_eq!(summary["rechecked_utterances"], 0, "{summary}");

    // With it (the default, 30 s): one more call, and the alert, marked as a second hearing's.
    let twice = run(30.0);
    let alerts: Vec<&Value> = twice.iter().filter(|e| e["type"] == "alert").collect();
    assert_eq!(alerts.len(), 1, "{twice:?}");
    assert_eq!(alerts[0]["phrase"], "不行，重填");
    assert!(alerts[0]["id"].as_str().unwrap().contains("-1-again-"));
    assert!(alerts[0]["clip"].is_string(), "{}", alerts[0]);
    let summary = twice.last().unwrap();
    assert_eq!(summary["rechecked_utterances"], 1, "{summary}");
    assert_eq!(
        summary["whisper_calls"].as_u64(),
        once.last().unwrap()["whisper_calls"]
            .as_u64()
            .map(|n| n + 1)
    );
}
