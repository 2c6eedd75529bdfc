//! The record's behaviour, each test body run against SQLite and against a private PostgreSQL.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use courtesy::store::*;

use crate::backends::Db;

both!(
    migrations_run_once_and_are_recorded,
    runs_and_lexicons_are_kept,
    register_twice_gives_the_same_ids,
    complete_twice_does_not_duplicate,
    an_expired_lease_is_taken_over_and_the_first_owner_loses,
    concurrent_leases_never_share_a_file,
    a_failed_file_is_retried_by_the_next_run,
    rescore_keeps_other_lexicon_versions,
    a_day_is_aggregated_with_its_staff_and_replaced_not_doubled,
    concurrent_aggregation_of_a_day_does_not_double_rows,
    prune_forgets_clips_and_text_but_keeps_counts,
    both_backends_read_back_the_same_values,
    speakers_and_voices_are_kept,
);

const LEX: &str = "v2026-11-abcdef123456";
const DAY: &str = "2026-11-30";

fn run(store: &Store) -> i64 {
    store
        .begin_run(&RunInfo {
            kind: "batch".into(),
            program: "courtesy 0.1.0".into(),
            model_sha256: Some("m".repeat(64)),
            lexicon_version: LEX.into(),
            config_hash: "cfg".into(),
            host: "box1".into(),
        })
        .unwrap()
}

fn recording(i: usize) -> NewRecording {
    NewRecording {
        path: format!("/rec/W0{}_20261130_0830{:02}.mp3", i % 4 + 1, i % 60),
        content_sha256: format!("{i:064x}"),
        rules: "rules-1".into(),
        window: format!("W0{}", i % 4 + 1),
        clock_start: Some(format!("{DAY}T08:30:{:02}.000+08:00", i % 60)),
        clock_source: Some("name".into()),
        day: Some(DAY.into()),
    }
}

fn register(store: &Store, n: usize) -> Vec<i64> {
    let new: Vec<NewRecording> = (0..n).map(recording).collect();
    store.register(&new).unwrap().iter().map(|s| s.id).collect()
}

fn hit(kind: &str, phrase: &str, start: f64) -> StoredHit {
    StoredHit {
        day: None,
        start_s: start,
        end_s: start + 0.5,
        clock_time: Some(format!("{DAY}T08:30:0{}.000+08:00", start as i64 % 10)),
        kind: kind.into(),
        phrase: phrase.into(),
        category: "态度".into(),
        severity: 2,
        clause: "第三条".into(),
        matched: phrase.into(),
        span_start: 0,
        span_end: phrase.len() as i64,
        confidence: 0.9,
        method: "exact".into(),
    }
}

/// A finished file: `n` utterances, each with one banned hit; clips on the even ones.
fn file(run_id: i64, lexicon: &str, day: &str, n: i64) -> FileRecord {
    FileRecord {
        duration: 60.0,
        format: Some("mp3".into()),
        clock_start: Some(format!("{day}T08:30:00.000+08:00")),
        clock_source: Some("name".into()),
        day: Some(day.into()),
        error: None,
        utterances: (0..n)
            .map(|seq| StoredUtterance {
                seq,
                start_s: seq as f64 * 5.0,
                end_s: seq as f64 * 5.0 + 2.0,
                clock_start: Some(format!("{day}T08:30:{:02}.000+08:00", seq * 5)),
                clock_end: Some(format!("{day}T08:30:{:02}.000+08:00", seq * 5 + 2)),
                day: Some(day.into()),
                text: Some(format!("有意见找领导去 {seq}")),
                normalized: Some("有意见找领导去".into()),
                pieces_json: Some("[[0.0,2.0,0,21]]".into()),
                speaker: courtesy::speaker::Speaker::UNKNOWN,
                voice: None,
                clip: (seq % 2 == 0).then(|| format!("{day}/clip-{run_id}-{seq}.opus")),
                hits: vec![hit("banned", "有意见找领导去", seq as f64 * 5.0)],
            })
            .collect(),
        lexicon_version: lexicon.into(),
        run_id,
    }
}

fn count(store: &Store, sql: &str) -> i64 {
    store.query(sql, &[]).unwrap()[0].i64("n").unwrap()
}

