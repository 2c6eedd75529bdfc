//! Reads a period of the record into a [`Report`]: which lexicon version each day is shown with, then
//! the scores, sessions, banned hits, recordings and runs of those (day, version) pairs.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::store::{Row, Store, StoreError, Value};

use super::{
    mean, rank, DayRow, DayVersion, FailureRow, HitRow, Period, PhrasePrecision, RecordingStats,
    Report, RunRow, SessionRow, StaffRow, Subject, Totals, WindowRow, PRECISION_RULE, RANKING_RULE,
};

/// Reads `period` from `store`. Each day is shown with the lexicon version of its window scores from
/// the newest run, or with `lexicon` for every day when given (days never scored with it are then
/// empty). Windows and staff members are ranked by the mean of their daily scores.
pub fn query(store: &Store, period: Period, lexicon: Option<&str>) -> Result<Report, StoreError> {
    let from = period.from.format("%Y-%m-%d").to_string();
    let to = period.to.format("%Y-%m-%d").to_string();
    let range = [Value::Text(from.clone()), Value::Text(to.clone())];

    let day_versions = day_versions(store, &range, lexicon)?;
    let chosen: HashMap<&str, &str> = day_versions
        .iter()
        .map(|d| (d.day.as_str(), d.lexicon_version.as_str()))
        .collect();
    let shown = |day: &str, version: &str| chosen.get(day) == Some(&version);

    // Per day and window.
    let mut days = Vec::new();
    let mut failed_files: BTreeMap<String, i64> = BTreeMap::new();
    for row in store.query(
        "SELECT day, \"window\", lexicon_version, score, sessions, utterances, speech_seconds, \
         greeting_sessions, farewell_sessions, civil_hits, banned_hits, failed_files, \
         reviewed_score, reviewed_banned_hits, judged_hits \
         FROM window_scores WHERE day >= $1 AND day <= $2 ORDER BY day, \"window\"",
        &range,
    )? {
        let (day, version) = (text(&row, "day")?, text(&row, "lexicon_version")?);
        if !shown(&day, &version) {
            continue;
        }
        let window = text(&row, "window")?;
        *failed_files.entry(window.clone()).or_default() += int(&row, "failed_files")?;
        days.push(DayRow {
            day,
            subject: Subject::Window,
            id: window,
            name: None,
            score: opt_real(&row, "score")?,
            reviewed_score: opt_real(&row, "reviewed_score")?,
            totals: totals(&row)?,
            lexicon_version: version,
        });
    }

    // Per day and staff member; the name and windows come from the roster as it was that day.
    let mut staff_windows: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut names: HashMap<(String, String), String> = HashMap::new();
    for row in store.query(
        "SELECT day, staff_id, lexicon_version, name, windows, score, sessions, utterances, \
         speech_seconds, greeting_sessions, farewell_sessions, civil_hits, banned_hits, \
         reviewed_score, reviewed_banned_hits, judged_hits \
         FROM staff_scores WHERE day >= $1 AND day <= $2 ORDER BY day, staff_id",
        &range,
    )? {
        let (day, version) = (text(&row, "day")?, text(&row, "lexicon_version")?);
        if !shown(&day, &version) {
            continue;
        }
        let staff_id = text(&row, "staff_id")?;
        let name = opt_text(&row, "name")?;
        if let Some(n) = &name {
            names.insert((day.clone(), staff_id.clone()), n.clone());
        }
        staff_windows
            .entry(staff_id.clone())
            .or_default()
            .extend(json_strings(opt_text(&row, "windows")?.as_deref()));
        days.push(DayRow {
            day,
            subject: Subject::Staff,
            id: staff_id,
            name,
            score: opt_real(&row, "score")?,
            reviewed_score: opt_real(&row, "reviewed_score")?,
            totals: totals(&row)?,
            lexicon_version: version,
        });
    }

    let windows = over_period(&days, Subject::Window)
        .into_iter()
        .map(|(id, agg)| WindowRow {
            rank: None,
            failed_files: failed_files.get(&id).copied().unwrap_or(0),
            window: id,
            score: mean(&agg.scores),
            reviewed_score: mean(&agg.reviewed),
            days_scored: agg.scores.iter().flatten().count(),
            days: agg.scores.len(),
            totals: agg.totals,
        })
        .collect::<Vec<_>>();
    let staff = over_period(&days, Subject::Staff)
        .into_iter()
        .map(|(id, agg)| StaffRow {
            rank: None,
            name: agg.name,
            windows: staff_windows
                .remove(&id)
                .unwrap_or_default()
                .into_iter()
                .collect(),
            staff_id: id,
            score: mean(&agg.scores),
            reviewed_score: mean(&agg.reviewed),
            days_scored: agg.scores.iter().flatten().count(),
            days: agg.scores.len(),
            totals: agg.totals,
        })
        .collect::<Vec<_>>();
    let (mut windows, mut staff) = (windows, staff);
    rank(&mut windows);
    rank(&mut staff);
    days.sort_by(|a, b| (a.subject, &a.id, &a.day).cmp(&(b.subject, &b.id, &b.day)));

    // Sessions: who was on duty, and whether they greeted and saw the citizen off.
    let mut sessions = Vec::new();
    let mut duty: HashMap<i64, Vec<(f64, f64, Option<String>)>> = HashMap::new();
    for row in store.query(
        "SELECT s.day AS day, s.lexicon_version AS lexicon_version, s.\"window\" AS \"window\", \
         s.staff_id AS staff_id, s.recording_id AS recording_id, s.start_s AS start_s, \
         s.end_s AS end_s, s.clock_start AS clock_start, s.clock_end AS clock_end, \
         s.utterances AS utterances, s.greeting AS greeting, s.farewell AS farewell, \
         s.situations AS situations, s.banned AS banned, r.path AS path \
         FROM sessions s JOIN recordings r ON r.id = s.recording_id \
         WHERE s.day >= $1 AND s.day <= $2 \
         ORDER BY s.day, s.clock_start, s.\"window\", r.path, s.start_s",
        &range,
    )? {
        let (day, version) = (text(&row, "day")?, text(&row, "lexicon_version")?);
        if !shown(&day, &version) {
            continue;
        }
        let staff_id = opt_text(&row, "staff_id")?;
        let (start_s, end_s) = (real(&row, "start_s")?, real(&row, "end_s")?);
        duty.entry(int(&row, "recording_id")?).or_default().push((
            start_s,
            end_s,
            staff_id.clone(),
        ));
        sessions.push(SessionRow {
            staff_name: staff_id
                .as_ref()
                .and_then(|s| names.get(&(day.clone(), s.clone())).cloned()),
            day,
            window: text(&row, "window")?,
            staff_id,
            clock_start: opt_text(&row, "clock_start")?,
            clock_end: opt_text(&row, "clock_end")?,
            file: text(&row, "path")?,
            start_s,
            end_s,
            utterances: int(&row, "utterances")?,
            greeting: int(&row, "greeting")? != 0,
            farewell: int(&row, "farewell")? != 0,
            situations: json_strings(Some(&text(&row, "situations")?)),
            banned: int(&row, "banned")?,
        });
    }

    // Banned hits with the utterance they were heard in, and the trainers' latest verdicts.
    let verdicts = store.latest_verdicts(&from, &to)?;
    let mut hits = Vec::new();
    for row in store.query(
        "SELECT h.day AS day, h.lexicon_version AS lexicon_version, h.clock_time AS clock_time, \
         h.\"window\" AS \"window\", h.start_s AS start_s, h.end_s AS end_s, h.phrase AS phrase, \
         h.category AS category, h.severity AS severity, h.clause AS clause, h.matched AS matched, \
         h.span_start AS span_start, h.span_end AS span_end, h.confidence AS confidence, \
         h.method AS method, u.text AS text, u.clip AS clip, u.recording_id AS recording_id, \
         u.start_s AS utterance_start, h.utterance_id AS utterance_id, r.path AS path, \
         u.speaker AS speaker, u.speaker_confidence AS speaker_confidence \
         FROM hits h JOIN utterances u ON u.id = h.utterance_id \
         JOIN recordings r ON r.id = u.recording_id \
         WHERE h.kind = 'banned' AND h.day >= $1 AND h.day <= $2 AND u.speaker <> 'citizen' \
         ORDER BY h.clock_time, h.\"window\", r.path, h.start_s, h.id",
        &range,
    )? {
        let (day, version) = (text(&row, "day")?, text(&row, "lexicon_version")?);
        if !shown(&day, &version) {
            continue;
        }
        // The session holding the utterance tells who was on duty.
        let at = real(&row, "utterance_start")?;
        let staff_id = duty
            .get(&int(&row, "recording_id")?)
            .and_then(|v| v.iter().find(|(s, e, _)| *s <= at && at <= *e))
            .and_then(|(_, _, staff)| staff.clone());
        let span = |col| int(&row, col).map(|v| usize::try_from(v).unwrap_or(0));
        let phrase = text(&row, "phrase")?;
        let item = crate::store::ItemKey::Hit {
            utterance_id: int(&row, "utterance_id")?,
            phrase: phrase.clone(),
        }
        .to_string();
        hits.push(HitRow {
            verdict: verdicts.get(&item).map(|v| v.verdict.as_str().to_string()),
            item,
            staff_name: staff_id
                .as_ref()
                .and_then(|s| names.get(&(day.clone(), s.clone())).cloned()),
            staff_id,
            day,
            clock_time: opt_text(&row, "clock_time")?,
            window: text(&row, "window")?,
            phrase,
            category: text(&row, "category")?,
            severity: int(&row, "severity")?,
            clause: text(&row, "clause")?,
            matched: text(&row, "matched")?,
            text: opt_text(&row, "text")?,
            span: [span("span_start")?, span("span_end")?],
            confidence: real(&row, "confidence")?,
            method: text(&row, "method")?,
            speaker: text(&row, "speaker")?,
            speaker_confidence: real(&row, "speaker_confidence")?,
            file: text(&row, "path")?,
            offset: real(&row, "start_s")?,
            end: real(&row, "end_s")?,
            clip: opt_text(&row, "clip")?,
            lexicon_version: version,
            utterance_id: int(&row, "utterance_id")?,
        });
    }

    let precision = precision(store, &from, &to, &hits)?;
    let (recordings, failures) = recordings(store, &range)?;
    let runs = runs(store, &day_versions)?;
    let lexicon_versions = day_versions
        .iter()
        .map(|d| d.lexicon_version.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(Report {
        from,
        to,
        generated_at: chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
        ranking: RANKING_RULE.into(),
        lexicon_versions,
        day_versions,
        runs,
        windows,
        staff,
        days,
        hits,
        sessions,
        recordings,
        failures,
        precision,
        precision_rule: PRECISION_RULE.into(),
    })
}

/// Per phrase: the period's banned hits and the latest verdicts on them, worst false-alarm share
/// first ([`PRECISION_RULE`]).
fn precision(
    store: &Store,
    from: &str,
    to: &str,
    hits: &[HitRow],
) -> Result<Vec<PhrasePrecision>, StoreError> {
    fn row<'a>(
        m: &'a mut BTreeMap<String, PhrasePrecision>,
        phrase: &str,
    ) -> &'a mut PhrasePrecision {
        m.entry(phrase.to_string())
            .or_insert_with(|| PhrasePrecision {
                phrase: phrase.to_string(),
                ..PhrasePrecision::default()
            })
    }
    let mut by_phrase: BTreeMap<String, PhrasePrecision> = BTreeMap::new();
    for h in hits {
        row(&mut by_phrase, &h.phrase).hits += 1;
    }
    for v in store.phrase_verdicts(from, to)? {
        let p = row(&mut by_phrase, &v.phrase);
        p.confirmed = v.confirmed;
        p.false_alarm = v.false_alarm;
        p.citizen = v.citizen;
        p.unclear = v.unclear;
        p.judged = v.confirmed + v.false_alarm + v.citizen + v.unclear;
        let decided = p.judged - p.unclear;
        p.false_share = (decided > 0).then(|| p.false_alarm as f64 / decided as f64);
    }
    let mut out: Vec<PhrasePrecision> = by_phrase.into_values().collect();
    out.sort_by(|a, b| {
        b.false_share
            .unwrap_or(-1.0)
            .total_cmp(&a.false_share.unwrap_or(-1.0))
            .then(b.hits.cmp(&a.hits))
            .then_with(|| a.phrase.cmp(&b.phrase))
    });
    Ok(out)
}

