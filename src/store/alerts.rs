//! Live alerts in the record: written by `courtesy live --db`, listed for the supervisors' live
//! view, acknowledged by a supervisor (who, when, a note).

use super::records::now;
use super::{Row, Store, StoreError, Value};

/// An alert as `courtesy live` raises it, to be stored.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NewAlert {
    /// The live event's id: a write retried after an outage is stored once.
    pub event_id: String,
    pub window: String,
    /// The window's display name (7号窗口).
    pub label: String,
    /// The local day of `at` (`YYYY-MM-DD`).
    pub day: String,
    /// When the phrase was spoken (RFC 3339, local).
    pub at: String,
    pub phrase: String,
    pub category: String,
    pub severity: i64,
    pub clause: String,
    /// The utterance's transcript.
    pub text: String,
    pub matched: String,
    /// Byte span of `matched` in `text`.
    pub span: [i64; 2],
    pub confidence: f64,
    /// `exact`, `gapped` or `sound`.
    pub method: String,
    /// The utterance's audio, relative to the live clip folder.
    pub clip: Option<String>,
    /// The box that heard it.
    pub host: String,
}

/// A stored alert, with its acknowledgement if a supervisor gave one.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct StoredAlert {
    pub id: i64,
    #[serde(flatten)]
    pub alert: NewAlert,
    pub acknowledgement: Option<Acknowledgement>,
}

/// Who acknowledged an alert, when, and what they noted.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Acknowledgement {
    pub by: String,
    pub at: String,
    pub note: Option<String>,
}

/// What became of an acknowledgement.
#[derive(Debug, Clone, PartialEq)]
pub enum Acknowledged {
    /// Recorded now.
    Done(Acknowledgement),
    /// Someone acknowledged it before; theirs stands.
    Already(Acknowledgement),
    /// No alert has this id.
    NoSuchAlert,
}

const COLUMNS: &str = "id, event_id, \"window\", label, day, at, phrase, category, severity, \
    clause, text, matched, span_start, span_end, confidence, method, clip, host, \
    acknowledged_by, acknowledged_at, note";

impl Store {
    /// Stores one live alert and returns its id; the same `event_id` again stores nothing and
    /// returns the first one's id (a retry after a lost reply).
    pub fn insert_alert(&self, a: &NewAlert) -> Result<i64, StoreError> {
        self.transaction(|tx| {
            tx.execute(
                "INSERT INTO alerts (event_id, \"window\", label, day, at, phrase, category, \
                 severity, clause, text, matched, span_start, span_end, confidence, method, clip, \
                 host) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                 $16, $17) ON CONFLICT (event_id) DO NOTHING",
                &[
                    Value::from(&a.event_id),
                    Value::from(&a.window),
                    Value::from(&a.label),
                    Value::from(&a.day),
                    Value::from(&a.at),
                    Value::from(&a.phrase),
                    Value::from(&a.category),
                    Value::Int(a.severity),
                    Value::from(&a.clause),
                    Value::from(&a.text),
                    Value::from(&a.matched),
                    Value::Int(a.span[0]),
                    Value::Int(a.span[1]),
                    Value::Real(a.confidence),
                    Value::from(&a.method),
                    Value::from(a.clip.clone()),
                    Value::from(&a.host),
                ],
            )?;
            let rows = tx.query(
                "SELECT id FROM alerts WHERE event_id = $1",
                &[Value::from(&a.event_id)],
            )?;
            rows[0].i64("id")
        })
    }

    /// The alerts of `day` with an id above `after` (0 for all), oldest first, at most `limit`:
    /// a live view polls with the last id it has.
    pub fn alerts_since(
        &self,
        day: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<StoredAlert>, StoreError> {
        self.query(
            &format!(
                "SELECT {COLUMNS} FROM alerts WHERE day = $1 AND id > $2 ORDER BY id LIMIT $3"
            ),
            &[Value::from(day), Value::Int(after), Value::Int(limit)],
        )?
        .iter()
        .map(stored)
        .collect()
    }

    /// The alerts of `day` acknowledged at or after `since` (RFC 3339, as stored), so a live view
    /// also learns of acknowledgements given on another screen.
    pub fn alerts_acknowledged_since(
        &self,
        day: &str,
        since: &str,
    ) -> Result<Vec<StoredAlert>, StoreError> {
        self.query(
            &format!(
                "SELECT {COLUMNS} FROM alerts WHERE day = $1 AND acknowledged_at IS NOT NULL \
                 AND acknowledged_at >= $2 ORDER BY id"
            ),
            &[Value::from(day), Value::from(since)],
        )?
        .iter()
        .map(stored)
        .collect()
    }

    /// One alert by id.
    pub fn alert(&self, id: i64) -> Result<Option<StoredAlert>, StoreError> {
        self.query(
            &format!("SELECT {COLUMNS} FROM alerts WHERE id = $1"),
            &[Value::Int(id)],
        )?
        .first()
        .map(stored)
        .transpose()
    }

    /// Records that `by` acknowledged alert `id` now, with an optional note. The first
    /// acknowledgement stands: a second one (two supervisors at once) is told whose it was.
    pub fn acknowledge_alert(
        &self,
        id: i64,
        by: &str,
        note: Option<&str>,
    ) -> Result<Acknowledged, StoreError> {
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        let at = now();
        self.transaction(|tx| {
            let changed = tx.execute(
                "UPDATE alerts SET acknowledged_by = $2, acknowledged_at = $3, note = $4 \
                 WHERE id = $1 AND acknowledged_by IS NULL",
                &[
                    Value::Int(id),
                    Value::from(by),
                    Value::from(at.as_str()),
                    Value::from(note),
                ],
            )?;
            let rows = tx.query(
                "SELECT acknowledged_by, acknowledged_at, note FROM alerts WHERE id = $1",
                &[Value::Int(id)],
            )?;
            let Some(row) = rows.first() else {
                return Ok(Acknowledged::NoSuchAlert);
            };
            let ack = acknowledgement(row)?.ok_or_else(|| {
                StoreError::db(
                    tx.name(),
                    format!("alert {id} lost its acknowledgement — a bug"),
                )
            })?;
            Ok(if changed == 1 {
                Acknowledged::Done(ack)
            } else {
                Acknowledged::Already(ack)
            })
        })
    }
}

fn acknowledgement(row: &Row) -> Result<Option<Acknowledgement>, StoreError> {
    Ok(match row.opt_string("acknowledged_by")? {
        Some(by) => Some(Acknowledgement {
            by,
            at: row.opt_string("acknowledged_at")?.unwrap_or_default(),
            note: row.opt_string("note")?,
        }),
        None => None,
    })
}

fn stored(row: &Row) -> Result<StoredAlert, StoreError> {
    Ok(StoredAlert {
        id: row.i64("id")?,
        alert: NewAlert {
            event_id: row.string("event_id")?,
            window: row.string("window")?,
            label: row.string("label")?,
            day: row.string("day")?,
            at: row.string("at")?,
            phrase: row.string("phrase")?,
            category: row.string("category")?,
            severity: row.i64("severity")?,
            clause: row.string("clause")?,
            text: row.string("text")?,
            matched: row.string("matched")?,
            span: [row.i64("span_start")?, row.i64("span_end")?],
            confidence: row.f64("confidence")?,
            method: row.string("method")?,
            clip: row.opt_string("clip")?,
            host: row.string("host")?,
        },
        acknowledgement: acknowledgement(row)?,
    })
}
