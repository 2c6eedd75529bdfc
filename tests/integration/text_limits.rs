//! `courtesy text` on inputs of any size (issue 11, defect 3): long lines are cut and reported,
//! hits carry a bounded context, JSON lines are written as they are found.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use crate::root;

fn courtesy(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_courtesy"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || input.write_all(&stdin));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    out
}

/// A 42 KB line of service sentences with a banned phrase in each: the JSON used to repeat the
/// whole line in every one of its ~3,000 hits (126 MB; 408 MB for a 100 KB line).
#[test]
fn issue_11_a_long_line_is_cut_once_and_hits_carry_a_bounded_context() {
    let line = "您好，请坐。有意见找领导去！".repeat(1000);
    let input = format!("第一行没有什么。\n{line}\n再见。\n");
    for format in ["json", "jsonl", "text"] {
        let out = courtesy(&["text", "--format", format], input.as_bytes());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        // ~3,000 hits of ~600 bytes each; repeating the line in each was 3,000 × 42 KB.
        assert!(
            out.stdout.len() < 100 * input.len(),
            "{format}: {} bytes of output for {} of input",
            out.stdout.len(),
            input.len()
        );
        let warnings: Vec<&str> = stderr.lines().filter(|l| l.contains("warning")).collect();
        assert_eq!(warnings.len(), 1, "{stderr}");
        assert!(warnings[0].contains("-:2:"), "{stderr}");
    }

    let out = courtesy(&["text", "--format", "json"], input.as_bytes());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["stats"]["cut_lines"], 1, "{}", json["stats"]);
    assert_eq!(json["stats"]["lines"], 3, "{}", json["stats"]);
    let hits = json["hits"].as_array().unwrap();
    let banned: Vec<&serde_json::Value> = hits.iter().filter(|h| h["kind"] == "banned").collect();
    assert_eq!(
        banned.len(),
        1000,
        "every sentence's banned phrase, none lost at a cut"
    );
    let chars: Vec<char> = line.chars().collect();
    for h in &banned {
        assert_eq!(h["line"], 2);
        let context = h["context"].as_str().unwrap();
        assert!(context.chars().count() <= 2 * 40 + 20, "{context}");
        assert!(context.contains("【有意见找领导去】"), "{context}");
        // The offset points at the hit in the whole line, across the cuts.
        let at = h["offset"].as_u64().unwrap() as usize;
        let there: String = chars[at..at + 7].iter().collect();
        assert_eq!(there, "有意见找领导去", "offset {at}");
    }
    assert!(hits.iter().all(|h| h.get("text").is_none()));
}

/// A line with no punctuation at all is cut anyway (hard cap) and still matched.
#[test]
fn issue_11_a_line_without_punctuation_is_cut_hard_and_matched() {
    let line = format!("{}有意见找领导去{}", "啊".repeat(5000), "啊".repeat(5000));
    let out = courtesy(
        &["text", "--format", "jsonl"],
        format!("{line}\n").as_bytes(),
    );
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let utterances = lines.iter().filter(|l| l["type"] == "utterance").count();
    assert!(utterances >= 8, "{utterances} pieces");
    let stats = lines.iter().find(|l| l["type"] == "stats").unwrap();
    assert_eq!(stats["cut_lines"], 1);
    let hit = lines
        .iter()
        .find(|l| l["type"] == "hit")
        .expect("the phrase is found");
    assert_eq!(hit["offset"], 5000);
    assert!(lines.iter().all(|l| l.to_string().len() < 3 * 4096 + 1000));
}

/// JSON lines leave as soon as a line is matched, while the input is still being written: a
/// tool can follow a growing file, and nothing waits for the whole input.
#[test]
fn issue_11_json_lines_stream_while_the_input_is_still_open() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_courtesy"))
        .args(["text", "--format", "jsonl"])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all("有意见找领导去！\n".as_bytes()).unwrap();
    stdin.flush().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut first = String::new();
        BufReader::new(stdout).read_line(&mut first).unwrap();
        tx.send(first).ok();
    });
    let first = rx.recv_timeout(Duration::from_secs(60));
    drop(stdin);
    child.wait().unwrap();
    let first = first.expect("no output while the input was open");
    assert!(first.contains("\"type\":\"utterance\""), "{first}");
}

/// Invalid UTF-8 names the line it is on.
#[test]
fn issue_11_invalid_utf8_in_text_names_the_line() {
    let out = courtesy(
        &["text"],
        b"\xe6\x82\xa8\xe5\xa5\xbd\nok\n\xb2\xbb\xd6\xaa\n",
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("-: line 3") && stderr.contains("iconv"),
        "{stderr}"
    );
}
