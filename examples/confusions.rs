//! Mines the syllables Whisper confuses: aligns each labelled sentence's text with what Whisper
//! heard for its clip and counts the syllable pairs of characters heard in place of others.
//!
//! ```text
//! cargo run --example confusions -- samples/labelled/labels.tsv samples/labelled/heard.tsv > src/text/confusions.tsv
//! ```
//! (scripts/confusions.sh does this.) Only pairs of characters that share no reading count (homophones
//! already match), only where the alignment holds a lone substitution between two matching characters
//! (so a word heard as a different word of another length gives nothing), and only pairs that share
//! an initial or a final (牌→台, 管→关): the rest are whole words misheard, not near sounds.
use std::collections::BTreeMap;

use courtesy::text::{Normalizer, Syllables};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [labels, heard] = args.as_slice() else {
        eprintln!("usage: confusions LABELS.tsv HEARD.tsv");
        std::process::exit(2);
    };
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{p}: {e}"));
    let said: BTreeMap<String, String> = read(labels)
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut cols = l.split('\t');
            Some((cols.next()?.to_string(), cols.next()?.to_string()))
        })
        .collect();
    let normalizer = Normalizer::shared();
    // (said, heard) → (count, an example).
    let mut pairs: BTreeMap<(String, String), (usize, String)> = BTreeMap::new();
    let mut clips = 0;
    for line in read(heard).lines() {
        let Some((id, heard)) = line.split_once('\t') else {
            continue;
        };
        let Some(text) = said.get(id) else { continue };
        clips += 1;
        let a: Vec<char> = normalizer.fold(text).chars().collect();
        let b: Vec<char> = normalizer.fold(heard).chars().collect();
        let (sa, sb) = (Syllables::new(&a), Syllables::new(&b));
        for (i, j) in lone_substitutions(&a, &b, &sa, &sb) {
            let (x, y) = (sa.reading(i), sb.reading(j));
            if x.is_empty() || y.is_empty() || x == y || !related(x, y) {
                continue;
            }
            let key = if x < y { (x, y) } else { (y, x) };
            let e = pairs
                .entry((key.0.to_string(), key.1.to_string()))
                .or_insert((0, String::new()));
            e.0 += 1;
            if e.1.is_empty() {
                e.1 = format!("{id}: {text} → {heard}");
            }
        }
    }
    println!(
        "# Syllables Whisper confuses (toneless pinyin, either way), mined from {clips} clips of"
    );
    println!("# {labels} against {heard} by scripts/confusions.sh. The matcher");
    println!("# treats the two as near sounds (half a syllable apart); every other pair of syllables is far.");
    println!("# syllable\tsyllable\tcount\texample");
    for ((x, y), (n, example)) in &pairs {
        println!("{x}\t{y}\t{n}\t{example}");
    }
}

/// Positions (i in a, j in b) where the alignment substitutes one character for one other and the
/// characters on both sides match (or the text ends there).
fn lone_substitutions(
    a: &[char],
    b: &[char],
    sa: &Syllables,
    sb: &Syllables,
) -> Vec<(usize, usize)> {
    let (n, m) = (a.len(), b.len());
    let same = |i: usize, j: usize| sa.distance(i, sb, j) == 0.0;
    let mut d: Vec<Vec<usize>> = (0..=n)
        .map(|i| {
            (0..=m)
                .map(|j| {
                    if i == 0 {
                        j
                    } else if j == 0 {
                        i
                    } else {
                        0
                    }
                })
                .collect()
        })
        .collect();
    for i in 1..=n {
        for j in 1..=m {
            let sub = d[i - 1][j - 1] + usize::from(!same(i - 1, j - 1));
            d[i][j] = sub.min(d[i - 1][j] + 1).min(d[i][j - 1] + 1);
        }
    }
    // Walk back: 'M' match, 'S' substitution, 'D'/'I' gaps.
    let mut path = Vec::new();
    let (mut i, mut j) = (n, m);
    while i > 0 || j > 0 {
        if i > 0 && j > 0 && d[i][j] == d[i - 1][j - 1] + usize::from(!same(i - 1, j - 1)) {
            path.push((if same(i - 1, j - 1) { 'M' } else { 'S' }, i - 1, j - 1));
            i -= 1;
            j -= 1;
        } else if i > 0 && d[i][j] == d[i - 1][j] + 1 {
            path.push(('D', i - 1, j));
            i -= 1;
        } else {
            path.push(('I', i, j - 1));
            j -= 1;
        }
    }
    path.reverse();
    let ok = |k: Option<&(char, usize, usize)>| k.is_none_or(|s| s.0 == 'M');
    (0..path.len())
        .filter(|&k| {
            path[k].0 == 'S' && ok(k.checked_sub(1).map(|p| &path[p])) && ok(path.get(k + 1))
        })
        .map(|k| (path[k].1, path[k].2))
        .collect()
}

/// True when two syllables share their initial or their final.
fn related(x: &str, y: &str) -> bool {
    let split = |s: &str| -> (String, String) {
        for two in ["zh", "ch", "sh"] {
            if let Some(rest) = s.strip_prefix(two) {
                return (two.into(), rest.into());
            }
        }
        match s.chars().next() {
            Some(c) if "bpmfdtnlgkhjqxrzcsyw".contains(c) => (c.to_string(), s[1..].into()),
            _ => (String::new(), s.into()),
        }
    };
    let ((ix, fx), (iy, fy)) = (split(x), split(y));
    ix == iy || fx == fy
}
