//! Approximate search by sound: where does a lexicon part occur in a text, allowing homophones,
//! confusable sounds and, for longer parts, a dropped or added syllable?

use crate::text::Syllables;

/// How much sound difference a part of `len` characters may absorb. Parts of up to three characters
/// must sound the same (a near syllable turned 沟通争取 into 重填 and 不小的 into 不晓得); long ones may lose or gain a syllable, as
/// Whisper does (已经告诉你了 → 经告诉你了).
pub fn budget(len: usize) -> f32 {
    match len {
        0..=3 => 0.0,
        4 => 0.5,
        5..=6 => 1.0,
        _ => 1.5,
    }
}

/// Whether a find of a part ending in `last` may lose or mishear its last syllable. Only when that
/// is a sentence-final particle (已经告诉你了 heard as 已经告诉你); otherwise the last syllable is the
/// word that makes the phrase (怎么还不懂), and a find must end on it, heard the same or as a sound
/// Whisper confuses it with: 怎么还不发(货) is not 怎么还不懂.
pub fn loose_end(last: char) -> bool {
    matches!(
        last,
        '了' | '吗' | '呢' | '吧' | '啊' | '呀' | '哦' | '嘛' | '啦'
    )
}

/// Every place `part` occurs in `text` by sound: (start, end, cost) in characters, cost ≤ [`budget`].
/// At most one occurrence is reported per start, the cheapest.
pub fn search(part: &Syllables, text: &Syllables) -> Vec<(usize, usize, f32)> {
    let m = part.len();
    let n = text.len();
    let budget = budget(m);
    let slack = budget.floor() as usize;
    let mut out: Vec<(usize, usize, f32)> = Vec::new();
    if m == 0 || n + slack < m {
        return out;
    }
    // dp[k][j]: cost of hearing part[..k] as text[start..start + j].
    let width = m + slack + 1;
    let mut dp = vec![vec![f32::INFINITY; width]; m + 1];
    for start in 0..n {
        // The occurrence must begin with the part's first syllable, or its second when the first
        // was dropped.
        let opens = part_near(part, 0, text, start)
            || (slack > 0 && m > 1 && part_near(part, 1, text, start));
        if !opens {
            continue;
        }
        let max_j = (n - start).min(m + slack);
        for row in dp.iter_mut() {
            row.iter_mut().for_each(|c| *c = f32::INFINITY);
        }
        dp[0][0] = 0.0;
        for k in 0..=m {
            for j in 0..=max_j {
                let here = dp[k][j];
                if !here.is_finite() || here > budget {
                    continue;
                }
                if k < m && j < max_j {
                    let sub = here + part.distance(k, text, start + j);
                    if sub < dp[k + 1][j + 1] {
                        dp[k + 1][j + 1] = sub;
                    }
                }
                if k < m {
                    let del = here + 1.0;
                    if del < dp[k + 1][j] {
                        dp[k + 1][j] = del;
                    }
                }
                if j < max_j && k > 0 && k < m {
                    let ins = here + 1.0;
                    if ins < dp[k][j + 1] {
                        dp[k][j + 1] = ins;
                    }
                }
            }
        }
        if !loose_end(part.chars()[m - 1]) {
            // The last syllable only by substitution, and only by a near one.
            for j in 0..=max_j {
                dp[m][j] = if j == 0 {
                    f32::INFINITY
                } else {
                    let d = part.distance(m - 1, text, start + j - 1);
                    if d <= 0.5 {
                        dp[m - 1][j - 1] + d
                    } else {
                        f32::INFINITY
                    }
                };
            }
        }
        let best = (1..=max_j)
            .filter(|&j| dp[m][j] <= budget)
            .min_by(|&a, &b| {
                dp[m][a]
                    .total_cmp(&dp[m][b])
                    .then(a.abs_diff(m).cmp(&b.abs_diff(m)))
            });
        if let Some(j) = best {
            out.push((start, start + j, dp[m][j]));
        }
    }
    cheapest_apart(out)
}

/// Starts one apart often find the same words (once whole, once with the first syllable
/// "dropped"): of overlapping finds (start, end, cost), in start order, keeps only the cheapest.
pub fn cheapest_apart(finds: Vec<(usize, usize, f32)>) -> Vec<(usize, usize, f32)> {
    let mut kept: Vec<(usize, usize, f32)> = Vec::new();
    let mut by_cost = finds;
    by_cost.sort_by(|a, b| a.2.total_cmp(&b.2).then(a.0.cmp(&b.0)));
    for f in by_cost {
        if !kept.iter().any(|k| f.0 < k.1 && k.0 < f.1) {
            kept.push(f);
        }
    }
    kept.sort_by_key(|f| f.0);
    kept
}

fn part_near(part: &Syllables, k: usize, text: &Syllables, i: usize) -> bool {
    part.distance(k, text, i) <= 0.5
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syl(s: &str) -> Syllables {
        Syllables::new(&s.chars().collect::<Vec<_>>())
    }

    #[test]
    fn homophones_are_found() {
        let hits = search(&syl("有意见找领导去"), &syl("他说有一件找令到去"));
        assert_eq!(hits, vec![(2, 9, 0.0)]);
    }

    #[test]
    fn a_dropped_syllable_is_absorbed_in_long_parts() {
        let hits = search(&syl("已经告诉你了"), &syl("经告诉你了"));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].2, 1.0);
    }

    #[test]
    fn short_parts_need_the_same_sound() {
        assert!(search(&syl("不知道"), &syl("不只到")).len() == 1);
        assert!(search(&syl("不知道"), &syl("不是到")).is_empty());
        assert!(search(&syl("请坐"), &syl("请走")).is_empty());
    }

    #[test]
    fn a_find_ends_on_the_parts_last_syllable_unless_that_is_a_particle() {
        // 懂 replaced (发) or dropped: another question, not a scolding.
        assert!(search(&syl("怎么还不懂"), &syl("怎么还不发货呢")).is_empty());
        assert!(search(&syl("怎么还不懂"), &syl("都两天了怎么还不")).is_empty());
        // A word replaced inside is still Whisper's kind of error, and a homophone at the end is fine.
        assert_eq!(
            search(&syl("怎么还不懂"), &syl("怎么还不动")),
            vec![(0, 5, 0.0)]
        );
        assert_eq!(
            search(&syl("有意见找领导去"), &syl("有意见找领导来")).len(),
            0
        );
        assert_eq!(
            search(&syl("有意见找领导去"), &syl("有意见找令到去")).len(),
            1
        );
        // A final particle may be lost: 已经告诉你了 heard as 已经告诉你.
        assert_eq!(
            search(&syl("已经告诉你了"), &syl("我已经告诉你")),
            vec![(1, 6, 1.0)]
        );
    }

    #[test]
    fn nothing_in_unrelated_text() {
        assert!(search(&syl("有意见找领导去"), &syl("请出示您的身份证")).is_empty());
    }
}
