//! Toneless pinyin of folded text, for matching what Whisper wrote with homophones of what was said.

use std::collections::HashMap;
use std::sync::OnceLock;

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
        let readings = chars.iter().map(|&c| readings(c)).collect();
        Syllables {
            chars: chars.to_vec(),
            readings,
        }
    }

    /// The characters read.
    pub fn chars(&self) -> &[char] {
        &self.chars
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
    /// character or a shared reading (homophones: 令到 for 领导), 0.5 for readings Whisper was seen to
    /// confuse (the confusion table: 牌 heard as 台), 1 otherwise.
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

/// The toneless readings of `c` that modern Mandarin uses, first (most common) first, padded with
/// [`SYLLABLE_NONE`]: the pinyin crate's first reading, and its others only where CC-CEDICT's words
/// use them (`readings.tsv`). The crate lists every reading Unihan knows, archaic ones included, and
/// those made false homophones: 不, 包 and 还 all read "fu", so 包小的 sounded like 不晓得 and
/// 怎么付不了 like 怎么还不懂.
pub(super) fn readings(c: char) -> [&'static str; MAX_READINGS] {
    let mut out = [SYLLABLE_NONE; MAX_READINGS];
    let Some(multi) = c.to_pinyin_multi() else {
        return out;
    };
    let modern = modern().get(&c);
    let mut n = 0;
    for (i, p) in multi.into_iter().enumerate() {
        let plain = p.plain();
        if plain.is_empty() || out[..n].contains(&plain) {
            continue;
        }
        if i == 0 || modern.is_some_and(|m| m.contains(&plain)) {
            out[n] = plain;
            n += 1;
            if n == MAX_READINGS {
                break;
            }
        }
    }
    out
}

/// Characters whose modern readings are more than their first: `char<TAB>reading reading…` lines,
/// `#` comments (`scripts/readings.sh` writes them from CC-CEDICT).
const READINGS: &str = include_str!("readings.tsv");

fn modern() -> &'static HashMap<char, Vec<&'static str>> {
    static TABLE: OnceLock<HashMap<char, Vec<&'static str>>> = OnceLock::new();
    TABLE.get_or_init(|| {
        READINGS
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let (c, r) = l.split_once('\t')?;
                let mut chars = c.chars();
                let c = chars.next().filter(|_| chars.next().is_none())?;
                Some((c, r.split(' ').collect()))
            })
            .collect()
    })
}

/// The syllable pairs Whisper was seen to confuse, mined from its transcripts of the labelled clips
/// (`scripts/confusions.sh`): `said<TAB>heard<TAB>count<TAB>example` lines, `#` comments.
const CONFUSIONS: &str = include_str!("confusions.tsv");

/// What is left of a reading when the confusions Whisper makes are folded away: the first (in
/// byte order) of the syllables the confusion table links it with, directly or through another;
/// the reading itself when the table does not name it. Two readings are near sounds when their
/// blurs are equal and they differ.
pub(super) fn coarse(s: &'static str) -> &'static str {
    static CLASSES: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    CLASSES
        .get_or_init(|| classes(CONFUSIONS))
        .get(s)
        .copied()
        .unwrap_or(s)
}

/// The classes of syllables linked by the pairs of a confusion table, each syllable mapped to its
/// class's first syllable.
fn classes(table: &'static str) -> HashMap<&'static str, &'static str> {
    let mut parent: HashMap<&'static str, &'static str> = HashMap::new();
    fn root(parent: &HashMap<&'static str, &'static str>, mut s: &'static str) -> &'static str {
        while let Some(&p) = parent.get(s) {
            if p == s {
                break;
            }
            s = p;
        }
        s
    }
    for line in table.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut cols = line.split('\t');
        let (Some(a), Some(b)) = (cols.next(), cols.next()) else {
            continue;
        };
        parent.entry(a).or_insert(a);
        parent.entry(b).or_insert(b);
        let (ra, rb) = (root(&parent, a), root(&parent, b));
        let (keep, other) = if ra <= rb { (ra, rb) } else { (rb, ra) };
        parent.insert(other, keep);
    }
    let names: Vec<&'static str> = parent.keys().copied().collect();
    names.into_iter().map(|s| (s, root(&parent, s))).collect()
}

/// The confusion table's pairs, for tests and reports.
pub fn confusions() -> impl Iterator<Item = (&'static str, &'static str)> {
    CONFUSIONS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut cols = l.split('\t');
            Some((cols.next()?, cols.next()?))
        })
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
    fn near_sounds_are_the_confusion_tables_classes() {
        let classes = classes("# c\npai\ttai\t2\tx\ntai\tdai\t1\tx\n\nguan\tgun\t1\n");
        assert_eq!(classes["tai"], "dai");
        assert_eq!(classes["pai"], "dai");
        assert_eq!(classes["gun"], "guan");
        assert!(!classes.contains_key("bu"));
        // Only what Whisper was seen to confuse is near: 领/您 and 不/普 are not, unless mined.
        let (a, b) = (syl("领"), syl("您"));
        let linked = confusions().any(|p| p == ("lin", "ling") || p == ("ling", "nin"));
        assert_eq!(a.distance(0, &b, 0) == 0.5, linked);
        for (x, y) in confusions() {
            assert_ne!(x, y);
            assert_eq!(coarse_of(x), coarse_of(y), "{x} {y}");
        }
    }

    #[test]
    fn archaic_readings_make_no_homophones_and_modern_heteronyms_stay() {
        // Unihan gives 不, 包 and 还 the reading "fu" too; no modern word uses it.
        for (a, b) in [
            ("不", "包"),
            ("还", "付"),
            ("不", "付"),
            ("能", "台"),
            ("填", "镇"),
        ] {
            assert_eq!(syl(a).distance(0, &syl(b), 0), 1.0, "{a} {b}");
        }
        // Every reading CC-CEDICT's words use is kept.
        for (a, b) in [
            ("重", "虫"),
            ("重", "中"),
            ("还", "环"),
            ("还", "孩"),
            ("行", "航"),
            ("了", "料"),
            ("得", "德"),
        ] {
            assert_eq!(syl(a).distance(0, &syl(b), 0), 0.0, "{a} {b}");
        }
        assert_eq!(&readings('不')[..2], ["bu", SYLLABLE_NONE]);
        assert!(modern().len() > 500, "{}", modern().len());
    }

    fn coarse_of(s: &str) -> &'static str {
        let s: &'static str = Box::leak(s.to_string().into_boxed_str());
        coarse(s)
    }

    #[test]
    fn unrelated_and_latin() {
        let (a, b) = (syl("好a"), syl("坐b"));
        assert_eq!(a.distance(0, &b, 0), 1.0);
        assert_eq!(a.distance(1, &b, 1), 1.0);
        assert_eq!(a.distance(1, &a, 1), 0.0);
    }
}
