//! The trainers' review and the office's rule fixes on a real record, each test body run against
//! SQLite and against a private PostgreSQL: the queue and its filters, verdicts that change the
//! reviewed numbers at once, a false alarm turned into an exception that `rescore` applies.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use courtesy::batch::days;
use courtesy::lexicon::{ChangeKind, Lexicon};
use courtesy::matcher::Matcher;
use courtesy::review::{self, Filter, FixOutcome, Reason, Status};
use courtesy::score::ScoreWeights;
use courtesy::store::*;

use crate::backends::Db;

pub const DAY: &str = "2026-11-30";

/// The false alarm: a polite sentence holding 不知道 (one the lexicon's polite rules do not
/// already cover: 不知道 + a question is an embedded question, no hit).
pub const FALSE_ALARM: &str = "这个我也不知道，我帮您问问。";
/// The polite context that fixes it.
pub const EXCEPTION: &str = "这个我也不知道";

both!(
    the_queue_lists_flagged_items_with_their_evidence_and_filters,
    verdicts_are_history_and_change_the_reviewed_numbers_at_once,
    a_false_alarm_made_an_exception_and_rescore_changes_the_days_score,
    fixes_that_would_break_something_are_refused_with_the_reasons,
    a_rule_change_checked_against_a_stale_list_is_not_recorded,
);

/// One utterance: (start, end, text, clip?, pieces as (start, end, byte start, byte end)).
type Said = (
    f64,
    f64,
    &'static str,
    bool,
    &'static [(f64, f64, usize, usize)],
);

/// The night as the batch would leave it: three windows' recordings (W01 and W03 on the roster),
/// matched with `lexicon` and scored. Returns the lexicon version and the run.
pub fn night(store: &Store, lexicon: &Lexicon) -> (String, i64) {
    night_with(store, lexicon, 0)
}

/// Banned sentences for a busy window.
const RUDE: [&str; 4] = [
    "有意见找领导去！",
    "材料不全，不行，重填。",
    "快点，要下班了。",
    "没看见我正忙着吗？",
];

