//! Staff voices: enrolled voiceprints (one per owner, a staff id or a window id, and embedding model; the latest one stands) and each window's staff voice of an earlier day.

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

    /// The staff's voice of each window on its latest day before `day` (at most
    /// [`EARLIER_DAYS`] recorded days back) on which the record holds at least three staff
    /// utterances with a voice: the mean of up to 200 of them. A window with none is left out.
    /// What the night's batch learnt, so a window's first session of `day` can be told apart
    /// when the same person is on duty again ([`crate::speaker::voices::staff_voice_since`]).
    pub fn earlier_staff_voices(&self, day: &str) -> Result<HashMap<String, Vec<f32>>, StoreError> {
        let days: Vec<String> = self
            .query(
                "SELECT DISTINCT day FROM recordings WHERE day IS NOT NULL AND day < $1 \
                 ORDER BY day DESC LIMIT $2",
                &[Value::from(day), Value::Int(EARLIER_DAYS)],
            )?
            .iter()
            .map(|r| r.string("day"))
            .collect::<Result<_, _>>()?;
        let Some(oldest) = days.last() else {
            return Ok(HashMap::new());
        };
        let windows: Vec<String> = self
            .query(
                "SELECT DISTINCT \"window\" FROM recordings WHERE day >= $1 AND day < $2",
                &[Value::from(oldest.as_str()), Value::from(day)],
            )?
            .iter()
            .map(|r| r.string("window"))
            .collect::<Result<_, _>>()?;
        let mut out = HashMap::new();
        for window in &windows {
            for d in &days {
                let voices: Vec<Vec<f32>> = self
                    .query(
                        "SELECT voice FROM utterances WHERE day = $1 AND \"window\" = $2 \
                         AND speaker = 'staff' AND voice IS NOT NULL ORDER BY id LIMIT 200",
                        &[Value::from(d.as_str()), Value::from(window.as_str())],
                    )?
                    .iter()
                    .filter_map(|r| crate::speaker::parse_voice(&r.opt_string("voice").ok()??))
                    .collect();
                if voices.len() >= 3 {
                    if let Some(v) = crate::speaker::voices::mean(voices.iter().map(Vec::as_slice))
                    {
                        out.insert(window.clone(), v);
                        break;
                    }
                }
            }
        }
        Ok(out)
    }
}

/// How many recorded days back [`Store::earlier_staff_voices`] looks.
const EARLIER_DAYS: i64 = 14;
