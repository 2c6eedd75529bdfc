//! The plain values the record exchanges with the rest of the program: strings, f64 seconds and
//! i64 counts, so callers convert from the pipeline's types and the store needs none of them.

/// Now, in local time with offset and milliseconds (the contract's clock format).
pub(crate) fn now() -> String {
    chrono::Local::now()
        .fixed_offset()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
}

/// A run as it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    /// `batch` or `rescore`.
    pub kind: String,
    /// `courtesy x.y.z`.
    pub program: String,
    pub model_sha256: Option<String>,
    pub lexicon_version: String,
    pub config_hash: String,
    pub host: String,
}

/// A recording found on disk, to be registered before anyone works on it.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecording {
    pub path: String,
    pub content_sha256: String,
    /// Hash of what decides the transcript (model sha256, `[vad]`, `[asr]`).
    pub rules: String,
    pub window: String,
    /// The clock, when known before decoding (from the file name or mtime): it gives a failed
    /// file a day, so the day's scores can count it.
    pub clock_start: Option<String>,
    pub clock_source: Option<String>,
    pub day: Option<String>,
}

/// Where a recording stands.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingState {
    pub id: i64,
    /// `pending`, `leased`, `done` or `failed`.
    pub status: String,
    pub path: String,
    pub window: String,
    pub error: Option<String>,
    pub attempts: i64,
}

/// Everything a finished recording leaves in the record, written by [`super::Store::complete`].
#[derive(Debug, Clone, PartialEq)]
pub struct FileRecord {
    pub duration: f64,
    pub format: Option<String>,
    pub clock_start: Option<String>,
    /// `name`, `metadata` or `mtime`.
    pub clock_source: Option<String>,
    pub day: Option<String>,
    pub utterances: Vec<StoredUtterance>,
    /// Why the file stopped early (truncated, a segment Whisper could not take): what was
    /// heard before is kept and the recording is marked `failed`, to be tried again next run.
    pub error: Option<String>,
    /// The lexicon the hits were found with.
    pub lexicon_version: String,
    pub run_id: i64,
}

/// One utterance as stored (the text already masked).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredUtterance {
    pub seq: i64,
    pub start_s: f64,
    pub end_s: f64,
    pub clock_start: Option<String>,
    pub clock_end: Option<String>,
    pub day: Option<String>,
    /// As heard; `None` after text retention.
    pub text: Option<String>,
    pub normalized: Option<String>,
    /// JSON `[[start_s,end_s,byte_start,byte_end],…]`.
    pub pieces_json: Option<String>,
    /// Who said it (`speaker`, `speaker_confidence` columns).
    pub speaker: crate::speaker::Speaker,
    /// The speaker embedding of its audio (L2-normalised), when a voice model heard it.
    pub voice: Option<Vec<f32>>,
    /// Relative to the clip folder; `None` without a clip or after audio retention.
    pub clip: Option<String>,
    pub hits: Vec<StoredHit>,
}

/// One lexicon hit as stored. Its lexicon version, run and window come from where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredHit {
    pub day: Option<String>,
    pub start_s: f64,
    pub end_s: f64,
    pub clock_time: Option<String>,
    /// `civil` or `banned`.
    pub kind: String,
    pub phrase: String,
    pub category: String,
    pub severity: i64,
    pub clause: String,
    /// Empty after text retention.
    pub matched: String,
    pub span_start: i64,
    pub span_end: i64,
    pub confidence: f64,
    /// `exact`, `gapped` or `sound`.
    pub method: String,
}

/// An utterance of a day, with where it was said and who was on duty, for aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct DayUtterance {
    pub id: i64,
    pub recording_id: i64,
    pub path: String,
    pub window: String,
    /// The roster entry covering the utterance's clock start, if any.
    pub staff_id: Option<String>,
    pub staff_name: Option<String>,
    /// With `hits` for the asked lexicon version only.
    pub utterance: StoredUtterance,
}