/// [`night`] plus a window W04 where `extra` banned sentences are said in one session, 5 s apart:
/// `extra` more banned items (and the session's missing greeting and farewell when `extra` > 0).
pub fn night_with(store: &Store, lexicon: &Lexicon, extra: usize) -> (String, i64) {
    let busy: Vec<Said> = (0..extra)
        .map(|i| {
            (
                i as f64 * 5.0,
                i as f64 * 5.0 + 3.0,
                RUDE[i % RUDE.len()],
                false,
                &[][..],
            )
        })
        .collect();
    let mut files: Vec<(&str, &str, &[Said])> = vec![
        (
            "W01",
            "083000",
            &[
                (0.0, 3.0, "您好，请坐。请问您要办理什么业务？", false, &[]),
                // 这个我也 is 12 bytes: the hit lies in the second piece, 1.2 s into the clip.
                (
                    5.0,
                    9.0,
                    FALSE_ALARM,
                    true,
                    &[(5.0, 6.2, 0, 12), (6.2, 9.0, 12, 42)],
                ),
                (10.0, 12.0, "请稍等一下", false, &[]),
                (13.0, 15.0, "好的，请慢走。", false, &[]),
            ],
        ),
        (
            "W02",
            "090000",
            &[
                (0.0, 3.0, "您好，请问办理什么业务？", false, &[]),
                (4.0, 7.0, "快点快点，马上就要下班了", true, &[]),
                (8.0, 9.0, "再见。", false, &[]),
            ],
        ),
        (
            "W03",
            "100000",
            &[
                (0.0, 2.0, "有意见找领导去！", true, &[]),
                (60.0, 63.0, "材料不全，不行，重填。", true, &[]),
                (65.0, 67.0, "下一位。", false, &[]),
            ],
        ),
    ];
    if extra > 0 {
        files.push(("W04", "110000", &busy));
    }
    let version = lexicon.version();
    let (civil, banned) = lexicon.sources();
    store
        .save_lexicon(&version, lexicon.label(), civil, banned)
        .unwrap();
    let run = store
        .begin_run(&RunInfo {
            kind: "batch".into(),
            program: "courtesy test".into(),
            model_sha256: None,
            lexicon_version: version.clone(),
            config_hash: "cfg".into(),
            host: "box1".into(),
        })
        .unwrap();
    let new: Vec<NewRecording> = files
        .iter()
        .enumerate()
        .map(|(i, (w, hms, _))| NewRecording {
            path: format!("/rec/{w}_20261130_{hms}.mp3"),
            content_sha256: format!("{:064x}", i + 1),
            rules: "rules".into(),
            window: w.to_string(),
            clock_start: Some(clock(hms, 0.0)),
            clock_source: Some("name".into()),
            day: Some(DAY.into()),
        })
        .collect();
    let ids: Vec<i64> = store.register(&new).unwrap().iter().map(|s| s.id).collect();
    for (id, (window, hms, said)) in ids.iter().zip(files.iter().copied()) {
        let lease = store
            .lease("box1", Duration::from_secs(60), &[*id])
            .unwrap()
            .unwrap();
        let utterances = said
            .iter()
            .enumerate()
            .map(|(seq, (start, end, text, clip, pieces))| StoredUtterance {
                seq: seq as i64,
                start_s: *start,
                end_s: *end,
                clock_start: Some(clock(hms, *start)),
                clock_end: Some(clock(hms, *end)),
                day: Some(DAY.into()),
                text: Some(text.to_string()),
                normalized: None,
                pieces_json: Some(
                    serde_json::to_string(
                        &pieces
                            .iter()
                            .map(|(a, b, x, y)| [*a, *b, *x as f64, *y as f64])
                            .collect::<Vec<_>>(),
                    )
                    .unwrap(),
                ),
                speaker: courtesy::speaker::Speaker::UNKNOWN,
                voice: None,
                clip: clip
                    .then(|| format!("{DAY}/{window}/{hms}_{}.opus", (start * 1000.0) as i64)),
                hits: Vec::new(),
            })
            .collect();
        store
            .complete(
                &lease,
                &FileRecord {
                    duration: 120.0,
                    format: Some("mp3".into()),
                    clock_start: Some(clock(hms, 0.0)),
                    clock_source: Some("name".into()),
                    day: Some(DAY.into()),
                    utterances,
                    error: None,
                    lexicon_version: "unmatched".into(),
                    run_id: run,
                },
            )
            .unwrap();
    }
    store
        .import_roster(&[roster("W01", "S001", "张三"), roster("W03", "S002", "李四")])
        .unwrap();
    days::rematch(store, &Matcher::new(lexicon), &ids, &version, run).unwrap();
    days::aggregate(store, DAY, &version, run, &ScoreWeights::default()).unwrap();
    store
        .end_run(run, "done", files.len() as i64, 360.0, 0)
        .unwrap();
    (version, run)
}

