//! Issue 11: hostile or unusual inputs to `courtesy live` and `eval` — each refused in one line,
//! reported as an event, or kept inside its folder; never a panic, a hang or a silent exit 0.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::root;

use crate::live::run_live as live;

fn events(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file under `dir`, relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Defect 1: `--speed 1e-300` panicked the replay thread and still exited 0 with no alerts.
#[test]
fn issue_11_an_absurd_replay_speed_is_refused_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    std::fs::copy(root().join("samples/labelled/L001.wav"), rec.join("w1.wav")).unwrap();
    for speed in ["1e-300", "0", "nan", "1e9"] {
        let out = live(
            &["--replay", rec.to_str().unwrap(), "--speed", speed],
            dir.path(),
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "--speed {speed}: {err}");
        assert!(err.contains("--speed") && err.contains("0.01"), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// Defect 6: replaying a file named `...wav` wrote its clip outside the clips folder.
#[test]
fn issue_11_replayed_file_names_never_write_outside_the_clip_folder() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    // L001 says 不知道: an alert, so a clip is written.
    for name in ["...wav", "..%2f..wav"] {
        std::fs::copy(root().join("samples/labelled/L001.wav"), rec.join(name)).unwrap();
    }
    let out = live(
        &["--replay", rec.to_str().unwrap(), "--speed", "10"],
        dir.path(),
    );
    let err = stderr(&out);
    let outside: Vec<String> = files_under(dir.path())
        .into_iter()
        .filter(|f| !f.starts_with("clips/") && !f.starts_with("rec/") && f != "alerts.jsonl")
        .collect();
    assert!(
        outside.is_empty(),
        "written outside the clip folder: {outside:?}; {err}"
    );
    // The unsafe names are refused up front, naming the file and the fix.
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        (err.contains("/...wav") || err.contains("/..%2f..wav")) && err.contains("rename"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// Defect 8: a replayed file that failed was only a line on stderr, and the summary's
/// `speech_seconds` was always 0.
#[test]
fn issue_11_a_failed_replay_file_is_an_event_and_speech_is_counted() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("rec").join("w1");
    std::fs::create_dir_all(&w).unwrap();
    std::fs::copy(
        root().join("samples/labelled/L001.wav"),
        w.join("a-good.wav"),
    )
    .unwrap();
    std::fs::write(w.join("b-bad.wav"), b"this is not a wav file at all").unwrap();
    let out = live(
        &[
            "--replay",
            dir.path().join("rec").to_str().unwrap(),
            "--speed",
            "10",
        ],
        dir.path(),
    );
    let err = stderr(&out);
    // Issue 11: the run exited 0 although a file failed; like `analyze`, it is now 1.
    assert_eq!(out.status.code(), Some(1), "{err}");
    let events = events(&out);
    let failure = events
        .iter()
        .find(|e| e["type"] == "failure")
        .unwrap_or_else(|| panic!("no failure event: {events:#?}\n{err}"));
    assert_eq!(failure["window"], "w1", "{failure}");
    assert!(
        failure["file"].as_str().unwrap().ends_with("b-bad.wav"),
        "{failure}"
    );
    assert!(
        failure["error"].as_str().unwrap().contains("b-bad.wav"),
        "{failure}"
    );
    let log = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("\"type\":\"failure\"") && l.contains("b-bad.wav")),
        "{log}"
    );
    let summary = events.last().unwrap();
    assert_eq!(summary["type"], "summary", "{summary}");
    assert_eq!(summary["failures"], 1, "{summary}");
    let speech = summary["speech_seconds"].as_f64().unwrap();
    assert!(
        (0.5..=2.5).contains(&speech),
        "speech_seconds {speech}: {summary}"
    );
}

/// Defect 8: `--http localhost:8080` was refused (only numeric addresses parsed).
#[test]
fn issue_11_http_accepts_a_host_name() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut wav = hound::WavWriter::create(rec.join("w1.wav"), spec).unwrap();
    for _ in 0..1600 {
        wav.write_sample(0i16).unwrap();
    }
    wav.finalize().unwrap();
    let db = dir.path().join("courtesy.db");
    let out = live(
        &[
            "--replay",
            rec.to_str().unwrap(),
            "--http",
            "localhost:0",
            "--db",
            db.to_str().unwrap(),
        ],
        dir.path(),
    );
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("the desk's live view: http://"), "{err}");
    // Without a record there are no logins, so no page: refused before the model loads.
    let out = live(
        &["--replay", rec.to_str().unwrap(), "--http", "localhost:0"],
        dir.path(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--db") && err.contains("supervisor"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let out = live(
        &[
            "--replay",
            rec.to_str().unwrap(),
            "--http",
            "no-such-host.invalid:8080",
        ],
        dir.path(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("no-such-host.invalid:8080") && err.contains("--http"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

/// Defect 8: `eval` on an empty label set reported 100 %.
#[test]
fn issue_11_eval_on_an_empty_label_set_fails() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("labels.tsv"),
        "id\ttext\tbanned\tcivil\tkind\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_courtesy"))
        .arg("eval")
        .arg(dir.path())
        .current_dir(root())
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no labelled sentences"), "{err}");
}

/// A float WAV of `seconds` at 16 kHz whose every sample is NaN.
fn all_nan_wav(path: &Path, seconds: usize) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for _ in 0..seconds * 16_000 {
        w.write_sample(f32::NAN).unwrap();
    }
    w.finalize().unwrap();
}

