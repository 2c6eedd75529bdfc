//! Issue 11: a disk that fills up in the middle of a night. The record and its clips live on a
//! 2 MB tmpfs (mounted in a private mount namespace, so the test needs no privileges beyond
//! `unshare -rm`), which the test fills once the first recording is committed.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use courtesy::store::Store;

use crate::{model_path, root, whisper_lock};

/// Fills the file system holding `path` until it refuses more.
fn fill(path: &Path) -> std::io::Result<u64> {
    let mut f = std::fs::File::create(path)?;
    let block = vec![0u8; 64 << 10];
    let mut written = 0u64;
    loop {
        match f.write(&block) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(e) if e.raw_os_error() == Some(28) => break, // ENOSPC
            Err(e) => return Err(e),
        }
    }
    let _ = f.sync_all();
    Ok(written)
}

#[test]
fn issue_11_a_disk_that_fills_mid_batch_loses_nothing_recorded() {
    let model = model_path();
    let _whisper = whisper_lock();
    let dir = tempfile::tempdir().unwrap();
    let night = dir.path().join("night").join("w1");
    std::fs::create_dir_all(&night).unwrap();
    for id in ["L001", "L002", "L003", "L004"] {
        std::fs::copy(
            root().join(format!("samples/labelled/{id}.wav")),
            night.join(format!("{id}.wav")),
        )
        .unwrap();
    }
    let config = dir.path().join("courtesy.toml");
    std::fs::write(
        &config,
        "[asr]\nfit_encoder = true\nthreads = 2\n\n[batch]\nclip_sample = 1.0\n",
    )
    .unwrap();
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();

    // sh mounts the tmpfs, runs the night, says how it ended, then waits so that the test can
    // read the record through /proc/PID/root while the mount still exists.
    let script = r#"mount -t tmpfs -o size=2m tmpfs "$1" || exit 97
"$2" batch "$3" --db "$1/r.db" --config "$4" --lines
echo "exit=$?" >&2
read _"#;
    let mut child = Command::new("unshare")
        .args(["-rm", "sh", "-c", script, "sh"])
        .arg(&mnt)
        .arg(env!("CARGO_BIN_EXE_courtesy"))
        .arg(night.parent().unwrap())
        .arg(&config)
        .env("COURTESY_MODEL", &model)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare (util-linux) runs");
    // The mount as the child sees it.
    let inside = Path::new("/proc")
        .join(child.id().to_string())
        .join("root")
        .join(mnt.strip_prefix("/").unwrap());

    let mut stderr = Vec::new();
    let mut filled = None;
    let mut code = None;
    for line in BufReader::new(child.stderr.take().unwrap()).lines() {
        let line = line.unwrap();
        if filled.is_none() && line.starts_with("done ") {
            filled = Some(fill(&inside.join("filler")).unwrap());
        }
        if let Some(c) = line.strip_prefix("exit=") {
            code = Some(c.parse::<i32>().unwrap());
            break;
        }
        stderr.push(line);
    }
    let err = stderr.join("\n");
    assert_ne!(code, Some(97), "tmpfs mount refused: {err}");
    assert!(
        filled.is_some_and(|n| n > 0),
        "the disk was never filled: {err}"
    );
    // A full disk stops the night (exit 2: the record cannot go on) with one line that names
    // the record and the fix, never a panic.
    assert_eq!(code, Some(2), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let errors: Vec<&String> = stderr.iter().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{err}");
    assert!(
        errors[0].contains("r.db")
            && errors[0].contains("disk is full")
            && errors[0].ends_with("free disk space"),
        "{err}"
    );

    // The record as it was left: copied out while the namespace still exists.
    let kept = dir.path().join("kept");
    std::fs::create_dir(&kept).unwrap();
    std::fs::remove_file(inside.join("filler")).unwrap();
    for entry in std::fs::read_dir(&inside).unwrap().flatten() {
        if entry.path().is_file() {
            std::fs::copy(entry.path(), kept.join(entry.file_name())).unwrap();
        }
    }
    // Clips that made it to the disk, relative to the clip folder.
    let mut clips = Vec::new();
    let mut stack = vec![inside.join("clips")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                let rel = e
                    .path()
                    .strip_prefix(inside.join("clips"))
                    .unwrap()
                    .to_path_buf();
                clips.push(rel.display().to_string());
            }
        }
    }
    let _ = child.stdin.take().unwrap().write_all(b"\n");
    let _ = child.wait();

    let store = Store::open(kept.join("r.db").to_str().unwrap()).unwrap();
    let done = store
        .query(
            "SELECT r.path, COUNT(u.id) AS n FROM recordings r JOIN utterances u ON u.recording_id = r.id \
             WHERE r.status = 'done' GROUP BY r.path",
            &[],
        )
        .unwrap();
    // The recording committed before the disk filled is all there, with what was heard.
    assert!(!done.is_empty(), "nothing recorded survived: {err}");
    for row in &done {
        assert!(row.i64("n").unwrap() > 0, "{err}");
    }
    // Their clips too (every utterance is clipped here: clip_sample = 1.0); no temporary file
    // of the clip in hand is left behind.
    let kept_clips = store
        .query(
            "SELECT u.clip FROM utterances u JOIN recordings r ON r.id = u.recording_id \
             WHERE r.status = 'done'",
            &[],
        )
        .unwrap();
    for row in &kept_clips {
        let clip = row.string("clip").unwrap();
        assert!(clips.contains(&clip), "{clip} not in {clips:?}");
    }
    assert!(clips.iter().all(|c| !c.ends_with(".tmp")), "{clips:?}");
}