fn clock(hms: &str, plus: f64) -> String {
    let t = chrono::DateTime::parse_from_rfc3339(&format!(
        "{DAY}T{}:{}:{}.000+08:00",
        &hms[..2],
        &hms[2..4],
        &hms[4..]
    ))
    .unwrap()
        + chrono::Duration::milliseconds((plus * 1000.0) as i64);
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

fn roster(window: &str, staff_id: &str, name: &str) -> RosterEntry {
    RosterEntry {
        window: window.into(),
        staff_id: staff_id.into(),
        name: name.into(),
        valid_from: format!("{DAY}T00:00:00.000+08:00"),
        valid_to: "2026-12-01T00:00:00.000+08:00".into(),
    }
}

/// The key of the item whose phrase (or reason) is `what`.
pub fn key(items: &[review::Item], what: &str) -> ItemKey {
    let item = items
        .iter()
        .find(|i| i.phrase.as_deref() == Some(what) || i.key.ends_with(what))
        .unwrap_or_else(|| panic!("no item {what} among {:#?}", keys(items)));
    ItemKey::parse(&item.key).unwrap()
}

fn keys(items: &[review::Item]) -> Vec<String> {
    items.iter().map(|i| i.key.clone()).collect()
}

/// (score, reviewed score, banned hits, reviewed banned hits, judged hits).
pub type Numbers = (Option<f64>, Option<f64>, i64, i64, i64);

/// Each window's [`Numbers`] under the day's shown version.
pub fn scores(store: &Store) -> BTreeMap<String, Numbers> {
    let (version, _) = store.shown_version(DAY).unwrap().unwrap();
    store
        .query(
            "SELECT \"window\", score, reviewed_score, banned_hits, reviewed_banned_hits, \
             judged_hits FROM window_scores WHERE day = $1 AND lexicon_version = $2",
            &[DAY.into(), version.into()],
        )
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.string("window").unwrap(),
                (
                    r.opt_f64("score").unwrap(),
                    r.opt_f64("reviewed_score").unwrap(),
                    r.i64("banned_hits").unwrap(),
                    r.i64("reviewed_banned_hits").unwrap(),
                    r.i64("judged_hits").unwrap(),
                ),
            )
        })
        .collect()
}

fn judge(db: &Db, item: &ItemKey, verdict: Verdict, comment: Option<&str>) -> review::Judged {
    review::judge(
        &db.store,
        item,
        verdict,
        comment,
        "trainer1",
        &ScoreWeights::default(),
    )
    .unwrap()
}

