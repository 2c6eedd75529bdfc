//! The trainers' review: the queue of flagged items with their evidence, and verdicts that change the day's reviewed numbers at once.
//!
//! An [`Item`] is a banned hit, a hit the matcher was unsure of (confidence below a threshold), or
//! a service session without its greeting or farewell. Each carries what a trainer needs to judge
//! it — the transcript with the hit's span, the regulation clause, the utterance before and after,
//! the clip and where in it the hit starts — and its latest [`Verdict`]. [`judge`] records a
//! verdict (the history stays) and scores the item's day again, so the reviewed numbers beside the
//! machine's follow every click. [`rules`] turns a false alarm into a rule change.

pub mod rules;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::score::ScoreWeights;
use crate::store::{
    ContextUtterance, HitQuery, ItemKey, ReviewHit, ReviewSession, Ritual, SessionQuery, Store,
    StoreError, Verdict, VerdictRow, WindowNumbers,
};

pub use rules::{fix_false_alarm, Fix, FixOutcome};

/// Why an item is in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// A banned phrase was found.
    Banned,
    /// A (civil) phrase was found with a confidence below the threshold.
    LowConfidence,
    /// A service session without a greeting (来有迎声).
    NoGreeting,
    /// A service session without a farewell (走有送声).
    NoFarewell,
}

impl Reason {
    pub const ALL: [Reason; 4] = [
        Reason::Banned,
        Reason::LowConfidence,
        Reason::NoGreeting,
        Reason::NoFarewell,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Banned => "banned",
            Reason::LowConfidence => "low_confidence",
            Reason::NoGreeting => "no_greeting",
            Reason::NoFarewell => "no_farewell",
        }
    }

    pub fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// As the desk shows it.
    pub fn label(self) -> &'static str {
        match self {
            Reason::Banned => "禁忌用语",
            Reason::LowConfidence => "低置信度",
            Reason::NoGreeting => "缺迎声",
            Reason::NoFarewell => "缺送声",
        }
    }
}

/// A verdict as the desk shows it.
pub fn verdict_label(v: Verdict) -> &'static str {
    match v {
        Verdict::Confirmed => "属实",
        Verdict::FalseAlarm => "误报",
        Verdict::Citizen => "群众说的",
        Verdict::Unclear => "听不清",
    }
}

/// Which items by their latest verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Unjudged,
    Judged(Verdict),
}

impl Status {
    /// `unjudged` or a verdict's name.
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "unjudged" => Some(Status::Unjudged),
            other => Verdict::parse(other).map(Status::Judged),
        }
    }

    fn admits(self, latest: Option<&VerdictRow>) -> bool {
        match self {
            Status::Unjudged => latest.is_none(),
            Status::Judged(v) => latest.is_some_and(|l| l.verdict == v),
        }
    }
}

/// Below this confidence a hit is flagged for review even when it is civil.
pub const LOW_CONFIDENCE: f64 = 0.8;

/// What the queue shows. Days are `YYYY-MM-DD`, both ends included.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub from: String,
    pub to: String,
    pub window: Option<String>,
    /// A staff id: the person the roster puts on duty at the item.
    pub staff_id: Option<String>,
    /// A canonical phrase (hits only: sessions have none).
    pub phrase: Option<String>,
    pub status: Option<Status>,
    /// Which reasons; empty: all.
    pub reasons: Vec<Reason>,
    /// Hits below this confidence are [`Reason::LowConfidence`] items.
    pub low_confidence: f64,
    /// Items found under this lexicon version; default: each day's shown version.
    pub lexicon_version: Option<String>,
}

impl Filter {
    /// Every item of the days `from..=to`.
    pub fn days(from: &str, to: &str) -> Filter {
        Filter {
            from: from.into(),
            to: to.into(),
            window: None,
            staff_id: None,
            phrase: None,
            status: None,
            reasons: Vec::new(),
            low_confidence: LOW_CONFIDENCE,
            lexicon_version: None,
        }
    }

    fn wants(&self, r: Reason) -> bool {
        self.reasons.is_empty() || self.reasons.contains(&r)
    }
}

