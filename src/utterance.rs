//! The record of one utterance after matching: where and when it was said, what was heard, what was found.

use std::path::PathBuf;

use crate::asr::Transcript;
use crate::matcher::{Hit, Matcher};
use crate::speaker::Speaker;

/// One utterance of one window, with its hits. This is what scoring and every sink consume.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Utterance {
    pub window: String,
    pub file: PathBuf,
    /// Seconds from the start of the file.
    pub start: f64,
    pub end: f64,
    /// What Whisper wrote.
    pub text: String,
    /// The folded text the matcher read.
    pub normalized: String,
    /// Who said it (`speaker`, `speaker_confidence` in machine formats).
    #[serde(flatten)]
    pub speaker: Speaker,
    /// Reported on their own (the `hits` list), so not repeated inside each utterance.
    #[serde(skip)]
    pub hits: Vec<TimedHit>,
}

/// A hit with the time it was said, narrowed to the Whisper pieces that hold it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TimedHit {
    pub start: f64,
    pub end: f64,
    #[serde(flatten)]
    pub hit: Hit,
}

impl Utterance {
    /// The same utterance, said by `speaker`.
    pub fn spoken_by(mut self, speaker: Speaker) -> Utterance {
        self.speaker = speaker;
        self
    }

    /// Matches a transcript of `file` at `window`.
    pub fn from_transcript(
        window: &str,
        file: PathBuf,
        transcript: &Transcript,
        matcher: &Matcher,
    ) -> Utterance {
        let (start, end) = (transcript.start, transcript.end);
        let text = transcript.text.clone();
        Utterance::matched(window, file, (start, end), text, matcher, |span| {
            transcript.time_of(span)
        })
    }

    /// A text-only utterance (no audio): line `n` of a text input, said from second `n` to `n + 1`.
    pub fn from_text(
        window: &str,
        file: PathBuf,
        n: usize,
        line: &str,
        matcher: &Matcher,
    ) -> Utterance {
        let (start, end) = (n as f64, n as f64 + 1.0);
        Utterance::matched(
            window,
            file,
            (start, end),
            line.to_string(),
            matcher,
            |_| (start, end),
        )
    }

    /// Matches `text`, said from `said.0` to `said.1` seconds; `time_of` narrows a hit's span.
    fn matched(
        window: &str,
        file: PathBuf,
        said: (f64, f64),
        text: String,
        matcher: &Matcher,
        time_of: impl Fn(&std::ops::Range<usize>) -> (f64, f64),
    ) -> Utterance {
        let folded = matcher.normalizer().normalize(&text);
        let hits = matcher
            .find_normalized(&folded)
            .into_iter()
            .map(|hit| {
                let (start, end) = time_of(&hit.span);
                TimedHit { start, end, hit }
            })
            .collect();
        Utterance {
            window: window.to_string(),
            file,
            start: said.0,
            end: said.1,
            text,
            normalized: folded.text(),
            speaker: Speaker::UNKNOWN,
            hits,
        }
    }
}
