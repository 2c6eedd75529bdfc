//! The record by day: what aggregation reads and writes, what rescoring reads and rewrites, and
//! what retention clears.

use std::collections::HashMap;

use super::lease::{id_list, ids_in, insert_hit};
use super::sql::{Dialect, Row};
use super::{
    DayScores, DayUtterance, PruneOutcome, RescoreUtterance, RescoredRecording, ScoreCounts, Store,
    StoreError, StoredHit, StoredUtterance, Value,
};

/// The roster entry covering an utterance's start. RFC 3339 strings in one local offset compare
/// like the times they name.
pub(super) const STAFF: &str = "(SELECT {col} FROM roster ro WHERE ro.\"window\" = u.\"window\" \
                     AND ro.valid_from <= u.clock_start AND u.clock_start < ro.valid_to \
                     ORDER BY ro.valid_from DESC, ro.staff_id LIMIT 1)";

/// A hit row: the columns of [`StoredHit`] under their own names.
pub(super) fn hit(r: &Row) -> Result<StoredHit, StoreError> {
    Ok(StoredHit {
        day: r.opt_string("day")?,
        start_s: r.f64("start_s")?,
        end_s: r.f64("end_s")?,
        clock_time: r.opt_string("clock_time")?,
        kind: r.string("kind")?,
        phrase: r.string("phrase")?,
        category: r.string("category")?,
        severity: r.i64("severity")?,
        clause: r.string("clause")?,
        matched: r.string("matched")?,
        span_start: r.i64("span_start")?,
        span_end: r.i64("span_end")?,
        confidence: r.f64("confidence")?,
        method: r.string("method")?,
    })
}

fn rescore_utterance(r: &Row) -> Result<RescoreUtterance, StoreError> {
    Ok(RescoreUtterance {
        id: r.i64("id")?,
        recording_id: r.i64("recording_id")?,
        window: r.string("window")?,
        day: r.opt_string("day")?,
        seq: r.i64("seq")?,
        start_s: r.f64("start_s")?,
        end_s: r.f64("end_s")?,
        clock_start: r.opt_string("clock_start")?,
        text: r.opt_string("text")?,
        normalized: r.opt_string("normalized")?,
        pieces_json: r.opt_string("pieces")?,
    })
}

const RESCORE_COLUMNS: &str = "id, recording_id, \"window\", day, seq, start_s, end_s, \
                               clock_start, text, normalized, pieces";

/// A stable 64-bit key for a PostgreSQL advisory lock (FNV-1a: the same on every box).
fn lock_key(parts: &[&str]) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain(std::iter::once(0)) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h as i64
}