/// For each day of the range: the version of the newest run's window scores, or `lexicon` where that
/// day was scored with it.
fn day_versions(
    store: &Store,
    range: &[Value],
    lexicon: Option<&str>,
) -> Result<Vec<DayVersion>, StoreError> {
    let mut best: BTreeMap<String, DayVersion> = BTreeMap::new();
    for row in store.query(
        "SELECT day, lexicon_version, MAX(run_id) AS run_id FROM window_scores \
         WHERE day >= $1 AND day <= $2 GROUP BY day, lexicon_version",
        range,
    )? {
        let d = DayVersion {
            day: text(&row, "day")?,
            lexicon_version: text(&row, "lexicon_version")?,
            run_id: int(&row, "run_id")?,
        };
        if lexicon.is_some_and(|l| l != d.lexicon_version) {
            continue;
        }
        // Newest run wins; a tie (one run writing two versions) goes to the larger version string,
        // so the choice never depends on row order.
        let newer = best.get(&d.day).is_none_or(|b| {
            (d.run_id, d.lexicon_version.as_str()) > (b.run_id, b.lexicon_version.as_str())
        });
        if newer {
            best.insert(d.day.clone(), d);
        }
    }
    Ok(best.into_values().collect())
}

/// The runs that wrote the scores shown.
fn runs(store: &Store, days: &[DayVersion]) -> Result<Vec<RunRow>, StoreError> {
    let ids: BTreeSet<i64> = days.iter().map(|d| d.run_id).collect();
    let mut runs = Vec::new();
    for row in store.query(
        "SELECT id, kind, program, model_sha256, lexicon_version, host, started_at, ended_at, status \
         FROM runs ORDER BY id",
        &[],
    )? {
        let id = int(&row, "id")?;
        if !ids.contains(&id) {
            continue;
        }
        runs.push(RunRow {
            id,
            kind: text(&row, "kind")?,
            program: text(&row, "program")?,
            model_sha256: opt_text(&row, "model_sha256")?,
            lexicon_version: text(&row, "lexicon_version")?,
            host: text(&row, "host")?,
            started_at: text(&row, "started_at")?,
            ended_at: opt_text(&row, "ended_at")?,
            status: text(&row, "status")?,
        });
    }
    Ok(runs)
}

