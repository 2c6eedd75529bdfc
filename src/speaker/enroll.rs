//! Enrolment: a staff member's (or a window's) voiceprint from recordings of them speaking alone.
//!
//! Learning the staff's voice needs at least two sessions of a day and a voice that recurs
//! across them; an enrolled voiceprint tells staff from citizens from the first utterance. The
//! recordings are read like any other (every format `analyze` reads), their speech found by the
//! same VAD, and each speech segment embedded; the print is their length-weighted mean. The
//! segments are also split into their two least alike groups, so a recording with a second voice
//! in it is caught at enrolment rather than at the window.

use std::path::{Path, PathBuf};

use super::encoder::{similarity, weighted_mean, Encoder};
use super::voices::Thresholds;
use crate::vad::{Segmenter, VadConfig};

/// Speech an enrolment needs at least, in seconds (about three sentences).
pub const MIN_SPEECH_SECONDS: f64 = 5.0;

/// The model a voiceprint belongs to: prints from another embedding model do not compare.
pub fn model_name() -> String {
    format!("resemblyzer-ge2e:{}", &super::install::SHA256[..12])
}

/// One enrolled voice and how it was made.
#[derive(Debug, Clone)]
pub struct Voiceprint {
    /// L2-normalised embedding.
    pub voice: Vec<f32>,
    /// Seconds of speech it was made from.
    pub seconds: f64,
    /// Speech segments embedded.
    pub pieces: usize,
    /// The pieces split in the two groups least alike (2-means from the least similar pair):
    /// how similar the two groups' voices are, and where the smaller group starts. One speaker's
    /// pieces split into two groups of the same voice; a second person gives two voices.
    pub split: Option<(f32, PathBuf, f64)>,
}

impl Voiceprint {
    /// Whether the pieces are one speaker's: their two groups' voices are not told apart (not
    /// below the `same − band` line that makes a citizen).
    pub fn one_voice(&self) -> bool {
        let t = Thresholds::default();
        self.split
            .as_ref()
            .is_none_or(|(sim, ..)| *sim >= t.same - t.band)
    }
}

/// A piece of enrolment speech: where it starts, how long it is, its voice.
struct Piece {
    file: PathBuf,
    start: f64,
    seconds: f64,
    voice: Vec<f32>,
}

/// The length-weighted mean voice of `pieces`.
fn centre<'a>(pieces: impl Iterator<Item = &'a Piece>) -> Option<Vec<f32>> {
    weighted_mean(pieces.map(|p| (&p.voice[..], p.seconds as f32)))
}

/// Two groups of `pieces` (see [`Voiceprint::split`]).
fn split(pieces: &[Piece]) -> Option<(f32, PathBuf, f64)> {
    let mut seeds: Option<(usize, usize, f32)> = None;
    for i in 0..pieces.len() {
        for j in i + 1..pieces.len() {
            let sim = similarity(&pieces[i].voice, &pieces[j].voice);
            if seeds.is_none_or(|(.., s)| sim < s) {
                seeds = Some((i, j, sim));
            }
        }
    }
    let (i, j, _) = seeds?;
    let (mut a, mut b) = (pieces[i].voice.clone(), pieces[j].voice.clone());
    let mut in_a = vec![false; pieces.len()];
    for _ in 0..3 {
        for (k, p) in pieces.iter().enumerate() {
            in_a[k] = similarity(&p.voice, &a) >= similarity(&p.voice, &b);
        }
        let group = |want: bool| {
            pieces
                .iter()
                .zip(&in_a)
                .filter(move |(_, &x)| x == want)
                .map(|(p, _)| p)
        };
        a = centre(group(true))?;
        b = centre(group(false))?;
    }
    let seconds = |want: bool| -> f64 {
        pieces
            .iter()
            .zip(&in_a)
            .filter(|(_, &x)| x == want)
            .map(|(p, _)| p.seconds)
            .sum()
    };
    let smaller = seconds(true) < seconds(false);
    let first = pieces.iter().zip(&in_a).find(|(_, &x)| x == smaller)?.0;
    Some((similarity(&a, &b), first.file.clone(), first.start))
}

/// The voiceprint of `files` (recordings of one person speaking alone). An unreadable file, or
/// too little speech in all of them together, is one line naming it and the fix.
pub fn voiceprint(
    encoder: &Encoder,
    files: &[PathBuf],
    vad: VadConfig,
) -> Result<Voiceprint, String> {
    let mut pieces: Vec<Piece> = Vec::new();
    for file in files {
        for (start, samples) in speech(file, vad.clone())? {
            if let Some(voice) = encoder.embed(&samples) {
                pieces.push(Piece {
                    file: file.clone(),
                    start,
                    seconds: samples.len() as f64 / 16_000.0,
                    voice,
                });
            }
        }
    }
    let seconds: f64 = pieces.iter().map(|p| p.seconds).sum();
    if seconds < MIN_SPEECH_SECONDS {
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        return Err(format!(
            "{}: {seconds:.1} s of speech found (in pieces of at least {} s), enrolment needs at least {MIN_SPEECH_SECONDS} s — record the person speaking alone for 10–30 s",
            names.join(", "),
            super::encoder::MIN_SECONDS
        ));
    }
    let voice = centre(pieces.iter()).ok_or("the recordings' voices cancel out")?;
    Ok(Voiceprint {
        voice,
        seconds,
        pieces: pieces.len(),
        split: split(&pieces),
    })
}

/// The speech segments of one recording: (start in seconds, 16 kHz samples).
fn speech(file: &Path, vad: VadConfig) -> Result<Vec<(f64, Vec<f32>)>, String> {
    let source = crate::audio::open(file).map_err(|e| e.to_string())?;
    let mut segmenter = Segmenter::new(vad);
    let mut out = Vec::new();
    for frame in source {
        let frame = frame.map_err(|e| e.to_string())?;
        out.extend(
            segmenter
                .push(&frame)
                .into_iter()
                .map(|s| (s.start, s.samples)),
        );
    }
    out.extend(segmenter.finish().map(|s| (s.start, s.samples)));
    Ok(out)
}