/// One thing to judge, with its evidence.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Item {
    /// Stable across rescoring: `hit:{utterance}:{phrase}` or
    /// `session:{recording}:{start_ms}:greeting|farewell`.
    pub key: String,
    pub reason: Reason,
    /// A banned hit below the confidence threshold is a banned item, marked here.
    pub low_confidence: bool,
    pub day: String,
    pub window: String,
    pub staff_id: Option<String>,
    pub staff_name: Option<String>,
    /// RFC 3339 local: when the hit (or the shown utterance) was said.
    pub clock_time: Option<String>,
    /// The recording and the item's offset in it (seconds).
    pub file: String,
    pub recording_id: i64,
    pub offset: f64,
    /// The utterance shown (the hit's; a session's first or last).
    pub utterance_id: Option<i64>,
    pub phrase: Option<String>,
    pub category: Option<String>,
    pub severity: Option<i64>,
    /// The regulation clause the item is judged against.
    pub clause: String,
    /// The words as Whisper wrote them.
    pub matched: Option<String>,
    pub confidence: Option<f64>,
    pub method: Option<String>,
    /// How many finds of the phrase the utterance holds; one verdict covers them all.
    pub finds: usize,
    /// The utterance's transcript (personal numbers masked); `None` after text retention.
    pub text: Option<String>,
    /// Byte span of the hit in `text`, when it lies on character boundaries.
    pub span: Option<[usize; 2]>,
    /// Who said the shown utterance (`staff`, `citizen`, `unknown`).
    pub speaker: String,
    /// One utterance of context before and after, from the same recording, and who said each.
    pub before: Option<String>,
    pub after: Option<String>,
    pub before_speaker: Option<String>,
    pub after_speaker: Option<String>,
    /// The clip, relative to the clip folder; `None` when none was kept.
    pub clip: Option<String>,
    /// Seconds into the clip where the hit starts (clips start with their utterance).
    pub clip_offset: f64,
    pub lexicon_version: String,
    /// The latest verdict.
    pub verdict: Option<VerdictRow>,
}

/// Why the review could not be done: one line naming the item or value and the fix.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lexicon(#[from] crate::lexicon::LexiconError),
    /// A request the desk should not have sent: a bad key, an unknown item, an empty name.
    #[error("{0}")]
    Input(String),
}

const GREETING_CLAUSE: &str = "文明服务用语规范 一、办公用语（一） 来有迎声";
const FAREWELL_CLAUSE: &str = "文明服务用语规范 一、办公用语（七） 走有送声";

/// The queue: every item the filter admits, by day and clock time.
pub fn queue(store: &Store, filter: &Filter) -> Result<Vec<Item>, ReviewError> {
    let banned = filter.wants(Reason::Banned);
    let low = filter.wants(Reason::LowConfidence);
    let hits = store.review_hits(&HitQuery {
        from: filter.from.clone(),
        to: filter.to.clone(),
        window: filter.window.clone(),
        staff_id: filter.staff_id.clone(),
        phrase: filter.phrase.clone(),
        banned,
        below: low.then_some(filter.low_confidence),
        lexicon_version: filter.lexicon_version.clone(),
    })?;
    let sessions = if filter.phrase.is_none()
        && (filter.wants(Reason::NoGreeting) || filter.wants(Reason::NoFarewell))
    {
        store.review_sessions(&SessionQuery {
            from: filter.from.clone(),
            to: filter.to.clone(),
            window: filter.window.clone(),
            staff_id: filter.staff_id.clone(),
            lexicon_version: filter.lexicon_version.clone(),
        })?
    } else {
        Vec::new()
    };
    let mut recordings: Vec<i64> = hits
        .iter()
        .map(|h| h.recording_id)
        .chain(sessions.iter().map(|s| s.recording_id))
        .collect();
    recordings.sort_unstable();
    recordings.dedup();
    let mut context: HashMap<i64, Vec<ContextUtterance>> = HashMap::new();
    for u in store.recording_utterances(&recordings)? {
        context.entry(u.recording_id).or_default().push(u);
    }
    let verdicts = store.latest_verdicts(&filter.from, &filter.to)?;

    let mut items: Vec<Item> = Vec::new();
    let mut by_key: HashMap<String, usize> = HashMap::new();
    for h in &hits {
        let key = ItemKey::Hit {
            utterance_id: h.utterance_id,
            phrase: h.hit.phrase.clone(),
        }
        .to_string();
        if let Some(&i) = by_key.get(&key) {
            items[i].finds += 1;
            continue;
        }
        let low_confidence = h.hit.confidence < filter.low_confidence;
        let reason = if h.hit.kind == "banned" && banned {
            Reason::Banned
        } else {
            Reason::LowConfidence
        };
        by_key.insert(key.clone(), items.len());
        items.push(hit_item(key, reason, low_confidence, h, &context));
    }
    for s in &sessions {
        for (missing, said) in [
            (Ritual::Greeting, s.greeting),
            (Ritual::Farewell, s.farewell),
        ] {
            let reason = match missing {
                Ritual::Greeting => Reason::NoGreeting,
                Ritual::Farewell => Reason::NoFarewell,
            };
            if !said && filter.wants(reason) {
                items.push(session_item(s, missing, reason, &context));
            }
        }
    }
    for item in &mut items {
        item.verdict = verdicts.get(&item.key).cloned();
    }
    items.retain(|i| filter.status.is_none_or(|s| s.admits(i.verdict.as_ref())));
    items.sort_by(|a, b| {
        (&a.day, &a.clock_time, &a.window, a.recording_id)
            .cmp(&(&b.day, &b.clock_time, &b.window, b.recording_id))
            .then(a.offset.total_cmp(&b.offset))
            .then(a.reason.cmp(&b.reason))
            .then_with(|| a.key.cmp(&b.key))
    });
    Ok(items)
}