fn migrations_run_once_and_are_recorded(db: Db) {
    let again = Store::open(&db.url).unwrap();
    let versions: Vec<i64> = again
        .query(
            "SELECT version FROM schema_migrations ORDER BY version",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.i64("version").unwrap())
        .collect();
    assert_eq!(versions, vec![1, 2, 3]);
    assert!(!again.describe().is_empty());
}

fn runs_and_lexicons_are_kept(db: Db) {
    let s = &db.store;
    let id = run(s);
    s.end_run(id, "done", 3, 5400.5, 1).unwrap();
    let r = &s
        .query("SELECT * FROM runs WHERE id = $1", &[Value::Int(id)])
        .unwrap()[0];
    assert_eq!(r.str("status").unwrap(), "done");
    assert_eq!(r.i64("files").unwrap(), 3);
    assert_eq!(r.f64("audio_seconds").unwrap(), 5400.5);
    let ended = r.str("ended_at").unwrap();
    assert!(
        ended.len() == 29 && ended.contains('T'),
        "RFC 3339 with milliseconds: {ended}"
    );
    assert!(s.end_run(id + 100, "done", 0, 0.0, 0).is_err());
    s.save_lexicon(LEX, Some("2026-11"), "civil = 1", "banned = 1")
        .unwrap();
    s.save_lexicon(LEX, Some("2026-11"), "civil = 1", "banned = 1")
        .unwrap();
    assert_eq!(count(s, "SELECT count(*) AS n FROM lexicons"), 1);
}

fn register_twice_gives_the_same_ids(db: Db) {
    let s = &db.store;
    let first = register(s, 5);
    let second = register(s, 5);
    assert_eq!(first, second);
    assert_eq!(count(s, "SELECT count(*) AS n FROM recordings"), 5);
    // A leased one stays leased, a done one stays done.
    let run_id = run(s);
    let lease = s
        .lease("a", Duration::from_secs(60), &first[..1])
        .unwrap()
        .unwrap();
    let other = s
        .lease("a", Duration::from_secs(60), &first[1..2])
        .unwrap()
        .unwrap();
    s.complete(&other, &file(run_id, LEX, DAY, 1)).unwrap();
    let states = s
        .register(&(0..5).map(recording).collect::<Vec<_>>())
        .unwrap();
    assert_eq!(states[0].status, "leased");
    assert_eq!(states[1].status, "done");
    assert_eq!(states[2].status, "pending");
    assert_eq!(states[0].id, lease.recording_id);
    // Same content under other rules is another recording.
    let mut other_rules = recording(0);
    other_rules.rules = "rules-2".into();
    let id = s.register(&[other_rules]).unwrap()[0].id;
    assert!(!first.contains(&id));
}

fn complete_twice_does_not_duplicate(db: Db) {
    let s = &db.store;
    let ids = register(s, 1);
    let run_id = run(s);
    let lease = s
        .lease("a", Duration::from_secs(60), &ids)
        .unwrap()
        .unwrap();
    assert_eq!(lease.attempt, 1);
    assert_eq!(lease.path, recording(0).path);
    s.complete(&lease, &file(run_id, LEX, DAY, 3)).unwrap();
    // The same lease cannot complete again: the recording is done.
    let again = s.complete(&lease, &file(run_id, LEX, DAY, 3)).unwrap_err();
    assert!(matches!(again, StoreError::LeaseLost { .. }), "{again}");
    // Forced back to pending (as an operator redoing a file would), it is redone in place.
    s.execute(
        "UPDATE recordings SET status = 'pending' WHERE id = $1",
        &[Value::Int(ids[0])],
    )
    .unwrap();
    let lease = s
        .lease("b", Duration::from_secs(60), &ids)
        .unwrap()
        .unwrap();
    assert_eq!(lease.attempt, 2);
    s.complete(&lease, &file(run_id, LEX, DAY, 3)).unwrap();
    assert_eq!(count(s, "SELECT count(*) AS n FROM utterances"), 3);
    assert_eq!(count(s, "SELECT count(*) AS n FROM hits"), 3);
    assert_eq!(count(s, "SELECT count(*) AS n FROM matchings"), 1);
    let st = &s.recording_status(&ids).unwrap()[0];
    assert_eq!(st.status, "done");
    let r = &s
        .query(
            "SELECT lease_owner, lease_until, format, duration, run_id, day FROM recordings",
            &[],
        )
        .unwrap()[0];
    assert_eq!(r.opt_str("lease_owner").unwrap(), None);
    assert_eq!(r.opt_i64("lease_until").unwrap(), None);
    assert_eq!(r.str("format").unwrap(), "mp3");
    assert_eq!(r.f64("duration").unwrap(), 60.0);
    assert_eq!(r.i64("run_id").unwrap(), run_id);
    assert_eq!(s.lease("c", Duration::from_secs(60), &ids).unwrap(), None);
}

