//! Folding of transcripts for matching: Traditional → Simplified, width, case, punctuation, spaces.

use std::sync::{Arc, OnceLock};

use ferrous_opencc::{config::BuiltinConfig, OpenCC};

use super::NormalizedText;

/// Folds transcripts into [`NormalizedText`]. Cheap to clone; build it once and share it.
#[derive(Clone)]
pub struct Normalizer {
    t2s: Option<Arc<OpenCC>>,
}

impl std::fmt::Debug for Normalizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Normalizer")
            .field("t2s", &self.t2s.is_some())
            .finish()
    }
}

impl Default for Normalizer {
    fn default() -> Self {
        Self::shared().clone()
    }
}

impl Normalizer {
    /// The process-wide normalizer (the OpenCC dictionaries are loaded once).
    pub fn shared() -> &'static Normalizer {
        static SHARED: OnceLock<Normalizer> = OnceLock::new();
        SHARED.get_or_init(|| Normalizer {
            // The T2S dictionaries are compiled into ferrous-opencc, so this cannot fail on a good
            // build; if it ever does, fall back to no conversion rather than refusing to work.
            t2s: OpenCC::from_config(BuiltinConfig::T2s).ok().map(Arc::new),
        })
    }

    /// Folds `original` for matching, remembering where each folded character came from.
    pub fn normalize(&self, original: &str) -> NormalizedText {
        let simplified = self.to_simplified(original);
        let mut chars = Vec::with_capacity(simplified.len() / 3 + 1);
        let mut origin = Vec::with_capacity(chars.capacity());
        let mut breaks = Vec::with_capacity(chars.capacity());
        let mut pending_break = false;
        for (range, c) in simplified {
            let c = fold_width(c).to_ascii_lowercase();
            if is_sentence_end(c) {
                pending_break = true;
                continue;
            }
            if c.is_whitespace() || is_punctuation(c) {
                pending_break = true;
                continue;
            }
            chars.push(c);
            origin.push(range);
            breaks.push(std::mem::take(&mut pending_break));
        }
        NormalizedText {
            original: original.to_string(),
            chars,
            origin,
            breaks,
        }
    }

    /// Folds a lexicon phrase the same way transcripts are folded, as a plain string.
    pub fn fold(&self, phrase: &str) -> String {
        self.normalize(phrase).text()
    }

    /// Converts to Simplified, keeping for every output character the byte range it came from.
    fn to_simplified(&self, original: &str) -> Vec<(std::ops::Range<usize>, char)> {
        let ranges: Vec<std::ops::Range<usize>> = original
            .char_indices()
            .map(|(i, c)| i..i + c.len_utf8())
            .collect();
        let Some(t2s) = &self.t2s else {
            return ranges.into_iter().zip(original.chars()).collect();
        };
        // Whole-text conversion gets phrase-level choices right (乾燥 → 干燥 but 乾隆 stays); it
        // almost always keeps the character count, which keeps the map exact. When it does not,
        // convert character by character so the map stays honest.
        let whole = t2s.convert(original);
        if whole.chars().count() == ranges.len() {
            return fix_zhe(ranges.into_iter().zip(whole.chars()).collect());
        }
        let mut out = Vec::with_capacity(ranges.len());
        for range in ranges {
            let piece = t2s.convert(&original[range.clone()]);
            for c in piece.chars() {
                out.push((range.clone(), c));
            }
        }
        fix_zhe(out)
    }
}

/// OpenCC keeps 著 (it is also Simplified, as in 著名), but in speech it is almost always the
/// aspect particle 着 written the Traditional way (忙著 → 忙着).
fn fix_zhe(mut chars: Vec<(std::ops::Range<usize>, char)>) -> Vec<(std::ops::Range<usize>, char)> {
    for i in 0..chars.len() {
        if chars[i].1 == '著' {
            let next = chars.get(i + 1).map(|c| c.1);
            if !matches!(next, Some('名' | '作' | '称' | '述' | '者' | '书' | '录')) {
                chars[i].1 = '着';
            }
        }
    }
    chars
}

/// Full-width ASCII and the ideographic space to their half-width forms.
fn fold_width(c: char) -> char {
    match c {
        '\u{3000}' => ' ',
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

fn is_sentence_end(c: char) -> bool {
    matches!(c, '。' | '？' | '！' | '?' | '!' | '.' | ';' | '；' | '…')
}

fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(
            c,
            '，' | '、'
                | '：'
                | '“'
                | '”'
                | '‘'
                | '’'
                | '《'
                | '》'
                | '「'
                | '」'
                | '『'
                | '』'
                | '（'
                | '）'
                | '【'
                | '】'
                | '—'
                | '～'
                | '·'
                | '〈'
                | '〉'
                | '﹏'
                | '♪'
                | '♫'
                | '…'
        )
        || ('\u{2000}'..='\u{206F}').contains(&c)
        || ('\u{3000}'..='\u{303F}').contains(&c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traditional_becomes_simplified_and_keeps_map() {
        let n = Normalizer::shared().normalize("沒看見我正忙著嗎？");
        assert_eq!(n.text(), "没看见我正忙着吗");
        assert_eq!(n.original_slice(1..3), "看見");
    }

    #[test]
    fn width_case_punctuation_and_spaces_fold() {
        let n = Normalizer::shared().normalize("有牌子， 自己看！ＡＢｃ １２");
        assert_eq!(n.text(), "有牌子自己看abc12");
        assert_eq!(n.original_slice(6..9), "ＡＢｃ");
    }

    #[test]
    fn pauses_are_remembered() {
        let n = Normalizer::shared().normalize("不知道。您带身份证了吗");
        assert!(n.crosses_break(0..5));
        assert!(!n.crosses_break(0..3));
        assert!(Normalizer::shared()
            .normalize("我不管，有")
            .crosses_break(0..4));
    }

    #[test]
    fn empty_and_punctuation_only() {
        assert!(Normalizer::shared().normalize("").is_empty());
        assert!(Normalizer::shared().normalize("。。，！  ").is_empty());
    }
}
