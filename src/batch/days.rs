//! A day's scores from the record (per window, per staff member) and re-matching stored transcripts.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use crate::asr::{Piece, Transcript};
use crate::lexicon::Kind;
use crate::matcher::{Hit, Matcher, Method};
use crate::score::{score_window, ScoreWeights, WindowScore};
use crate::speaker::voices::{attribute_day_enrolled, sessions, Span};
use crate::speaker::Speaker;
use crate::store::{
    DayScores, DayUtterance, ItemKey, RescoreUtterance, RescoredRecording, Ritual, ScoreCounts,
    SessionRow, StaffScoreRow, Store, StoreError, StoredHit, Verdict, VerdictRow, WindowScoreRow,
};
use crate::utterance::{TimedHit, Utterance};

/// Scores `day` under `lexicon_version` from the record — every window, and every staff member
/// the roster puts on duty — and replaces that day's sessions and scores in one transaction.
/// Each score is computed twice: as the machine found the hits, and as the trainers judged them
/// (see [`reviewed_utterances`]), with how many banned hits have a verdict.
pub fn aggregate(
    store: &Store,
    day: &str,
    lexicon_version: &str,
    run_id: i64,
    weights: &ScoreWeights,
) -> Result<DayScores, StoreError> {
    let mut rows = store.load_day(day, lexicon_version)?;
    let enrolled = store.voiceprints(&crate::speaker::enroll::model_name())?;
    let earlier = store.earlier_staff_voices(day)?;
    store.set_speakers(&by_voice(
        &mut rows,
        &enrolled,
        &earlier,
        weights.session_gap,
    ))?;
    let failed: BTreeMap<String, i64> = store.day_failures(day)?.into_iter().collect();
    // Utterances as the scorer reads them; `file` carries the recording id so sessions break at
    // file boundaries and can be traced back.
    let utterances: Vec<Utterance> = rows.iter().map(utterance).collect();

    let mut out = DayScores::default();
    let mut by_window: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for w in failed.keys() {
        by_window.entry(w.as_str()).or_default();
    }
    let mut by_staff: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        by_window.entry(r.window.as_str()).or_default().push(i);
        if let Some(s) = &r.staff_id {
            by_staff.entry(s.as_str()).or_default().push(i);
        }
    }
    let machine: BTreeMap<&str, WindowScore> = by_window
        .iter()
        .map(|(window, idx)| {
            let us: Vec<&Utterance> = idx.iter().map(|&i| &utterances[i]).collect();
            (*window, score_window(window, &us, weights))
        })
        .collect();
    // The same utterances as the trainers judged them.
    let verdicts = store.latest_verdicts(day, day)?;
    let reviewed = reviewed_utterances(&rows, &utterances, &machine, &verdicts);
    let score_both = |name: &str, idx: &[usize], machine: &WindowScore| {
        let us: Vec<&Utterance> = idx.iter().map(|&i| &reviewed[i]).collect();
        let mut c = counts(machine);
        let judged = score_window(name, &us, weights);
        c.reviewed_score = judged.score;
        c.reviewed_banned_hits = judged.banned_hits as i64;
        c.judged_hits = idx
            .iter()
            .map(|&i| {
                let r = &rows[i];
                r.utterance
                    .hits
                    .iter()
                    .filter(|h| h.kind == "banned")
                    .filter(|h| hit_verdict(&verdicts, r.id, &h.phrase).is_some())
                    .count() as i64
            })
            .sum();
        c
    };
    for (window, idx) in &by_window {
        let ws = &machine[window];
        for s in &ws.sessions {
            // The session's first and last utterance give its clock times and its staff member.
            let first = idx
                .iter()
                .map(|&i| &rows[i])
                .find(|r| same_file(r, &s.file) && r.utterance.start_s == s.start);
            let last = idx
                .iter()
                .map(|&i| &rows[i])
                .find(|r| same_file(r, &s.file) && r.utterance.end_s == s.end);
            out.sessions.push(SessionRow {
                window: window.to_string(),
                staff_id: first.and_then(|r| r.staff_id.clone()),
                recording_id: recording_of(&s.file),
                start_s: s.start,
                end_s: s.end,
                clock_start: first.and_then(|r| r.utterance.clock_start.clone()),
                clock_end: last.and_then(|r| r.utterance.clock_end.clone()),
                utterances: s.utterances as i64,
                greeting: s.greeting,
                farewell: s.farewell,
                situations_json: serde_json::to_string(&s.situations).unwrap_or_default(),
                banned: s.banned as i64,
            });
        }
        out.window_scores.push(WindowScoreRow {
            window: window.to_string(),
            counts: score_both(window, idx, ws),
            failed_files: failed.get(*window).copied().unwrap_or(0),
        });
    }
    for (staff, idx) in &by_staff {
        let us: Vec<&Utterance> = idx.iter().map(|&i| &utterances[i]).collect();
        let ws = score_window(staff, &us, weights);
        let mut windows: Vec<&str> = idx.iter().map(|&i| rows[i].window.as_str()).collect();
        windows.sort();
        windows.dedup();
        out.staff_scores.push(StaffScoreRow {
            staff_id: staff.to_string(),
            name: idx.first().and_then(|&i| rows[i].staff_name.clone()),
            windows_json: serde_json::to_string(&windows).unwrap_or_default(),
            counts: score_both(staff, idx, &ws),
        });
    }
    store.replace_day(day, lexicon_version, run_id, &out)?;
    Ok(out)
}