impl Store {
    /// A day's utterances by window and clock time, each with its hits under `lexicon_version`
    /// and the staff member on duty. Recordings done but never matched with that lexicon show no
    /// hits: re-match them first ([`Store::recordings_needing_match`]).
    pub fn load_day(
        &self,
        day: &str,
        lexicon_version: &str,
    ) -> Result<Vec<DayUtterance>, StoreError> {
        let params = [Value::from(day), Value::from(lexicon_version)];
        let mut hits: HashMap<i64, Vec<StoredHit>> = HashMap::new();
        for r in self.query(
            "SELECT h.utterance_id, h.day, h.start_s, h.end_s, h.clock_time, h.kind, h.phrase, \
             h.category, h.severity, h.clause, h.matched, h.span_start, h.span_end, \
             h.confidence, h.method FROM hits h JOIN utterances u ON u.id = h.utterance_id \
             WHERE u.day = $1 AND h.lexicon_version = $2 ORDER BY h.utterance_id, h.start_s, h.id",
            &params,
        )? {
            hits.entry(r.i64("utterance_id")?)
                .or_default()
                .push(hit(&r)?);
        }
        let sql = format!(
            "SELECT u.id, u.recording_id, r.path, u.\"window\", {staff_id} AS staff_id, \
             {staff_name} AS staff_name, u.seq, u.start_s, u.end_s, u.clock_start, u.clock_end, \
             u.day, u.text, u.normalized, u.pieces, u.speaker, u.clip, \
             u.speaker_confidence, u.voice \
             FROM utterances u JOIN recordings r ON r.id = u.recording_id \
             WHERE u.day = $1 \
             ORDER BY u.\"window\", u.clock_start, u.recording_id, u.seq",
            staff_id = STAFF.replace("{col}", "ro.staff_id"),
            staff_name = STAFF.replace("{col}", "ro.name"),
        );
        self.query(&sql, &params[..1])?
            .iter()
            .map(|r| {
                let id = r.i64("id")?;
                Ok(DayUtterance {
                    id,
                    recording_id: r.i64("recording_id")?,
                    path: r.string("path")?,
                    window: r.string("window")?,
                    staff_id: r.opt_string("staff_id")?,
                    staff_name: r.opt_string("staff_name")?,
                    utterance: StoredUtterance {
                        seq: r.i64("seq")?,
                        start_s: r.f64("start_s")?,
                        end_s: r.f64("end_s")?,
                        clock_start: r.opt_string("clock_start")?,
                        clock_end: r.opt_string("clock_end")?,
                        day: r.opt_string("day")?,
                        text: r.opt_string("text")?,
                        normalized: r.opt_string("normalized")?,
                        pieces_json: r.opt_string("pieces")?,
                        speaker: crate::speaker::Speaker::new(
                            crate::speaker::Role::parse(&r.string("speaker")?),
                            r.f64("speaker_confidence")? as f32,
                        ),
                        voice: r
                            .opt_string("voice")?
                            .and_then(|v| crate::speaker::parse_voice(&v)),
                        clip: r.opt_string("clip")?,
                        hits: hits.remove(&id).unwrap_or_default(),
                    },
                })
            })
            .collect()
    }

    /// Sets who said each utterance (`(utterance id, speaker)`), in one transaction: the day's
    /// voices tell staff from citizens only once every file of the day is in.
    pub fn set_speakers(
        &self,
        speakers: &[(i64, crate::speaker::Speaker)],
    ) -> Result<(), StoreError> {
        if speakers.is_empty() {
            return Ok(());
        }
        self.transaction(|tx| {
            for (id, s) in speakers {
                tx.execute(
                    "UPDATE utterances SET speaker = $1, speaker_confidence = $2 WHERE id = $3",
                    &[
                        Value::Text(s.role.as_str().into()),
                        Value::Real(s.confidence.into()),
                        Value::Int(*id),
                    ],
                )?;
            }
            Ok(())
        })
    }

    /// How many recordings of a day failed, by window.
    pub fn day_failures(&self, day: &str) -> Result<Vec<(String, i64)>, StoreError> {
        self.query(
            "SELECT \"window\", count(*) AS n FROM recordings WHERE day = $1 AND status = 'failed' \
             GROUP BY \"window\" ORDER BY \"window\"",
            &[Value::from(day)],
        )?
        .iter()
        .map(|r| Ok((r.string("window")?, r.i64("n")?)))
        .collect()
    }

