//! Enrolled voiceprints: one per owner (a staff id or a window id) and embedding model; the latest one stands.

use std::collections::HashMap;

use super::records::now;
use super::{Store, StoreError, Value};

impl Store {
    /// Keeps a voiceprint enrolled for `owner` (`courtesy enroll`); an earlier one of the same
    /// owner and model stays in the record but no longer stands.
    pub fn save_voiceprint(
        &self,
        owner: &str,
        model: &str,
        voice: &[f32],
        seconds: f64,
        source: &str,
    ) -> Result<i64, StoreError> {
        let rows = self.query(
            "INSERT INTO voiceprints (owner, model, embedding, seconds, source, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            &[
                Value::from(owner),
                Value::from(model),
                Value::Text(crate::speaker::voice_json(voice)),
                Value::Real(seconds),
                Value::from(source),
                Value::Text(now()),
            ],
        )?;
        rows[0].i64("id")
    }

    /// The voiceprint standing for each owner under `model`: the latest enrolled.
    pub fn voiceprints(&self, model: &str) -> Result<HashMap<String, Vec<f32>>, StoreError> {
        let mut out = HashMap::new();
        for r in self.query(
            "SELECT owner, embedding FROM voiceprints WHERE model = $1 ORDER BY id",
            &[Value::from(model)],
        )? {
            if let Some(v) = crate::speaker::parse_voice(&r.string("embedding")?) {
                out.insert(r.string("owner")?, v);
            }
        }
        Ok(out)
    }
}