/// The same for `courtesy live`: its clips and the webhook's outbox on a 2 MB tmpfs, filled once
/// the first alert is queued (the webhook's receiver is down, so alerts wait in the outbox).
/// Alerts go on (stdout, the log elsewhere), each full folder is one warning line and one counted
/// `failure` event (exit 1), and the alerts queued before stay in the outbox, whole.
#[test]
fn issue_11_a_disk_that_fills_mid_live_run_keeps_the_queued_alerts() {
    let model = model_path();
    let _whisper = whisper_lock();
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec").join("w1");
    std::fs::create_dir_all(&rec).unwrap();
    // Seven different banned phrases, one after another: seven alerts.
    for (i, id) in ["L001", "L006", "L010", "L014", "L018", "L022", "L026"]
        .iter()
        .enumerate()
    {
        std::fs::copy(
            root().join(format!("samples/labelled/{id}.wav")),
            rec.join(format!("{i}-{id}.wav")),
        )
        .unwrap();
    }
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let config = dir.path().join("live.toml");
    std::fs::write(
        &config,
        format!(
            "[live]\noutbox = \"{}/outbox\"\nclips = \"{}/clips\"\nwebhook = \"http://127.0.0.1:9/alerts\"\n",
            mnt.display(),
            mnt.display()
        ),
    )
    .unwrap();
    let script = r#"mount -t tmpfs -o size=2m tmpfs "$1" || exit 97
"$2" live --replay "$3" --speed 2 --config "$4" --format jsonl --log "$5"
echo "exit=$?" >&2
read _"#;
    let mut child = Command::new("unshare")
        .args(["-rm", "sh", "-c", script, "sh"])
        .arg(&mnt)
        .arg(env!("CARGO_BIN_EXE_courtesy"))
        .arg(rec.parent().unwrap())
        .arg(&config)
        .arg(dir.path().join("alerts.jsonl"))
        .env("COURTESY_MODEL", &model)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare (util-linux) runs");
    let inside = Path::new("/proc")
        .join(child.id().to_string())
        .join("root")
        .join(mnt.strip_prefix("/").unwrap());
    let outbox = inside.join("outbox");
    let queued = || -> Vec<std::path::PathBuf> {
        let mut v: Vec<_> = std::fs::read_dir(&outbox)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        v.sort();
        v
    };
    let errors = std::thread::spawn({
        let stderr = child.stderr.take().unwrap();
        move || {
            let mut lines = Vec::new();
            for line in BufReader::new(stderr).lines() {
                let line = line.unwrap();
                let end = line.starts_with("exit=");
                lines.push(line);
                if end {
                    break;
                }
            }
            lines
        }
    });
    let mut alerts = 0;
    let mut outbox_failures = 0;
    let mut summary_failures = 0;
    let mut before = None;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let event: serde_json::Value = serde_json::from_str(&line.unwrap()).unwrap();
        if event["type"] == "alert" {
            alerts += 1;
            if before.is_none() {
                // The outbox is written by the sink thread just after stdout: wait for it.
                let t0 = std::time::Instant::now();
                while queued().is_empty() && t0.elapsed().as_secs() < 10 {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                let files = queued();
                let contents: Vec<Vec<u8>> =
                    files.iter().map(|f| std::fs::read(f).unwrap()).collect();
                fill(&inside.join("filler")).unwrap();
                before = Some((files, contents));
            }
        }
        if event["type"] == "failure"
            && event["error"]
                .as_str()
                .is_some_and(|e| e.contains("outbox"))
        {
            outbox_failures += 1;
        }
        if event["type"] == "summary" {
            summary_failures = event["failures"].as_u64().unwrap();
            break;
        }
    }
    let stderr = errors.join().unwrap();
    let err = stderr.join("\n");
    let (files, contents) = before.unwrap_or_else(|| panic!("no alert: {err}"));
    assert!(!files.is_empty(), "{err}");
    // Every alert was still raised; nothing panicked.
    assert_eq!(alerts, 7, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    // Each full folder is counted: the run says something could not be written (exit 1).
    assert_eq!(stderr.last().map(String::as_str), Some("exit=1"), "{err}");
    assert!(summary_failures >= 1, "{err}");
    // One line per full folder, naming it and the fix.
    let warnings: Vec<&String> = stderr
        .iter()
        .filter(|l| l.starts_with("warning:"))
        .collect();
    assert!(
        warnings
            .iter()
            .any(|l| l.contains("outbox") && l.contains("disk has room")),
        "{err}"
    );
    assert!(
        warnings.len() <= 2 && warnings.iter().all(|l| !l.contains('\n')),
        "{err}"
    );
    // The outage is also one `failure` event where alerts are read.
    assert_eq!(outbox_failures, 1, "{err}");
    // The alerts queued before the disk filled are still there, byte for byte.
    let now = queued();
    for (f, c) in files.iter().zip(&contents) {
        assert!(now.contains(f), "{} was lost: {err}", f.display());
        assert_eq!(&std::fs::read(f).unwrap(), c);
    }
    // No half-written clip or outbox file is left behind.
    for folder in [inside.join("clips/w1"), outbox.clone()] {
        for e in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            assert!(!name.ends_with(".tmp"), "{name}: {err}");
        }
    }
    let _ = child.stdin.take().unwrap().write_all(b"\n");
    let _ = child.wait();
}
