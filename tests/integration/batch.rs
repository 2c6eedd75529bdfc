//! The nightly batch through the binary: the record it leaves, kill -9 at random moments, many
//! workers on one PostgreSQL, bad input, rescoring, the roster and the report.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use courtesy::store::{Store, Value};

use crate::{model_path, root, whisper_lock};

/// A night: the four sample windows' dialogues, named as a recorder names them (window and clock
/// time in the name), plus one labelled clip as MP3.
fn night(dir: &Path) -> PathBuf {
    let night = dir.join("2026-11-30");
    let mut n = 0;
    for (w, window) in ["w01-polite", "w02-rude", "w03-mixed", "w04-traps"]
        .iter()
        .enumerate()
    {
        let src = root().join("samples/windows").join(window);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&src)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "wav"))
            .collect();
        files.sort();
        let out = night.join(format!("W0{}", w + 1));
        std::fs::create_dir_all(&out).unwrap();
        for (i, f) in files.iter().enumerate() {
            n += 1;
            let name = format!("W0{}_20261130_0{}{}000.wav", w + 1, 8 + i, 3 * i);
            std::fs::copy(f, out.join(name)).unwrap();
        }
    }
    let mp3 = root().join("samples/formats/L003.mp3");
    if mp3.exists() {
        std::fs::copy(&mp3, night.join("W04").join("W04_20261130_150000.mp3")).unwrap();
        n += 1;
    }
    assert!(n >= 6, "{n} files");
    night
}

/// A fast, deterministic configuration for tests: the fitted encoder (same words on every run,
/// a fraction of the time) and the record where the test says.
fn config(dir: &Path, extra: &str) -> PathBuf {
    let p = dir.join("courtesy.toml");
    std::fs::write(
        &p,
        format!(
            "[asr]\nfit_encoder = true\nthreads = 2\n\n[batch]\nutc_offset = \"+08:00\"\nclip_sample = 0.0\n{extra}\n"
        ),
    )
    .unwrap();
    p
}

