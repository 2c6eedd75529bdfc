//! The binary as a person uses it: exit codes, one-line errors, formats.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::{model_path, root};

/// Runs the binary from the repository root, with `stdin` as its input.
pub fn courtesy(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_courtesy"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(s) = stdin {
        // A run that fails early (a bad lexicon) may exit before reading its input.
        match child.stdin.take().unwrap().write_all(s.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
            r => r.unwrap(),
        }
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

#[test]
fn a_corrupt_wav_fails_alone_and_the_rest_is_analysed() {
    let dir = tempfile::tempdir().unwrap();
    let win = dir.path().join("w09");
    std::fs::create_dir(&win).unwrap();
    std::fs::copy(
        root().join("samples/labelled/L001.wav"),
        win.join("good.wav"),
    )
    .unwrap();
    std::fs::write(
        win.join("bad.wav"),
        b"this is not a wav file at all, just text",
    )
    .unwrap();
    let model = model_path();
    let _whisper = crate::whisper_lock();
    let out = courtesy(
        &[
            "analyze",
            win.to_str().unwrap(),
            "--format",
            "json",
            "--model",
            model.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("bad.wav"), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let utts = json["utterances"].as_array().unwrap();
    assert!(
        utts.iter()
            .any(|u| u["file"].as_str().unwrap().ends_with("good.wav")),
        "{json}"
    );
    assert!(
        json["hits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["kind"] == "banned" && h["phrase"] == "不知道"),
        "{json}"
    );
    assert_eq!(json["windows"][0]["window"], "w09");
    assert_eq!(json["windows"][0]["failed_files"], 1);
}

#[test]
fn a_missing_model_says_how_to_install_it() {
    let out = courtesy(
        &[
            "analyze",
            "samples/labelled/L001.wav",
            "--model",
            "/nonexistent/ggml.bin",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("courtesy model install"), "{stderr}");
}

#[test]
fn text_from_stdin_as_json_lines() {
    let out = courtesy(
        &["text", "--format", "jsonl", "--window", "w7"],
        Some("您好，请坐。\n有意見找領導去！\n\n不知道您带身份证了吗？\n"),
    );
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let hits: Vec<&serde_json::Value> = lines.iter().filter(|l| l["type"] == "hit").collect();
    let banned: Vec<&str> = hits
        .iter()
        .filter(|h| h["kind"] == "banned")
        .map(|h| h["phrase"].as_str().unwrap())
        .collect();
    assert_eq!(banned, ["有意见找领导去"]);
    let h = hits.iter().find(|h| h["kind"] == "banned").unwrap();
    assert_eq!(h["window"], "w7");
    assert_eq!(h["matched"], "有意見找領導去");
    assert_eq!(h["clause"], "文明服务用语规范 三、禁忌用语");
    assert!(lines
        .iter()
        .any(|l| l["type"] == "window" && l["window"] == "w7"));
    assert_eq!(lines.iter().filter(|l| l["type"] == "utterance").count(), 3);
}

#[test]
fn a_bad_lexicon_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        root().join("lexicons/civil.toml"),
        dir.path().join("civil.toml"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("banned.toml"),
        "[[phrase]]\nphrase = \"不知道\"\ncategory = \"推诿\"\nseverity = 9\nclause = \"x\"\n",
    )
    .unwrap();
    let out = courtesy(
        &["text", "--lexicons", dir.path().to_str().unwrap()],
        Some("不知道"),
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("banned.toml:1:") && stderr.contains("severity 9"),
        "{stderr}"
    );
}

#[test]
fn text_report_ranks_windows_and_shows_evidence() {
    let out = courtesy(&["text", "--window", "w3"], Some("有牌子，你自己看。\n"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("BANNED 有牌子，自己看"), "{stdout}");
    assert!(stdout.contains("【有牌子，你自己看】"), "{stdout}");
}
