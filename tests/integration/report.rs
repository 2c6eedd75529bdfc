//! The day's report read from a real SQLite record: rankings, the lexicon version each day is shown
//! with, and the three formats — the HTML page also as Chromium draws it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use courtesy::report::{self, csv::Table, Period, Report, Subject};
use courtesy::store::{Store, Value};

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn exec(store: &Store, sql: &str, params: Vec<Value>) {
    store
        .execute(sql, &params)
        .unwrap_or_else(|e| panic!("{e}\n{sql}"));
}

/// Two days, three windows, two staff members. Run 1 (lexicon v1) scored both days; run 2 rescored
/// day 2 with lexicon v2, which changes the ranking. w03 said nothing either day and has a failed file.
///
/// | day | window | v1 score (run 1) | v2 score (run 2) | staff |
/// |-----|--------|------------------|------------------|-------|
/// | 29  | w01    | 90               | –                | S1    |
/// | 29  | w02    | 70               | –                | S2    |
/// | 30  | w01    | 80               | 50               | S1    |
/// | 30  | w02    | 60               | 100              | S2    |
/// | both| w03    | NULL             | NULL (day 30)    | –     |
fn fill(store: &Store) {
    for (id, kind, lexicon, started) in [
        (1, "batch", "v1", "2026-11-30T22:00:00.000+08:00"),
        (2, "rescore", "v2", "2026-12-01T06:00:00.000+08:00"),
    ] {
        exec(
            store,
            "INSERT INTO runs (id, kind, program, model_sha256, lexicon_version, config_hash, host, \
             started_at, ended_at, status, files, audio_seconds, failures) \
             VALUES ($1, $2, 'courtesy 0.1.0', 'd01c3014881c9c6f', $3, 'cfg', 'box1', $4, $4, 'done', 0, 0, 0)",
            vec![id.into(), kind.into(), lexicon.into(), started.into()],
        );
    }
    // Recordings: one per window and day, an hour each, plus a failed one at w03 on day 30.
    let mut rec = 0;
    for d in ["2026-11-29", "2026-11-30"] {
        for w in ["w01", "w02", "w03"] {
            rec += 1;
            let compact = d.replace('-', "");
            exec(
                store,
                "INSERT INTO recordings (id, path, content_sha256, rules, \"window\", format, clock_start, \
                 clock_source, day, duration, status, attempts, run_id, registered_at, done_at) \
                 VALUES ($1, $2, $3, 'r1', $4, 'mp3', $5, 'name', $6, 3600.0, 'done', 1, 1, \
                 '2026-11-30T22:00:01.000+08:00', '2026-11-30T22:30:00.000+08:00')",
                vec![
                    rec.into(),
                    format!("/rec/{w}/{}_{compact}_080000.mp3", w.to_uppercase()).into(),
                    format!("sha{rec}").into(),
                    w.into(),
                    format!("{d}T08:00:00.000+08:00").into(),
                    d.into(),
                ],
            );
        }
    }
    exec(
        store,
        "INSERT INTO recordings (id, path, content_sha256, rules, \"window\", format, day, status, error, \
         attempts, registered_at) VALUES (7, '/rec/w03/W03_20261130_140000.amr', 'sha7', 'r1', 'w03', \
         'amr', '2026-11-30', 'failed', \
         '/rec/w03/W03_20261130_140000.amr: AMR is not supported — convert it to MP3 or WAV', 1, \
         '2026-11-30T22:00:01.000+08:00')",
        vec![],
    );
    // Utterances at w02 on day 30 (recording 5) and w01 on day 30 (recording 4).
    let text = "<script>alert('x')</script>有意见找领导去！";
    let span_start = text.find("有意见").unwrap() as i64;
    let span_end = span_start + "有意见找领导去".len() as i64;
    for (id, recording, seq, w, start, text, clip) in [
        (
            1,
            5,
            0,
            "w02",
            63.0,
            text,
            Some("w02/20261130-080103-0000.opus"),
        ),
        (2, 5, 1, "w02", 70.0, "你快点儿，后面还有人呢。", None),
        (3, 4, 0, "w01", 5.0, "您好，请问办理什么业务？", None),
    ] {
        exec(
            store,
            "INSERT INTO utterances (id, recording_id, seq, \"window\", day, start_s, end_s, clock_start, \
             clock_end, text, normalized, speaker, clip) \
             VALUES ($1, $2, $3, $4, '2026-11-30', $5, $6, $7, $8, $9, $9, 'staff', $10)",
            vec![
                id.into(),
                recording.into(),
                seq.into(),
                w.into(),
                start.into(),
                (start + 3.0).into(),
                format!("2026-11-30T08:{:02}:{:02}.000+08:00", start as i64 / 60, start as i64 % 60)
                    .into(),
                format!(
                    "2026-11-30T08:{:02}:{:02}.000+08:00",
                    (start as i64 + 3) / 60,
                    (start as i64 + 3) % 60
                )
                .into(),
                text.into(),
                clip.into(),
            ],
        );
    }
    // Hits: v1 heard 有意见找领导去 and 快点; v2 only 有意见找领导去 (快点 left the lexicon); a civil
    // hit is never listed.
    for (utt, lexicon, run, kind, phrase, category, severity, clause, matched, span, start) in [
        (
            1,
            "v1",
            1,
            "banned",
            "有意见找领导去",
            "推诿",
            3,
            "第十二条",
            "有意见找领导去",
            (span_start, span_end),
            63.5,
        ),
        (
            2,
            "v1",
            1,
            "banned",
            "快点",
            "催促",
            2,
            "第十三条",
            "快点",
            (3, 9),
            70.2,
        ),
        (
            1,
            "v2",
            2,
            "banned",
            "有意见找领导去",
            "推诿",
            3,
            "第十二条之一",
            "有意见找领导去",
            (span_start, span_end),
            63.5,
        ),
        (
            3,
            "v2",
            2,
            "civil",
            "您好",
            "问候",
            1,
            "第五条",
            "您好",
            (0, 6),
            5.0,
        ),
    ] {
        exec(
            store,
            "INSERT INTO hits (utterance_id, lexicon_version, run_id, \"window\", day, start_s, end_s, \
             clock_time, kind, phrase, category, severity, clause, matched, span_start, span_end, \
             confidence, method) VALUES ($1, $2, $3, (SELECT \"window\" FROM utterances WHERE id = $1), \
             '2026-11-30', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 0.93, 'exact')",
            vec![
                utt.into(),
                lexicon.into(),
                run.into(),
                start.into(),
                (start + 1.0).into(),
                format!(
                    "2026-11-30T08:{:02}:{:02}.500+08:00",
                    start as i64 / 60,
                    start as i64 % 60
                )
                .into(),
                kind.into(),
                phrase.into(),
                category.into(),
                severity.into(),
                clause.into(),
                matched.into(),
                span.0.into(),
                span.1.into(),
            ],
        );
    }
    // Sessions on day 30 for both versions: S2 at w02 (no greeting), S1 at w01.
    for lexicon in ["v1", "v2"] {
        for (w, staff, recording, greeting, banned) in [
            ("w02", "S2", 5, 0, 1 + (lexicon == "v1") as i64),
            ("w01", "S1", 4, 1, 0),
        ] {
            exec(
                store,
                "INSERT INTO sessions (day, lexicon_version, \"window\", staff_id, recording_id, start_s, \
                 end_s, clock_start, clock_end, utterances, greeting, farewell, situations, banned) \
                 VALUES ('2026-11-30', $1, $2, $3, $4, 0.0, 100.0, '2026-11-30T08:00:00.000+08:00', \
                 '2026-11-30T08:01:40.000+08:00', 4, $5, 1, '[\"问候\",\"道别\"]', $6)",
                vec![
                    lexicon.into(),
                    w.into(),
                    staff.into(),
                    recording.into(),
                    greeting.into(),
                    banned.into(),
                ],
            );
        }
    }
    // (day, lexicon, run, window, score, staff on duty)
    type Score<'a> = (&'a str, &'a str, i64, &'a str, Option<f64>, Option<&'a str>);
    let scores: [Score; 10] = [
        ("2026-11-29", "v1", 1, "w01", Some(90.0), Some("S1")),
        ("2026-11-29", "v1", 1, "w02", Some(70.0), Some("S2")),
        ("2026-11-29", "v1", 1, "w03", None, None),
        ("2026-11-30", "v1", 1, "w01", Some(80.0), Some("S1")),
        ("2026-11-30", "v1", 1, "w02", Some(60.0), Some("S2")),
        ("2026-11-30", "v1", 1, "w03", None, None),
        ("2026-11-30", "v2", 2, "w01", Some(50.0), Some("S1")),
        ("2026-11-30", "v2", 2, "w02", Some(100.0), Some("S2")),
        ("2026-11-30", "v2", 2, "w03", None, None),
        // A day outside the period must not count.
        ("2026-12-01", "v2", 2, "w03", Some(10.0), None),
    ];
    for (d, lexicon, run, w, score, staff) in scores {
        let failed = (w == "w03" && d == "2026-11-30") as i64;
        let params = |id: &str| -> Vec<Value> {
            vec![
                d.into(),
                id.into(),
                lexicon.into(),
                run.into(),
                score.into(),
                (score.is_some() as i64 * 3).into(),
                failed.into(),
            ]
        };
        exec(
            store,
            "INSERT INTO window_scores (day, \"window\", lexicon_version, run_id, score, sessions, \
             utterances, speech_seconds, greeting_sessions, farewell_sessions, civil_hits, banned_hits, \
             banned, civil, failed_files) VALUES ($1, $2, $3, $4, $5, $6, 12, 120.0, 2, 3, 5, 0, '{}', \
             '{}', $7)",
            params(w),
        );
        if let Some(staff) = staff {
            let name = if staff == "S1" { "张三" } else { "李四" };
            let mut p = params(staff);
            p.pop();
            p.push(name.into());
            p.push(format!("[\"{w}\"]").into());
            exec(
                store,
                "INSERT INTO staff_scores (day, staff_id, lexicon_version, run_id, score, sessions, \
                 utterances, speech_seconds, greeting_sessions, farewell_sessions, civil_hits, \
                 banned_hits, banned, civil, name, windows) VALUES ($1, $2, $3, $4, $5, $6, 12, 120.0, \
                 2, 3, 5, 0, '{}', '{}', $7, $8)",
                p,
            );
        }
    }
}

