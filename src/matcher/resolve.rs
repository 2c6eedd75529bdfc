//! From where each part was found to hits: parts chained over inserted words and slots, the jieba
//! word-boundary check, polite exceptions, and one best hit per phrase and place.

use std::ops::Range;

use crate::lexicon::{Gap, Kind, Polite, MAX_INSERTED, MAX_SLOT};
use crate::text::{NormalizedText, Segmenter};

use super::{Chain, Hit, Method, Rules};

/// Where a part was found: folded character range and confidence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Found {
    pub start: usize,
    pub end: usize,
    pub confidence: f32,
    pub exact: bool,
}

/// Adds a part of `len` characters' finds by sound (start, end, cost) to its literal finds,
/// `found[from..]`, but for those at the place of a literal one.
pub(super) fn push_sound(
    found: &mut Vec<Found>,
    from: usize,
    len: usize,
    finds: impl IntoIterator<Item = (usize, usize, f32)>,
) {
    for (start, end, cost) in finds {
        if found[from..]
            .iter()
            .any(|f| f.exact && f.start == start && f.end == end)
        {
            continue;
        }
        found.push(Found {
            start,
            end,
            confidence: 0.92 * (1.0 - cost / len as f32),
            exact: false,
        });
    }
}

/// Word boundaries of a text, segmented with jieba only when first asked for.
pub(super) struct Bounds<'a> {
    segmenter: &'a Segmenter,
    text: &'a NormalizedText,
    bounds: std::cell::OnceCell<Vec<bool>>,
}

impl<'a> Bounds<'a> {
    pub fn new(segmenter: &'a Segmenter, text: &'a NormalizedText) -> Bounds<'a> {
        Bounds {
            segmenter,
            text,
            bounds: std::cell::OnceCell::new(),
        }
    }

    /// Segments now (the reference matcher does, as the matcher always did).
    pub fn eager(self) -> Bounds<'a> {
        self.get();
        self
    }

    fn get(&self) -> &[bool] {
        self.bounds
            .get_or_init(|| self.segmenter.boundaries(&self.text.text()))
    }

    /// True when a word starts (or the text ends) at character offset `at`.
    pub fn starts(&self, at: usize) -> bool {
        self.get()[at]
    }

    /// True when words start (or the text ends) at both character offsets.
    fn both(&self, start: usize, end: usize) -> bool {
        let b = self.get();
        b[start] && b[end]
    }

    /// True when characters `start..end`, heard by sound as a short part, agree with jieba: they
    /// are one word of the text, or a run of one-character words (what jieba leaves of a word it
    /// does not know). A misheard word is not other real words: 不小的 is not 不晓得, 复制到 not
    /// 不知道, 下一步知道 not 步知道.
    fn one_word(&self, start: usize, end: usize) -> bool {
        let b = self.get();
        let inner = &b[start + 1..end];
        b[start] && b[end] && (inner.iter().all(|&x| x) || inner.iter().all(|&x| !x))
    }

    /// True when characters `start..end`, heard by sound as a short civil part, stand on word
    /// boundaries: the words inside may be real other words (请|稍后 for 请稍候, 请|千名 for 请签名),
    /// since a courtesy misheard is still a courtesy said, and crediting one wrongly accuses no one.
    fn on_words(&self, start: usize, end: usize) -> bool {
        self.both(start, end)
    }
}

/// Parts of at most this many characters are found by sound only as the same sound, and only where
/// the find agrees with jieba's words: a banned part must be one word ([`Bounds::one_word`]), a
/// civil part must stand on word boundaries ([`Bounds::on_words`]).
pub const SHORT_PART: usize = 3;