fn courtesy_cmd(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_courtesy"));
    c.args(args)
        .env("COURTESY_MODEL", model_path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn run(args: &[&str]) -> Output {
    courtesy_cmd(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The record as a sorted list of lines, without ids, run numbers or wall-clock stamps: two
/// records are the same night's record when these are equal.
fn dump(db: &str) -> Vec<String> {
    let store = Store::open(db).unwrap();
    let q = |sql: &str| store.query(sql, &[]).unwrap();
    let cell = |v: &Value| match v {
        Value::Null => "∅".to_string(),
        Value::Int(i) => i.to_string(),
        Value::Real(f) => format!("{f:.3}"),
        Value::Text(s) => s.clone(),
    };
    let rows = |tag: &str, sql: &str| -> Vec<String> {
        q(sql)
            .iter()
            .map(|r| {
                let cols: Vec<String> = r
                    .columns()
                    .iter()
                    .map(|c| cell(r.get(c).unwrap()))
                    .collect();
                format!("{tag}|{}", cols.join("|"))
            })
            .collect()
    };
    let mut out = Vec::new();
    out.extend(rows(
        "rec",
        "SELECT content_sha256, \"window\", status, error, clock_start, clock_source, day, duration, format FROM recordings",
    ));
    out.extend(rows(
        "utt",
        "SELECT r.content_sha256, u.seq, u.start_s, u.end_s, u.clock_start, u.text, u.normalized, u.clip \
         FROM utterances u JOIN recordings r ON r.id = u.recording_id",
    ));
    out.extend(rows(
        "hit",
        "SELECT r.content_sha256, u.seq, h.lexicon_version, h.kind, h.phrase, h.span_start, h.span_end, h.confidence, h.method, h.clock_time \
         FROM hits h JOIN utterances u ON u.id = h.utterance_id JOIN recordings r ON r.id = u.recording_id",
    ));
    out.extend(rows(
        "match",
        "SELECT r.content_sha256, m.lexicon_version FROM matchings m JOIN recordings r ON r.id = m.recording_id",
    ));
    out.extend(rows(
        "session",
        "SELECT s.day, s.\"window\", s.start_s, s.end_s, s.utterances, s.greeting, s.farewell, s.situations, s.banned, r.content_sha256 \
         FROM sessions s JOIN recordings r ON r.id = s.recording_id",
    ));
    out.extend(rows(
        "score",
        "SELECT day, \"window\", lexicon_version, score, sessions, utterances, civil_hits, banned_hits, banned, civil, failed_files FROM window_scores",
    ));
    out.sort();
    out
}

/// A tiny seeded generator: the kill moments are random, and the seed is printed to replay them.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[test]
fn kill_9_at_random_moments_then_rerun_gives_the_uninterrupted_record() {
    let _w = whisper_lock();
    let dir = tempfile::tempdir().unwrap();
    let night = night(dir.path());
    let cfg = config(dir.path(), "");
    let cfg = cfg.to_str().unwrap();

    // The uninterrupted night.
    let reference = dir.path().join("reference.db");
    let started = Instant::now();
    let o = run(&[
        "batch",
        night.to_str().unwrap(),
        "--config",
        cfg,
        "--db",
        reference.to_str().unwrap(),
        "--lines",
    ]);
    let whole = started.elapsed();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let expected = dump(reference.to_str().unwrap());
    assert!(
        expected.iter().any(|l| l.starts_with("hit|")),
        "{expected:#?}"
    );
    assert!(expected.iter().any(|l| l.starts_with("score|")));

    // The same night, killed at random moments (from the first milliseconds, while files are
    // hashed and registered, to the end, while days are scored), re-run after each kill.
    let seed = std::env::var("KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("kill moments from KILL_SEED={seed} (whole run {whole:?})");
    let mut rng = Rng(seed);
    // The uninterrupted run's time is only a scale: under CI's load it may be twice what a later
    // run takes, and a run that finishes before its kill moment finishes the night. So nights are
    // run through kills until at least three runs were killed mid-way, each night into a fresh
    // record, and every such night must give the uninterrupted record.
    let mut kills = 0;
    for night_no in 1.. {
        assert!(
            night_no <= 8,
            "only {kills} runs were still going when killed, in 8 nights"
        );
        let killed_db = dir.path().join(format!("killed-{night_no}.db"));
        let args = [
            "batch",
            night.to_str().unwrap(),
            "--config",
            cfg,
            "--db",
            killed_db.to_str().unwrap(),
            "--lines",
        ];
        let mut killed_tonight = 0;
        for _ in 0..6 {
            let at = whole.mul_f64(0.05 + 0.9 * rng.next());
            let mut child: Child = courtesy_cmd(&args).spawn().unwrap();
            std::thread::sleep(at);
            if child.try_wait().unwrap().is_some() {
                // Finished before the kill: the night is done.
                break;
            }
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            killed_tonight += 1;
        }
        let o = run(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let got = dump(killed_db.to_str().unwrap());
        eprintln!("night {night_no}: {killed_tonight} runs killed, then re-run");
        crate::assert_same!(got, expected);
        kills += killed_tonight;
        if kills >= 3 {
            break;
        }
    }
}

#[test]
fn a_second_run_skips_what_is_done_and_bad_files_fail_alone() {
    let _w = whisper_lock();
    let dir = tempfile::tempdir().unwrap();
    let night = night(dir.path());
    let bad = night.join("W09");
    std::fs::create_dir_all(&bad).unwrap();
    std::fs::write(bad.join("W09_20261130_100000.wav"), b"not a wav at all").unwrap();
    std::fs::write(
        bad.join("W09_20261130_110000.amr"),
        b"#!AMR\n\x00\x01\x02\x03",
    )
    .unwrap();
    std::fs::write(bad.join("W09_20261130_120000.mp3"), b"").unwrap();
    let cfg = config(dir.path(), "");
    let db = dir.path().join("r.db");
    let missing = night.join("missing");
    let args = [
        "batch",
        night.to_str().unwrap(),
        missing.to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
        "--db",
        db.to_str().unwrap(),
        "--lines",
        "--json",
    ];
    let o = run(&args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    // Each bad input: one line naming it; the good files are all analysed.
    for name in [
        "W09_20261130_100000.wav",
        "W09_20261130_110000.amr",
        "W09_20261130_120000.mp3",
        "missing",
    ] {
        let lines: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("error:") && l.contains(name))
            .collect();
        assert!(!lines.is_empty(), "{name}: {err}");
    }
    let first: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(first["analysed"].as_u64().unwrap() >= 6, "{first}");

    // Again: nothing good is redone; the bad files are retried (and fail again).
    let o = run(&args);
    let second: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let good = first["analysed"].as_u64().unwrap() - 3;
    assert_eq!(second["skipped"], good, "{second}");
    assert_eq!(
        second["analysed"], 3,
        "only the three bad files are tried again: {second}"
    );
    assert_eq!(o.status.code(), Some(1));
    let store = Store::open(db.to_str().unwrap()).unwrap();
    let dup = store
        .query(
            "SELECT COUNT(*) AS n FROM (SELECT recording_id, seq FROM utterances GROUP BY recording_id, seq HAVING COUNT(*) > 1) d",
            &[],
        )
        .unwrap();
    assert_eq!(dup[0].i64("n").unwrap(), 0);

    // Clock times come from the file names, in the configured offset.
    let rows = store
        .query(
            "SELECT clock_start, clock_source, \"window\" FROM recordings WHERE path LIKE '%W02_20261130_080000.wav'",
            &[],
        )
        .unwrap();
    assert_eq!(
        rows[0].string("clock_start").unwrap(),
        "2026-11-30T08:00:00.000+08:00"
    );
    assert_eq!(rows[0].string("clock_source").unwrap(), "name");
    assert_eq!(rows[0].string("window").unwrap(), "W02");
}

#[test]
fn three_workers_share_a_night_on_postgresql_and_a_killed_one_is_taken_over() {
    let _w = whisper_lock();
    let pg = crate::pg::database();
    let url = pg.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let night = night(dir.path());
    // Short leases so the dead worker's file is taken over quickly; one Whisper thread each.
    let cfg = config(dir.path(), "lease_seconds = 3\n")
        .to_str()
        .unwrap()
        .to_string();
    std::fs::write(
        &cfg,
        std::fs::read_to_string(&cfg)
            .unwrap()
            .replace("threads = 2", "threads = 1"),
    )
    .unwrap();
    let args = [
        "batch",
        night.to_str().unwrap(),
        "--config",
        &cfg,
        "--db",
        &url,
        "--lines",
    ];
    // The victim starts first, so it surely leases a file (three racing starts on a loaded box
    // let the other two take the whole night); the other two join once it holds one.
    let mut workers: Vec<Child> = vec![courtesy_cmd(&args).spawn().unwrap()];
    let victim = workers[0].id();

    // Kill the first worker with -9 once it has been working on a file for a moment.
    let store = Store::open(&url).unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut killed_file = None;
    let mut seen_since: Option<(i64, Instant)> = None;
    while Instant::now() < deadline && killed_file.is_none() {
        let rows = store
            .query(
                "SELECT id FROM recordings WHERE status = 'leased' AND lease_owner LIKE $1",
                &[Value::Text(format!("%:{victim}"))],
            )
            .unwrap_or_default();
        match (rows.first().map(|r| r.i64("id").unwrap()), seen_since) {
            (Some(id), Some((seen, since)))
                if seen == id && since.elapsed() > Duration::from_millis(500) =>
            {
                workers.push(courtesy_cmd(&args).spawn().unwrap());
                workers.push(courtesy_cmd(&args).spawn().unwrap());
                workers[0].kill().unwrap();
                workers[0].wait().unwrap();
                killed_file = Some(id);
            }
            (Some(id), Some((seen, _))) if seen == id => {}
            (Some(id), _) => seen_since = Some((id, Instant::now())),
            (None, _) => seen_since = None,
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let killed_file = killed_file.unwrap_or_else(|| {
        let rows = store
            .query(
                "SELECT id, status, lease_owner, attempts FROM recordings ORDER BY id",
                &[],
            )
            .map(|r| format!("{r:?}"))
            .unwrap_or_else(|e| e.to_string());
        let exits: Vec<_> = workers.iter_mut().map(|w| w.try_wait()).collect();
        panic!("the first worker ({victim}) never held a lease; exit {exits:?}; recordings {rows}")
    });
    for (i, w) in workers.iter_mut().enumerate().skip(1) {
        let o = w.wait().unwrap();
        assert_eq!(o.code(), Some(0), "worker {i}");
    }
    // Every file done exactly once: one matching each, no utterance twice, the killed worker's
    // file finished by another, every window scored.
    let one = |sql: &str| store.query(sql, &[]).unwrap()[0].i64("n").unwrap();
    let files = one("SELECT COUNT(*) AS n FROM recordings");
    assert!(files >= 6);
    assert_eq!(
        one("SELECT COUNT(*) AS n FROM recordings WHERE status = 'done'"),
        files
    );
    assert_eq!(one("SELECT COUNT(*) AS n FROM matchings"), files);
    assert_eq!(
        one("SELECT COUNT(*) AS n FROM (SELECT recording_id, seq FROM utterances GROUP BY recording_id, seq HAVING COUNT(*) > 1) d"),
        0
    );
    assert_eq!(
        one("SELECT COUNT(DISTINCT recording_id) AS n FROM utterances"),
        files,
        "every file has its utterances"
    );
    let attempts = store
        .query(
            "SELECT attempts, lease_owner FROM recordings WHERE id = $1",
            &[Value::Int(killed_file)],
        )
        .unwrap();
    assert!(attempts[0].i64("attempts").unwrap() >= 2);
    assert_eq!(
        one("SELECT COUNT(DISTINCT \"window\") AS n FROM window_scores"),
        4
    );
    // The same record as one box alone would leave.
    let single = dir.path().join("single.db");
    let o = run(&[
        "batch",
        night.to_str().unwrap(),
        "--config",
        &cfg,
        "--db",
        single.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    crate::assert_same!(dump(&url), dump(single.to_str().unwrap()));
}

#[test]
fn the_record_serves_roster_rescore_report_and_prune() {
    let _w = whisper_lock();
    let dir = tempfile::tempdir().unwrap();
    let night = dir.path().join("night");
    std::fs::create_dir_all(&night).unwrap();
    for (i, f) in ["s1.wav", "s2.wav"].iter().enumerate() {
        std::fs::copy(
            root().join("samples/windows/w02-rude").join(f),
            night.join(format!("W02_20261130_1{i}0000.wav")),
        )
        .unwrap();
    }
    let cfg = config(dir.path(), "[retention]\naudio_days = 30\ntext_days = 60\n");
    let cfg = cfg.to_str().unwrap();
    let db = dir.path().join("r.db");
    let db = db.to_str().unwrap();
    let o = run(&[
        "batch",
        night.to_str().unwrap(),
        "--config",
        cfg,
        "--db",
        db,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let store = Store::open(db).unwrap();
    let q = |sql: &str| store.query(sql, &[]).unwrap();

    // Every banned hit keeps its audio as a clip next to the record.
    let clips = q("SELECT u.clip FROM utterances u JOIN hits h ON h.utterance_id = u.id WHERE h.kind = 'banned'");
    assert!(!clips.is_empty());
    for c in &clips {
        let rel = c.string("clip").unwrap();
        let meta = std::fs::metadata(dir.path().join("clips").join(&rel)).unwrap();
        assert!(meta.len() > 500, "{rel}");
    }

    // The roster puts a person at W02 that day: staff scores appear.
    let roster = dir.path().join("roster.csv");
    std::fs::write(
        &roster,
        "window,staff id,name,from,to\nW02,S007,张三,2026-11-30,2026-11-30\n",
    )
    .unwrap();
    let o = run(&[
        "roster",
        "import",
        roster.to_str().unwrap(),
        "--config",
        cfg,
        "--db",
        db,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let staff = q("SELECT staff_id, name, banned_hits FROM staff_scores WHERE day = '2026-11-30'");
    assert_eq!(staff.len(), 1);
    assert_eq!(staff[0].string("name").unwrap(), "张三");
    assert!(staff[0].i64("banned_hits").unwrap() > 0);

    // New rules: one banned phrase dropped from the lexicon. Rescore re-matches the stored
    // transcripts (no Whisper); the earlier results stay for comparison.
    let found = q("SELECT phrase, lexicon_version FROM hits WHERE kind = 'banned' ORDER BY phrase");
    let phrase = found[0].string("phrase").unwrap();
    let old_version = found[0].string("lexicon_version").unwrap();
    let lex = dir.path().join("lexicons");
    std::fs::create_dir_all(&lex).unwrap();
    std::fs::copy(root().join("lexicons/civil.toml"), lex.join("civil.toml")).unwrap();
    let banned = std::fs::read_to_string(root().join("lexicons/banned.toml")).unwrap();
    let kept: Vec<&str> = banned
        .split("[[phrase]]")
        .filter(|chunk| !chunk.contains(&format!("phrase = \"{phrase}\"")))
        .collect();
    std::fs::write(lex.join("banned.toml"), kept.join("[[phrase]]")).unwrap();
    let o = run(&[
        "rescore",
        "--from",
        "2026-11-30",
        "--to",
        "2026-11-30",
        "--config",
        cfg,
        "--db",
        db,
        "--lexicons",
        lex.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let versions = q("SELECT DISTINCT lexicon_version FROM window_scores ORDER BY lexicon_version");
    assert_eq!(versions.len(), 2, "both rule versions are kept");
    let count = |version: &str| {
        store
            .query(
                "SELECT COUNT(*) AS n FROM hits WHERE phrase = $1 AND lexicon_version = $2",
                &[
                    Value::Text(phrase.clone()),
                    Value::Text(version.to_string()),
                ],
            )
            .unwrap()[0]
            .i64("n")
            .unwrap()
    };
    assert!(count(&old_version) > 0);
    let new_version = versions
        .iter()
        .map(|r| r.string("lexicon_version").unwrap())
        .find(|v| *v != old_version)
        .unwrap();
    assert_eq!(count(&new_version), 0);

    // The report reads the newest rules by default; HTML, CSV (with a BOM) and JSON.
    let html = dir.path().join("report.html");
    let o = run(&[
        "report",
        "--day",
        "2026-11-30",
        "--config",
        cfg,
        "--db",
        db,
        "--out",
        html.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("W02") && page.contains("<svg"),
        "{}",
        &page[..page.len().min(400)]
    );
    let o = run(&[
        "report",
        "--day",
        "2026-11-30",
        "--format",
        "json",
        "--config",
        cfg,
        "--db",
        db,
    ]);
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(json["lexicon_versions"][0], new_version.as_str());
    let o = run(&[
        "report",
        "--day",
        "2026-11-30",
        "--format",
        "csv",
        "--config",
        cfg,
        "--db",
        db,
    ]);
    assert!(
        o.stdout.starts_with(b"\xEF\xBB\xBF"),
        "CSV for Excel starts with a BOM"
    );

    // Retention: 31 days on, the clips go; 61 days on, the transcripts too. Scores stay.
    let o = run(&[
        "prune",
        "--today",
        "2026-12-31",
        "--config",
        cfg,
        "--db",
        db,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        q("SELECT COUNT(*) AS n FROM utterances WHERE clip IS NOT NULL")[0]
            .i64("n")
            .unwrap(),
        0
    );
    for c in &clips {
        assert!(!dir
            .path()
            .join("clips")
            .join(c.string("clip").unwrap())
            .exists());
    }
    assert!(
        q("SELECT COUNT(*) AS n FROM utterances WHERE text IS NOT NULL")[0]
            .i64("n")
            .unwrap()
            > 0
    );
    let o = run(&[
        "prune",
        "--today",
        "2027-01-30",
        "--config",
        cfg,
        "--db",
        db,
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        q("SELECT COUNT(*) AS n FROM utterances WHERE text IS NOT NULL")[0]
            .i64("n")
            .unwrap(),
        0
    );
    assert!(
        q("SELECT COUNT(*) AS n FROM window_scores")[0]
            .i64("n")
            .unwrap()
            >= 2
    );
}