fn an_expired_lease_is_taken_over_and_the_first_owner_loses(db: Db) {
    let s = &db.store;
    let ids = register(s, 1);
    let run_id = run(s);
    let first = s
        .lease("a", Duration::from_millis(100), &ids)
        .unwrap()
        .unwrap();
    assert!(s.renew(&first).unwrap());
    assert_eq!(
        s.lease("b", Duration::from_secs(60), &ids).unwrap(),
        None,
        "a live lease is not taken"
    );
    std::thread::sleep(Duration::from_millis(250));
    let second = s
        .lease("b", Duration::from_secs(60), &ids)
        .unwrap()
        .unwrap();
    assert_eq!(second.recording_id, first.recording_id);
    assert_eq!(second.attempt, 2);
    assert!(!s.renew(&first).unwrap());
    let lost = s.complete(&first, &file(run_id, LEX, DAY, 2)).unwrap_err();
    assert!(matches!(lost, StoreError::LeaseLost { recording, .. } if recording == ids[0]));
    assert!(lost.to_string().contains("taken over"), "{lost}");
    assert!(matches!(
        s.fail(&first, "boom", None).unwrap_err(),
        StoreError::LeaseLost { .. }
    ));
    assert_eq!(count(s, "SELECT count(*) AS n FROM utterances"), 0);
    s.complete(&second, &file(run_id, LEX, DAY, 2)).unwrap();
    assert_eq!(count(s, "SELECT count(*) AS n FROM utterances"), 2);
}