/// The period's files and hours, and the files that failed. A file is in the period by its day; a
/// file without a day (its clock unknown) by the day it was registered.
fn recordings(
    store: &Store,
    range: &[Value],
) -> Result<(RecordingStats, Vec<FailureRow>), StoreError> {
    let mut stats = RecordingStats::default();
    let mut failures = Vec::new();
    for row in store.query(
        "SELECT day, path, \"window\", status, duration, error, registered_at FROM recordings \
         WHERE (day >= $1 AND day <= $2) \
         OR (day IS NULL AND substr(registered_at, 1, 10) >= $1 AND substr(registered_at, 1, 10) <= $2) \
         ORDER BY day, \"window\", path",
        range,
    )? {
        stats.files += 1;
        match text(&row, "status")?.as_str() {
            "done" => {
                stats.done += 1;
                stats.audio_seconds += opt_real(&row, "duration")?.unwrap_or(0.0);
            }
            "failed" => {
                stats.failed += 1;
                failures.push(FailureRow {
                    day: opt_text(&row, "day")?,
                    path: text(&row, "path")?,
                    window: text(&row, "window")?,
                    error: opt_text(&row, "error")?.unwrap_or_default(),
                });
            }
            _ => stats.waiting += 1,
        }
    }
    Ok((stats, failures))
}

