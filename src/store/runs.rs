//! Runs, the lexicon texts they used, and the staff roster.

use super::records::now;
use super::{RosterEntry, RunInfo, Store, StoreError, Value};

impl Store {
    /// Records a run as `running` and returns its id.
    pub fn begin_run(&self, run: &RunInfo) -> Result<i64, StoreError> {
        let rows = self.query(
            "INSERT INTO runs (kind, program, model_sha256, lexicon_version, config_hash, host, \
             started_at, status) VALUES ($1, $2, $3, $4, $5, $6, $7, 'running') RETURNING id",
            &[
                Value::from(&run.kind),
                Value::from(&run.program),
                Value::from(run.model_sha256.clone()),
                Value::from(&run.lexicon_version),
                Value::from(&run.config_hash),
                Value::from(&run.host),
                Value::Text(now()),
            ],
        )?;
        rows[0].i64("id")
    }

    /// Records how a run ended: `status` is `done` or `failed`; the counts are this run's own.
    pub fn end_run(
        &self,
        run_id: i64,
        status: &str,
        files: i64,
        audio_seconds: f64,
        failures: i64,
    ) -> Result<(), StoreError> {
        let n = self.execute(
            "UPDATE runs SET status = $2, ended_at = $3, files = $4, audio_seconds = $5, \
             failures = $6 WHERE id = $1",
            &[
                Value::Int(run_id),
                Value::from(status),
                Value::Text(now()),
                Value::Int(files),
                Value::Real(audio_seconds),
                Value::Int(failures),
            ],
        )?;
        if n == 0 {
            return Err(StoreError::db(
                self.describe(),
                format!("there is no run {run_id} to end — a bug in courtesy"),
            ));
        }
        Ok(())
    }

    /// Keeps the lexicon texts a version stands for, once: a version is a content hash, so the
    /// same version always has the same texts.
    pub fn save_lexicon(
        &self,
        version: &str,
        label: Option<&str>,
        civil_toml: &str,
        banned_toml: &str,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO lexicons (version, label, civil, banned, created_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (version) DO NOTHING",
            &[
                Value::from(version),
                Value::from(label),
                Value::from(civil_toml),
                Value::from(banned_toml),
                Value::Text(now()),
            ],
        )?;
        Ok(())
    }

    /// Imports roster entries in one transaction; importing the same file again changes nothing.
    /// An entry is keyed by (window, staff id, valid from): a re-import corrects its name and end.
    /// Entries not in `entries` stay, so last month's roster still explains last month's scores.
    /// Returns how many entries were new.
    pub fn import_roster(&self, entries: &[RosterEntry]) -> Result<u64, StoreError> {
        let imported_at = now();
        self.transaction(|tx| {
            let mut new = 0;
            for e in entries {
                let rows = tx.query(
                    "INSERT INTO roster (\"window\", staff_id, name, valid_from, valid_to, \
                     imported_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (\"window\", staff_id, valid_from) DO NOTHING RETURNING id",
                    &[
                        Value::from(&e.window),
                        Value::from(&e.staff_id),
                        Value::from(&e.name),
                        Value::from(&e.valid_from),
                        Value::from(&e.valid_to),
                        Value::from(&imported_at),
                    ],
                )?;
                if rows.is_empty() {
                    tx.execute(
                        "UPDATE roster SET name = $4, valid_to = $5 \
                         WHERE \"window\" = $1 AND staff_id = $2 AND valid_from = $3 \
                         AND (name <> $4 OR valid_to <> $5)",
                        &[
                            Value::from(&e.window),
                            Value::from(&e.staff_id),
                            Value::from(&e.valid_from),
                            Value::from(&e.name),
                            Value::from(&e.valid_to),
                        ],
                    )?;
                } else {
                    new += 1;
                }
            }
            Ok(new)
        })
    }

    /// The whole roster, by window and start.
    pub fn roster(&self) -> Result<Vec<RosterEntry>, StoreError> {
        self.query(
            "SELECT \"window\", staff_id, name, valid_from, valid_to FROM roster \
             ORDER BY \"window\", valid_from, staff_id",
            &[],
        )?
        .iter()
        .map(|r| {
            Ok(RosterEntry {
                window: r.string("window")?,
                staff_id: r.string("staff_id")?,
                name: r.string("name")?,
                valid_from: r.string("valid_from")?,
                valid_to: r.string("valid_to")?,
            })
        })
        .collect()
    }
}
