//! A record of four working weeks, three windows and their staff, built through the record's
//! real write path — roster import, register, lease, complete — and matched and scored by
//! `rescore` with the built-in lexicon, as a night's batch would leave it (without Whisper: the
//! transcripts are written here). The desk's reports, drill-downs and training sets read it.

use std::path::Path;
use std::time::Duration;

use chrono::{Datelike, NaiveDate};
use courtesy::store::*;

/// The first and last day of the record (Monday 2026-11-02 to Friday 2026-11-27).
pub const FIRST: &str = "2026-11-02";
pub const LAST: &str = "2026-11-27";

/// (window, staff id, name): who sits where all month.
pub const STAFF: [(&str, &str, &str); 3] = [
    ("w01", "S01", "张三"),
    ("w02", "S02", "李四"),
    ("w03", "S03", "王五"),
];

pub fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// What a window's staff member says in the middle of session `k` on the `n`th working day:
/// w01 shirks now and then, w02 more and more as the month goes on, w03 stays civil but once.
fn middle(window: &str, n: usize, k: usize) -> &'static str {
    match (window, n, k) {
        ("w01", n, 0) if n % 3 == 0 => "这个我不知道，你去问别人。",
        ("w02", n, k) if k < n / 5 => "有意见找领导去，我这儿办不了。",
        ("w02", n, 1) if n % 4 == 1 => "快点，要下班了。",
        ("w03", 7, 0) => "不行，重填。",
        _ => "请出示您的身份证件。",
    }
}

/// Builds the record in `store`; clips of the banned utterances are written (as small WAV
/// files) under `clips`. Returns nothing: read it with `report::query`.
pub fn fill(store: &Store, clips: &Path) {
    store
        .import_roster(
            &STAFF
                .iter()
                .map(|(w, id, name)| RosterEntry {
                    window: w.to_string(),
                    staff_id: id.to_string(),
                    name: name.to_string(),
                    valid_from: "2026-11-01T00:00:00.000+08:00".into(),
                    valid_to: "2026-12-31T23:59:59.000+08:00".into(),
                })
                .collect::<Vec<_>>(),
        )
        .unwrap();
    let run_id = store
        .begin_run(&RunInfo {
            kind: "batch".into(),
            program: "courtesy test".into(),
            model_sha256: Some("model".into()),
            lexicon_version: "none".into(),
            config_hash: "cfg".into(),
            host: "box1".into(),
        })
        .unwrap();
    let days: Vec<NaiveDate> = day(FIRST)
        .iter_days()
        .take_while(|d| *d <= day(LAST))
        .filter(|d| d.weekday().number_from_monday() <= 5)
        .collect();
    for (n, d) in days.iter().enumerate() {
        let iso = d.format("%Y-%m-%d").to_string();
        let compact = d.format("%Y%m%d").to_string();
        for (window, _, _) in STAFF {
            let new = NewRecording {
                path: format!(
                    "/rec/{window}/{}_{compact}_090000.mp3",
                    window.to_uppercase()
                ),
                content_sha256: format!("{window}-{compact}"),
                rules: "rules".into(),
                window: window.into(),
                clock_start: Some(format!("{iso}T09:00:00.000+08:00")),
                clock_source: Some("name".into()),
                day: Some(iso.clone()),
            };
            let id = store.register(&[new]).unwrap()[0].id;
            let lease = store
                .lease("box1:1", Duration::from_secs(60), &[id])
                .unwrap()
                .expect("the recording is free");
            let mut utterances = Vec::new();
            for k in 0..3 {
                let base = k as f64 * 120.0;
                for (i, text) in [
                    "您好，请问您要办理什么业务？",
                    middle(window, n, k),
                    "请慢走，再见。",
                ]
                .into_iter()
                .enumerate()
                {
                    let start = base + i as f64 * 20.0;
                    let seq = (k * 3 + i) as i64;
                    let clock = |s: f64| {
                        let t = s as i64;
                        format!("{iso}T09:{:02}:{:02}.000+08:00", t / 60, t % 60)
                    };
                    let banned = i == 1 && !text.starts_with("请出示");
                    let clip = banned.then(|| format!("{iso}/{window}/{compact}-{seq:03}.wav"));
                    if let Some(c) = &clip {
                        write_clip(&clips.join(c));
                    }
                    utterances.push(StoredUtterance {
                        seq,
                        start_s: start,
                        end_s: start + 3.0,
                        clock_start: Some(clock(start)),
                        clock_end: Some(clock(start + 3.0)),
                        day: Some(iso.clone()),
                        text: Some(text.into()),
                        normalized: Some(text.into()),
                        pieces_json: Some(format!(
                            "[[{start:.1},{:.1},0,{}]]",
                            start + 3.0,
                            text.len()
                        )),
                        speaker: courtesy::speaker::Speaker::new(
                            courtesy::speaker::Role::Staff,
                            1.0,
                        ),
                        voice: None,
                        clip,
                        hits: vec![],
                    });
                }
            }
            store
                .complete(
                    &lease,
                    &FileRecord {
                        duration: 360.0,
                        format: Some("mp3".into()),
                        clock_start: Some(format!("{iso}T09:00:00.000+08:00")),
                        clock_source: Some("name".into()),
                        day: Some(iso.clone()),
                        utterances,
                        error: None,
                        lexicon_version: "none".into(),
                        run_id,
                    },
                )
                .unwrap();
        }
    }
    store
        .end_run(run_id, "done", days.len() as i64 * 3, 0.0, 0)
        .unwrap();
    let lexicon = courtesy::lexicon::Lexicon::builtin().unwrap();
    let matcher = courtesy::matcher::Matcher::new(&lexicon);
    courtesy::batch::rescore(
        store,
        &lexicon,
        &matcher,
        &courtesy::config::Config::default().score,
        "cfg".into(),
        day(FIRST),
        day(LAST),
    )
    .unwrap();
}

/// Half a second of a 440 Hz tone, so a player has something to play.
fn write_clip(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let tone: Vec<f32> = (0..8_000)
        .map(|i| (i as f32 * 440.0 * std::f32::consts::TAU / 16_000.0).sin() * 0.25)
        .collect();
    crate::samples::write_wav(path, &tone);
}