fn record() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("courtesy.db").to_str().unwrap()).unwrap();
    fill(&store);
    (dir, store)
}

fn period() -> Period {
    Period::range(day("2026-11-29"), day("2026-11-30")).unwrap()
}

fn ranking(rows: impl Iterator<Item = (String, Option<usize>, Option<f64>)>) -> Vec<String> {
    rows.map(|(id, rank, score)| match (rank, score) {
        (Some(r), Some(s)) => format!("{r} {id} {s:.1}"),
        _ => format!("- {id}"),
    })
    .collect()
}

fn windows(r: &Report) -> Vec<String> {
    ranking(
        r.windows
            .iter()
            .map(|w| (w.window.clone(), w.rank, w.score)),
    )
}

fn staff(r: &Report) -> Vec<String> {
    ranking(
        r.staff
            .iter()
            .map(|s| (s.staff_id.clone(), s.rank, s.score)),
    )
}

#[test]
fn newest_run_decides_each_days_lexicon_and_the_mean_ranks() {
    let (_dir, store) = record();
    let r = report::query(&store, period(), None).unwrap();
    let versions: Vec<(&str, &str, i64)> = r
        .day_versions
        .iter()
        .map(|d| (d.day.as_str(), d.lexicon_version.as_str(), d.run_id))
        .collect();
    assert_eq!(versions, [("2026-11-29", "v1", 1), ("2026-11-30", "v2", 2)]);
    assert_eq!(r.lexicon_versions, ["v1", "v2"]);
    assert_eq!(r.runs.iter().map(|x| x.id).collect::<Vec<_>>(), [1, 2]);
    // w02: (70 + 100) / 2; w01: (90 + 50) / 2; w03 said nothing.
    assert_eq!(windows(&r), ["1 w02 85.0", "2 w01 70.0", "- w03"]);
    assert_eq!(staff(&r), ["1 S2 85.0", "2 S1 70.0"]);
    assert_eq!(r.staff[0].name.as_deref(), Some("李四"));
    assert_eq!(r.staff[0].windows, ["w02"]);
    let w02 = &r.windows[0];
    assert_eq!((w02.days_scored, w02.days, w02.totals.sessions), (2, 2, 6));
    assert_eq!(r.windows[2].failed_files, 1);
    // Trends: 3 windows × 2 days + 2 staff × 2 days, each with its day's version.
    assert_eq!(r.days.len(), 10);
    let w01_30 = r
        .days
        .iter()
        .find(|d| d.subject == Subject::Window && d.id == "w01" && d.day == "2026-11-30")
        .unwrap();
    assert_eq!(
        (w01_30.score, w01_30.lexicon_version.as_str()),
        (Some(50.0), "v2")
    );
    // Banned hits of v2 only, with who was on duty; the civil hit is not listed.
    assert_eq!(r.hits.len(), 1);
    let hit = &r.hits[0];
    assert_eq!(hit.clause, "第十二条之一");
    assert_eq!(
        (
            hit.window.as_str(),
            hit.staff_id.as_deref(),
            hit.staff_name.as_deref()
        ),
        ("w02", Some("S2"), Some("李四"))
    );
    assert_eq!(hit.clip.as_deref(), Some("w02/20261130-080103-0000.opus"));
    assert_eq!(hit.file, "/rec/w02/W02_20261130_080000.mp3");
    let text = hit.text.as_deref().unwrap();
    assert_eq!(&text[hit.span[0]..hit.span[1]], "有意见找领导去");
    assert_eq!(r.sessions.len(), 2);
    // v2's w02 session: one banned hit (v1's had two).
    let w02_session = r.sessions.iter().find(|s| s.window == "w02").unwrap();
    assert_eq!((w02_session.banned, w02_session.greeting), (1, false));
    assert_eq!(w02_session.staff_name.as_deref(), Some("李四"));
    // Six done hours and one failed file.
    assert_eq!(
        (r.recordings.files, r.recordings.done, r.recordings.failed),
        (7, 6, 1)
    );
    assert_eq!(r.recordings.hours(), 6.0);
    assert_eq!(r.failures.len(), 1);
    assert!(r.failures[0].error.contains("AMR"));
}