/// One-microphone windows: who said each utterance recorded with a voice, told again from the
/// whole day's voices (the staff's is the one present across most sessions), since a file that
/// another box finished later changes what the day's voices say. A voice enrolled for the staff
/// member on duty (the roster's) or for the window (`courtesy enroll`) is the staff's voice where
/// there is one; else the window's staff voice of an earlier day counts as one more session when
/// it recurs today (a day of one session is told apart when the same person is on duty again).
/// Utterances without a voice (two microphones, too short to embed, no model) keep
/// what the record says. Returns the changes. Rows are in the record's order: by window, then
/// clock time.
fn by_voice(
    rows: &mut [DayUtterance],
    enrolled: &HashMap<String, Vec<f32>>,
    earlier: &HashMap<String, Vec<f32>>,
    session_gap: f64,
) -> Vec<(i64, Speaker)> {
    let mut changed = Vec::new();
    for window in rows.chunk_by_mut(|a, b| a.window == b.window) {
        if window.iter().all(|r| r.utterance.voice.is_none()) {
            continue;
        }
        let spans: Vec<Span> = window
            .iter()
            .map(|r| Span {
                file: r.recording_id as usize,
                start: r.utterance.start_s,
                end: r.utterance.end_s,
            })
            .collect();
        let day: Vec<(usize, Option<&[f32]>)> = sessions(&spans, session_gap)
            .into_iter()
            .zip(window.iter())
            .map(|(session, r)| (session, r.utterance.voice.as_deref()))
            .collect();
        let prints: Vec<Option<&[f32]>> = window
            .iter()
            .map(|r| {
                r.staff_id
                    .as_ref()
                    .and_then(|s| enrolled.get(s))
                    .or_else(|| enrolled.get(&r.window))
                    .map(Vec::as_slice)
            })
            .collect();
        let earlier = window.first().and_then(|r| earlier.get(&r.window));
        let speakers = attribute_day_enrolled(&day, &prints, earlier.map(Vec::as_slice));
        for (r, s) in window.iter_mut().zip(speakers) {
            let u = &mut r.utterance;
            if u.voice.is_some() && u.speaker != s {
                u.speaker = s;
                changed.push((r.id, s));
            }
        }
    }
    changed
}

/// The latest verdict on a hit of this utterance and phrase.
fn hit_verdict(
    verdicts: &HashMap<String, VerdictRow>,
    utterance_id: i64,
    phrase: &str,
) -> Option<Verdict> {
    let key = ItemKey::Hit {
        utterance_id,
        phrase: phrase.to_string(),
    };
    verdicts.get(&key.to_string()).map(|v| v.verdict)
}