/// A window's or staff member's days folded over the period.
#[derive(Default)]
struct Aggregate {
    scores: Vec<Option<f64>>,
    reviewed: Vec<Option<f64>>,
    totals: Totals,
    name: Option<String>,
}

fn over_period(days: &[DayRow], subject: Subject) -> BTreeMap<String, Aggregate> {
    let mut out: BTreeMap<String, Aggregate> = BTreeMap::new();
    // `days` is in day order here, so the last name seen is the newest.
    for d in days.iter().filter(|d| d.subject == subject) {
        let a = out.entry(d.id.clone()).or_default();
        a.scores.push(d.score);
        a.reviewed.push(d.reviewed_score);
        a.totals.add(&d.totals);
        if d.name.is_some() {
            a.name = d.name.clone();
        }
    }
    out
}

fn totals(row: &Row) -> Result<Totals, StoreError> {
    Ok(Totals {
        sessions: int(row, "sessions")?,
        utterances: int(row, "utterances")?,
        speech_seconds: real(row, "speech_seconds")?,
        greeting_sessions: int(row, "greeting_sessions")?,
        farewell_sessions: int(row, "farewell_sessions")?,
        civil_hits: int(row, "civil_hits")?,
        banned_hits: int(row, "banned_hits")?,
        reviewed_banned_hits: int(row, "reviewed_banned_hits")?,
        judged_hits: int(row, "judged_hits")?,
    })
}

/// A JSON array of strings as written by the batch; anything else (never written) reads as empty
/// rather than failing a whole report over one cell.
fn json_strings(cell: Option<&str>) -> Vec<String> {
    cell.and_then(|c| serde_json::from_str::<Vec<String>>(c).ok())
        .unwrap_or_default()
}

// The store's typed getters under short names, so the queries above read as lists of columns.

fn text(row: &Row, col: &str) -> Result<String, StoreError> {
    row.string(col)
}

fn opt_text(row: &Row, col: &str) -> Result<Option<String>, StoreError> {
    row.opt_string(col)
}

fn int(row: &Row, col: &str) -> Result<i64, StoreError> {
    row.i64(col)
}

fn real(row: &Row, col: &str) -> Result<f64, StoreError> {
    row.f64(col)
}

fn opt_real(row: &Row, col: &str) -> Result<Option<f64>, StoreError> {
    row.opt_f64(col)
}
