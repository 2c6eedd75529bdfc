//! Matching: finds the lexicon's civil and banned phrases in a transcript, as Whisper really writes it.
//!
//! Each wording of a phrase is a chain of [`Part`](crate::lexicon::Part)s. A part is found
//! literally or by sound (toneless pinyin, allowing homophones and, for longer parts, one
//! near-syllable or one dropped/added syllable). Parts chain across inserted words or `××` slots.
//! Literal finds must sit on jieba word boundaries; banned finds inside one of the phrase's polite
//! exceptions (不知道您带身份证了吗) are dropped. Every [`Hit`] carries a confidence and points back
//! into the original transcript.
//!
//! The stages: the text's characters become sound ids ([`SoundTable`]); `prefilter` walks one trie
//! of every part's pieces over them and names the (part, start) pairs worth a look; `verify`
//! compares each of those with the part, as the reference's search by sound would at that start;
//! `resolve` chains the parts found into hits (segmenting with jieba only when a literal find
//! needs its word boundaries). The [`Reference`] matcher, which searches every part at every
//! position, defines what must be found; tests and benchmarks compare the two.

pub mod nearly;
mod phonetic;
mod prefilter;
mod reference;
mod resolve;
mod verify;

#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::ops::Range;
use std::sync::Arc;

use crate::lexicon::{Entry, Gap, Kind, Lexicon};
use crate::text::{NormalizedText, Normalizer, Segmenter, SoundId, SoundTable};

use prefilter::Prefilter;
pub use reference::Reference;
pub use resolve::asks;
use resolve::{Bounds, Found};

/// A run of characters with their sounds: a lexicon part or a folded text.
#[derive(Debug, Clone, Copy)]
struct Heard<'a> {
    chars: &'a [char],
    sounds: &'a [SoundId],
}

/// How a hit was found — evidence for the trainer who checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// The folded text holds the wording as written.
    Exact,
    /// Same words with a few words inserted or a slot filled.
    Gapped,
    /// Sounds the same or nearly (令到 for 领导, 请稍后 for 请稍候).
    Sound,
}

/// One lexicon phrase found in one transcript.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Hit {
    pub kind: Kind,
    /// The canonical lexicon phrase.
    pub phrase: String,
    /// Banned: the kind of rudeness. Civil: the situation.
    pub category: String,
    /// Banned: severity 1–3. Civil: weight 1–3.
    pub severity: u8,
    pub clause: String,
    /// What the transcript says there, as written.
    pub matched: String,
    /// Byte range of `matched` in the original transcript.
    pub span: Range<usize>,
    /// 0–1: 1 for the exact wording on word boundaries, less for gaps and sound-alikes.
    pub confidence: f32,
    pub method: Method,
}

/// Tuning of the matcher.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchConfig {
    /// Hits below this confidence are not reported.
    pub min_confidence: f32,
    /// Whether to match by sound at all.
    pub by_sound: bool,
}

impl Default for MatchConfig {
    fn default() -> Self {
        MatchConfig {
            min_confidence: 0.6,
            by_sound: true,
        }
    }
}

/// Finds lexicon phrases in transcripts. Immutable and cheap to clone: share it across threads.
#[derive(Clone, Debug)]
pub struct Matcher {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    rules: Arc<Rules>,
    /// Each part's sounds, by part id.
    sounds: Vec<Vec<SoundId>>,
    /// Per part: the (entry, form) chains it opens.
    opens: Vec<Vec<(u32, u32)>>,
    /// Per entry: exceptions' characters and sounds.
    exceptions: Vec<Vec<(Vec<char>, Vec<SoundId>)>>,
    prefilter: Prefilter,
    table: &'static SoundTable,
}

/// The lexicon compiled for matching, shared by the matcher and its reference.
#[derive(Debug)]
struct Rules {
    entries: Vec<Entry>,
    /// Every distinct part: its folded characters.
    parts: Vec<Vec<char>>,
    /// Per entry, per form: the part ids in order with their gaps.
    chains: Vec<Vec<Chain>>,
    normalizer: Normalizer,
    segmenter: Segmenter,
    config: MatchConfig,
}