#[test]
fn an_asked_lexicon_is_used_for_every_day() {
    let (_dir, store) = record();
    let r = report::query(&store, period(), Some("v1")).unwrap();
    assert!(r.day_versions.iter().all(|d| d.lexicon_version == "v1"));
    assert_eq!(r.lexicon_versions, ["v1"]);
    // w01: (90 + 80) / 2; w02: (70 + 60) / 2.
    assert_eq!(windows(&r), ["1 w01 85.0", "2 w02 65.0", "- w03"]);
    let phrases: Vec<&str> = r.hits.iter().map(|h| h.phrase.as_str()).collect();
    assert_eq!(phrases, ["有意见找领导去", "快点"], "by clock time");
    // A version nobody scored with: an empty report, not an error.
    let none = report::query(&store, period(), Some("v9")).unwrap();
    assert!(none.windows.is_empty() && none.hits.is_empty() && none.day_versions.is_empty());
    // One day alone.
    let one = report::query(&store, Period::day(day("2026-11-29")), None).unwrap();
    assert_eq!(windows(&one), ["1 w01 90.0", "2 w02 70.0", "- w03"]);
    assert!(one.hits.is_empty());
}

#[test]
fn the_three_formats_from_the_record() {
    let (_dir, store) = record();
    let r = report::query(&store, period(), None).unwrap();

    let mut html = Vec::new();
    report::html::write(&r, "clips", &mut html).unwrap();
    let html = String::from_utf8(html).unwrap();
    assert!(html.contains("<html lang=\"zh-CN\">"));
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;<mark>有意见找领导去</mark>")
    );
    assert!(!html.contains("<script"));
    assert!(html.contains("src=\"clips/w02/20261130-080103-0000.opus\""));
    assert_eq!(html.matches("<svg").count(), 2);
    assert!(html.contains("2026-11-29 至 2026-11-30"));

    let mut csv = Vec::new();
    report::csv::write(&r, Table::Hits, &mut csv).unwrap();
    assert!(csv.starts_with("\u{feff}".as_bytes()));
    let text = String::from_utf8(csv[3..].to_vec()).unwrap();
    let rows: Vec<csv::StringRecord> = csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][5], "有意见找领导去");
    assert_eq!(&rows[0][10], "<script>alert('x')</script>有意见找领导去！");
    let mut windows_csv = Vec::new();
    report::csv::write(&r, Table::Windows, &mut windows_csv).unwrap();
    let windows_csv = String::from_utf8(windows_csv).unwrap();
    assert!(windows_csv.contains("1,w02,85.0,2,2,6,"), "{windows_csv}");

    let mut json = Vec::new();
    report::json::write(&r, &mut json).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v["windows"][0]["window"], "w02");
    assert_eq!(v["hits"][0]["staff_name"], "李四");
}

