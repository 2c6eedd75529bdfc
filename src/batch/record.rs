//! One transcript into what the record keeps: masked text, hits with clock times, and its clip.

use std::path::Path;

use chrono::{DateTime, FixedOffset};
use sha2::{Digest, Sha256};

use crate::asr::Transcript;
use crate::clock;
use crate::lexicon::Kind;
use crate::matcher::Matcher;
use crate::store::{FileRecord, StoredHit, StoredUtterance};
use crate::utterance::{TimedHit, Utterance};

use super::FileRecordHead;

/// Where and how one file's utterances are recorded.
pub(crate) struct Context<'a> {
    pub window: &'a str,
    pub sha256: &'a str,
    pub clock_start: DateTime<FixedOffset>,
    pub matcher: &'a Matcher,
    pub clip_dir: &'a Path,
    pub clip_sample: f64,
    pub attributor: &'a crate::speaker::Attributor,
}

/// The utterances of the file in hand, as they are heard (in any order).
#[derive(Default)]
pub(crate) struct FileInProgress {
    utterances: Vec<StoredUtterance>,
    clip_errors: Vec<String>,
}

impl FileInProgress {
    pub(crate) fn push(&mut self, (utterance, clip_error): (StoredUtterance, Option<String>)) {
        self.utterances.push(utterance);
        self.clip_errors.extend(clip_error);
    }

    /// The file's record: utterances in time order, numbered.
    pub(crate) fn into_record(mut self, head: FileRecordHead) -> FileRecord {
        self.utterances
            .sort_by(|a, b| a.start_s.total_cmp(&b.start_s));
        for (i, u) in self.utterances.iter_mut().enumerate() {
            u.seq = i as i64;
        }
        // A clip that could not be written (disk full) loses the evidence audio, not the text:
        // said on the file, which is retried on the next run.
        let error = head.error.or_else(|| {
            self.clip_errors
                .first()
                .map(|e| format!("{e} (the transcript is kept)"))
        });
        FileRecord {
            duration: head.duration,
            format: head.format,
            clock_start: Some(clock::rfc3339(&head.clock.start)),
            clock_source: Some(head.clock.source.as_str().to_string()),
            day: Some(clock::day(&head.clock.start)),
            error,
            lexicon_version: head.lexicon_version.to_string(),
            run_id: head.run_id,
            utterances: self.utterances,
        }
    }
}

/// Masks, matches and times one transcript; writes its clip when it holds a banned phrase or
/// falls in the sample. A clip that cannot be written comes back as the error beside the utterance.
/// `voice` is the utterance's speaker embedding (one-microphone windows, model installed): kept
/// so the day's voices can tell staff from citizens once every file of the day is in.
pub(crate) fn utterance(
    cx: &Context,
    transcript: &Transcript,
    segment: &crate::vad::SpeechSegment,
    voice: Option<Vec<f32>>,
) -> (StoredUtterance, Option<String>) {
    let samples = &segment.samples[..];
    let masked = mask(transcript);
    let u = Utterance::from_transcript(cx.window, Default::default(), &masked, cx.matcher);
    let at = |s: f64| cx.clock_start + chrono::Duration::milliseconds((s * 1000.0).round() as i64);
    let start_clock = at(masked.start);
    let banned = u.hits.iter().any(|h| h.hit.kind == Kind::Banned);
    let name = clip_name(start_clock, cx.window, cx.sha256, masked.start);
    let keep = banned || sampled(cx.sha256, masked.start, cx.clip_sample);
    let mut clip_error = None;
    let clip = if keep && !samples.is_empty() {
        let written = crate::inside::join(cx.clip_dir, Path::new(&name))
            .map_err(|e| e.to_string())
            .and_then(|path| {
                crate::audio::clip::write_opus(&path, samples).map_err(|e| e.to_string())
            });
        match written {
            Ok(_) => Some(name),
            Err(e) => {
                clip_error = Some(e);
                None
            }
        }
    } else {
        None
    };
    let pieces: Vec<[f64; 4]> = masked
        .pieces
        .iter()
        .map(|p| [p.start, p.end, p.span.start as f64, p.span.end as f64])
        .collect();
    let stored = StoredUtterance {
        seq: 0,
        start_s: masked.start,
        end_s: masked.end,
        clock_start: Some(clock::rfc3339(&start_clock)),
        clock_end: Some(clock::rfc3339(&at(masked.end))),
        day: Some(clock::day(&start_clock)),
        text: Some(u.text.clone()),
        normalized: Some(u.normalized.clone()),
        pieces_json: Some(serde_json::to_string(&pieces).unwrap_or_default()),
        speaker: cx.attributor.attribute(cx.window, segment),
        voice,
        clip,
        hits: u
            .hits
            .iter()
            .map(|h| stored_hit(h, &|s| Some(at(s))))
            .collect(),
    };
    (stored, clip_error)
}