#[derive(Debug)]
struct Chain {
    links: Vec<(usize, Gap)>,
    trailing_slot: bool,
}

impl Rules {
    fn new(lexicon: &Lexicon, config: MatchConfig) -> Rules {
        let entries = lexicon.entries().to_vec();
        let mut parts: Vec<Vec<char>> = Vec::new();
        // Ids by text, so that 50,000 phrases do not compare every part with every other.
        let mut ids: std::collections::HashMap<Vec<char>, usize> = Default::default();
        let chains = entries
            .iter()
            .map(|e| {
                e.forms
                    .iter()
                    .map(|f| Chain {
                        links: f
                            .parts
                            .iter()
                            .map(|p| {
                                let id = *ids.entry(p.chars.clone()).or_insert_with(|| {
                                    parts.push(p.chars.clone());
                                    parts.len() - 1
                                });
                                (id, p.gap_before)
                            })
                            .collect(),
                        trailing_slot: f.trailing_slot,
                    })
                    .collect()
            })
            .collect();
        let words: Vec<String> = parts.iter().map(|c| c.iter().collect()).collect();
        // Parts, not whole multi-part wordings, become jieba words: 您好 must stay a word inside
        // 您好这里是….
        let segmenter = Segmenter::new(words.iter().map(String::as_str));
        Rules {
            entries,
            parts,
            chains,
            normalizer: Normalizer::shared().clone(),
            segmenter,
            config,
        }
    }
}

/// Buffers one thread reuses from text to text.
#[derive(Default)]
struct Scratch {
    sounds: Vec<SoundId>,
    candidates: Vec<u64>,
    /// Finds of the parts found, grouped by part: (part, its finds' range in `finds`).
    found: Vec<(usize, Range<usize>)>,
    finds: Vec<Found>,
    by_sound: Vec<(usize, usize, f32)>,
    rows: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Matcher {
    /// A matcher for `lexicon` with default tuning.
    pub fn new(lexicon: &Lexicon) -> Matcher {
        Matcher::with_config(lexicon, MatchConfig::default())
    }

    /// A matcher for `lexicon` tuned by `config`.
    pub fn with_config(lexicon: &Lexicon, config: MatchConfig) -> Matcher {
        let rules = Rules::new(lexicon, config);
        let table = SoundTable::shared();
        let sounds_of = |chars: &[char]| chars.iter().map(|&c| table.sound(c)).collect();
        let sounds = rules.parts.iter().map(|p| sounds_of(p)).collect();
        let mut opens = vec![Vec::new(); rules.parts.len()];
        for (e, forms) in rules.chains.iter().enumerate() {
            for (f, chain) in forms.iter().enumerate() {
                opens[chain.links[0].0].push((e as u32, f as u32));
            }
        }
        let exceptions = rules
            .entries
            .iter()
            .map(|e| {
                e.exceptions
                    .iter()
                    .map(|x| (x.clone(), sounds_of(x)))
                    .collect()
            })
            .collect();
        // Without matching by sound only literal finds count: no errors.
        let errors = |len: usize| match config.by_sound {
            true => phonetic::budget(len).floor() as usize,
            false => 0,
        };
        let prefilter = Prefilter::new(&rules.parts, errors, table);
        Matcher {
            inner: Arc::new(Inner {
                rules: Arc::new(rules),
                sounds,
                opens,
                exceptions,
                prefilter,
                table,
            }),
        }
    }

    /// The normalizer this matcher folds transcripts with.
    pub fn normalizer(&self) -> &Normalizer {
        &self.inner.rules.normalizer
    }

    /// Finds phrases in a raw transcript.
    pub fn find(&self, transcript: &str) -> Vec<Hit> {
        self.find_normalized(&self.inner.rules.normalizer.normalize(transcript))
    }

    /// Finds phrases in an already folded transcript. Hits come in transcript order.
    pub fn find_normalized(&self, text: &NormalizedText) -> Vec<Hit> {
        if text.is_empty() {
            return Vec::new();
        }
        SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
            Ok(mut scratch) => self.inner.find(text, &mut scratch),
            // Only if a caller matched from inside a match on this thread.
            Err(_) => self.inner.find(text, &mut Scratch::default()),
        })
    }
}