fn the_queue_lists_flagged_items_with_their_evidence_and_filters(db: Db) {
    let lexicon = Lexicon::builtin().unwrap();
    let (version, _) = night(&db.store, &lexicon);
    let all = review::queue(&db.store, &Filter::days(DAY, DAY)).unwrap();
    let shown: Vec<(String, Reason, bool)> = all
        .iter()
        .map(|i| (i.window.clone(), i.reason, i.low_confidence))
        .collect();
    use Reason::*;
    assert_eq!(
        shown,
        [
            ("W01".into(), Banned, false),
            ("W02".into(), Banned, true),
            ("W03".into(), Banned, false),
            ("W03".into(), NoGreeting, false),
            ("W03".into(), NoFarewell, false),
            ("W03".into(), Banned, false),
            ("W03".into(), NoGreeting, false),
            ("W03".into(), NoFarewell, false),
        ],
        "{:#?}",
        keys(&all)
    );

    // The false alarm, with everything a trainer needs.
    let fa = &all[0];
    let text = fa.text.as_deref().unwrap();
    assert_eq!(text, FALSE_ALARM);
    let [a, b] = fa.span.unwrap();
    assert_eq!(&text[a..b], "不知道");
    assert_eq!(fa.phrase.as_deref(), Some("不知道"));
    assert_eq!(fa.clause, "文明服务用语规范 三、禁忌用语");
    assert_eq!(
        fa.before.as_deref(),
        Some("您好，请坐。请问您要办理什么业务？")
    );
    assert_eq!(fa.after.as_deref(), Some("请稍等一下"));
    assert_eq!(fa.clip.as_deref(), Some("2026-11-30/W01/083000_5000.opus"));
    assert!((fa.clip_offset - 1.2).abs() < 1e-9, "{}", fa.clip_offset);
    assert!((fa.offset - 6.2).abs() < 1e-9);
    assert_eq!(
        fa.clock_time.as_deref(),
        Some("2026-11-30T08:30:06.200+08:00")
    );
    assert_eq!(
        (fa.staff_id.as_deref(), fa.staff_name.as_deref()),
        (Some("S001"), Some("张三"))
    );
    assert_eq!(fa.file, "/rec/W01_20261130_083000.mp3");
    assert_eq!(fa.lexicon_version, version);
    assert_eq!(fa.verdict, None);
    assert_eq!(
        ItemKey::parse(&fa.key).unwrap(),
        ItemKey::Hit {
            utterance_id: fa.utterance_id.unwrap(),
            phrase: "不知道".into()
        }
    );
    // A session without its greeting: the first utterance, no span, the regulation's clause.
    let no_greeting = &all[3];
    assert_eq!(no_greeting.text.as_deref(), Some("有意见找领导去！"));
    assert_eq!(no_greeting.span, None);
    assert!(
        no_greeting.clause.contains("来有迎声"),
        "{}",
        no_greeting.clause
    );
    assert_eq!(no_greeting.before, None);
    assert_eq!(no_greeting.after.as_deref(), Some("材料不全，不行，重填。"));
    let no_farewell = &all[7];
    assert_eq!(no_farewell.text.as_deref(), Some("下一位。"));
    assert_eq!(no_farewell.staff_name.as_deref(), Some("李四"));

    // Filters.
    let with = |f: &dyn Fn(&mut Filter)| {
        let mut filter = Filter::days(DAY, DAY);
        f(&mut filter);
        keys(&review::queue(&db.store, &filter).unwrap())
    };
    let of = |items: &[&review::Item]| items.iter().map(|i| i.key.clone()).collect::<Vec<_>>();
    let w03: Vec<&review::Item> = all.iter().filter(|i| i.window == "W03").collect();
    assert_eq!(with(&|f| f.window = Some("W03".into())), of(&w03));
    assert_eq!(
        with(&|f| f.staff_id = Some("S001".into())),
        std::slice::from_ref(&fa.key),
        "the roster puts 张三 at W01"
    );
    assert_eq!(
        with(&|f| f.phrase = Some("不知道".into())),
        std::slice::from_ref(&fa.key)
    );
    assert_eq!(with(&|f| f.reasons = vec![NoFarewell]).len(), 2);
    assert!(with(&|f| f.from = "2026-12-01".into()).is_empty());
    assert!(with(&|f| f.lexicon_version = Some("other".into())).is_empty());
    // A higher threshold brings in the civil find the matcher was unsure of (请稍等, 0.8).
    let unsure = {
        let mut f = Filter::days(DAY, DAY);
        f.low_confidence = 0.85;
        f.reasons = vec![LowConfidence];
        review::queue(&db.store, &f).unwrap()
    };
    let phrases: Vec<_> = unsure.iter().map(|i| i.phrase.clone().unwrap()).collect();
    assert_eq!(phrases, ["请稍候", "快点，要下班了"]);
    assert!(unsure.iter().all(|i| i.reason == LowConfidence));
    // Status: judged items leave the unjudged queue and show under their verdict.
    judge(&db, &key(&all, "不知道"), Verdict::FalseAlarm, None);
    assert_eq!(with(&|f| f.status = Some(Status::Unjudged)).len(), 7);
    assert_eq!(
        with(&|f| f.status = Status::parse("false_alarm")),
        std::slice::from_ref(&fa.key)
    );
    assert!(with(&|f| f.status = Some(Status::Judged(Verdict::Citizen))).is_empty());
}