/// A stored utterance to match again on rescore.
#[derive(Debug, Clone, PartialEq)]
pub struct RescoreUtterance {
    pub id: i64,
    pub recording_id: i64,
    pub window: String,
    pub day: Option<String>,
    pub seq: i64,
    pub start_s: f64,
    pub end_s: f64,
    pub clock_start: Option<String>,
    /// `None` after text retention: nothing left to match.
    pub text: Option<String>,
    pub normalized: Option<String>,
    pub pieces_json: Option<String>,
}

/// A recording's new hits under one lexicon, written by [`super::Store::replace_hits`].
#[derive(Debug, Clone, PartialEq)]
pub struct RescoredRecording {
    pub recording_id: i64,
    /// `(utterance id, hit)`; every utterance must belong to the recording.
    pub hits: Vec<(i64, StoredHit)>,
}

/// One service session as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRow {
    pub window: String,
    pub staff_id: Option<String>,
    pub recording_id: i64,
    pub start_s: f64,
    pub end_s: f64,
    pub clock_start: Option<String>,
    pub clock_end: Option<String>,
    pub utterances: i64,
    pub greeting: bool,
    pub farewell: bool,
    /// JSON array of situations.
    pub situations_json: String,
    pub banned: i64,
}

/// A score and the counts behind it, the same for a window and for a staff member.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScoreCounts {
    /// `None`: nothing was said.
    pub score: Option<f64>,
    pub sessions: i64,
    pub utterances: i64,
    pub speech_seconds: f64,
    pub greeting_sessions: i64,
    pub farewell_sessions: i64,
    pub civil_hits: i64,
    pub banned_hits: i64,
    /// JSON `{phrase: n}`.
    pub banned_json: String,
    /// JSON `{situation: n}`.
    pub civil_json: String,
    /// The score once the trainers' verdicts are applied: hits judged a false alarm or the
    /// citizen's words dropped, the rest (judged or not) counted as the machine found them.
    pub reviewed_score: Option<f64>,
    /// Banned hits left after the verdicts.
    pub reviewed_banned_hits: i64,
    /// Banned hits that have a verdict (any).
    pub judged_hits: i64,
}

impl ScoreCounts {
    /// The column names, in the order of [`ScoreCounts::values`].
    pub(crate) const COLUMNS: &'static str = "score, sessions, utterances, speech_seconds, \
        greeting_sessions, farewell_sessions, civil_hits, banned_hits, banned, civil, \
        reviewed_score, reviewed_banned_hits, judged_hits";

    pub(crate) fn values(&self) -> [super::Value; 13] {
        use super::Value;
        [
            Value::from(self.score),
            Value::Int(self.sessions),
            Value::Int(self.utterances),
            Value::Real(self.speech_seconds),
            Value::Int(self.greeting_sessions),
            Value::Int(self.farewell_sessions),
            Value::Int(self.civil_hits),
            Value::Int(self.banned_hits),
            Value::from(&self.banned_json),
            Value::from(&self.civil_json),
            Value::from(self.reviewed_score),
            Value::Int(self.reviewed_banned_hits),
            Value::Int(self.judged_hits),
        ]
    }
}

/// A window's score for a day.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowScoreRow {
    pub window: String,
    pub counts: ScoreCounts,
    pub failed_files: i64,
}

/// A staff member's score for a day.
#[derive(Debug, Clone, PartialEq)]
pub struct StaffScoreRow {
    pub staff_id: String,
    pub name: Option<String>,
    /// JSON array of the windows worked.
    pub windows_json: String,
    pub counts: ScoreCounts,
}

/// A day's aggregation under one lexicon, written whole by [`super::Store::replace_day`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DayScores {
    pub sessions: Vec<SessionRow>,
    pub window_scores: Vec<WindowScoreRow>,
    pub staff_scores: Vec<StaffScoreRow>,
}

/// Who sat at a window when (RFC 3339 local times, `valid_to` exclusive).
#[derive(Debug, Clone, PartialEq)]
pub struct RosterEntry {
    pub window: String,
    pub staff_id: String,
    pub name: String,
    pub valid_from: String,
    pub valid_to: String,
}

/// What [`super::Store::prune`] did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PruneOutcome {
    /// Clip paths (relative to the clip folder) no longer referenced: the caller deletes the files.
    pub clips: Vec<String>,
    /// Utterances whose text was cleared.
    pub texts_cleared: u64,
}