impl Inner {
    fn find(&self, text: &NormalizedText, s: &mut Scratch) -> Vec<Hit> {
        let rules = &*self.rules;
        let chars = text.chars();
        s.sounds.clear();
        s.sounds.extend(chars.iter().map(|&c| self.table.sound(c)));
        let heard = Heard {
            chars,
            sounds: &s.sounds,
        };
        s.candidates.clear();
        self.prefilter.candidates(heard, &mut s.candidates);
        s.candidates.sort_unstable();
        s.candidates.dedup();

        s.found.clear();
        s.finds.clear();
        for group in s.candidates.chunk_by(|a, b| a >> 32 == b >> 32) {
            let part = (group[0] >> 32) as usize;
            let part_chars = &rules.parts[part];
            let m = part_chars.len();
            let first = s.finds.len();
            let literal = |start: usize| Found {
                start,
                end: start + m,
                confidence: 1.0,
                exact: true,
            };
            if rules.config.by_sound {
                let part_heard = Heard {
                    chars: part_chars,
                    sounds: &self.sounds[part],
                };
                s.by_sound.clear();
                for &c in group {
                    let start = c as u32 as usize;
                    let Some((end, halves)) =
                        verify::at(part_heard, heard, start, self.table, &mut s.rows)
                    else {
                        continue;
                    };
                    // A literal find is also the cheapest find by sound there.
                    if halves == 0 && end == start + m && verify::literal(part_chars, chars, start)
                    {
                        s.finds.push(literal(start));
                    }
                    s.by_sound.push((start, end, f32::from(halves) / 2.0));
                }
                let finds = phonetic::cheapest_apart(std::mem::take(&mut s.by_sound));
                resolve::push_sound(&mut s.finds, first, m, finds.iter().copied());
                s.by_sound = finds;
            } else {
                for &c in group {
                    let start = c as u32 as usize;
                    if verify::literal(part_chars, chars, start) {
                        s.finds.push(literal(start));
                    }
                }
            }
            if s.finds.len() > first {
                s.found.push((part, first..s.finds.len()));
            }
        }
        if s.found.is_empty() {
            return Vec::new();
        }

        let mut chains: Vec<(u32, u32)> = s
            .found
            .iter()
            .flat_map(|(part, _)| self.opens[*part].iter().copied())
            .collect();
        chains.sort_unstable();
        let (found, finds) = (&s.found, &s.finds);
        let found_of = |part: usize| -> &[Found] {
            match found.binary_search_by_key(&part, |(p, _)| *p) {
                Ok(i) => &finds[found[i].1.clone()],
                Err(_) => &[],
            }
        };
        let sounds = &s.sounds;
        resolve::hits(
            rules,
            text,
            chains
                .iter()
                .map(|&(e, f)| (e as usize, &rules.chains[e as usize][f as usize])),
            found_of,
            &Bounds::new(&rules.segmenter, text),
            |entry, span, bounds| self.excepted(entry, text, sounds, span, bounds),
        )
    }

    /// True when the banned find at `span` is part of one of the entry's polite exceptions (see
    /// [`resolve::said_around`]) or in a context one of its polite rules names ([`resolve::polite`]).
    fn excepted(
        &self,
        entry_id: usize,
        text: &NormalizedText,
        sounds: &[SoundId],
        span: Range<usize>,
        bounds: &Bounds,
    ) -> bool {
        let chars = text.chars();
        let table = self.table;
        self.exceptions[entry_id].iter().any(|(ex, ex_sounds)| {
            resolve::said_around(text, span.clone(), ex.len(), |s| {
                (0..ex.len())
                    .all(|k| chars[s + k] == ex[k] || table.same(sounds[s + k], ex_sounds[k]))
            })
        }) || resolve::polite(
            &self.rules.entries[entry_id].polite,
            text,
            span,
            |at, word| {
                word.iter()
                    .enumerate()
                    .all(|(k, &c)| chars[at + k] == c || table.same(sounds[at + k], table.sound(c)))
            },
            bounds,
        )
    }
}