/// The utterances as the trainers judged them: hits judged a false alarm or the citizen's words
/// are gone, and a session whose missing greeting (farewell) was judged a false alarm gets one
/// in its first (last) utterance. Unjudged hits stand as the machine found them.
fn reviewed_utterances(
    rows: &[DayUtterance],
    utterances: &[Utterance],
    machine: &BTreeMap<&str, WindowScore>,
    verdicts: &HashMap<String, VerdictRow>,
) -> Vec<Utterance> {
    let mut out: Vec<Utterance> = rows
        .iter()
        .zip(utterances)
        .map(|(r, u)| {
            let mut u = u.clone();
            u.hits.retain(|h| {
                !hit_verdict(verdicts, r.id, &h.hit.phrase).is_some_and(Verdict::drops_hit)
            });
            u
        })
        .collect();
    if verdicts.keys().all(|k| k.starts_with("hit:")) {
        return out;
    }
    for ws in machine.values() {
        for s in &ws.sessions {
            let recording_id = recording_of(&s.file);
            for (missing, said) in [
                (Ritual::Greeting, s.greeting),
                (Ritual::Farewell, s.farewell),
            ] {
                let key = ItemKey::session(recording_id, s.start, missing).to_string();
                let granted = verdicts
                    .get(&key)
                    .is_some_and(|v| v.verdict == Verdict::FalseAlarm);
                if said || !granted {
                    continue;
                }
                let at = rows.iter().position(|r| {
                    r.recording_id == recording_id
                        && match missing {
                            Ritual::Greeting => r.utterance.start_s == s.start,
                            Ritual::Farewell => r.utterance.end_s == s.end,
                        }
                });
                if let Some(i) = at {
                    let u = &mut out[i];
                    u.hits.push(reviewed_ritual(missing, u.start, u.end));
                }
            }
        }
    }
    out
}

/// The greeting or farewell a trainer heard where the machine found none.
fn reviewed_ritual(ritual: Ritual, start: f64, end: f64) -> TimedHit {
    let (phrase, situation) = match ritual {
        Ritual::Greeting => ("（审核：有迎声）", "greeting"),
        Ritual::Farewell => ("（审核：有送声）", "farewell"),
    };
    TimedHit {
        start,
        end,
        hit: Hit {
            kind: Kind::Civil,
            phrase: phrase.into(),
            category: situation.into(),
            severity: 1,
            clause: "审核判定".into(),
            matched: String::new(),
            span: 0..0,
            confidence: 1.0,
            method: Method::Exact,
        },
    }
}

/// A scored group of utterances (a window's, or a staff member's) as the record keeps it.
fn counts(ws: &WindowScore) -> ScoreCounts {
    ScoreCounts {
        score: ws.score,
        sessions: ws.sessions.len() as i64,
        utterances: ws.utterances as i64,
        speech_seconds: ws.speech_seconds,
        greeting_sessions: ws.sessions.iter().filter(|s| s.greeting).count() as i64,
        farewell_sessions: ws.sessions.iter().filter(|s| s.farewell).count() as i64,
        civil_hits: ws.civil_hits as i64,
        banned_hits: ws.banned_hits as i64,
        banned_json: serde_json::to_string(&ws.banned).unwrap_or_default(),
        civil_json: serde_json::to_string(&ws.civil).unwrap_or_default(),
        // Filled in beside the machine's numbers by `aggregate`.
        reviewed_score: ws.score,
        reviewed_banned_hits: ws.banned_hits as i64,
        judged_hits: 0,
    }
}

fn same_file(r: &DayUtterance, file: &std::path::Path) -> bool {
    recording_of(file) == r.recording_id
}

