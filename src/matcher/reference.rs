//! The matcher as it was first written, kept as the reference the fast one must agree with: every
//! part searched by sound at every position of the text (reading strings compared step by step),
//! literal finds by aho-corasick over the folded text, which is segmented and converted whole.

use std::ops::Range;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};

use crate::text::{NormalizedText, Syllables};

use super::resolve::{self, Bounds, Found};
use super::{phonetic, Hit, Matcher, Rules};

/// The reference matcher: slow, simple, and the definition of what [`Matcher`] finds. Tests and
/// benchmarks compare the two; get one with [`Matcher::reference`].
#[derive(Clone, Debug)]
pub struct Reference {
    rules: Arc<Rules>,
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Each part's syllables, by part id.
    parts: Vec<Syllables>,
    /// Per entry: exceptions' syllables.
    exceptions: Vec<Vec<Syllables>>,
    exact: AhoCorasick,
}

impl Reference {
    pub(super) fn new(rules: Arc<Rules>) -> Reference {
        let parts = rules.parts.iter().map(|p| Syllables::new(p)).collect();
        let exceptions = rules
            .entries
            .iter()
            .map(|e| e.exceptions.iter().map(|x| Syllables::new(x)).collect())
            .collect();
        let patterns: Vec<String> = rules.parts.iter().map(|c| c.iter().collect()).collect();
        let exact = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .expect("lexicon parts are short literal strings");
        Reference {
            rules,
            inner: Arc::new(Inner {
                parts,
                exceptions,
                exact,
            }),
        }
    }

    /// Finds phrases in a raw transcript, folding it as the matcher first did (always through
    /// OpenCC).
    pub fn find(&self, transcript: &str) -> Vec<Hit> {
        self.find_normalized(&self.rules.normalizer.normalize_converting(transcript))
    }

    /// Finds phrases in an already folded transcript. Hits come in transcript order.
    pub fn find_normalized(&self, text: &NormalizedText) -> Vec<Hit> {
        if text.is_empty() {
            return Vec::new();
        }
        let rules = &*self.rules;
        let folded = text.text();
        let syllables = Syllables::new(text.chars());
        let bounds = Bounds::new(&rules.segmenter, text).eager();
        let found = self.inner.find_parts(rules, &folded, &syllables);
        let chains = rules
            .chains
            .iter()
            .enumerate()
            .flat_map(|(entry, forms)| forms.iter().map(move |chain| (entry, chain)));
        resolve::hits(
            rules,
            text,
            chains,
            |part| &found[part],
            &bounds,
            |entry, span, bounds| {
                self.inner
                    .excepted(rules, entry, text, &syllables, span, bounds)
            },
        )
    }
}

impl Matcher {
    /// The reference matcher for the same lexicon and tuning (see [`Reference`]).
    pub fn reference(&self) -> Reference {
        Reference::new(self.inner.rules.clone())
    }
}

impl Inner {
    /// Every place each part is found, exactly or by sound.
    fn find_parts(&self, rules: &Rules, folded: &str, syllables: &Syllables) -> Vec<Vec<Found>> {
        let mut found: Vec<Vec<Found>> = vec![Vec::new(); self.parts.len()];
        let char_at = byte_to_char(folded);
        for m in self.exact.find_overlapping_iter(folded) {
            let (start, end) = (char_at[m.start()], char_at[m.end()]);
            found[m.pattern().as_usize()].push(Found {
                start,
                end,
                confidence: 1.0,
                exact: true,
            });
        }
        if rules.config.by_sound {
            for (id, part) in self.parts.iter().enumerate() {
                resolve::push_sound(
                    &mut found[id],
                    0,
                    part.len(),
                    phonetic::search(part, syllables),
                );
            }
        }
        found
    }

    /// True when the banned find at `span` is in one of the entry's polite rules' contexts, or part
    /// of one of its polite exceptions: the exception is said (same sounds; for short exceptions, no pause inside — 我不管，有牌子 is
    /// not 我不管有…) and shares at least three characters (or the whole find) with it.
    fn excepted(
        &self,
        rules: &Rules,
        entry_id: usize,
        text: &NormalizedText,
        syllables: &Syllables,
        span: Range<usize>,
        bounds: &Bounds,
    ) -> bool {
        self.exceptions[entry_id].iter().any(|ex| {
            resolve::said_around(text, span.clone(), ex.len(), |s| {
                (0..ex.len()).all(|k| syllables.distance(s + k, ex, k) == 0.0)
            })
        }) || resolve::polite(
            &rules.entries[entry_id].polite,
            text,
            span,
            |at, word| {
                let word = Syllables::new(word);
                (0..word.len()).all(|k| syllables.distance(at + k, &word, k) == 0.0)
            },
            bounds,
        )
    }
}

/// Maps every byte offset of `s` that starts a character (and `s.len()`) to a character index.
fn byte_to_char(s: &str) -> Vec<usize> {
    let mut map = vec![0; s.len() + 1];
    let mut n = 0;
    for (i, c) in s.char_indices() {
        map[i..i + c.len_utf8()].fill(n);
        n += 1;
    }
    map[s.len()] = n;
    map
}