/// The utterance `at` in its recording and the texts either side of it.
/// The utterance `at` picks out of its recording, and the ones just before and after it.
struct Around<'a> {
    shown: Option<&'a ContextUtterance>,
    before: Option<&'a ContextUtterance>,
    after: Option<&'a ContextUtterance>,
}

impl Around<'_> {
    fn text(u: Option<&ContextUtterance>) -> Option<String> {
        u.and_then(|u| u.text.clone())
    }

    fn speaker(u: Option<&ContextUtterance>) -> Option<String> {
        u.map(|u| u.speaker.clone())
    }
}

fn around(
    context: &HashMap<i64, Vec<ContextUtterance>>,
    recording_id: i64,
    at: impl Fn(&ContextUtterance) -> bool,
) -> Around<'_> {
    let found = context
        .get(&recording_id)
        .and_then(|list| Some((list, list.iter().position(at)?)));
    match found {
        Some((list, i)) => Around {
            shown: Some(&list[i]),
            before: i.checked_sub(1).and_then(|j| list.get(j)),
            after: list.get(i + 1),
        },
        None => Around {
            shown: None,
            before: None,
            after: None,
        },
    }
}

fn hit_item(
    key: String,
    reason: Reason,
    low_confidence: bool,
    h: &ReviewHit,
    context: &HashMap<i64, Vec<ContextUtterance>>,
) -> Item {
    let near = around(context, h.recording_id, |u| u.id == h.utterance_id);
    let hit = &h.hit;
    let span = [hit.span_start.max(0) as usize, hit.span_end.max(0) as usize];
    let span_ok = h
        .text
        .as_deref()
        .is_some_and(|t| span[0] < span[1] && t.get(span[0]..span[1]).is_some());
    Item {
        key,
        reason,
        low_confidence,
        day: hit.day.clone().unwrap_or_default(),
        window: h.window.clone(),
        staff_id: h.staff_id.clone(),
        staff_name: h.staff_name.clone(),
        clock_time: hit.clock_time.clone(),
        file: h.path.clone(),
        recording_id: h.recording_id,
        offset: hit.start_s,
        utterance_id: Some(h.utterance_id),
        phrase: Some(hit.phrase.clone()),
        category: Some(hit.category.clone()),
        severity: Some(hit.severity),
        clause: hit.clause.clone(),
        matched: Some(hit.matched.clone()),
        confidence: Some(hit.confidence),
        method: Some(hit.method.clone()),
        finds: 1,
        text: h.text.clone(),
        span: span_ok.then_some(span),
        speaker: Around::speaker(near.shown).unwrap_or_else(|| "unknown".into()),
        before: Around::text(near.before),
        after: Around::text(near.after),
        before_speaker: Around::speaker(near.before),
        after_speaker: Around::speaker(near.after),
        clip: h.clip.clone(),
        clip_offset: (hit.start_s - h.utterance_start).max(0.0),
        lexicon_version: h.lexicon_version.clone(),
        verdict: None,
    }
}

