//! `courtesy live` end to end: replayed windows in real time → Whisper → alerts as JSON lines,
//! the alert log and kept clips.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use crate::{model_path, root};

/// Runs `courtesy live` with `args` (the model and a private log/clip folder added); returns the
/// JSON events printed on stdout, in order.
pub fn live(args: &[&str], dir: &std::path::Path) -> Vec<Value> {
    let model = model_path();
    let _whisper = crate::whisper_lock();
    let out = Command::new(env!("CARGO_BIN_EXE_courtesy"))
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
        .unwrap();
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