fn concurrent_leases_never_share_a_file(db: Db) {
    let ids = register(&db.store, 40);
    let taken: Vec<Vec<i64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|w| {
                let (url, ids) = (&db.url, &ids);
                scope.spawn(move || {
                    let store = Store::open(url).unwrap();
                    let mut mine = Vec::new();
                    while let Some(l) = store
                        .lease(&format!("w{w}"), Duration::from_secs(60), ids)
                        .unwrap()
                    {
                        mine.push(l.recording_id);
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut all: Vec<i64> = taken.concat();
    let distinct: HashSet<i64> = all.iter().copied().collect();
    assert_eq!(
        all.len(),
        distinct.len(),
        "a file was leased twice: {taken:?}"
    );
    all.sort();
    assert_eq!(all, ids);
}

fn a_failed_file_is_retried_by_the_next_run(db: Db) {
    let s = &db.store;
    let ids = register(s, 2);
    let lease = s
        .lease("a", Duration::from_secs(60), &ids)
        .unwrap()
        .unwrap();
    assert_eq!(lease.recording_id, ids[0], "lowest id first");
    s.fail(
        &lease,
        "W01.amr: AMR is not supported\n— convert it",
        Some(12.0),
    )
    .unwrap();
    let st = &s.recording_status(&ids).unwrap()[0];
    assert_eq!(st.status, "failed");
    assert!(!st.error.as_ref().unwrap().contains('\n'));
    assert_eq!(s.day_failures(DAY).unwrap(), vec![("W01".to_string(), 1)]);
    // This run leases the other one, not the failed one.
    let next = s
        .lease("a", Duration::from_secs(60), &ids)
        .unwrap()
        .unwrap();
    assert_eq!(next.recording_id, ids[1]);
    let states = s.register(&[recording(0)]).unwrap();
    assert_eq!(states[0].status, "pending");
    assert_eq!(states[0].error, None);
    let retry = s
        .lease("a", Duration::from_secs(60), &ids)
        .unwrap()
        .unwrap();
    assert_eq!((retry.recording_id, retry.attempt), (ids[0], 2));
}

fn rescore_keeps_other_lexicon_versions(db: Db) {
    let s = &db.store;
    let ids = register(s, 2);
    let run_id = run(s);
    for _ in 0..2 {
        let l = s
            .lease("a", Duration::from_secs(60), &ids)
            .unwrap()
            .unwrap();
        s.complete(&l, &file(run_id, LEX, DAY, 2)).unwrap();
    }
    assert!(s.recordings_needing_match(&ids, LEX).unwrap().is_empty());
    assert_eq!(s.recordings_needing_match(&ids, "v2").unwrap(), ids);
    let utterances = s.utterances_in(DAY, DAY).unwrap();
    assert_eq!(utterances.len(), 4);
    assert_eq!(s.utterances_of(&ids[..1]).unwrap().len(), 2);
    assert!(s
        .utterances_in("2026-12-01", "2026-12-31")
        .unwrap()
        .is_empty());
    let rescore_run = run(s);
    let rescored: Vec<RescoredRecording> = ids
        .iter()
        .map(|&rid| RescoredRecording {
            recording_id: rid,
            hits: utterances
                .iter()
                .filter(|u| u.recording_id == rid)
                .take(1)
                .map(|u| (u.id, hit("civil", "您好", u.start_s)))
                .collect(),
        })
        .collect();
    s.replace_hits("v2", rescore_run, &rescored).unwrap();
    s.replace_hits("v2", rescore_run, &rescored).unwrap();
    assert!(s.recordings_needing_match(&ids, "v2").unwrap().is_empty());
    assert_eq!(
        count(
            s,
            &format!("SELECT count(*) AS n FROM hits WHERE lexicon_version = '{LEX}'")
        ),
        4
    );
    assert_eq!(
        count(
            s,
            "SELECT count(*) AS n FROM hits WHERE lexicon_version = 'v2'"
        ),
        2
    );
    assert_eq!(count(s, "SELECT count(*) AS n FROM matchings"), 4);
    let day = s.load_day(DAY, "v2").unwrap();
    let hits: Vec<&StoredHit> = day.iter().flat_map(|u| &u.utterance.hits).collect();
    assert_eq!(hits.len(), 2);
    assert!(hits
        .iter()
        .all(|h| h.kind == "civil" && h.day.as_deref() == Some(DAY)));
    // An utterance of another recording is refused, and nothing of the call is kept.
    let wrong = RescoredRecording {
        recording_id: ids[0],
        hits: vec![(
            utterances
                .iter()
                .find(|u| u.recording_id == ids[1])
                .unwrap()
                .id,
            hit("civil", "请", 0.0),
        )],
    };
    assert!(s.replace_hits("v3", rescore_run, &[wrong]).is_err());
    assert!(s.recordings_needing_match(&ids, "v3").unwrap().len() == 2);
}

fn a_day_is_aggregated_with_its_staff_and_replaced_not_doubled(db: Db) {
    let s = &db.store;
    let ids = register(s, 2);
    let run_id = run(s);
    let roster = vec![
        RosterEntry {
            window: "W01".into(),
            staff_id: "S001".into(),
            name: "张三".into(),
            valid_from: format!("{DAY}T00:00:00.000+08:00"),
            valid_to: format!("{DAY}T08:30:05.000+08:00"),
        },
        RosterEntry {
            window: "W01".into(),
            staff_id: "S002".into(),
            name: "李四".into(),
            valid_from: format!("{DAY}T08:30:05.000+08:00"),
            valid_to: "2026-12-01T00:00:00.000+08:00".into(),
        },
    ];
    assert_eq!(s.import_roster(&roster).unwrap(), 2);
    assert_eq!(s.import_roster(&roster).unwrap(), 0, "import is idempotent");
    assert_eq!(s.roster().unwrap(), roster);
    for _ in 0..2 {
        let l = s
            .lease("a", Duration::from_secs(60), &ids)
            .unwrap()
            .unwrap();
        s.complete(&l, &file(run_id, LEX, DAY, 2)).unwrap();
    }
    let day = s.load_day(DAY, LEX).unwrap();
    assert_eq!(day.len(), 4);
    let w01: Vec<_> = day.iter().filter(|u| u.window == "W01").collect();
    assert_eq!(w01.len(), 2);
    assert_eq!(w01[0].staff_id.as_deref(), Some("S001"));
    assert_eq!(w01[1].staff_id.as_deref(), Some("S002"));
    assert_eq!(w01[1].staff_name.as_deref(), Some("李四"));
    assert!(day
        .iter()
        .filter(|u| u.window == "W02")
        .all(|u| u.staff_id.is_none()));
    assert!(day.iter().all(|u| u.utterance.hits.len() == 1));
    assert_eq!(day[0].path, recording(0).path);
    assert_eq!(
        s.days("2026-11-01", "2026-11-30").unwrap(),
        vec![DAY.to_string()]
    );
    assert_eq!(s.latest_lexicon_for_day(DAY).unwrap(), None);

    let scores = day_scores(ids[0]);
    s.replace_day(DAY, LEX, run_id, &scores).unwrap();
    let later = run(s);
    s.replace_day(DAY, LEX, later, &scores).unwrap();
    assert_eq!(count(s, "SELECT count(*) AS n FROM sessions"), 2);
    assert_eq!(count(s, "SELECT count(*) AS n FROM window_scores"), 1);
    assert_eq!(count(s, "SELECT count(*) AS n FROM staff_scores"), 1);
    s.replace_day(DAY, "v2", later + 1, &scores).unwrap();
    assert_eq!(count(s, "SELECT count(*) AS n FROM window_scores"), 2);
    assert_eq!(
        s.latest_lexicon_for_day(DAY).unwrap().as_deref(),
        Some("v2")
    );
    let w = &s
        .query(
            "SELECT * FROM window_scores WHERE lexicon_version = $1",
            &[Value::from(LEX)],
        )
        .unwrap()[0];
    assert_eq!(w.i64("run_id").unwrap(), later);
    assert_eq!(w.opt_f64("score").unwrap(), Some(87.5));
    assert_eq!(w.opt_f64("reviewed_score").unwrap(), Some(95.0));
    assert_eq!(w.i64("reviewed_banned_hits").unwrap(), 1);
    assert_eq!(w.i64("judged_hits").unwrap(), 2);
    assert_eq!(w.str("window").unwrap(), "W01");
    let none = &s
        .query(
            "SELECT score FROM staff_scores WHERE lexicon_version = $1",
            &[Value::from(LEX)],
        )
        .unwrap()[0];
    assert_eq!(none.opt_f64("score").unwrap(), None);
}

fn day_scores(recording_id: i64) -> DayScores {
    let session = |start: f64| SessionRow {
        window: "W01".into(),
        staff_id: Some("S001".into()),
        recording_id,
        start_s: start,
        end_s: start + 30.0,
        clock_start: Some(format!("{DAY}T08:30:00.000+08:00")),
        clock_end: Some(format!("{DAY}T08:30:30.000+08:00")),
        utterances: 3,
        greeting: true,
        farewell: false,
        situations_json: r#"["greeting"]"#.into(),
        banned: 1,
    };
    DayScores {
        sessions: vec![session(0.0), session(60.0)],
        window_scores: vec![WindowScoreRow {
            window: "W01".into(),
            counts: ScoreCounts {
                score: Some(87.5),
                sessions: 2,
                utterances: 6,
                speech_seconds: 12.5,
                greeting_sessions: 2,
                farewell_sessions: 0,
                civil_hits: 2,
                banned_hits: 2,
                banned_json: r#"{"有意见找领导去":2}"#.into(),
                civil_json: r#"{"greeting":2}"#.into(),
                reviewed_score: Some(95.0),
                reviewed_banned_hits: 1,
                judged_hits: 2,
            },
            failed_files: 0,
        }],
        staff_scores: vec![StaffScoreRow {
            staff_id: "S001".into(),
            name: Some("张三".into()),
            windows_json: r#"["W01"]"#.into(),
            counts: ScoreCounts {
                banned_json: "{}".into(),
                civil_json: "{}".into(),
                ..ScoreCounts::default()
            },
        }],
    }
}

fn concurrent_aggregation_of_a_day_does_not_double_rows(db: Db) {
    let recording_id = register(&db.store, 1)[0];
    let run_id = run(&db.store);
    std::thread::scope(|scope| {
        for _ in 0..3 {
            let url = &db.url;
            scope.spawn(move || {
                let store = Store::open(url).unwrap();
                for _ in 0..5 {
                    store
                        .replace_day(DAY, LEX, run_id, &day_scores(recording_id))
                        .unwrap();
                }
            });
        }
    });
    let s = &db.store;
    assert_eq!(count(s, "SELECT count(*) AS n FROM sessions"), 2);
    assert_eq!(count(s, "SELECT count(*) AS n FROM window_scores"), 1);
    assert_eq!(count(s, "SELECT count(*) AS n FROM staff_scores"), 1);
}

fn prune_forgets_clips_and_text_but_keeps_counts(db: Db) {
    let s = &db.store;
    let new: Vec<NewRecording> = (0..3).map(recording).collect();
    let ids: Vec<i64> = s.register(&new).unwrap().iter().map(|r| r.id).collect();
    let run_id = run(s);
    for day in ["2026-09-01", "2026-10-01", DAY] {
        let l = s
            .lease("a", Duration::from_secs(60), &ids)
            .unwrap()
            .unwrap();
        s.complete(&l, &file(run_id, LEX, day, 3)).unwrap();
    }
    // Audio older than 2026-10-01 (one day's two clips), text older than 2026-11-01 (two days).
    let out = s.prune(Some("2026-10-01"), Some("2026-11-01")).unwrap();
    assert_eq!(
        out.clips,
        vec![
            format!("2026-09-01/clip-{run_id}-0.opus"),
            format!("2026-09-01/clip-{run_id}-2.opus")
        ]
    );
    assert_eq!(out.texts_cleared, 6);
    assert_eq!(
        count(
            s,
            "SELECT count(*) AS n FROM utterances WHERE clip IS NOT NULL"
        ),
        4
    );
    assert_eq!(
        count(s, "SELECT count(*) AS n FROM utterances WHERE text IS NULL AND normalized IS NULL AND pieces IS NULL"),
        6
    );
    assert_eq!(
        count(s, "SELECT count(*) AS n FROM hits WHERE matched = ''"),
        6
    );
    assert_eq!(
        count(s, "SELECT count(*) AS n FROM hits"),
        9,
        "hits are counted still"
    );
    let again = s.prune(Some("2026-10-01"), Some("2026-11-01")).unwrap();
    assert_eq!(again, PruneOutcome::default());
    assert_eq!(s.prune(None, None).unwrap(), PruneOutcome::default());
}

fn both_backends_read_back_the_same_values(db: Db) {
    let s = &db.store;
    let ids = register(s, 3);
    let run_id = run(s);
    let l = s
        .lease("a", Duration::from_secs(60), &ids)
        .unwrap()
        .unwrap();
    s.complete(&l, &file(run_id, LEX, DAY, 2)).unwrap();
    let r = &s
        .query(
            "SELECT SUM(attempts) AS total, AVG(attempts) AS mean, COUNT(*) AS n, \
             MAX(duration) AS longest, SUM(duration) AS sum_d \
             FROM recordings WHERE \"window\" <> $1",
            &[Value::from("nowhere")],
        )
        .unwrap()[0];
    assert_eq!(r.i64("total").unwrap(), 1);
    assert!((r.f64("mean").unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert_eq!(r.i64("n").unwrap(), 3);
    assert_eq!(r.f64("longest").unwrap(), 60.0);
    assert_eq!(r.f64("sum_d").unwrap(), 60.0);
    let u = &s
        .query(
            "SELECT text, start_s, seq, clip FROM utterances WHERE seq = $2 AND recording_id = $1",
            &[Value::Int(ids[0]), Value::Int(1)],
        )
        .unwrap()[0];
    assert_eq!(u.str("text").unwrap(), "有意见找领导去 1");
    assert_eq!(u.f64("start_s").unwrap(), 5.0);
    assert_eq!(u.opt_str("clip").unwrap(), None);
    let err = s
        .query("SELECT nope FROM recordings", &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with(s.describe()) && !err.contains('\n'),
        "{err}"
    );
}

/// Three workers share 30 recordings through one PostgreSQL with 1 s leases; one dies mid-file
/// (stops renewing, never completes). Every recording ends done exactly once and the dead
/// worker's file is taken over after its lease expired.
#[test]
fn three_workers_on_postgres_one_dies_every_file_done_once() {
    let db = crate::backends::postgres();
    let ids = register(&db.store, 30);
    let run_id = run(&db.store);
    let lease_for = Duration::from_secs(1);
    let completed: Mutex<HashMap<i64, (String, Instant)>> = Mutex::new(HashMap::new());
    let died_holding: Mutex<Option<(i64, Instant)>> = Mutex::new(None);
    let deadline = Instant::now() + Duration::from_secs(20);
    std::thread::scope(|scope| {
        for w in 0..3 {
            let (url, ids, completed, died_holding) = (&db.url, &ids, &completed, &died_holding);
            scope.spawn(move || {
                let owner = format!("box{w}");
                let store = Store::open(url).unwrap();
                let mut done_here = 0;
                loop {
                    assert!(
                        Instant::now() < deadline,
                        "{owner}: the night did not finish"
                    );
                    let Some(lease) = store.lease(&owner, lease_for, ids).unwrap() else {
                        let states = store.recording_status(ids).unwrap();
                        if states.iter().all(|s| s.status == "done") {
                            return;
                        }
                        // Others are busy or a dead box holds one: wait for its lease to expire.
                        std::thread::sleep(Duration::from_millis(50));
                        continue;
                    };
                    if w == 0 && done_here == 2 {
                        // Dies mid-file: holds the lease, never renews, never completes.
                        *died_holding.lock().unwrap() = Some((lease.recording_id, Instant::now()));
                        return;
                    }
                    // "Transcribing": long enough that the workers overlap, renewing once.
                    std::thread::sleep(Duration::from_millis(30));
                    assert!(store.renew(&lease).unwrap(), "{owner} lost a live lease");
                    std::thread::sleep(Duration::from_millis(30));
                    store.complete(&lease, &file(run_id, LEX, DAY, 3)).unwrap();
                    let before = completed
                        .lock()
                        .unwrap()
                        .insert(lease.recording_id, (owner.clone(), Instant::now()));
                    assert_eq!(
                        before, None,
                        "recording {} completed twice",
                        lease.recording_id
                    );
                    done_here += 1;
                }
            });
        }
    });
    let s = &db.store;
    let completed = completed.into_inner().unwrap();
    assert_eq!(completed.len(), 30);
    let states = s.recording_status(&ids).unwrap();
    assert!(states.iter().all(|st| st.status == "done"), "{states:?}");
    assert_eq!(count(s, "SELECT count(*) AS n FROM matchings"), 30);
    assert_eq!(
        count(s, "SELECT count(*) AS n FROM (SELECT recording_id FROM matchings GROUP BY recording_id HAVING count(*) > 1) d"),
        0
    );
    assert_eq!(count(s, "SELECT count(*) AS n FROM utterances"), 90);
    assert_eq!(count(s, "SELECT count(*) AS n FROM hits"), 90);
    let (dead_file, died_at) = died_holding.into_inner().unwrap().expect("box0 died");
    let (taker, taken_at) = &completed[&dead_file];
    assert_ne!(taker, "box0", "the dead box's file was taken over");
    assert!(
        taken_at.duration_since(died_at) >= Duration::from_millis(900),
        "taken over only after the dead box's 1 s lease expired ({:?})",
        taken_at.duration_since(died_at)
    );
    let st = states.iter().find(|st| st.id == dead_file).unwrap();
    assert_eq!(
        st.attempts, 2,
        "leased by the dead box, then by the one that took it over"
    );
    let done_at = s
        .query(
            "SELECT done_at FROM recordings WHERE id = $1",
            &[Value::Int(dead_file)],
        )
        .unwrap()[0]
        .string("done_at")
        .unwrap();
    assert!(!done_at.is_empty());
}

fn speakers_and_voices_are_kept(db: Db) {
    use courtesy::speaker::{Role, Speaker};
    let s = &db.store;
    let ids = register(s, 1);
    let run_id = run(s);
    let lease = s.lease("a", Duration::from_secs(60), &ids).unwrap();
    let mut f = file(run_id, LEX, DAY, 3);
    f.utterances[0].speaker = Speaker::new(Role::Staff, 0.875);
    f.utterances[1].speaker = Speaker::new(Role::Citizen, 0.5);
    f.utterances[1].voice = Some(vec![0.25, -0.5, 0.125]);
    s.complete(&lease.expect("a file to lease"), &f).unwrap();
    let day = s.load_day(DAY, LEX).unwrap();
    let got: Vec<(Speaker, Option<Vec<f32>>)> = day
        .iter()
        .map(|d| (d.utterance.speaker, d.utterance.voice.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (Speaker::new(Role::Staff, 0.875), None),
            (
                Speaker::new(Role::Citizen, 0.5),
                Some(vec![0.25, -0.5, 0.125])
            ),
            (Speaker::UNKNOWN, None),
        ]
    );
}
