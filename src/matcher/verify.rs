//! Verifying a candidate: the reference's search by sound (`phonetic::search`) at one start only,
//! as a banded comparison of sound ids in costs of half a syllable, in buffers kept between calls.

use crate::text::SoundTable;

use super::phonetic::{budget, loose_end};
use super::Heard;

/// Unreachable, in halves of a syllable.
const FAR: u8 = 64;

/// Where `part` is heard in `text` from character `start` on, as the reference's search reports
/// it: the cheapest end (ties: the length nearest the part's, then the shortest) and its cost in
/// halves of a syllable. `rows` is scratch space.
pub(super) fn at(
    part: Heard,
    text: Heard,
    start: usize,
    table: &SoundTable,
    rows: &mut Vec<u8>,
) -> Option<(usize, u8)> {
    let m = part.chars.len();
    let n = text.chars.len();
    let allowed = (budget(m) * 2.0) as u8;
    let slack = usize::from(allowed / 2);
    let d = |k: usize, i: usize| {
        table.distance(part.chars[k], part.sounds[k], text.chars[i], text.sounds[i])
    };
    // The find must open with the part's first syllable, or its second when the first was dropped.
    let opens = d(0, start) <= 1 || (slack > 0 && m > 1 && d(1, start) <= 1);
    if !opens || n + slack < m {
        return None;
    }
    let max_j = (n - start).min(m + slack);
    let width = max_j + 1;
    rows.clear();
    rows.resize(2 * width, FAR);
    let (mut prev, mut cur) = rows.split_at_mut(width);
    // cost[k][j]: part[..k] heard as text[start..start + j]. Nothing may be inserted before the
    // first syllable or after the last; only `slack` syllables may be dropped or added in all, so
    // only cells within `slack` of the diagonal can stay within the budget.
    prev[0] = 0;
    // Unless the part ends in a particle, its last syllable must be heard (the same or near), not
    // dropped or replaced.
    let firm_end = !loose_end(part.chars[m - 1]);
    for k in 1..=m {
        let lo = k.saturating_sub(slack);
        let hi = (k + slack).min(max_j);
        cur.fill(FAR);
        let mut best = FAR;
        for j in lo..=hi {
            if k == m && firm_end {
                let d = if j > 0 { d(k - 1, start + j - 1) } else { FAR };
                cur[j] = if d <= 1 {
                    prev[j - 1].saturating_add(d).min(FAR)
                } else {
                    FAR
                };
                best = best.min(cur[j]);
                continue;
            }
            let mut c = prev[j].saturating_add(2);
            if j > 0 {
                c = c.min(prev[j - 1].saturating_add(d(k - 1, start + j - 1)));
                if k < m {
                    c = c.min(cur[j - 1].saturating_add(2));
                }
            }
            cur[j] = c.min(FAR);
            best = best.min(cur[j]);
        }
        if best > allowed {
            return None;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    (1..=max_j)
        .filter(|&j| prev[j] <= allowed)
        .min_by(|&a, &b| {
            prev[a]
                .cmp(&prev[b])
                .then(a.abs_diff(m).cmp(&b.abs_diff(m)))
        })
        .map(|j| (start + j, prev[j]))
}

/// True when `text` holds `part` literally from `start` on.
#[inline]
pub(super) fn literal(part: &[char], text: &[char], start: usize) -> bool {
    start + part.len() <= text.len() && part.iter().zip(&text[start..]).all(|(a, b)| a == b)
}