    /// Replaces a day's sessions and scores under one lexicon in one transaction. Two workers
    /// aggregating the same day take turns (PostgreSQL: an advisory lock on the day and lexicon;
    /// SQLite: the write lock), so the rows are never doubled; the last one written stands.
    pub fn replace_day(
        &self,
        day: &str,
        lexicon_version: &str,
        run_id: i64,
        scores: &DayScores,
    ) -> Result<(), StoreError> {
        let (d, lex, run) = (
            Value::from(day),
            Value::from(lexicon_version),
            Value::Int(run_id),
        );
        self.transaction(|tx| {
            if tx.dialect() == Dialect::Postgres {
                tx.execute(
                    "SELECT pg_advisory_xact_lock($1)",
                    &[Value::Int(lock_key(&["day", day, lexicon_version]))],
                )?;
            }
            for table in ["sessions", "window_scores", "staff_scores"] {
                tx.execute(
                    &format!("DELETE FROM {table} WHERE day = $1 AND lexicon_version = $2"),
                    &[d.clone(), lex.clone()],
                )?;
            }
            for s in &scores.sessions {
                tx.execute(
                    "INSERT INTO sessions (day, lexicon_version, \"window\", staff_id, \
                     recording_id, start_s, end_s, clock_start, clock_end, utterances, greeting, \
                     farewell, situations, banned) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                    &[
                        d.clone(),
                        lex.clone(),
                        Value::from(&s.window),
                        Value::from(s.staff_id.clone()),
                        Value::Int(s.recording_id),
                        Value::Real(s.start_s),
                        Value::Real(s.end_s),
                        Value::from(s.clock_start.clone()),
                        Value::from(s.clock_end.clone()),
                        Value::Int(s.utterances),
                        Value::from(s.greeting),
                        Value::from(s.farewell),
                        Value::from(&s.situations_json),
                        Value::Int(s.banned),
                    ],
                )?;
            }
            let placeholders = |n: usize| {
                (1..=n)
                    .map(|i| format!("${i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            for w in &scores.window_scores {
                let mut values = vec![
                    d.clone(),
                    Value::from(&w.window),
                    lex.clone(),
                    run.clone(),
                    Value::Int(w.failed_files),
                ];
                values.extend(w.counts.values());
                tx.execute(
                    &format!(
                        "INSERT INTO window_scores (day, \"window\", lexicon_version, run_id, \
                         failed_files, {}) VALUES ({})",
                        ScoreCounts::COLUMNS,
                        placeholders(values.len())
                    ),
                    &values,
                )?;
            }
            for s in &scores.staff_scores {
                let mut values = vec![
                    d.clone(),
                    Value::from(&s.staff_id),
                    lex.clone(),
                    run.clone(),
                    Value::from(s.name.clone()),
                    Value::from(&s.windows_json),
                ];
                values.extend(s.counts.values());
                tx.execute(
                    &format!(
                        "INSERT INTO staff_scores (day, staff_id, lexicon_version, run_id, name, \
                         windows, {}) VALUES ({})",
                        ScoreCounts::COLUMNS,
                        placeholders(values.len())
                    ),
                    &values,
                )?;
            }
            Ok(())
        })
    }

    /// The stored utterances of the days `from..=to`, to match again on rescore.
    pub fn utterances_in(&self, from: &str, to: &str) -> Result<Vec<RescoreUtterance>, StoreError> {
        self.query(
            &format!(
                "SELECT {RESCORE_COLUMNS} FROM utterances WHERE day >= $1 AND day <= $2 \
                 ORDER BY day, recording_id, seq"
            ),
            &[Value::from(from), Value::from(to)],
        )?
        .iter()
        .map(rescore_utterance)
        .collect()
    }

    /// The stored utterances of these recordings, to match with another lexicon.
    pub fn utterances_of(
        &self,
        recording_ids: &[i64],
    ) -> Result<Vec<RescoreUtterance>, StoreError> {
        self.query(
            &format!(
                "SELECT {RESCORE_COLUMNS} FROM utterances WHERE recording_id IN ({}) \
                 ORDER BY recording_id, seq",
                ids_in(self.dialect(), 1)
            ),
            &[id_list(recording_ids)],
        )?
        .iter()
        .map(rescore_utterance)
        .collect()
    }

    /// Replaces these recordings' hits under `lexicon_version` and records their matchings, in one
    /// transaction. Hits under other lexicon versions stay, for comparison. A hit's window (and
    /// day, unless given) comes from its utterance.
    pub fn replace_hits(
        &self,
        lexicon_version: &str,
        run_id: i64,
        recordings: &[RescoredRecording],
    ) -> Result<(), StoreError> {
        let lex = Value::from(lexicon_version);
        self.transaction(|tx| {
            for rec in recordings {
                let id = Value::Int(rec.recording_id);
                let done = tx.query(
                    "SELECT id FROM recordings WHERE id = $1 AND status = 'done'",
                    std::slice::from_ref(&id),
                )?;
                if done.is_empty() {
                    return Err(StoreError::db(
                        tx.name(),
                        format!(
                            "recording {} is not done: nothing stored to rescore — a bug in \
                             courtesy",
                            rec.recording_id
                        ),
                    ));
                }
                tx.execute(
                    "DELETE FROM hits WHERE lexicon_version = $2 AND utterance_id IN \
                     (SELECT id FROM utterances WHERE recording_id = $1)",
                    &[id.clone(), lex.clone()],
                )?;
                for (utterance_id, h) in &rec.hits {
                    let owner = tx.query(
                        "SELECT \"window\", day FROM utterances WHERE id = $1 AND recording_id = $2",
                        &[Value::Int(*utterance_id), id.clone()],
                    )?;
                    let Some(u) = owner.first() else {
                        return Err(StoreError::db(
                            tx.name(),
                            format!(
                                "utterance {utterance_id} is not in recording {} — a bug in \
                                 courtesy",
                                rec.recording_id
                            ),
                        ));
                    };
                    let window = u.string("window")?;
                    let day = u.opt_string("day")?;
                    insert_hit(
                        tx,
                        *utterance_id,
                        lexicon_version,
                        run_id,
                        &window,
                        h.day.as_ref().or(day.as_ref()),
                        h,
                    )?;
                }
                tx.execute(
                    "INSERT INTO matchings (recording_id, lexicon_version, run_id) \
                     VALUES ($1, $2, $3) ON CONFLICT (recording_id, lexicon_version) \
                     DO UPDATE SET run_id = excluded.run_id",
                    &[id, lex.clone(), Value::Int(run_id)],
                )?;
            }
            Ok(())
        })
    }

    /// Retention, in one transaction: forgets the clips of days before `audio_before` (returning
    /// their paths for the caller to delete: a crash in between leaves an unreferenced file, never
    /// a reference to a missing one) and clears the text of days before `text_before` (utterance
    /// text, folded text, pieces and hits' matched text); counts, times and scores stay.
    pub fn prune(
        &self,
        audio_before: Option<&str>,
        text_before: Option<&str>,
    ) -> Result<PruneOutcome, StoreError> {
        self.transaction(|tx| {
            let mut outcome = PruneOutcome::default();
            if let Some(day) = audio_before {
                let day = Value::from(day);
                for r in tx.query(
                    "SELECT clip FROM utterances WHERE day < $1 AND clip IS NOT NULL ORDER BY id",
                    std::slice::from_ref(&day),
                )? {
                    outcome.clips.push(r.string("clip")?);
                }
                tx.execute(
                    "UPDATE utterances SET clip = NULL WHERE day < $1 AND clip IS NOT NULL",
                    &[day],
                )?;
            }
            if let Some(day) = text_before {
                let day = Value::from(day);
                outcome.texts_cleared = tx.execute(
                    "UPDATE utterances SET text = NULL, normalized = NULL, pieces = NULL \
                     WHERE day < $1 AND (text IS NOT NULL OR normalized IS NOT NULL \
                     OR pieces IS NOT NULL)",
                    std::slice::from_ref(&day),
                )?;
                tx.execute(
                    "UPDATE hits SET matched = '' WHERE matched <> '' AND utterance_id IN \
                     (SELECT id FROM utterances WHERE day < $1)",
                    &[day],
                )?;
            }
            Ok(outcome)
        })
    }

    /// The days `from..=to` that have recordings, in order.
    pub fn days(&self, from: &str, to: &str) -> Result<Vec<String>, StoreError> {
        self.query(
            "SELECT DISTINCT day FROM recordings WHERE day >= $1 AND day <= $2 ORDER BY day",
            &[Value::from(from), Value::from(to)],
        )?
        .iter()
        .map(|r| r.string("day"))
        .collect()
    }

    /// The lexicon version of a day's scores from the newest run, if the day was scored.
    pub fn latest_lexicon_for_day(&self, day: &str) -> Result<Option<String>, StoreError> {
        self.query(
            "SELECT lexicon_version FROM window_scores WHERE day = $1 \
             ORDER BY run_id DESC, lexicon_version LIMIT 1",
            &[Value::from(day)],
        )?
        .first()
        .map(|r| r.string("lexicon_version"))
        .transpose()
    }
}