/// A hit as the record keeps it.
pub(crate) fn stored_hit(
    h: &TimedHit,
    at: &dyn Fn(f64) -> Option<DateTime<FixedOffset>>,
) -> StoredHit {
    let clock = at(h.start);
    StoredHit {
        day: clock.as_ref().map(clock::day),
        start_s: h.start,
        end_s: h.end,
        clock_time: clock.as_ref().map(clock::rfc3339),
        kind: kind_name(h.hit.kind).into(),
        phrase: h.hit.phrase.clone(),
        category: h.hit.category.clone(),
        severity: h.hit.severity as i64,
        clause: h.hit.clause.clone(),
        matched: h.hit.matched.clone(),
        span_start: h.hit.span.start as i64,
        span_end: h.hit.span.end as i64,
        confidence: h.hit.confidence as f64,
        method: method_name(h.hit.method).into(),
    }
}

pub(crate) fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Civil => "civil",
        Kind::Banned => "banned",
    }
}

pub(crate) fn method_name(m: crate::matcher::Method) -> &'static str {
    match m {
        crate::matcher::Method::Exact => "exact",
        crate::matcher::Method::Gapped => "gapped",
        crate::matcher::Method::Sound => "sound",
    }
}

/// The transcript with personal numbers masked in its text and in every piece (spans stay valid:
/// masking keeps byte lengths). The raw digits go no further than this function.
fn mask(t: &Transcript) -> Transcript {
    let masked = crate::text::mask::mask_personal(&t.text);
    let mut out = t.clone();
    out.text = masked.text;
    for p in &mut out.pieces {
        if let Some(s) = out.text.get(p.span.clone()) {
            p.text = s.to_string();
        }
    }
    out.rejected = t
        .rejected
        .iter()
        .map(|(text, why)| (crate::text::mask::mask_personal(text).text, *why))
        .collect();
    out
}

/// Whether an utterance without a banned phrase keeps its audio: a stable choice from the
/// recording and the time, so a re-run keeps the same ones.
fn sampled(sha256: &str, start: f64, share: f64) -> bool {
    if share <= 0.0 {
        return false;
    }
    let h = Sha256::digest(format!("{sha256}:{:.3}", start).as_bytes());
    let x = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as f64 / u32::MAX as f64;
    x < share
}

/// A clip's path under the clip folder: `DAY/WINDOW/HHMMSS_<recording>_<ms>.opus`, with the
/// window escaped as a folder name (it comes from file names) so the path stays inside.
pub fn clip_name(clock: DateTime<FixedOffset>, window: &str, sha256: &str, start: f64) -> String {
    format!(
        "{}/{}/{}_{}_{}.opus",
        clock::day(&clock),
        crate::inside::component(window),
        clock.format("%H%M%S"),
        &sha256[..sha256.len().min(12)],
        (start * 1000.0).round() as i64
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_names_stay_inside_the_clip_folder() {
        let t = DateTime::parse_from_rfc3339("2026-11-30T08:30:05+08:00").unwrap();
        let long = "窗".repeat(300);
        for w in [
            "../../etc",
            "...",
            "",
            "a/b",
            "w07",
            "C:\\x\\..",
            "a\0b",
            "/abs",
            &long,
        ] {
            let n = clip_name(t, w, "abcdef0123456789", 1.5);
            let p = Path::new(&n);
            assert!(crate::inside::is_plain(p), "{n}");
            assert!(n.starts_with("2026-11-30/"), "{n}");
        }
        assert_eq!(
            clip_name(t, "w07", "abcdef0123456789", 1.5),
            "2026-11-30/w07/083005_abcdef012345_1500.opus"
        );
    }

    #[test]
    fn the_sample_is_stable_and_about_the_share() {
        let n = (0..10_000)
            .filter(|i| sampled("abc", *i as f64 * 0.5, 0.1))
            .count();
        assert!((800..1200).contains(&n), "{n}");
        assert_eq!(sampled("abc", 3.0, 0.5), sampled("abc", 3.0, 0.5));
        assert!(!sampled("abc", 3.0, 0.0));
    }
}
