//! Text stage: normalizes transcripts and segments them, never losing the way back to what was said.
//!
//! A [`NormalizedText`] is the transcript folded for matching — Traditional → Simplified, full width →
//! half width, punctuation and spaces removed — plus, for every normalized character, the byte range
//! of the original transcript it came from, so a hit found in the folded text can be shown where it
//! was said.

pub mod lines;
pub mod mask;
mod normalize;
mod pinyin;
mod segment;
mod sound;

pub use lines::{Piece, Pieces, MAX_PIECE_BYTES};
pub use mask::{mask_personal, Masked};
pub use normalize::Normalizer;
pub use pinyin::{confusions, Syllables, SYLLABLE_NONE};
pub use segment::Segmenter;
pub use sound::{Blur, SoundId, SoundTable, NO_SOUND};

use std::ops::Range;

/// A transcript folded for matching, with a map back to the original.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedText {
    original: String,
    chars: Vec<char>,
    /// Byte range in `original` of each normalized character.
    origin: Vec<Range<usize>>,
    /// `breaks[i]` is true when punctuation or a space stood before character `i` (a pause).
    breaks: Vec<bool>,
}

impl NormalizedText {
    /// The transcript as the recogniser wrote it.
    pub fn original(&self) -> &str {
        &self.original
    }

    /// The folded characters that matching runs on.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// The folded text as a string.
    pub fn text(&self) -> String {
        let mut text = String::with_capacity(self.original.len());
        text.extend(&self.chars);
        text
    }

    /// Number of folded characters.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// True when nothing matchable is left (only punctuation or spaces).
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The byte range of the original transcript that folded characters `chars` came from.
    pub fn original_span(&self, chars: Range<usize>) -> Range<usize> {
        if chars.start >= chars.end || chars.end > self.origin.len() {
            return 0..0;
        }
        self.origin[chars.start].start..self.origin[chars.end - 1].end
    }

    /// The original text that folded characters `chars` came from.
    pub fn original_slice(&self, chars: Range<usize>) -> &str {
        &self.original[self.original_span(chars)]
    }

    /// True when a pause (punctuation or space) falls strictly inside `chars`.
    pub fn crosses_break(&self, chars: Range<usize>) -> bool {
        (chars.start + 1..chars.end).any(|i| self.breaks.get(i).copied().unwrap_or(false))
    }

    /// True when a pause stands right before folded character `i` (false at the end).
    pub fn pause_before(&self, i: usize) -> bool {
        self.breaks.get(i).copied().unwrap_or(false)
    }

    /// What the original holds between folded characters `i - 1` and `i` (punctuation, spaces;
    /// before the first or after the last character: the start or the rest of the original).
    pub fn between(&self, i: usize) -> &str {
        let from = match i {
            0 => 0,
            _ => self
                .origin
                .get(i - 1)
                .map_or(self.original.len(), |r| r.end),
        };
        let to = self.origin.get(i).map_or(self.original.len(), |r| r.start);
        self.original.get(from..to.max(from)).unwrap_or("")
    }
}