fn session_item(
    s: &ReviewSession,
    missing: Ritual,
    reason: Reason,
    context: &HashMap<i64, Vec<ContextUtterance>>,
) -> Item {
    // The utterance that should have held it: the session's first, or its last.
    let near = around(context, s.recording_id, |u| match missing {
        Ritual::Greeting => u.start_s == s.start_s,
        Ritual::Farewell => u.end_s == s.end_s,
    });
    let shown = near.shown;
    Item {
        key: ItemKey::session(s.recording_id, s.start_s, missing).to_string(),
        reason,
        low_confidence: false,
        day: s.day.clone(),
        window: s.window.clone(),
        staff_id: s.staff_id.clone(),
        staff_name: s.staff_name.clone(),
        clock_time: shown
            .and_then(|u| u.clock_start.clone())
            .or_else(|| s.clock_start.clone()),
        file: s.path.clone(),
        recording_id: s.recording_id,
        offset: shown.map_or(s.start_s, |u| u.start_s),
        utterance_id: shown.map(|u| u.id),
        phrase: None,
        category: Some(missing.as_str().to_string()),
        severity: None,
        clause: match missing {
            Ritual::Greeting => GREETING_CLAUSE,
            Ritual::Farewell => FAREWELL_CLAUSE,
        }
        .to_string(),
        matched: None,
        confidence: None,
        method: None,
        finds: 1,
        text: shown.and_then(|u| u.text.clone()),
        span: None,
        speaker: Around::speaker(near.shown).unwrap_or_else(|| "unknown".into()),
        before: Around::text(near.before),
        after: Around::text(near.after),
        before_speaker: Around::speaker(near.before),
        after_speaker: Around::speaker(near.after),
        clip: shown.and_then(|u| u.clip.clone()),
        clip_offset: 0.0,
        lexicon_version: s.lexicon_version.clone(),
        verdict: None,
    }
}

/// Longest comment kept with a verdict.
pub const MAX_COMMENT_CHARS: usize = 500;

/// A verdict recorded and its day scored again.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Judged {
    pub verdict: VerdictRow,
    /// The day's window scores after the verdict (machine and reviewed numbers), when the day
    /// has been scored.
    pub windows: Vec<WindowNumbers>,
}

/// Records `user`'s verdict on `item` and scores the item's day again under the version it is
/// shown with, so its reviewed numbers change at once. Verdicts are kept as history; the latest
/// counts.
pub fn judge(
    store: &Store,
    item: &ItemKey,
    verdict: Verdict,
    comment: Option<&str>,
    user: &str,
    weights: &ScoreWeights,
) -> Result<Judged, ReviewError> {
    if user.trim().is_empty() {
        return Err(ReviewError::Input(
            "a verdict needs the name of who gave it — log in first".into(),
        ));
    }
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    if let Some(c) = comment {
        let n = c.chars().count();
        if n > MAX_COMMENT_CHARS {
            return Err(ReviewError::Input(format!(
                "the comment is {n} characters long — keep it under {MAX_COMMENT_CHARS}"
            )));
        }
    }
    let Some(place) = store.locate_item(item)? else {
        return Err(ReviewError::Input(format!(
            "{item}: no such item in the record — reload the queue (the day may have been \
             pruned or scored again)"
        )));
    };
    // One process judges one day at a time: two verdicts scored at once could otherwise write
    // the day from a reading that misses the other's verdict.
    static DAY_LOCK: Mutex<()> = Mutex::new(());
    let _turn = DAY_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let recorded = store.add_verdict(&crate::store::NewVerdict {
        item: item.clone(),
        day: place.day.clone(),
        utterance_id: place.utterance_id,
        recording_id: place.recording_id,
        verdict,
        comment: comment.map(str::to_string),
        user_name: user.to_string(),
    })?;
    let windows = match store.shown_version(&place.day)? {
        Some((version, run_id)) => {
            crate::batch::days::aggregate(store, &place.day, &version, run_id, weights)?
                .window_scores
                .iter()
                .map(WindowNumbers::from)
                .collect()
        }
        None => Vec::new(),
    };
    Ok(Judged {
        verdict: recorded,
        windows,
    })
}

/// How many items the filter admits, by reason and by status: the queue's header.
pub fn counts(items: &[Item]) -> BTreeMap<&'static str, usize> {
    let mut out = BTreeMap::new();
    for i in items {
        *out.entry(i.reason.as_str()).or_default() += 1;
        let status = i
            .verdict
            .as_ref()
            .map_or("unjudged", |v| v.verdict.as_str());
        *out.entry(status).or_default() += 1;
    }
    out
}
