//! Scoring: folds a window's utterances into sessions and a 0–100 courtesy score.
//!
//! The formula (also in the README):
//!
//! ```text
//! score = clamp(100 × (ritual × R + civil × C) − Σ banned_per_severity × severity × confidence, 0, 100)
//! R = (sessions opened with a greeting + sessions closed with a farewell) / (2 × sessions)
//! C = mean over sessions of min(1, distinct civil situations heard / civil_target)
//! ```
//!
//! A session is a run of utterances in one file with no silence longer than `session_gap`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::lexicon::Kind;
use crate::utterance::Utterance;

/// Weights of the score; all configurable.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoreWeights {
    /// Share of the score earned by greeting and farewell (来有迎声，走有送声).
    pub ritual: f64,
    /// Share earned by civil phrases of other situations.
    pub civil: f64,
    /// Distinct civil situations a session needs for the full civil share.
    pub civil_target: usize,
    /// Points taken per severity point of a banned hit (scaled by its confidence).
    pub banned_per_severity: f64,
    /// Silence (seconds) that separates two service sessions.
    pub session_gap: f64,
    /// How many utterances at a session's start (end) may hold the greeting (farewell).
    pub ritual_utterances: usize,
    /// Whether utterances nobody could attribute to staff or citizen count in scores and raise
    /// alerts (citizens' never do, staff's always do). True by default: on one microphone without
    /// a voice model every utterance is unknown, and the tool must not fall silent.
    pub count_unknown: bool,
}

impl Default for ScoreWeights {
    fn default() -> Self {
        ScoreWeights {
            ritual: 0.6,
            civil: 0.4,
            civil_target: 3,
            banned_per_severity: 15.0,
            session_gap: 15.0,
            ritual_utterances: 2,
            count_unknown: true,
        }
    }
}

/// One service session: one citizen at the counter, as far as silences tell.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Session {
    pub file: PathBuf,
    pub start: f64,
    pub end: f64,
    pub utterances: usize,
    pub greeting: bool,
    pub farewell: bool,
    /// Distinct civil situations heard.
    pub situations: Vec<String>,
    pub banned: usize,
}

/// A window's courtesy, with the counts that explain it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct WindowScore {
    pub window: String,
    /// 0–100; `None` when nothing was said (no speech is no evidence).
    pub score: Option<f64>,
    pub utterances: usize,
    pub speech_seconds: f64,
    pub civil_hits: usize,
    pub banned_hits: usize,
    /// Banned hits by canonical phrase.
    pub banned: BTreeMap<String, usize>,
    /// Civil hits by situation.
    pub civil: BTreeMap<String, usize>,
    pub sessions: Vec<Session>,
    /// Files that could not be analysed.
    pub failed_files: usize,
}

/// Scores one window from its utterances (any order).
pub fn score_window(
    window: &str,
    utterances: &[&Utterance],
    weights: &ScoreWeights,
) -> WindowScore {
    let mut sorted: Vec<&Utterance> = utterances.to_vec();
    sorted.sort_by(|a, b| a.file.cmp(&b.file).then(a.start.total_cmp(&b.start)));
    let mut tally = WindowTally::new(window, weights);
    for u in sorted {
        tally.push(u);
    }
    tally.finish()
}

/// A window's score built one utterance at a time, keeping only per-session aggregates: what a
/// text input of any size needs. Utterances must come in (file, start) order.
#[derive(Debug, Clone)]
pub struct WindowTally {
    weights: ScoreWeights,
    ws: WindowScore,
    penalty: f64,
    open: Option<Open>,
}

/// The session being read.
#[derive(Debug, Clone)]
struct Open {
    session: Session,
    /// Whether each of the last `ritual_utterances` utterances holds a farewell.
    tail: std::collections::VecDeque<bool>,
    situations: std::collections::BTreeSet<String>,
}

impl WindowTally {
    /// An empty tally of `window`.
    pub fn new(window: &str, weights: &ScoreWeights) -> WindowTally {
        WindowTally {
            weights: weights.clone(),
            ws: WindowScore {
                window: window.to_string(),
                score: None,
                utterances: 0,
                speech_seconds: 0.0,
                civil_hits: 0,
                banned_hits: 0,
                banned: BTreeMap::new(),
                civil: BTreeMap::new(),
                sessions: Vec::new(),
                failed_files: 0,
            },
            penalty: 0.0,
            open: None,
        }
    }

