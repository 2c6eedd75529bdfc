//! Recordings through their life: registered, leased by one worker at a time (leases expire, so a
//! dead worker's file is taken over), completed with all their rows at once, or failed.

use std::time::Duration;

use super::records::now;
use super::sql::{Dialect, Row};
use super::{FileRecord, NewRecording, RecordingState, Store, StoreError, StoredHit, Tx, Value};

/// A worker's claim on one recording until `until_ms` (unix ms, database clock). The attempt
/// number fences it: once another worker leases the recording, this lease no longer matches.
#[derive(Debug, Clone, PartialEq)]
pub struct Lease {
    pub recording_id: i64,
    pub owner: String,
    /// The recording's attempt count after this lease: 1 on the first try.
    pub attempt: i64,
    pub until_ms: i64,
    /// How long each renewal extends the lease.
    pub lease_ms: i64,
    pub path: String,
    pub window: String,
    pub content_sha256: String,
    pub rules: String,
}

/// The database's clock in unix milliseconds: leases from several boxes compare against one clock.
pub(crate) fn now_ms_sql(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
        Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
    }
}

/// SQL for "the ids in the JSON array parameter `$n`": one parameter however many ids.
pub(crate) fn ids_in(dialect: Dialect, n: usize) -> String {
    match dialect {
        Dialect::Sqlite => format!("SELECT value FROM json_each(${n})"),
        Dialect::Postgres => {
            format!("SELECT CAST(jsonb_array_elements_text(CAST(${n} AS TEXT)::jsonb) AS BIGINT)")
        }
    }
}

/// The ids as the JSON array `ids_in` reads.
pub(crate) fn id_list(ids: &[i64]) -> Value {
    let items: Vec<String> = ids.iter().map(i64::to_string).collect();
    Value::Text(format!("[{}]", items.join(",")))
}

fn state(r: &Row) -> Result<RecordingState, StoreError> {
    Ok(RecordingState {
        id: r.i64("id")?,
        status: r.string("status")?,
        path: r.string("path")?,
        window: r.string("window")?,
        error: r.opt_string("error")?,
        attempts: r.i64("attempts")?,
    })
}

const STATE_COLUMNS: &str = "id, status, path, \"window\", error, attempts";