/// The hits in `text`, given for each part where it was found (`found(part)`, as the chains'
/// links number parts), the chains worth trying in entry order (those whose first part was found;
/// others cannot give a hit) and whether an entry's find is inside one of its polite exceptions.
pub(super) fn hits<'f, 'c>(
    rules: &Rules,
    text: &NormalizedText,
    chains: impl Iterator<Item = (usize, &'c Chain)>,
    found: impl Fn(usize) -> &'f [Found],
    bounds: &Bounds,
    excepted: impl Fn(usize, Range<usize>, &Bounds) -> bool,
) -> Vec<Hit> {
    let mut candidates: Vec<(usize, Found)> = Vec::new();
    for (entry_id, chain) in chains {
        let civil = rules.entries[entry_id].kind == Kind::Civil;
        let mut agrees = |part: usize, f: &Found| {
            f.exact
                || rules.parts[part].len() > SHORT_PART
                || if civil {
                    bounds.on_words(f.start, f.end)
                } else {
                    bounds.one_word(f.start, f.end)
                }
        };
        for hit in chain_parts(chain, &found, text.len(), &mut agrees) {
            candidates.push((entry_id, hit));
        }
    }

    let mut hits: Vec<(usize, Found, Method)> = Vec::new();
    for (entry_id, mut f) in candidates {
        let entry = &rules.entries[entry_id];
        let method = if !f.exact {
            Method::Sound
        } else if f.confidence < 1.0 {
            Method::Gapped
        } else {
            Method::Exact
        };
        // A literal find that cuts through words is usually a different word (您好像 is not 您好).
        if f.exact && !bounds.both(f.start, f.end) {
            if f.end - f.start <= 2 {
                continue;
            }
            f.confidence *= 0.8;
        }
        if f.confidence < rules.config.min_confidence {
            continue;
        }
        if entry.kind == Kind::Banned && excepted(entry_id, f.start..f.end, bounds) {
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
        rules.entries[k.0].kind == rules.entries[h.0].kind
            && rules.entries[k.0].category == rules.entries[h.0].category
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
            let e = &rules.entries[entry_id];
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

/// True when a polite exception of `len` characters is said somewhere around the banned find at
/// `span` (`said_at(s)`: its sounds are heard from character `s` on): for short exceptions with no
/// pause inside (我不管，有牌子 is not 我不管有…), sharing at least three characters (or the whole
/// find) with the find.
pub(super) fn said_around(
    text: &NormalizedText,
    span: Range<usize>,
    len: usize,
    said_at: impl Fn(usize) -> bool,
) -> bool {
    let need = (span.end - span.start).min(3);
    if len > text.len() || len == 0 {
        return false;
    }
    // Only places that overlap the find can share characters with it.
    let from = (span.start + 1).saturating_sub(len);
    let to = (text.len() - len).min(span.end.saturating_sub(1));
    (from..=to).any(|s| {
        let shared = (s + len).min(span.end).saturating_sub(s.max(span.start));
        shared >= need && (len >= 6 || !text.crosses_break(s..s + len)) && said_at(s)
    })
}

/// True when one of a banned phrase's polite rules holds around its find at `span`. `said(at,
/// word)`: the folded word is heard from character `at` on (literally or by the same sound). A word
/// of one character counts only as written: by sound it is any of a dozen homophones and heteronyms
/// (找 reads hua too, and would stand in every 变化). A word a rule says must be lacking counts only
/// where jieba starts a word (`bounds`): 别的 is not in 类别的 or 特别的.
pub(super) fn polite(
    rules: &[Polite],
    text: &NormalizedText,
    span: Range<usize>,
    said: impl Fn(usize, &[char]) -> bool,
    bounds: &Bounds,
) -> bool {
    let said = |at: usize, w: &[char]| match w {
        [c] => text.chars()[at] == *c,
        _ => said(at, w),
    };
    let before_clause = clause_before(text, span.start);
    // Where a word is said inside `range`, as (start, end) of folded characters.
    let places = |range: &Range<usize>, w: &Vec<char>| -> Vec<(usize, usize)> {
        if w.len() > range.len() {
            return Vec::new();
        }
        (range.start..=range.end - w.len())
            .filter(|&at| said(at, w))
            .map(|at| (at, at + w.len()))
            .collect()
    };
    let lacking = |range: &Range<usize>, w: &Vec<char>| {
        places(range, w)
            .iter()
            .any(|&(at, _)| w.len() == 1 || bounds.starts(at))
    };
    let clause = clause(text, span.end);
    let rest = span.end..sentence_end(text, span.end);
    rules.iter().any(|rule| {
        let before = rule.before.is_empty()
            || rule.before.iter().any(|w| {
                span.start >= w.len() && {
                    let at = span.start - w.len();
                    !text.crosses_break(at..span.start + 1) && said(at, w)
                }
            });
        let after = rule.after.is_empty()
            || rule.after.iter().any(|w| {
                span.end + w.len() <= text.len()
                    && !text.crosses_break(span.end - 1..span.end + w.len())
                    && said(span.end, w)
            });
        let in_clause = |w: &Vec<char>| !places(&clause, w).is_empty();
        let has = rule.clause_has.is_empty() || rule.clause_has.iter().any(in_clause);
        // Who does not know is who is named last before the phrase: the lacking words count from
        // the last of the subject words on, and right before it (我们 + 公司 names the speaker).
        let last_subject = rule
            .before_clause_has
            .iter()
            .flat_map(|w| places(&before_clause, w))
            .max_by_key(|&(start, end)| (end, std::cmp::Reverse(start)));
        let subject = rule.before_clause_has.is_empty() || last_subject.is_some();
        let lacks_before = !rule.before_clause_lacks.iter().any(|w| {
            places(&before_clause, w)
                .iter()
                .any(|&(start, end)| match last_subject {
                    Some((from, _)) => start >= from || end == from,
                    None => true,
                })
        });
        let goes_on = rule.goes_on_at_least == 0
            || rest.end.saturating_sub(clause.end) >= rule.goes_on_at_least;
        let lacks_rest = !rule.rest_lacks.iter().any(|w| lacking(&rest, w));
        before
            && after
            && has
            && subject
            && lacks_before
            && !rule.clause_lacks.iter().any(|w| lacking(&clause, w))
            && clause.len() >= rule.clause_at_least
            && goes_on
            && lacks_rest
            && (!rule.quoted || quoted(text, span.clone()))
            && (!rule.question || asks(text, span.end))
    })
}

/// Quotation marks and title marks open and close a name; they are no pause in speech.
const OPENING_QUOTES: [char; 6] = ['“', '‘', '「', '『', '《', '"'];
const CLOSING_QUOTES: [char; 6] = ['”', '’', '」', '』', '》', '"'];

/// True when what stands between folded characters `i - 1` and `i` ends a clause: a pause that is
/// more than quotation or title marks (两个“我不知道”按钮 is one clause).
fn clause_break(text: &NormalizedText, i: usize) -> bool {
    text.pause_before(i)
        && text
            .between(i)
            .chars()
            .any(|c| !OPENING_QUOTES.contains(&c) && !CLOSING_QUOTES.contains(&c))
}

/// Where the sentence that holds folded character `from - 1` ends: the first folded character
/// after a sentence-ending mark (。？！；…) at or after `from`, or the end of the text.
pub(super) fn sentence_end(text: &NormalizedText, from: usize) -> usize {
    (from..text.len())
        .find(|&i| {
            i > 0
                && text.pause_before(i)
                && text
                    .between(i)
                    .contains(['。', '？', '！', '?', '!', '.', '；', ';', '…'])
        })
        .unwrap_or(text.len())
}

/// True when the folded characters `span` stand inside quotation or title marks that name something
/// within a clause: an opening mark before them and a closing mark after them with no other pause
/// in between, and words of the clause right outside the marks on one side at least (两个“我不知道”按钮,
/// 这本书叫《不知道》). A quotation that is a clause of its own is a reply quoted (“不知道”，我已经跟你说了).
pub(super) fn quoted(text: &NormalizedText, span: Range<usize>) -> bool {
    let opened = (0..=span.start)
        .rev()
        .find(|&i| text.between(i).contains(OPENING_QUOTES) || (i > 0 && clause_break(text, i)))
        .filter(|&i| text.between(i).contains(OPENING_QUOTES));
    let closed = (span.end..=text.len())
        .find(|&i| {
            text.between(i).contains(CLOSING_QUOTES) || (i < text.len() && clause_break(text, i))
        })
        .filter(|&i| text.between(i).contains(CLOSING_QUOTES));
    match (opened, closed) {
        (Some(open), Some(close)) => {
            (open > 0 && !clause_break(text, open))
                || (close < text.len() && !clause_break(text, close))
        }
        _ => false,
    }
}

/// The clause that starts at folded character `from`: up to the next pause (empty when a pause
/// stands right at `from`).
pub(super) fn clause(text: &NormalizedText, from: usize) -> Range<usize> {
    let len = text.len();
    if from >= len || clause_break(text, from) {
        return from.min(len)..from.min(len);
    }
    let end = (from + 1..len)
        .find(|&i| clause_break(text, i))
        .unwrap_or(len);
    from..end
}

/// The clause that ends at folded character `to`: from the last pause before it (empty when a pause
/// stands right at `to`).
pub(super) fn clause_before(text: &NormalizedText, to: usize) -> Range<usize> {
    let start = (1..=to).rev().find(|&i| clause_break(text, i)).unwrap_or(0);
    start..to
}

/// True when the clause that starts at folded character `from` (and runs to the next pause) asks a
/// question: it ends in 吗 or 呢 or before a question mark, or holds an A不A / A没A choice (喜不喜欢,
/// 有没有) or 是否, 能否, 可否. A pause right at `from` means no clause follows.
pub fn asks(text: &NormalizedText, from: usize) -> bool {
    let Range { start, end } = clause(text, from);
    if start == end {
        return false;
    }
    let clause = &text.chars()[start..end];
    let choice = clause
        .windows(3)
        .any(|w| w[0] == w[2] && matches!(w[1], '不' | '没') && w[0] != w[1]);
    let asking = clause
        .windows(2)
        .any(|w| matches!(w, ['是' | '能' | '可', '否']));
    matches!(clause.last(), Some('吗' | '呢'))
        || text.between(end).contains(['？', '?'])
        || choice
        || asking
}

/// The best chains of found parts that spell a form, as (start, end, confidence, all exact).
/// `agrees(part, find)`: whether a find of a part may be used (short parts heard by sound must
/// agree with jieba).
fn chain_parts<'f>(
    chain: &Chain,
    found: &impl Fn(usize) -> &'f [Found],
    len: usize,
    agrees: &mut impl FnMut(usize, &Found) -> bool,
) -> Vec<Found> {
    let (first, _) = chain.links[0];
    let mut out = Vec::new();
    for start in found(first) {
        if !agrees(first, start) {
            continue;
        }
        let mut best = Some(*start);
        for &(part, gap) in &chain.links[1..] {
            let Some(prev) = best else { break };
            best = found(part)
                .iter()
                .filter_map(|f| {
                    if f.start < prev.end || !agrees(part, f) {
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