fn verdicts_are_history_and_change_the_reviewed_numbers_at_once(db: Db) {
    let lexicon = Lexicon::builtin().unwrap();
    night(&db.store, &lexicon);
    let items = review::queue(&db.store, &Filter::days(DAY, DAY)).unwrap();
    let before = scores(&db.store);
    // W01: one session, full marks but for 不知道 (severity 2, 30 points).
    assert_eq!(before["W01"], (Some(70.0), Some(70.0), 1, 1, 0));

    let fa = key(&items, "不知道");
    let judged = judge(&db, &fa, Verdict::FalseAlarm, Some("客气话，不是推诿"));
    let w01 = judged.windows.iter().find(|w| w.window == "W01").unwrap();
    assert_eq!(
        (
            w01.score,
            w01.reviewed_score,
            w01.banned_hits,
            w01.reviewed_banned_hits,
            w01.judged_hits
        ),
        (Some(70.0), Some(100.0), 1, 0, 1)
    );
    assert_eq!(scores(&db.store)["W01"], (Some(70.0), Some(100.0), 1, 0, 1));
    let staff = db
        .store
        .query(
            "SELECT score, reviewed_score, judged_hits FROM staff_scores WHERE staff_id = 'S001'",
            &[],
        )
        .unwrap();
    assert_eq!(staff[0].opt_f64("reviewed_score").unwrap(), Some(100.0));
    assert_eq!(staff[0].i64("judged_hits").unwrap(), 1);

    // Changed mind: the latest verdict counts, the history stays.
    judge(&db, &fa, Verdict::Confirmed, None);
    assert_eq!(scores(&db.store)["W01"], (Some(70.0), Some(70.0), 1, 1, 1));
    judge(&db, &fa, Verdict::Citizen, Some("群众说的"));
    assert_eq!(scores(&db.store)["W01"].1, Some(100.0));
    judge(&db, &fa, Verdict::Unclear, None);
    assert_eq!(scores(&db.store)["W01"], (Some(70.0), Some(70.0), 1, 1, 1));
    let history = db.store.verdict_history(&fa).unwrap();
    let seen: Vec<(Verdict, Option<&str>, &str)> = history
        .iter()
        .map(|v| (v.verdict, v.comment.as_deref(), v.user_name.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            (Verdict::FalseAlarm, Some("客气话，不是推诿"), "trainer1"),
            (Verdict::Confirmed, None, "trainer1"),
            (Verdict::Citizen, Some("群众说的"), "trainer1"),
            (Verdict::Unclear, None, "trainer1"),
        ]
    );
    assert!(history.iter().all(|v| v.day.as_deref() == Some(DAY)));
    let now = review::queue(&db.store, &Filter::days(DAY, DAY)).unwrap();
    assert_eq!(
        now[0].verdict.as_ref().map(|v| v.verdict),
        Some(Verdict::Unclear)
    );

    // W03: both banned hits dropped and one session's greeting heard after all.
    assert_eq!(before["W03"], (Some(0.0), Some(0.0), 2, 2, 0));
    judge(&db, &key(&items, "有意见找领导去"), Verdict::Citizen, None);
    judge(&db, &key(&items, "不行，重填"), Verdict::FalseAlarm, None);
    assert_eq!(scores(&db.store)["W03"], (Some(0.0), Some(0.0), 2, 0, 2));
    let no_greeting = items
        .iter()
        .find(|i| i.reason == Reason::NoGreeting)
        .unwrap();
    judge(
        &db,
        &ItemKey::parse(&no_greeting.key).unwrap(),
        Verdict::FalseAlarm,
        Some("问候了，机器没听出来"),
    );
    // R = 1 of 4 rituals, C = (1/3 + 0) / 2: 100 × (0.6 × 0.25 + 0.4 / 6) = 21.7.
    assert_eq!(scores(&db.store)["W03"], (Some(0.0), Some(21.7), 2, 0, 2));

    // The report shows both, and the phrase's false-alarm share.
    let report = courtesy::report::query(
        &db.store,
        courtesy::report::Period::day(chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap()),
        None,
    )
    .unwrap();
    let w03 = report.windows.iter().find(|w| w.window == "W03").unwrap();
    assert_eq!((w03.score, w03.reviewed_score), (Some(0.0), Some(21.7)));
    assert_eq!(
        (
            w03.totals.banned_hits,
            w03.totals.reviewed_banned_hits,
            w03.totals.judged_hits
        ),
        (2, 0, 2)
    );
    let p: BTreeMap<&str, (i64, i64, Option<f64>)> = report
        .precision
        .iter()
        .map(|p| (p.phrase.as_str(), (p.hits, p.judged, p.false_share)))
        .collect();
    assert_eq!(p["不行，重填"], (1, 1, Some(1.0)));
    assert_eq!(
        p["有意见找领导去"],
        (1, 1, Some(0.0)),
        "the citizen's words are no false alarm"
    );
    assert_eq!(p["不知道"], (1, 1, None), "unclear decides nothing");
    assert_eq!(p["快点，要下班了"], (1, 0, None));
    let hit = report
        .hits
        .iter()
        .find(|h| h.phrase == "不行，重填")
        .unwrap();
    assert_eq!(hit.verdict.as_deref(), Some("false_alarm"));

    // Bad requests are refused with the fix, and nothing is written.
    let bad = review::judge(
        &db.store,
        &ItemKey::Hit {
            utterance_id: 999_999,
            phrase: "不知道".into(),
        },
        Verdict::Confirmed,
        None,
        "trainer1",
        &ScoreWeights::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        bad.contains("no such item") && bad.contains("reload"),
        "{bad}"
    );
    let nobody = review::judge(
        &db.store,
        &fa,
        Verdict::Confirmed,
        None,
        " ",
        &ScoreWeights::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(nobody.contains("log in"), "{nobody}");
    let long = "长".repeat(review::MAX_COMMENT_CHARS + 1);
    assert!(review::judge(
        &db.store,
        &fa,
        Verdict::Confirmed,
        Some(&long),
        "trainer1",
        &ScoreWeights::default(),
    )
    .is_err());
    assert_eq!(db.store.verdict_history(&fa).unwrap().len(), 4);
}

fn fix(item: &ItemKey, kind: ChangeKind, text: &str) -> review::Fix {
    review::Fix {
        item: item.clone(),
        kind,
        text: text.into(),
        reason: Some("客气话".into()),
        user: "office1".into(),
    }
}

fn apply(db: &Db, base: &Lexicon, f: &review::Fix) -> FixOutcome {
    review::fix_false_alarm(
        &db.store,
        base,
        Default::default(),
        &courtesy::eval::builtin(),
        f,
    )
    .unwrap()
}

fn a_false_alarm_made_an_exception_and_rescore_changes_the_days_score(db: Db) {
    let base = Lexicon::builtin().unwrap();
    let (first, _) = night(&db.store, &base);
    let items = review::queue(&db.store, &Filter::days(DAY, DAY)).unwrap();
    let fa = key(&items, "不知道");
    let kept = key(&items, "快点，要下班了");
    judge(&db, &kept, Verdict::Confirmed, None);
    judge(&db, &fa, Verdict::FalseAlarm, None);
    assert_eq!(scores(&db.store)["W01"], (Some(70.0), Some(100.0), 1, 0, 1));

    let FixOutcome::Accepted {
        change,
        regressions,
        labelled,
    } = apply(&db, &base, &fix(&fa, ChangeKind::Exception, EXCEPTION))
    else {
        panic!("refused")
    };
    assert_eq!(
        (regressions, labelled),
        (1, courtesy::eval::builtin().len())
    );
    assert_eq!(
        (
            change.phrase.as_str(),
            change.kind.as_str(),
            change.text.as_str()
        ),
        ("不知道", "exception", EXCEPTION)
    );
    assert_eq!(change.user_name, "office1");
    assert_eq!(change.item.as_deref(), Some(fa.to_string().as_str()));
    assert_eq!(change.base_version, first);
    let effective = review::rules::effective_lexicon(&db.store, &base).unwrap();
    assert_eq!(change.version, effective.version());
    assert_ne!(change.version, first);
    let regs = db.store.regressions().unwrap();
    assert_eq!(regs.len(), 1);
    assert_eq!(
        (
            regs[0].sentence.as_str(),
            regs[0].phrase.as_str(),
            regs[0].expect
        ),
        (FALSE_ALARM, "不知道", Expect::Absent)
    );
    // The record keeps the effective texts under the new version.
    let stored = db
        .store
        .query(
            "SELECT banned FROM lexicons WHERE version = $1",
            &[change.version.as_str().into()],
        )
        .unwrap();
    assert!(stored[0].str("banned").unwrap().contains(EXCEPTION));
    assert!(review::rules::check_regressions(&Matcher::new(&effective), &regs).is_empty());

    // Nothing changes in the scores until the rules are applied to the day…
    assert_eq!(scores(&db.store)["W01"].0, Some(70.0));
    let matcher = Matcher::new(&effective);
    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    let r = courtesy::batch::rescore(
        &db.store,
        &effective,
        &matcher,
        &ScoreWeights::default(),
        "cfg".into(),
        day,
        day,
    )
    .unwrap();
    assert_eq!(r.lexicon_version, change.version);
    // …then the machine no longer finds it: W01's score is full.
    assert_eq!(
        db.store.shown_version(DAY).unwrap().unwrap().0,
        change.version
    );
    assert_eq!(
        scores(&db.store)["W01"],
        (Some(100.0), Some(100.0), 0, 0, 0)
    );
    // Verdicts survive rescoring: the same items, the same keys.
    let after = review::queue(&db.store, &Filter::days(DAY, DAY)).unwrap();
    assert!(after.iter().all(|i| i.key != fa.to_string()), "fixed");
    let w02 = after.iter().find(|i| i.key == kept.to_string()).unwrap();
    assert_eq!(w02.verdict.as_ref().unwrap().verdict, Verdict::Confirmed);
    assert_eq!(w02.lexicon_version, change.version);
    assert_eq!(scores(&db.store)["W02"].4, 1, "W02's hit is still judged");
    // The earlier version's scores stay for comparison.
    let old = db
        .store
        .query(
            "SELECT score FROM window_scores WHERE day = $1 AND \"window\" = 'W01' \
             AND lexicon_version = $2",
            &[DAY.into(), first.as_str().into()],
        )
        .unwrap();
    assert_eq!(old[0].opt_f64("score").unwrap(), Some(70.0));
}

fn fixes_that_would_break_something_are_refused_with_the_reasons(db: Db) {
    let base = Lexicon::builtin().unwrap();
    night(&db.store, &base);
    let items = review::queue(&db.store, &Filter::days(DAY, DAY)).unwrap();
    let fa = key(&items, "不知道");
    let refused = |f: &review::Fix| match apply(&db, &base, f) {
        FixOutcome::Refused { reasons } => reasons,
        other => panic!("accepted: {other:?}"),
    };
    // Only a hit judged 误报.
    let r = refused(&fix(&fa, ChangeKind::Exception, EXCEPTION));
    assert!(
        r[0].contains("only a hit judged 误报") && r[0].contains("unjudged"),
        "{r:?}"
    );
    let session = ItemKey::parse(
        &items
            .iter()
            .find(|i| i.reason == Reason::NoGreeting)
            .unwrap()
            .key,
    )
    .unwrap();
    assert!(refused(&fix(&session, ChangeKind::Exception, "x"))[0].contains("a session"));
    judge(&db, &fa, Verdict::FalseAlarm, None);
    // An exception that does not cover the sentence leaves the false alarm: its own regression.
    let r = refused(&fix(&fa, ChangeKind::Exception, "不知道怎么走"));
    assert_eq!(r.len(), 1, "{r:?}");
    assert!(
        r[0].starts_with("regression: “不知道” is found in “这个我也不知道"),
        "{r:?}"
    );
    // One that also covers a labelled banned sentence (L004 我也不知道，别问我。) loses it.
    let r = refused(&fix(&fa, ChangeKind::Exception, "也不知道"));
    assert!(
        r.iter()
            .any(|x| x.starts_with("labelled L004 ") && x.ends_with("loses “不知道”")),
        "{r:?}"
    );
    // A bad text is refused with the lexicon's reason.
    let r = refused(&fix(&fa, ChangeKind::Exception, "您好"));
    assert!(r[0].contains("could never apply"), "{r:?}");
    assert!(db.store.rule_changes().unwrap().is_empty());
    assert!(db.store.regressions().unwrap().is_empty());

    // Accepted once; then a variant that would find 不知道 in the kept sentence again is refused.
    assert!(matches!(
        apply(&db, &base, &fix(&fa, ChangeKind::Exception, EXCEPTION)),
        FixOutcome::Accepted { .. }
    ));
    let r = refused(&fix(&fa, ChangeKind::Variant, "帮您问问"));
    assert!(
        r.iter()
            .any(|x| x.contains("is found in “这个我也不知道")
                && x.contains(&format!("(from {fa})"))),
        "{r:?}"
    );
    assert_eq!(db.store.rule_changes().unwrap().len(), 1);
}

fn a_rule_change_checked_against_a_stale_list_is_not_recorded(db: Db) {
    let change = |text: &str| NewRuleChange {
        user_name: "office1".into(),
        phrase: "不知道".into(),
        kind: "exception".into(),
        text: text.into(),
        reason: None,
        item: None,
        base_version: "a".into(),
        version: "b".into(),
    };
    let regression = NewRegression {
        sentence: FALSE_ALARM.into(),
        phrase: "不知道".into(),
        expect: Expect::Absent,
        source: None,
        added_by: "office1".into(),
    };
    let first = db
        .store
        .add_rule_change(&change(EXCEPTION), Some(&regression), 0)
        .unwrap()
        .unwrap();
    assert_eq!(first.text, EXCEPTION);
    // Someone else's change landed in between: checked against 0 changes, there is 1 now.
    assert_eq!(
        db.store
            .add_rule_change(&change("不知道他们"), Some(&regression), 0)
            .unwrap(),
        None
    );
    // The same regression sentence twice is kept once.
    db.store
        .add_rule_change(&change("不知道他们"), Some(&regression), 1)
        .unwrap()
        .unwrap();
    assert_eq!(db.store.rule_changes().unwrap().len(), 2);
    assert_eq!(db.store.regressions().unwrap().len(), 1);
}

/// `courtesy eval --regressions` and `courtesy rescore` load the effective lexicon from the record.
#[test]
fn the_commands_use_the_records_rule_changes() {
    let db = crate::backends::sqlite();
    let base = Lexicon::builtin().unwrap();
    night(&db.store, &base);
    let items = review::queue(&db.store, &Filter::days(DAY, DAY)).unwrap();
    let fa = key(&items, "不知道");
    judge(&db, &fa, Verdict::FalseAlarm, None);
    let FixOutcome::Accepted { change, .. } =
        apply(&db, &base, &fix(&fa, ChangeKind::Exception, EXCEPTION))
    else {
        panic!("refused")
    };
    let courtesy = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_courtesy"))
            .args(args)
            .args(["--db", &db.url])
            .env_remove("COURTESY_DB")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, out, err) = courtesy(&["eval", "--regressions"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("1 regression sentences, 0 failed")
            && out.contains(&change.version)
            && out.contains("1 rule changes"),
        "{out}"
    );
    // Lexicon files where 不知道 has the wording 帮您问问: the kept sentence fails, listed.
    let dir = tempfile::tempdir().unwrap();
    let (civil, banned) = base.sources();
    std::fs::write(dir.path().join("civil.toml"), civil).unwrap();
    std::fs::write(
        dir.path().join("banned.toml"),
        banned.replacen(
            "variants = [\"不晓得\"]",
            "variants = [\"不晓得\", \"帮您问问\"]",
            1,
        ),
    )
    .unwrap();
    let lexicons = dir.path().to_str().unwrap();
    let (code, out, _) = courtesy(&["eval", "--regressions", "--lexicons", lexicons]);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "FAIL “不知道” is found in “{FALSE_ALARM}” (from {fa})"
        )),
        "{out}"
    );
    let (code, out, _) = courtesy(&["eval", "--regressions", "--json"]);
    assert_eq!(code, Some(0));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["regressions"], 1);
    assert_eq!(v["failures"], serde_json::json!([]));

    // rescore applies the record's change to the day: W01 loses its false alarm.
    assert_eq!(scores(&db.store)["W01"].0, Some(70.0));
    let (code, out, err) = courtesy(&["rescore", "--from", DAY, "--to", DAY]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains(&format!("with lexicon {}", change.version)),
        "{out}"
    );
    assert_eq!(
        scores(&db.store)["W01"],
        (Some(100.0), Some(100.0), 0, 0, 0)
    );
}
