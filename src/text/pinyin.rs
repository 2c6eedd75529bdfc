//! Toneless pinyin of folded text, for matching what Whisper wrote with homophones of what was said.

use pinyin::ToPinyinMulti;

/// The reading of a character that has none (Latin letters, digits): such characters only match
/// themselves.
pub const SYLLABLE_NONE: &str = "";

pub(super) const MAX_READINGS: usize = 4;

/// The toneless readings of each character of a text (every reading of a heteronym, so 重 is both
/// zhong and chong).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syllables {
    chars: Vec<char>,
    readings: Vec<[&'static str; MAX_READINGS]>,
}

impl Syllables {
    /// Readings of `chars`.
    pub fn new(chars: &[char]) -> Syllables {
        let readings = chars
            .iter()
            .map(|&c| {
                let mut r = [SYLLABLE_NONE; MAX_READINGS];
                if let Some(multi) = c.to_pinyin_multi() {
                    for (slot, p) in r.iter_mut().zip(multi) {
                        *slot = p.plain();
                    }
                }
                r
            })
            .collect();
        Syllables {
            chars: chars.to_vec(),
            readings,
        }
    }

    /// Number of characters.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// True for an empty text.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The first (most common) reading of character `i`, or [`SYLLABLE_NONE`].
    pub fn reading(&self, i: usize) -> &'static str {
        self.readings[i][0]
    }

    /// How far character `i` of `self` is from character `j` of `other` as heard: 0 for the same
    /// character or a shared reading (homophones: 令到 for 领导), 0.5 for readings that differ only in
    /// a sound Whisper often confuses (zh/z, n/l, -ng/-n), 1 otherwise.
    pub fn distance(&self, i: usize, other: &Syllables, j: usize) -> f32 {
        if self.chars[i] == other.chars[j] {
            return 0.0;
        }
        let a = live(&self.readings[i]);
        let b = live(&other.readings[j]);
        if a.is_empty() || b.is_empty() {
            return 1.0;
        }
        if a.iter().any(|x| b.contains(x)) {
            return 0.0;
        }
        if a.iter().any(|x| b.iter().any(|y| coarse(x) == coarse(y))) {
            return 0.5;
        }
        1.0
    }
}

fn live<'a>(r: &'a [&'static str; MAX_READINGS]) -> &'a [&'static str] {
    let n = r.iter().take_while(|s| !s.is_empty()).count();
    &r[..n]
}

/// A reading with the distinctions Whisper blurs most often folded away: (initial, final).
pub(super) fn coarse(s: &str) -> (&str, &str) {
    let (initial, rest) = split_initial(s);
    // Aspiration (b/p), retroflexion (zh/z) and n/l are what Whisper and southern speakers blur.
    let initial = match initial {
        "p" => "b",
        "t" => "d",
        "k" => "g",
        "q" => "j",
        "zh" | "ch" | "c" => "z",
        "sh" => "s",
        "n" => "l",
        "f" => "h",
        other => other,
    };
    let rest = rest
        .strip_suffix('g')
        .filter(|r| r.ends_with('n'))
        .unwrap_or(rest);
    (initial, rest)
}

fn split_initial(s: &str) -> (&str, &str) {
    for two in ["zh", "ch", "sh"] {
        if let Some(rest) = s.strip_prefix(two) {
            return (two, rest);
        }
    }
    match s.chars().next() {
        Some(c) if "bpmfdtnlgkhjqxrzcsyw".contains(c) => s.split_at(1),
        _ => ("", s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syl(s: &str) -> Syllables {
        Syllables::new(&s.chars().collect::<Vec<_>>())
    }

    #[test]
    fn homophones_are_equal() {
        let (a, b) = (syl("领导"), syl("令到"));
        assert_eq!(a.distance(0, &b, 0), 0.0);
        assert_eq!(a.distance(1, &b, 1), 0.0);
    }

    #[test]
    fn heteronyms_match_any_reading() {
        let (a, b) = (syl("重"), syl("虫"));
        assert_eq!(a.distance(0, &b, 0), 0.0);
    }

    #[test]
    fn confusable_sounds_are_near() {
        let (a, b) = (syl("领"), syl("您"));
        assert_eq!(a.distance(0, &b, 0), 0.5);
        let (a, b) = (syl("是"), syl("四"));
        assert_eq!(a.distance(0, &b, 0), 0.5);
        let (a, b) = (syl("不"), syl("普"));
        assert_eq!(a.distance(0, &b, 0), 0.5);
    }

    #[test]
    fn unrelated_and_latin() {
        let (a, b) = (syl("好a"), syl("坐b"));
        assert_eq!(a.distance(0, &b, 0), 1.0);
        assert_eq!(a.distance(1, &b, 1), 1.0);
        assert_eq!(a.distance(1, &a, 1), 0.0);
    }
}