/// Defect 8: an all-NaN recording was silence to every command: no speech, no warning, exit 0.
/// Now `analyze` and `batch` name the file and the count (exit 1, the file noted in the record)
/// and a replay sends a `failure` event (exit 1).
#[test]
fn issue_11_an_all_nan_recording_is_reported_by_analyze_batch_and_live() {
    let dir = tempfile::tempdir().unwrap();
    let w = dir.path().join("w1");
    std::fs::create_dir(&w).unwrap();
    let nan = w.join("W01_20261130_080000.wav");
    all_nan_wav(&nan, 2);
    let model = crate::model_path();
    let courtesy = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_courtesy"))
            .args(args)
            .env("COURTESY_MODEL", &model)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let says_nan = |line: &str| {
        line.contains("W01_20261130_080000.wav")
            && line.contains("32000 of 32000 samples (all) are not numbers")
    };

    let out = courtesy(&["analyze", w.to_str().unwrap(), "--format", "json"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.lines().filter(|l| says_nan(l)).count(),
        1,
        "once per file: {err}"
    );
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        says_nan(json["failures"][0]["error"].as_str().unwrap()),
        "{json}"
    );

    let db = dir.path().join("r.db");
    let out = courtesy(&[
        "batch",
        w.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--json",
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.lines().any(says_nan), "{err}");
    let store = courtesy::store::Store::open(db.to_str().unwrap()).unwrap();
    let rows = store
        .query("SELECT status, error FROM recordings", &[])
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(
        says_nan(&rows[0].string("error").unwrap()),
        "the record's note"
    );

    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    all_nan_wav(&rec.join("w2.wav"), 1);
    let out = live(
        &["--replay", rec.to_str().unwrap(), "--speed", "10"],
        dir.path(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let events = events(&out);
    let failures: Vec<&Value> = events.iter().filter(|e| e["type"] == "failure").collect();
    assert_eq!(failures.len(), 1, "{events:#?}");
    assert_eq!(failures[0]["window"], "w2");
    assert!(
        failures[0]["error"]
            .as_str()
            .unwrap()
            .contains("16000 of 16000 samples (all) are not numbers"),
        "{}",
        failures[0]
    );
}

/// Issue 11: a clip that could not be written (here a file where the clip folder should be) was
/// a warning on stderr only: no `failure` event, not counted, exit 0. Now it is one `failure`
/// event (window, what, error) in the JSON lines and the alert log, counted, and the exit is 1;
/// the alert still goes out.
#[test]
fn issue_11_a_clip_that_cannot_be_written_is_a_counted_failure_event() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir(&rec).unwrap();
    // L001 says 不知道: an alert, so a clip is due.
    std::fs::copy(root().join("samples/labelled/L001.wav"), rec.join("w1.wav")).unwrap();
    std::fs::write(dir.path().join("clips"), b"not a folder").unwrap();
    let out = live(
        &["--replay", rec.to_str().unwrap(), "--speed", "10"],
        dir.path(),
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let events = events(&out);
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "alert" && e["clip"].is_null()),
        "{events:#?}"
    );
    let failures: Vec<&Value> = events.iter().filter(|e| e["type"] == "failure").collect();
    assert_eq!(failures.len(), 1, "{events:#?}");
    assert_eq!(failures[0]["window"], "w1");
    assert_eq!(failures[0]["what"], "clip");
    assert!(
        failures[0]["error"].as_str().unwrap().contains("clips"),
        "{}",
        failures[0]
    );
    let summary = events.last().unwrap();
    assert_eq!(summary["type"], "summary", "{summary}");
    assert_eq!(summary["failures"], 1, "{summary}");
    let log = std::fs::read_to_string(dir.path().join("alerts.jsonl")).unwrap();
    assert!(
        log.lines()
            .any(|l| l.contains("\"type\":\"failure\"") && l.contains("\"what\":\"clip\"")),
        "{log}"
    );
}
