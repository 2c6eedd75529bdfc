//! Matching: finds the lexicon's civil and banned phrases in a transcript, as Whisper really writes it.
//!
//! Each wording of a phrase is a chain of [`Part`]s. A part is found exactly (aho-corasick over the
//! folded text) or by sound (toneless pinyin, allowing homophones and, for longer parts, one
//! near-syllable or one dropped/added syllable). Parts chain across inserted words or `××` slots.
//! Exact finds must sit on jieba word boundaries; banned finds inside one of the phrase's polite
//! exceptions (不知道您带身份证了吗) are dropped. Every [`Hit`] carries a confidence and points back
//! into the original transcript.

mod phonetic;

use std::ops::Range;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};

use crate::lexicon::{Entry, Gap, Kind, Lexicon, Part, MAX_INSERTED, MAX_SLOT};
use crate::text::{NormalizedText, Normalizer, Segmenter, Syllables};

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
    entries: Vec<Entry>,
    /// Every distinct part, with its syllables.
    parts: Vec<(Vec<char>, Syllables)>,
    /// Per entry, per form: the part ids in order with their gaps.
    chains: Vec<Vec<Chain>>,
    /// Per entry: exceptions' syllables.
    exceptions: Vec<Vec<Syllables>>,
    exact: AhoCorasick,
    normalizer: Normalizer,
    segmenter: Segmenter,
    config: MatchConfig,
}

#[derive(Debug)]
struct Chain {
    links: Vec<(usize, Gap)>,
    trailing_slot: bool,
}

/// Where a part was found: folded character range and confidence.
#[derive(Debug, Clone, Copy)]
struct Found {
    start: usize,
    end: usize,
    confidence: f32,
    exact: bool,
}

impl Matcher {
    /// A matcher for `lexicon` with default tuning.
    pub fn new(lexicon: &Lexicon) -> Matcher {
        Matcher::with_config(lexicon, MatchConfig::default())
    }

    /// A matcher for `lexicon` tuned by `config`.
    pub fn with_config(lexicon: &Lexicon, config: MatchConfig) -> Matcher {
        let entries = lexicon.entries().to_vec();
        let mut parts: Vec<(Vec<char>, Syllables)> = Vec::new();
        // Ids by text, so that 50,000 phrases do not compare every part with every other.
        let mut ids: std::collections::HashMap<Vec<char>, usize> = Default::default();
        let mut part_id = |p: &Part| -> usize {
            *ids.entry(p.chars.clone()).or_insert_with(|| {
                parts.push((p.chars.clone(), Syllables::new(&p.chars)));
                parts.len() - 1
            })
        };
        let chains = entries
            .iter()
            .map(|e| {
                e.forms
                    .iter()
                    .map(|f| Chain {
                        links: f.parts.iter().map(|p| (part_id(p), p.gap_before)).collect(),
                        trailing_slot: f.trailing_slot,
                    })
                    .collect()
            })
            .collect();
        let exceptions = entries
            .iter()
            .map(|e| e.exceptions.iter().map(|x| Syllables::new(x)).collect())
            .collect();
        let patterns: Vec<String> = parts.iter().map(|(c, _)| c.iter().collect()).collect();
        let exact = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&patterns)
            .expect("lexicon parts are short literal strings");
        // Parts, not whole multi-part wordings, become jieba words: 您好 must stay a word inside
        // 您好这里是….
        let segmenter = Segmenter::new(patterns.iter().map(String::as_str));
        Matcher {
            inner: Arc::new(Inner {
                entries,
                parts,
                chains,
                exceptions,
                exact,
                normalizer: Normalizer::shared().clone(),
                segmenter,
                config,
            }),
        }
    }

    /// The normalizer this matcher folds transcripts with.
    pub fn normalizer(&self) -> &Normalizer {
        &self.inner.normalizer
    }

    /// Finds phrases in a raw transcript.
    pub fn find(&self, transcript: &str) -> Vec<Hit> {
        self.find_normalized(&self.inner.normalizer.normalize(transcript))
    }

    /// Finds phrases in an already folded transcript. Hits come in transcript order.
    pub fn find_normalized(&self, text: &NormalizedText) -> Vec<Hit> {
        let inner = &*self.inner;
        if text.is_empty() {
            return Vec::new();
        }
        let folded = text.text();
        let syllables = Syllables::new(text.chars());
        let bounds = inner.segmenter.boundaries(&folded);
        let found = inner.find_parts(&folded, &syllables);

        let mut candidates: Vec<(usize, Found)> = Vec::new();
        for (entry_id, chains) in inner.chains.iter().enumerate() {
            for chain in chains {
                for hit in chain_parts(chain, &found, text.len()) {
                    candidates.push((entry_id, hit));
                }
            }
        }

        let mut hits: Vec<(usize, Found, Method)> = Vec::new();
        for (entry_id, mut f) in candidates {
            let entry = &inner.entries[entry_id];
            let method = if !f.exact {
                Method::Sound
            } else if f.confidence < 1.0 {
                Method::Gapped
            } else {
                Method::Exact
            };
            // A literal find that cuts through words is usually a different word (您好像 is not 您好).
            if f.exact && !(bounds[f.start] && bounds[f.end]) {
                if f.end - f.start <= 2 {
                    continue;
                }
                f.confidence *= 0.8;
            }
            if f.confidence < inner.config.min_confidence {
                continue;
            }
            if entry.kind == Kind::Banned
                && inner.excepted(entry_id, text, &syllables, f.start..f.end)
            {
                continue;
            }
            hits.push((entry_id, f, method));
        }

        // Keep the best find per entry and place; among one kind, a find inside a longer one yields
        // (请问您要办理什么业务 is one greeting, not also 您好-less fragments of it).
        hits.sort_by(|a, b| {
            b.1.confidence
                .total_cmp(&a.1.confidence)
                .then((b.1.end - b.1.start).cmp(&(a.1.end - a.1.start)))
        });
        let mut kept: Vec<(usize, Found, Method)> = Vec::new();
        for h in hits {
            // Finds of one entry that overlap are one hit: the best one's method and confidence,
            // the union of their spans (有一件找领导去 is one hit, not 找领导去 alone).
            match kept
                .iter_mut()
                .find(|k| k.0 == h.0 && h.1.start < k.1.end && k.1.start < h.1.end)
            {
                Some(k) => {
                    k.1.start = k.1.start.min(h.1.start);
                    k.1.end = k.1.end.max(h.1.end);
                }
                None => kept.push(h),
            }
        }
        let inside = |h: &(usize, Found, Method), k: &(usize, Found, Method)| {
            inner.entries[k.0].kind == inner.entries[h.0].kind
                && inner.entries[k.0].category == inner.entries[h.0].category
                && k.1.start <= h.1.start
                && h.1.end <= k.1.end
                && (k.1.end - k.1.start) > (h.1.end - h.1.start)
        };
        let kept: Vec<_> = kept
            .iter()
            .filter(|h| !kept.iter().any(|k| inside(h, k)))
            .cloned()
            .collect();
        let mut kept = kept;
        kept.sort_by_key(|h| (h.1.start, h.1.end));
        kept.into_iter()
            .map(|(entry_id, f, method)| {
                let e = &inner.entries[entry_id];
                Hit {
                    kind: e.kind,
                    phrase: e.phrase.clone(),
                    category: e.category.clone(),
                    severity: e.severity,
                    clause: e.clause.clone(),
                    matched: text.original_slice(f.start..f.end).to_string(),
                    span: text.original_span(f.start..f.end),
                    confidence: (f.confidence * 100.0).round() / 100.0,
                    method,
                }
            })
            .collect()
    }
}