    /// Adds the next utterance of the window (one that does not count, a citizen's, is skipped).
    pub fn push(&mut self, u: &Utterance) {
        if !u.speaker.counts(self.weights.count_unknown) {
            return;
        }
        let n = self.weights.ritual_utterances.max(1);
        self.ws.utterances += 1;
        self.ws.speech_seconds += u.end - u.start;
        let has = |situation: &str| {
            u.hits
                .iter()
                .any(|h| h.hit.kind == Kind::Civil && h.hit.category == situation)
        };
        let new_session = match &self.open {
            Some(o) => {
                o.session.file != u.file || u.start - o.session.end > self.weights.session_gap
            }
            None => true,
        };
        if new_session {
            self.close();
            self.open = Some(Open {
                session: Session {
                    file: u.file.clone(),
                    start: u.start,
                    end: u.end,
                    utterances: 0,
                    greeting: false,
                    farewell: false,
                    situations: Vec::new(),
                    banned: 0,
                },
                tail: Default::default(),
                situations: Default::default(),
            });
        }
        let open = self.open.as_mut().expect("opened above");
        if open.session.utterances < n {
            open.session.greeting |= has("greeting");
        }
        open.session.utterances += 1;
        open.session.end = u.end;
        open.tail.push_back(has("farewell"));
        if open.tail.len() > n {
            open.tail.pop_front();
        }
        for h in &u.hits {
            match h.hit.kind {
                Kind::Banned => {
                    self.ws.banned_hits += 1;
                    open.session.banned += 1;
                    *self.ws.banned.entry(h.hit.phrase.clone()).or_default() += 1;
                    self.penalty += self.weights.banned_per_severity
                        * h.hit.severity as f64
                        * h.hit.confidence as f64;
                }
                Kind::Civil => {
                    self.ws.civil_hits += 1;
                    *self.ws.civil.entry(h.hit.category.clone()).or_default() += 1;
                    if !open.situations.contains(&h.hit.category) {
                        open.situations.insert(h.hit.category.clone());
                    }
                }
            }
        }
    }

    fn close(&mut self) {
        if let Some(mut o) = self.open.take() {
            o.session.farewell = o.tail.iter().any(|&f| f);
            o.session.situations = o.situations.into_iter().collect();
            self.ws.sessions.push(o.session);
        }
    }

    /// The window's score.
    pub fn finish(mut self) -> WindowScore {
        self.close();
        let mut ws = self.ws;
        let weights = &self.weights;
        if !ws.sessions.is_empty() {
            let s = ws.sessions.len() as f64;
            let rituals = ws
                .sessions
                .iter()
                .map(|x| x.greeting as u32 + x.farewell as u32)
                .sum::<u32>() as f64;
            let r = rituals / (2.0 * s);
            let target = weights.civil_target.max(1) as f64;
            let c = ws
                .sessions
                .iter()
                .map(|x| (x.situations.len() as f64 / target).min(1.0))
                .sum::<f64>()
                / s;
            let raw = 100.0 * (weights.ritual * r + weights.civil * c) - self.penalty;
            ws.score = Some((raw.clamp(0.0, 100.0) * 10.0).round() / 10.0);
        }
        ws
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lexicon::Lexicon;
    use crate::matcher::Matcher;

    fn utt(m: &Matcher, file: &str, start: f64, text: &str) -> Utterance {
        let mut u = Utterance::from_text("w", file.into(), 0, text, m);
        u.start = start;
        u.end = start + 2.0;
        u
    }

    #[test]
    fn polite_session_scores_full_marks() {
        let m = Matcher::new(&Lexicon::builtin().unwrap());
        let us = [
            utt(&m, "a.wav", 0.0, "您好，请坐。请问您要办理什么业务？"),
            utt(&m, "a.wav", 3.0, "请出示您的身份证。请稍候。"),
            utt(&m, "a.wav", 6.0, "很高兴为您服务，请慢走。"),
        ];
        let s = score_window(
            "w",
            &us.iter().collect::<Vec<_>>(),
            &ScoreWeights::default(),
        );
        assert_eq!(s.score, Some(100.0));
        assert!(s.sessions[0].greeting && s.sessions[0].farewell);
    }

    #[test]
    fn banned_phrase_costs_most() {
        let m = Matcher::new(&Lexicon::builtin().unwrap());
        let us = [
            utt(&m, "a.wav", 0.0, "您好。"),
            utt(&m, "a.wav", 3.0, "有意见找领导去！"),
            utt(&m, "a.wav", 6.0, "再见。"),
        ];
        let s = score_window(
            "w",
            &us.iter().collect::<Vec<_>>(),
            &ScoreWeights::default(),
        );
        assert_eq!(s.banned_hits, 1);
        assert!(s.score.unwrap() < 60.0, "{:?}", s.score);
    }

    #[test]
    fn long_silence_splits_sessions() {
        let m = Matcher::new(&Lexicon::builtin().unwrap());
        let us = [
            utt(&m, "a.wav", 0.0, "您好"),
            utt(&m, "a.wav", 40.0, "再见"),
        ];
        let s = score_window(
            "w",
            &us.iter().collect::<Vec<_>>(),
            &ScoreWeights::default(),
        );
        assert_eq!(s.sessions.len(), 2);
        assert!(s.sessions[0].greeting && !s.sessions[0].farewell);
        assert!(!s.sessions[1].greeting && s.sessions[1].farewell);
    }

    #[test]
    fn silence_has_no_score() {
        let s = score_window("w", &[], &ScoreWeights::default());
        assert_eq!(s.score, None);
    }
}