/// The page as a browser draws it at 1366×768: written next to the test's other output, screenshotted
/// by headless Chromium. The PNG stays in the target folder for a person to look at.
#[test]
fn html_report_renders_in_chromium() {
    let chromium = which("chromium").unwrap_or_else(|| {
        panic!("no `chromium` on PATH — run scripts/setup.sh --test (it installs it)")
    });
    let (_dir, store) = record();
    let r = report::query(&store, period(), None).unwrap();
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report");
    std::fs::create_dir_all(&out).unwrap();
    let page = out.join("report.html");
    let mut html = Vec::new();
    report::html::write(&r, "clips", &mut html).unwrap();
    std::fs::write(&page, html).unwrap();
    let png = out.join("report.png");
    let _ = std::fs::remove_file(&png);
    screenshot(&chromium, &page, &png, "1366,768");
    let bytes = std::fs::read(&png).unwrap_or_else(|e| panic!("{}: {e}", png.display()));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    // A blank 1366×768 page compresses to a few KB; a drawn report with text and colour is far more.
    assert!(
        bytes.len() > 30_000,
        "{} is only {} bytes",
        png.display(),
        bytes.len()
    );
    // The whole page, for reading it end to end.
    screenshot(&chromium, &page, &out.join("report-full.png"), "1366,3600");
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

fn screenshot(chromium: &Path, page: &Path, png: &Path, size: &str) {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(chromium)
        .args(crate::browser::HEADLESS)
        .arg(format!("--window-size={size}"))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium exited with {status}");
            break;
        }
        if start.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium took over 90 s to screenshot {}", page.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(png.exists(), "chromium wrote no {}", png.display());
}