fn recording_of(file: &std::path::Path) -> i64 {
    file.to_str().and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// A stored utterance as the scorer reads it.
fn utterance(r: &DayUtterance) -> Utterance {
    let u = &r.utterance;
    Utterance {
        window: r.window.clone(),
        file: PathBuf::from(r.recording_id.to_string()),
        start: u.start_s,
        end: u.end_s,
        text: u.text.clone().unwrap_or_default(),
        normalized: u.normalized.clone().unwrap_or_default(),
        speaker: u.speaker,
        hits: u.hits.iter().filter_map(timed_hit).collect(),
    }
}

/// A stored hit back as the matcher's type (`None` for a row this version cannot read).
fn timed_hit(h: &StoredHit) -> Option<TimedHit> {
    let kind = match h.kind.as_str() {
        "civil" => Kind::Civil,
        "banned" => Kind::Banned,
        _ => return None,
    };
    let method = match h.method.as_str() {
        "exact" => Method::Exact,
        "gapped" => Method::Gapped,
        _ => Method::Sound,
    };
    Some(TimedHit {
        start: h.start_s,
        end: h.end_s,
        hit: Hit {
            kind,
            phrase: h.phrase.clone(),
            category: h.category.clone(),
            severity: h.severity.clamp(0, 255) as u8,
            clause: h.clause.clone(),
            matched: h.matched.clone(),
            span: h.span_start.max(0) as usize..h.span_end.max(0) as usize,
            confidence: h.confidence as f32,
            method,
        },
    })
}

/// Matches stored transcripts again with `matcher` (no Whisper) and stores the hits under
/// `lexicon_version`, keeping other versions' hits. Returns how many recordings were re-matched.
pub fn rematch_utterances(
    store: &Store,
    matcher: &Matcher,
    utterances: &[RescoreUtterance],
    lexicon_version: &str,
    run_id: i64,
) -> Result<usize, StoreError> {
    let mut by_recording: BTreeMap<i64, Vec<(i64, StoredHit)>> = BTreeMap::new();
    for u in utterances {
        let entry = by_recording.entry(u.recording_id).or_default();
        let Some(text) = &u.text else { continue };
        let transcript = transcript(u, text);
        let heard = Utterance::from_transcript(&u.window, PathBuf::new(), &transcript, matcher);
        let clock = u
            .clock_start
            .as_deref()
            .and_then(|c| chrono::DateTime::parse_from_rfc3339(c).ok());
        for h in &heard.hits {
            let at = |s: f64| {
                clock.map(|c| {
                    c + chrono::Duration::milliseconds(((s - u.start_s) * 1000.0).round() as i64)
                })
            };
            let mut stored = super::record::stored_hit(h, &at);
            if stored.day.is_none() {
                stored.day = u.day.clone();
            }
            entry.push((u.id, stored));
        }
    }
    let n = by_recording.len();
    let recordings: Vec<RescoredRecording> = by_recording
        .into_iter()
        .map(|(recording_id, hits)| RescoredRecording { recording_id, hits })
        .collect();
    // Large ranges are written in slices so one transaction stays a reasonable size.
    for chunk in recordings.chunks(200) {
        store.replace_hits(lexicon_version, run_id, chunk)?;
    }
    Ok(n)
}

/// [`rematch_utterances`] for whole recordings.
pub fn rematch(
    store: &Store,
    matcher: &Matcher,
    recording_ids: &[i64],
    lexicon_version: &str,
    run_id: i64,
) -> Result<usize, StoreError> {
    if recording_ids.is_empty() {
        return Ok(0);
    }
    let us = store.utterances_of(recording_ids)?;
    rematch_utterances(store, matcher, &us, lexicon_version, run_id)
}

/// A stored utterance back as a transcript, its pieces timing the hits as on the night.
fn transcript(u: &RescoreUtterance, text: &str) -> Transcript {
    let pieces: Vec<[f64; 4]> = u
        .pieces_json
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_default();
    Transcript {
        start: u.start_s,
        end: u.end_s,
        text: text.to_string(),
        pieces: pieces
            .into_iter()
            .filter_map(|[start, end, a, b]| {
                let span = a as usize..b as usize;
                Some(Piece {
                    start,
                    end,
                    text: text.get(span.clone())?.to_string(),
                    span,
                    no_speech_prob: 0.0,
                    avg_logprob: 0.0,
                })
            })
            .collect(),
        rejected: Vec::new(),
    }
}