impl Inner {
    /// Every place each part is found, exactly or by sound.
    fn find_parts(&self, folded: &str, syllables: &Syllables) -> Vec<Vec<Found>> {
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
        if self.config.by_sound {
            for (id, (_, part)) in self.parts.iter().enumerate() {
                for (start, end, cost) in phonetic::search(part, syllables) {
                    if found[id]
                        .iter()
                        .any(|f| f.exact && f.start == start && f.end == end)
                    {
                        continue;
                    }
                    let len = part.len() as f32;
                    found[id].push(Found {
                        start,
                        end,
                        confidence: 0.92 * (1.0 - cost / len),
                        exact: false,
                    });
                }
            }
        }
        found
    }

    /// True when the banned find at `span` is part of one of the entry's polite exceptions: the
    /// exception is said (same sounds; for short exceptions, no pause inside — 我不管，有牌子 is
    /// not 我不管有…) and shares at least three characters (or the whole find) with it.
    fn excepted(
        &self,
        entry_id: usize,
        text: &NormalizedText,
        syllables: &Syllables,
        span: Range<usize>,
    ) -> bool {
        let need = (span.end - span.start).min(3);
        self.exceptions[entry_id].iter().any(|ex| {
            let n = ex.len();
            if n > text.len() {
                return false;
            }
            (0..=text.len() - n).any(|s| {
                let shared = (s + n).min(span.end).saturating_sub(s.max(span.start));
                shared >= need
                    && (n >= 6 || !text.crosses_break(s..s + n))
                    && (0..n).all(|k| syllables.distance(s + k, ex, k) == 0.0)
            })
        })
    }
}

/// The best chains of found parts that spell a form, as (start, end, confidence, all exact).
fn chain_parts(chain: &Chain, found: &[Vec<Found>], len: usize) -> Vec<Found> {
    let (first, _) = chain.links[0];
    let mut out = Vec::new();
    for start in &found[first] {
        let mut best = Some(*start);
        for &(part, gap) in &chain.links[1..] {
            let Some(prev) = best else { break };
            best = found[part]
                .iter()
                .filter_map(|f| {
                    if f.start < prev.end {
                        return None;
                    }
                    let g = f.start - prev.end;
                    let penalty = match gap {
                        Gap::None if g == 0 => 1.0,
                        Gap::None => return None,
                        Gap::Inserted if g <= MAX_INSERTED => 1.0 - 0.03 * g as f32,
                        Gap::Slot if (1..=MAX_SLOT).contains(&g) => 1.0,
                        _ => return None,
                    };
                    Some(Found {
                        start: prev.start,
                        end: f.end,
                        confidence: prev.confidence.min(f.confidence) * penalty,
                        exact: prev.exact && f.exact,
                    })
                })
                .max_by(|a, b| a.confidence.total_cmp(&b.confidence));
        }
        if let Some(f) = best {
            if chain.trailing_slot && f.end >= len {
                continue;
            }
            out.push(f);
        }
    }
    out
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
