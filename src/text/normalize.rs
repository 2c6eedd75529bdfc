//! Folding of transcripts for matching: Traditional → Simplified, width, case, punctuation, spaces.

use std::ops::{Range, RangeInclusive};
use std::sync::{Arc, OnceLock};

use ferrous_opencc::{config::BuiltinConfig, OpenCC};

use super::NormalizedText;

/// Folds transcripts into [`NormalizedText`]. Cheap to clone; build it once and share it.
#[derive(Clone)]
pub struct Normalizer {
    t2s: Option<Arc<OpenCC>>,
    /// Characters OpenCC might change: a text without any is its own Simplified form, so the
    /// conversion (the costliest step of folding) is skipped for it.
    changing: Arc<CharSet>,
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
        SHARED.get_or_init(|| {
            // The T2S dictionaries are compiled into ferrous-opencc, so this cannot fail on a good
            // build; if it ever does, fall back to no conversion rather than refusing to work.
            let t2s = OpenCC::from_config(BuiltinConfig::T2s).ok().map(Arc::new);
            let changing = Arc::new(t2s.as_deref().map(changing_chars).unwrap_or_default());
            Normalizer { t2s, changing }
        })
    }

    /// Folds `original` for matching, remembering where each folded character came from.
    pub fn normalize(&self, original: &str) -> NormalizedText {
        // Fold directly, as long as nothing OpenCC would change comes: then the text is its own
        // Simplified form (but for 著, which fix_zhe handles after any conversion).
        let converts = self.t2s.is_some();
        let mut changing = false;
        let mut chars = original.char_indices().peekable();
        let simplified = std::iter::from_fn(|| {
            let (i, c) = chars.next()?;
            if converts && self.changing.contains(c) {
                changing = true;
                return None;
            }
            let folded = match c {
                '著' if converts => zhe(chars.peek().map(|&(_, next)| next)),
                c => c,
            };
            Some((i..i + c.len_utf8(), folded))
        });
        let folded = fold(original, simplified);
        if changing {
            return self.normalize_converting(original);
        }
        folded
    }

    /// Folds `original`, converting it with OpenCC whatever it holds — what
    /// [`Normalizer::normalize`] did before it learned to skip texts with nothing to convert. Both
    /// give the same result; this one is the reference that tests and benchmarks compare with.
    pub fn normalize_converting(&self, original: &str) -> NormalizedText {
        fold(original, self.to_simplified(original).into_iter())
    }

    /// Folds a lexicon phrase the same way transcripts are folded, as a plain string.
    pub fn fold(&self, phrase: &str) -> String {
        self.normalize(phrase).text()
    }

    /// Converts to Simplified, keeping for every output character the byte range it came from.
    fn to_simplified(&self, original: &str) -> Vec<(Range<usize>, char)> {
        let ranges: Vec<Range<usize>> = original
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

/// Width, case, punctuation and spaces folded away from Simplified characters (each with the
/// byte range of `original` it came from).
fn fold(original: &str, simplified: impl Iterator<Item = (Range<usize>, char)>) -> NormalizedText {
    let capacity = original.len() / 3 + 1;
    let mut chars = Vec::with_capacity(capacity);
    let mut origin = Vec::with_capacity(capacity);
    let mut breaks = Vec::with_capacity(capacity);
    let mut pending_break = false;
    for (range, c) in simplified {
        // Most characters are common ideographs, which nothing below changes or drops.
        if ('\u{4E00}'..='\u{9FFF}').contains(&c) {
            chars.push(c);
            origin.push(range);
            breaks.push(std::mem::take(&mut pending_break));
            continue;
        }
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

/// A set of characters of the CJK planes, one bit each.
#[derive(Default)]
struct CharSet {
    bits: Vec<u64>,
}

impl CharSet {
    #[inline]
    fn contains(&self, c: char) -> bool {
        let i = c as usize;
        self.bits
            .get(i / 64)
            .is_some_and(|word| word & (1 << (i % 64)) != 0)
    }

    fn insert(&mut self, c: char) {
        let i = c as usize;
        if self.bits.len() <= i / 64 {
            self.bits.resize(i / 64 + 1, 0);
        }
        self.bits[i / 64] |= 1 << (i % 64);
    }
}

/// Where every character OpenCC converts lies: the CJK blocks of the first plane, and the CJK planes.
const CJK: [RangeInclusive<u32>; 3] = [0x2E80..=0x9FFF, 0xF900..=0xFAFF, 0x20000..=0x3FFFF];

/// Characters that OpenCC T2S changes only inside some phrases of its TSPhrases dictionary, never
/// alone (瞭 stays 瞭, but 不瞭解 becomes 不了解), in phrases where nothing else changes alone: a
/// text holding such a phrase has no other sign of it. (么 and 俱 also change only in phrases, but
/// those hold 麼/麽 or 傢, which change alone.) Read from ferrous-opencc's TSPhrases.txt and
/// TSCharacters.txt.
const CHANGED_IN_PHRASES: &str = "沈牴瞭藉衹覆";

/// Every character that OpenCC T2S converts to something else, alone or in a phrase: one
/// conversion of all CJK characters, each on a line of its own so no phrase spans two.
fn changing_chars(t2s: &OpenCC) -> CharSet {
    let all: Vec<char> = CJK
        .iter()
        .cloned()
        .flatten()
        .filter_map(char::from_u32)
        .collect();
    let mut lines = String::with_capacity(all.len() * 5);
    for &c in &all {
        lines.push(c);
        lines.push('\n');
    }
    let mut set = CharSet::default();
    for (&c, converted) in all.iter().zip(t2s.convert(&lines).split('\n')) {
        if converted.chars().ne([c]) {
            set.insert(c);
        }
    }
    CHANGED_IN_PHRASES.chars().for_each(|c| set.insert(c));
    set
}

/// OpenCC keeps 著 (it is also Simplified, as in 著名), but in speech it is almost always the
/// aspect particle 着 written the Traditional way (忙著 → 忙着).
fn fix_zhe(mut chars: Vec<(Range<usize>, char)>) -> Vec<(Range<usize>, char)> {
    for i in 0..chars.len() {
        if chars[i].1 == '著' {
            chars[i].1 = zhe(chars.get(i + 1).map(|c| c.1));
        }
    }
    chars
}

/// 著 followed by `next`: 着 unless it starts a word of 著 (著名, 著作…).
fn zhe(next: Option<char>) -> char {
    match next {
        Some('名' | '作' | '称' | '述' | '者' | '书' | '录') => '著',
        _ => '着',
    }
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

    #[test]
    fn skipping_the_conversion_changes_nothing() {
        let n = Normalizer::shared();
        for text in [
            "您好，请坐。有什么可以帮您？",
            "他著名的著作；忙著呢，著急",
            "著",
            "不瞭解，反覆，傢俱，彷彿",
            "一目瞭然的么麽小事，么麼，什么",
            "沈默的沈先生，牴觸，衹得",
            "乾隆年间天气乾燥",
            "ＡＢｃ　１２３ hello 🙂 𠀀𪚥",
            "",
        ] {
            assert_eq!(n.normalize(text), n.normalize_converting(text), "{text}");
        }
        // The phrase-only characters are why the list exists: alone they stay, in a phrase not.
        let t2s = n.t2s.as_deref().unwrap();
        for (alone, phrase) in [('瞭', "不瞭解"), ('覆', "反覆"), ('沈', "沈默")] {
            assert_eq!(t2s.convert(&alone.to_string()), alone.to_string());
            assert_ne!(t2s.convert(phrase), phrase);
            assert!(n.changing.contains(alone));
        }
        assert!(n.changing.contains('見') && !n.changing.contains('见'));
        // 什么 is everywhere; 么 changes only next to 麼 or 麽, which change alone.
        assert!(
            !n.changing.contains('么') && n.changing.contains('麼') && n.changing.contains('麽')
        );
        assert!(!n.changing.contains('俱') && n.changing.contains('傢'));
    }

    proptest::proptest! {
        /// Any mix of Simplified, Traditional and phrase-only characters, punctuation and Latin
        /// folds the same with or without the shortcut.
        #[test]
        fn the_shortcut_is_exact(text in "[您好请坐忙著名作見門們瞭解反覆傢俱乾隆燥什么麽麼彷彿沈默船藉口牴牾衹得，。！？ a-zA-Z0-9０１Ａ]{0,24}") {
            let n = Normalizer::shared();
            proptest::prop_assert_eq!(n.normalize(&text), n.normalize_converting(&text));
        }
    }
}
