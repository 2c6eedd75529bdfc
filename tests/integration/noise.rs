//! The noisy set: the labelled clips heard through hall noise (`scripts/noise/make_noise.py`:
//! babble of six real voices, queue-number announcements, a keyboard and a printer) by
//! `courtesy eval --audio --noise FILE --snr DB`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

use crate::cli::courtesy;
use crate::root;

/// The three noise tracks, made once per test run.
fn noise(kind: &str) -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = root().join("target/noise");
        let out = std::process::Command::new("python3")
            .arg(root().join("scripts/noise/make_noise.py"))
            .arg(&dir)
            .env("HUMAN_MANDARIN", crate::speaker::human_mandarin())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    });
    dir.join(format!("{kind}.wav"))
}

/// The labelled clips of the given kinds (banned, trap, civil, neutral), copied with their rows
/// into a folder of their own.
fn subset(dir: &Path, kinds: &[&str]) -> PathBuf {
    let from = root().join("samples/labelled");
    let set = dir.join("set");
    std::fs::create_dir_all(&set).unwrap();
    let labels = std::fs::read_to_string(from.join("labels.tsv")).unwrap();
    let mut rows = labels
        .lines()
        .take(1)
        .map(str::to_string)
        .collect::<Vec<_>>();
    for line in labels.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if kinds.contains(&cols[4]) {
            std::fs::copy(
                from.join(format!("{}.wav", cols[0])),
                set.join(format!("{}.wav", cols[0])),
            )
            .unwrap();
            rows.push(line.to_string());
        }
    }
    std::fs::write(set.join("labels.tsv"), rows.join("\n") + "\n").unwrap();
    set
}

/// `courtesy eval SET --audio --json` (with `extra`): the audio summary.
fn eval_audio(set: &Path, extra: &[&str]) -> Value {
    let model = crate::model_path();
    let mut args = vec![
        "eval",
        set.to_str().unwrap(),
        "--audio",
        "--json",
        "--model",
        model.to_str().unwrap(),
    ];
    args.extend(extra);
    let _whisper = crate::whisper_lock();
    let out = courtesy(&args, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    report
        .into_iter()
        .find(|r| r["source"].as_str().unwrap_or("").starts_with("audio"))
        .unwrap()["summary"]
        .clone()
}

/// Babble of real voices at 10 dB costs some banned phrases and raises no false alarm on the
/// polite sentences that hold 不知道 or 不管; at 5 dB it costs more. The floors are the figures
/// measured here (README, `scripts/bench-noise.sh`) less a margin for another CPU's rounding.
#[test]
fn babble_costs_recall_by_its_level_and_raises_no_false_alarm() {
    let dir = tempfile::tempdir().unwrap();
    let set = subset(dir.path(), &["banned", "trap"]);
    let babble = noise("babble");
    let at = |snr: &str| {
        let s = eval_audio(&set, &["--noise", babble.to_str().unwrap(), "--snr", snr]);
        let heard: Vec<String> = s["outcomes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["heard"].as_str().unwrap().to_string())
            .collect();
        eprintln!(
            "babble at {snr} dB: banned {}/{}, false banned hits {}",
            s["banned_found"], s["banned_expected"], s["false_banned_hits"]
        );
        (s, heard)
    };
    let (ten, heard_ten) = at("10");
    let (five, heard_five) = at("5");
    let recall = |s: &Value| s["banned_recall"].as_f64().unwrap();
    assert!(recall(&ten) >= RECALL_10_DB_FLOOR, "{ten:#}");
    assert!(recall(&five) >= RECALL_5_DB_FLOOR, "{five:#}");
    assert!(
        recall(&five) <= recall(&ten) + 0.03,
        "5 dB heard better than 10 dB"
    );
    assert!(ten["false_banned_hits"].as_u64().unwrap() <= 1, "{ten:#}");
    assert!(five["false_banned_hits"].as_u64().unwrap() <= 1, "{five:#}");
    // The noise reached Whisper: the louder babble changed what it heard.
    let changed = heard_ten
        .iter()
        .zip(&heard_five)
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        changed * 4 >= heard_ten.len(),
        "only {changed} transcripts changed"
    );
}

/// Measured here (README, "Hall noise"): 29/37 (78.4 %) at 10 dB, 21/37 (56.8 %) at 5 dB; the
/// floors leave two or three phrases for another CPU's rounding.
const RECALL_10_DB_FLOOR: f64 = 0.70;
const RECALL_5_DB_FLOOR: f64 = 0.48;

/// A noise recording that cannot be used is one line naming it and the fix, before any model
/// is loaded.
#[test]
fn a_bad_noise_recording_is_one_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let set = subset(dir.path(), &["neutral"]);
    let silent = dir.path().join("silent.wav");
    courtesy::audio::write_wav(&silent, &vec![0.0; 48_000]).unwrap();
    let short = dir.path().join("short.wav");
    courtesy::audio::write_wav(&short, &vec![0.1; 4_000]).unwrap();
    let missing = dir.path().join("missing.wav");
    for (file, says) in [
        (&silent, "silent"),
        (&short, "shorter than 1 s"),
        (&missing, "cannot read the noise recording"),
    ] {
        let out = courtesy(
            &[
                "eval",
                set.to_str().unwrap(),
                "--audio",
                "--noise",
                file.to_str().unwrap(),
            ],
            None,
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(
            err.contains(file.to_str().unwrap()) && err.contains(says),
            "{err}"
        );
    }
    let out = courtesy(
        &[
            "eval",
            set.to_str().unwrap(),
            "--audio",
            "--noise",
            silent.to_str().unwrap(),
            "--snr",
            "99",
        ],
        None,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(2) && err.contains("--snr 99"),
        "{err}"
    );
}
