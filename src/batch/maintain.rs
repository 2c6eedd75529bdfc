//! The record after the night: rescoring past days with new rules, the roster, and retention.

use std::path::Path;

use chrono::NaiveDate;

use crate::lexicon::Lexicon;
use crate::matcher::Matcher;
use crate::score::ScoreWeights;
use crate::store::{RunInfo, Store, StoreError};

use super::days;

/// `[retention]`: how long the record keeps evidence. Unset keeps it for ever.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Days the audio clips are kept.
    pub audio_days: Option<u32>,
    /// Days the transcripts are kept (counts, phrases and scores stay).
    pub text_days: Option<u32>,
}

/// What a rescore did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Rescored {
    pub run_id: i64,
    pub lexicon_version: String,
    pub utterances: usize,
    pub recordings: usize,
    pub days: Vec<String>,
}

/// Matches the stored transcripts of `from..=to` with `lexicon` (no Whisper) and scores those
/// days again. The earlier lexicon's hits and scores stay in the record for comparison.
pub fn rescore(
    store: &Store,
    lexicon: &Lexicon,
    matcher: &Matcher,
    weights: &ScoreWeights,
    config_hash: String,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Rescored, StoreError> {
    let version = lexicon.version();
    let (civil, banned) = lexicon.sources();
    store.save_lexicon(&version, lexicon.label(), civil, banned)?;
    let run_id = store.begin_run(&RunInfo {
        kind: "rescore".into(),
        program: format!("courtesy {}", env!("CARGO_PKG_VERSION")),
        model_sha256: None,
        lexicon_version: version.clone(),
        config_hash,
        host: super::host(),
    })?;
    let (from, to) = (from.to_string(), to.to_string());
    let utterances = store.utterances_in(&from, &to)?;
    let recordings = days::rematch_utterances(store, matcher, &utterances, &version, run_id)?;
    let day_list = store.days(&from, &to)?;
    for day in &day_list {
        days::aggregate(store, day, &version, run_id, weights)?;
    }
    store.end_run(run_id, "done", recordings as i64, 0.0, 0)?;
    Ok(Rescored {
        run_id,
        lexicon_version: version,
        utterances: utterances.len(),
        recordings,
        days: day_list,
    })
}

/// Scores again, under the lexicon each was last scored with, every day from `from` on (after a
/// roster import: staff scores follow who was on duty). Returns the days.
pub fn rescore_days_since(
    store: &Store,
    weights: &ScoreWeights,
    from: &str,
) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    for day in store.days(from, "9999-12-31")? {
        if let Some(lexicon) = store.latest_lexicon_for_day(&day)? {
            let run_id = store
                .query(
                    "SELECT MAX(run_id) AS run FROM window_scores WHERE day = $1 AND lexicon_version = $2",
                    &[day.as_str().into(), lexicon.as_str().into()],
                )?
                .first()
                .and_then(|r| r.opt_i64("run").ok().flatten())
                .unwrap_or(0);
            days::aggregate(store, &day, &lexicon, run_id, weights)?;
            out.push(day);
        }
    }
    Ok(out)
}

/// What a prune did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Pruned {
    pub clips_deleted: usize,
    pub clips_missing: usize,
    pub texts_cleared: u64,
}

/// Enforces `[retention]` as of `today`: forgets and deletes the clips of older days, and clears
/// the transcripts of older days. The record is updated first, so a crash leaves at worst an
/// orphan file, never a reference to a deleted one.
pub fn prune(
    store: &Store,
    clip_dir: &Path,
    retention: &RetentionConfig,
    today: NaiveDate,
) -> Result<Pruned, StoreError> {
    let before =
        |days: Option<u32>| days.map(|d| (today - chrono::Duration::days(d as i64)).to_string());
    let outcome = store.prune(
        before(retention.audio_days).as_deref(),
        before(retention.text_days).as_deref(),
    )?;
    let mut pruned = Pruned {
        texts_cleared: outcome.texts_cleared,
        ..Pruned::default()
    };
    for clip in &outcome.clips {
        // Paths come from the record: only plain relative ones, and only inside the clip folder
        // (a link inside it that points out is not followed).
        let Ok(path) = crate::inside::existing(clip_dir, Path::new(clip)) else {
            pruned.clips_missing += 1;
            continue;
        };
        match std::fs::remove_file(path) {
            Ok(()) => pruned.clips_deleted += 1,
            Err(_) => pruned.clips_missing += 1,
        }
    }
    Ok(pruned)
}