impl Store {
    /// Registers recordings in one transaction and returns each one's state, in input order. A
    /// recording already known by (content, rules) keeps its id: `done` stays done, `leased` stays
    /// leased, and `failed` goes back to `pending` so a re-run retries it.
    pub fn register(&self, recordings: &[NewRecording]) -> Result<Vec<RecordingState>, StoreError> {
        // Rows are locked in key order, so two workers registering the same night never deadlock.
        let mut order: Vec<usize> = (0..recordings.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&recordings[a], &recordings[b]);
            (&a.content_sha256, &a.rules).cmp(&(&b.content_sha256, &b.rules))
        });
        let registered_at = now();
        self.transaction(|tx| {
            let mut states: Vec<Option<RecordingState>> = vec![None; recordings.len()];
            for &i in &order {
                let r = &recordings[i];
                let inserted = tx.query(
                    &format!(
                        "INSERT INTO recordings (path, content_sha256, rules, \"window\", \
                         clock_start, clock_source, day, status, registered_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8) \
                         ON CONFLICT (content_sha256, rules) DO NOTHING RETURNING {STATE_COLUMNS}"
                    ),
                    &[
                        Value::from(&r.path),
                        Value::from(&r.content_sha256),
                        Value::from(&r.rules),
                        Value::from(&r.window),
                        Value::from(r.clock_start.clone()),
                        Value::from(r.clock_source.clone()),
                        Value::from(r.day.clone()),
                        Value::from(&registered_at),
                    ],
                )?;
                let row = match inserted.into_iter().next() {
                    Some(row) => row,
                    None => {
                        let sha = Value::from(&r.content_sha256);
                        let rules = Value::from(&r.rules);
                        let retried = tx.query(
                            &format!(
                                "UPDATE recordings SET status = 'pending', error = NULL \
                                 WHERE content_sha256 = $1 AND rules = $2 AND status = 'failed' \
                                 RETURNING {STATE_COLUMNS}"
                            ),
                            &[sha.clone(), rules.clone()],
                        )?;
                        match retried.into_iter().next() {
                            Some(row) => row,
                            None => tx
                                .query(
                                    &format!(
                                        "SELECT {STATE_COLUMNS} FROM recordings \
                                         WHERE content_sha256 = $1 AND rules = $2"
                                    ),
                                    &[sha, rules],
                                )?
                                .into_iter()
                                .next()
                                .ok_or_else(|| {
                                    StoreError::db(
                                        tx.name(),
                                        format!(
                                            "{}: registered but not found — a bug in courtesy",
                                            r.path
                                        ),
                                    )
                                })?,
                        }
                    }
                };
                states[i] = Some(state(&row)?);
            }
            Ok(states.into_iter().flatten().collect())
        })
    }

    /// Leases one recording among `among` that is pending, or leased with an expired lease (its
    /// worker died), lowest id first; `None` when there is none. Atomic across processes and
    /// boxes: PostgreSQL skips rows another worker is leasing, SQLite holds its write lock.
    pub fn lease(
        &self,
        owner: &str,
        lease_for: Duration,
        among: &[i64],
    ) -> Result<Option<Lease>, StoreError> {
        if among.is_empty() {
            return Ok(None);
        }
        let dialect = self.dialect();
        let now = now_ms_sql(dialect);
        let skip_locked = match dialect {
            Dialect::Sqlite => "",
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
        };
        let sql = format!(
            "UPDATE recordings SET status = 'leased', lease_owner = $1, lease_until = {now} + $2, \
             attempts = attempts + 1 \
             WHERE id = (SELECT id FROM recordings WHERE id IN ({ids}) \
               AND (status = 'pending' OR (status = 'leased' AND lease_until < {now})) \
               ORDER BY id LIMIT 1 {skip_locked}) \
             RETURNING id, path, \"window\", content_sha256, rules, attempts, lease_until",
            ids = ids_in(dialect, 3)
        );
        let lease_ms = lease_for.as_millis().min(i64::MAX as u128) as i64;
        let rows = self.transaction(|tx| {
            tx.query(
                &sql,
                &[Value::from(owner), Value::Int(lease_ms), id_list(among)],
            )
        })?;
        rows.first()
            .map(|r| {
                Ok(Lease {
                    recording_id: r.i64("id")?,
                    owner: owner.to_string(),
                    attempt: r.i64("attempts")?,
                    until_ms: r.i64("lease_until")?,
                    lease_ms,
                    path: r.string("path")?,
                    window: r.string("window")?,
                    content_sha256: r.string("content_sha256")?,
                    rules: r.string("rules")?,
                })
            })
            .transpose()
    }

    /// Extends a lease by its length from now; `false` when another worker has taken the
    /// recording over (stop working on it: its result would be dropped).
    pub fn renew(&self, lease: &Lease) -> Result<bool, StoreError> {
        let now = now_ms_sql(self.dialect());
        let n = self.execute(
            &format!(
                "UPDATE recordings SET lease_until = {now} + $4 \
                 WHERE id = $1 AND status = 'leased' AND lease_owner = $2 AND attempts = $3"
            ),
            &[
                Value::Int(lease.recording_id),
                Value::from(&lease.owner),
                Value::Int(lease.attempt),
                Value::Int(lease.lease_ms),
            ],
        )?;
        Ok(n == 1)
    }

    /// Writes a finished recording in one transaction: checks the lease is still ours (else
    /// [`StoreError::LeaseLost`] and nothing is written), replaces any rows an earlier attempt
    /// left, inserts the utterances with their hits and the matching, and marks it done.
    pub fn complete(&self, lease: &Lease, file: &FileRecord) -> Result<(), StoreError> {
        self.transaction(|tx| {
            // Updating first locks the row, so no other worker can take it over meanwhile.
            let done = tx.query(
                "UPDATE recordings SET \
                 status = CASE WHEN CAST($11 AS TEXT) IS NULL THEN 'done' ELSE 'failed' END, \
                 duration = $4, format = $5, \
                 clock_start = $6, clock_source = $7, day = $8, run_id = $9, done_at = $10, \
                 error = $11, lease_owner = NULL, lease_until = NULL \
                 WHERE id = $1 AND status = 'leased' AND lease_owner = $2 AND attempts = $3 \
                 RETURNING \"window\"",
                &[
                    Value::Int(lease.recording_id),
                    Value::from(&lease.owner),
                    Value::Int(lease.attempt),
                    Value::Real(file.duration),
                    Value::from(file.format.clone()),
                    Value::from(file.clock_start.clone()),
                    Value::from(file.clock_source.clone()),
                    Value::from(file.day.clone()),
                    Value::Int(file.run_id),
                    Value::Text(now()),
                    Value::from(file.error.clone()),
                ],
            )?;
            let Some(row) = done.first() else {
                return Err(StoreError::LeaseLost {
                    db: tx.name().to_string(),
                    recording: lease.recording_id,
                });
            };
            let window = row.string("window")?;
            tx.execute(
                "DELETE FROM utterances WHERE recording_id = $1",
                &[Value::Int(lease.recording_id)],
            )?;
            tx.execute(
                "DELETE FROM matchings WHERE recording_id = $1",
                &[Value::Int(lease.recording_id)],
            )?;
            for u in &file.utterances {
                let id = tx.query(
                    "INSERT INTO utterances (recording_id, seq, \"window\", day, start_s, end_s, \
                     clock_start, clock_end, text, normalized, pieces, speaker, clip, \
                     speaker_confidence, voice) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
                     RETURNING id",
                    &[
                        Value::Int(lease.recording_id),
                        Value::Int(u.seq),
                        Value::from(&window),
                        Value::from(u.day.clone()),
                        Value::Real(u.start_s),
                        Value::Real(u.end_s),
                        Value::from(u.clock_start.clone()),
                        Value::from(u.clock_end.clone()),
                        Value::from(u.text.clone()),
                        Value::from(u.normalized.clone()),
                        Value::from(u.pieces_json.clone()),
                        Value::Text(u.speaker.role.as_str().into()),
                        Value::from(u.clip.clone()),
                        Value::Real(u.speaker.confidence.into()),
                        Value::from(u.voice.as_ref().map(|v| crate::speaker::voice_json(v))),
                    ],
                )?[0]
                    .i64("id")?;
                for h in &u.hits {
                    insert_hit(
                        tx,
                        id,
                        &file.lexicon_version,
                        file.run_id,
                        &window,
                        h.day.as_ref().or(u.day.as_ref()),
                        h,
                    )?;
                }
            }
            tx.execute(
                "INSERT INTO matchings (recording_id, lexicon_version, run_id) VALUES ($1, $2, $3)",
                &[
                    Value::Int(lease.recording_id),
                    Value::from(&file.lexicon_version),
                    Value::Int(file.run_id),
                ],
            )?;
            Ok(())
        })
    }

    /// Marks a leased recording failed with a one-line reason and releases it; a later run
    /// retries it. [`StoreError::LeaseLost`] when another worker has taken it over.
    pub fn fail(
        &self,
        lease: &Lease,
        error: &str,
        duration: Option<f64>,
    ) -> Result<(), StoreError> {
        let n = self.execute(
            "UPDATE recordings SET status = 'failed', error = $4, \
             duration = COALESCE($5, duration), done_at = $6, lease_owner = NULL, lease_until = NULL \
             WHERE id = $1 AND status = 'leased' AND lease_owner = $2 AND attempts = $3",
            &[
                Value::Int(lease.recording_id),
                Value::from(&lease.owner),
                Value::Int(lease.attempt),
                Value::Text(crate::message::one_line(error)),
                Value::from(duration),
                Value::Text(now()),
            ],
        )?;
        if n == 0 {
            return Err(StoreError::LeaseLost {
                db: self.describe().to_string(),
                recording: lease.recording_id,
            });
        }
        Ok(())
    }

    /// The state of each of these recordings, by id.
    pub fn recording_status(&self, ids: &[i64]) -> Result<Vec<RecordingState>, StoreError> {
        self.query(
            &format!(
                "SELECT {STATE_COLUMNS} FROM recordings WHERE id IN ({}) ORDER BY id",
                ids_in(self.dialect(), 1)
            ),
            &[id_list(ids)],
        )?
        .iter()
        .map(state)
        .collect()
    }

    /// Those of these recordings that are done but were never matched with `lexicon_version`
    /// (transcribed under another lexicon): match their stored utterances, no Whisper needed.
    pub fn recordings_needing_match(
        &self,
        ids: &[i64],
        lexicon_version: &str,
    ) -> Result<Vec<i64>, StoreError> {
        self.query(
            &format!(
                "SELECT id FROM recordings r WHERE id IN ({}) AND status = 'done' \
                 AND NOT EXISTS (SELECT 1 FROM matchings m \
                   WHERE m.recording_id = r.id AND m.lexicon_version = $2) ORDER BY id",
                ids_in(self.dialect(), 1)
            ),
            &[id_list(ids), Value::from(lexicon_version)],
        )?
        .iter()
        .map(|r| r.i64("id"))
        .collect()
    }
}

/// Inserts one hit of an utterance under a lexicon version.
pub(crate) fn insert_hit(
    tx: &mut Tx<'_>,
    utterance_id: i64,
    lexicon_version: &str,
    run_id: i64,
    window: &str,
    day: Option<&String>,
    h: &StoredHit,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO hits (utterance_id, lexicon_version, run_id, \"window\", day, start_s, end_s, \
         clock_time, kind, phrase, category, severity, clause, matched, span_start, span_end, \
         confidence, method) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
        &[
            Value::Int(utterance_id),
            Value::from(lexicon_version),
            Value::Int(run_id),
            Value::from(window),
            Value::from(day.cloned()),
            Value::Real(h.start_s),
            Value::Real(h.end_s),
            Value::from(h.clock_time.clone()),
            Value::from(&h.kind),
            Value::from(&h.phrase),
            Value::from(&h.category),
            Value::Int(h.severity),
            Value::from(&h.clause),
            Value::from(&h.matched),
            Value::Int(h.span_start),
            Value::Int(h.span_end),
            Value::Real(h.confidence),
            Value::from(&h.method),
        ],
    )?;
    Ok(())
}
