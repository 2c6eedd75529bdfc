//! The prefilter: which (part, start) pairs of a text are worth verifying. Pieces of every part,
//! as blurred syllables, sit in one trie walked from every position of the text; a piece heard
//! there names its part and where that part would start.
//!
//! Why it misses nothing: a part is found by sound only with at most one hard error (a syllable
//! dropped, added or unlike; near sounds share a blurred syllable and cost no piece), because
//! [`budget`](super::phonetic::budget) is below 2. So each part gets pieces such that one error
//! leaves at least one heard whole: the whole part when no error is allowed; otherwise two
//! disjoint pieces of up to four syllables (the second one then stands one place early or late).
//! Five syllables would make two short pieces that many parts share, so there the last three
//! cover errors in the first two, and the ways of hearing the rest with one error are spelled out
//! (with "any syllable" steps). A piece that may have moved yields only the parts whose first or
//! second syllable is heard where the part would start, as a find must open.

use crate::text::{Blur, SoundId, SoundTable, NO_SOUND};

use super::Heard;

/// Syllables in the longest piece: longer pieces are rarer in text, shorter ones allow more errors.
const MAX_PIECE: usize = 4;

/// A piece of a part that stands where the part starts (or at a fixed offset from it), found:
/// the part and the piece's offset in it.
#[derive(Debug, Clone, Copy)]
struct Seed {
    part: u32,
    offset: u32,
}

#[derive(Debug, Clone, Copy)]
struct Node {
    /// The node after any syllable (a piece with an unlike syllable in it), or [`NONE`].
    any: u32,
    /// Whether any edge leaves this node.
    inner: bool,
    /// Pieces ending here that stand at a fixed offset: a range of `seeds`.
    seeds: (u32, u32),
    /// Offsets of pieces ending here that an error before them may have moved by one place: a
    /// range of `offsets`. Their parts are found through `openings`.
    offsets: (u32, u32),
}

const NONE: u32 = u32::MAX;

impl Node {
    const fn new() -> Node {
        Node {
            any: NONE,
            inner: false,
            seeds: (0, 0),
            offsets: (0, 0),
        }
    }
}

/// One step of a piece: a character of the part, or any syllable.
#[derive(Debug, Clone, Copy)]
enum Step {
    Char(usize),
    Any,
}

/// The trie of every part's pieces.
#[derive(Debug)]
pub(super) struct Prefilter {
    /// Node reached by each syllable from the root.
    root: Vec<u32>,
    edges: IdMap,
    nodes: Vec<Node>,
    seeds: Vec<Seed>,
    offsets: Vec<u32>,
    /// Pieces that may have moved, by (node, offset, syllable the part may open with — its first,
    /// or its second when the first was dropped): a range of `opening_parts`. A find must open
    /// so (see `verify::at`), which sorts out most of the parts that share such a piece.
    openings: IdMap,
    opening_ranges: Vec<(u32, u32)>,
    opening_parts: Vec<u32>,
    /// The lexicon's characters that have no reading (letters, digits), sorted, and the syllable
    /// each is heard as (itself only).
    lone: Vec<char>,
    lone_blurs: Vec<Blur>,
    /// Whether an edge leaves the root's child for one syllable by another: `pairs` bit
    /// `first * symbols + second`. Most text positions stop here, without a hash lookup.
    pairs: Vec<u64>,
    /// Whether the root's child for a syllable holds seeds or an edge for any syllable: bit
    /// `first`.
    singles: Vec<u64>,
    symbols: usize,
    table: &'static SoundTable,
}

impl Prefilter {
    /// Pieces of `parts`; `errors(len)` is how many hard errors a part of `len` characters may
    /// carry (0 or 1).
    pub fn new(
        parts: &[Vec<char>],
        errors: impl Fn(usize) -> usize,
        table: &'static SoundTable,
    ) -> Prefilter {
        let mut lone: Vec<char> = parts
            .iter()
            .flatten()
            .copied()
            .filter(|&c| table.sound(c) == NO_SOUND)
            .collect();
        lone.sort_unstable();
        lone.dedup();
        let symbols = table.blur_count() + 1 + lone.len();
        let lone_blurs = (0..lone.len())
            .map(|i| (table.blur_count() + 1 + i) as Blur)
            .collect();
        let mut filter = Prefilter {
            root: Vec::new(),
            edges: IdMap::with_capacity(0),
            nodes: Vec::new(),
            seeds: Vec::new(),
            offsets: Vec::new(),
            openings: IdMap::with_capacity(0),
            opening_ranges: Vec::new(),
            opening_parts: Vec::new(),
            lone,
            lone_blurs,
            pairs: vec![0; (symbols * symbols).div_ceil(64)],
            singles: vec![0; symbols.div_ceil(64)],
            symbols,
            table,
        };
        let mut build = Build {
            nodes: vec![Node::new()], // the root's place: its edges are `root`
            edges: IdMap::with_capacity(parts.len() * 4),
            root: vec![NONE; symbols],
            seeds: vec![Vec::new()],
        };
        // (node, offset, opening syllable, part) of every piece that may have moved.
        let mut moved: Vec<(u32, u32, Blur, u32)> = Vec::new();
        for (id, part) in parts.iter().enumerate() {
            let sounds: Vec<SoundId> = part.iter().map(|&c| table.sound(c)).collect();
            let text = Heard {
                chars: part,
                sounds: &sounds,
            };
            let heard: Vec<Vec<Blur>> = (0..part.len())
                .map(|i| filter.blurs(text, i).to_vec())
                .collect();
            let mut opening: Vec<Blur> = heard.iter().take(2).flatten().copied().collect();
            opening.sort_unstable();
            opening.dedup();
            for (steps, offset, shifts) in pieces(part.len(), errors(part.len())) {
                for (node, first, second) in build.insert(&steps, &heard) {
                    let seed = |offset: usize| Seed {
                        part: id as u32,
                        offset: offset as u32,
                    };
                    match shifts {
                        true if offset <= MAX_KEYED_OFFSET => moved
                            .extend(opening.iter().map(|&b| (node, offset as u32, b, id as u32))),
                        true => build.seeds[node as usize].extend([
                            seed(offset - 1),
                            seed(offset),
                            seed(offset + 1),
                        ]),
                        false => build.seeds[node as usize].push(seed(offset)),
                    }
                    if steps.len() > 1 {
                        let bit = usize::from(first) * symbols + usize::from(second);
                        filter.pairs[bit / 64] |= 1 << (bit % 64);
                    }
                }
            }
        }
        let Build {
            mut nodes,
            edges,
            root,
            seeds,
        } = build;
        for (node, list) in nodes.iter_mut().zip(seeds) {
            node.seeds = (filter.seeds.len() as u32, list.len() as u32);
            filter.seeds.extend(list);
        }
        moved.sort_unstable();
        moved.dedup();
        filter.openings = IdMap::with_capacity(moved.len());
        for same_node in moved.chunk_by(|a, b| a.0 == b.0) {
            let node = same_node[0].0;
            let first = filter.offsets.len() as u32;
            for same_offset in same_node.chunk_by(|a, b| a.1 == b.1) {
                filter.offsets.push(same_offset[0].1);
                for same_blur in same_offset.chunk_by(|a, b| a.2 == b.2) {
                    let (_, offset, blur, _) = same_blur[0];
                    let range = (filter.opening_parts.len() as u32, same_blur.len() as u32);
                    filter.opening_parts.extend(same_blur.iter().map(|m| m.3));
                    let key = opening_key(node, offset, blur);
                    filter
                        .openings
                        .insert(key, filter.opening_ranges.len() as u32);
                    filter.opening_ranges.push(range);
                }
            }
            let count = filter.offsets.len() as u32 - first;
            nodes[node as usize].offsets = (first, count);
        }
        for (first, &node) in root.iter().enumerate().filter(|(_, &n)| n != NONE) {
            let n = &nodes[node as usize];
            if n.seeds.1 > 0 || n.offsets.1 > 0 || n.any != NONE {
                filter.singles[first / 64] |= 1 << (first % 64);
            }
        }
        filter.root = root;
        filter.edges = edges;
        filter.nodes = nodes;
        filter
    }

    /// The syllables character `i` of `text` may be heard as.
    #[inline]
    fn blurs<'a>(&'a self, text: Heard<'a>, i: usize) -> &'a [Blur] {
        match text.sounds[i] {
            NO_SOUND if !self.lone.is_empty() => match self.lone.binary_search(&text.chars[i]) {
                Ok(l) => std::slice::from_ref(&self.lone_blurs[l]),
                Err(_) => &[],
            },
            sound => self.table.blurs(sound),
        }
    }

    /// Adds to `out` every (part << 32 | start) worth verifying in `text` (unsorted, with repeats).
    pub fn candidates(&self, text: Heard, out: &mut Vec<u64>) {
        let n = text.chars.len();
        let mut here = if n > 0 { self.blurs(text, 0) } else { &[] };
        for p in 0..n {
            let next = if p + 1 < n {
                self.blurs(text, p + 1)
            } else {
                &[]
            };
            for &first in here {
                let first = usize::from(first);
                // Most positions end here: no piece starts with these two syllables.
                for &second in next {
                    if bit(&self.pairs, first * self.symbols + usize::from(second)) {
                        let child = self.edges.get(edge_key(self.root[first], second));
                        self.walk(child.expect("a pair bit marks an edge"), p, 2, text, out);
                    }
                }
                if bit(&self.singles, first) {
                    let node = self.root[first];
                    self.emit(node, p, text, out);
                    let any = self.nodes[node as usize].any;
                    if any != NONE && !next.is_empty() {
                        self.walk(any, p, 2, text, out);
                    }
                }
            }
            here = next;
        }
    }

    /// The seeds at `node`, reached by a piece heard from `p` on, and those further down.
    fn walk(&self, node: u32, p: usize, depth: usize, text: Heard, out: &mut Vec<u64>) {
        let n = text.chars.len();
        self.emit(node, p, text, out);
        let inner = &self.nodes[node as usize];
        let next = p + depth;
        if !inner.inner || next >= n {
            return;
        }
        for &b in self.blurs(text, next) {
            if let Some(child) = self.edges.get(edge_key(node, b)) {
                self.walk(child, p, depth + 1, text, out);
            }
        }
        if inner.any != NONE {
            self.walk(inner.any, p, depth + 1, text, out);
        }
    }

    /// The starts that the pieces ending at `node`, heard from `p` on, point to.
    #[inline]
    fn emit(&self, id: u32, p: usize, text: Heard, out: &mut Vec<u64>) {
        let node = &self.nodes[id as usize];
        let (first, count) = node.seeds;
        for seed in &self.seeds[first as usize..(first + count) as usize] {
            if let Some(start) = p.checked_sub(seed.offset as usize) {
                out.push(u64::from(seed.part) << 32 | start as u64);
            }
        }
        let (first, count) = node.offsets;
        for &offset in &self.offsets[first as usize..(first + count) as usize] {
            let at = p as i64 - i64::from(offset);
            for start in (at - 1).max(0)..=(at + 1).min(text.chars.len() as i64 - 1) {
                let start = start as usize;
                for &b in self.blurs(text, start) {
                    let key = opening_key(id, offset, b);
                    if let Some(range) = self.openings.get(key) {
                        let (from, len) = self.opening_ranges[range as usize];
                        for &part in &self.opening_parts[from as usize..(from + len) as usize] {
                            out.push(u64::from(part) << 32 | start as u64);
                        }
                    }
                }
            }
        }
    }
}

fn edge_key(node: u32, b: Blur) -> u64 {
    u64::from(node) << 16 | u64::from(b)
}

/// Offsets up to this are keys of `openings` (pieces further into a part stand at each of the
/// three places as seeds instead).
const MAX_KEYED_OFFSET: usize = 0xFFFF;

fn opening_key(node: u32, offset: u32, b: Blur) -> u64 {
    u64::from(node) << 32 | u64::from(offset) << 16 | u64::from(b)
}

#[inline]
fn bit(bits: &[u64], i: usize) -> bool {
    bits[i / 64] & (1 << (i % 64)) != 0
}

/// The pieces of a part of `len` characters that may carry `errors` hard errors: (steps, offset in
/// the part, whether an error before it may move it by one).
fn pieces(len: usize, errors: usize) -> Vec<(Vec<Step>, usize, bool)> {
    let chars = |r: std::ops::Range<usize>| r.map(Step::Char).collect::<Vec<_>>();
    match (errors, len) {
        (0, _) => vec![(chars(0..len.min(MAX_PIECE)), 0, false)],
        (_, 5) => {
            let (a, b, c, d, e) = (0, 1, 2, 3, 4);
            let path = |steps: &[Option<usize>]| -> Vec<Step> {
                steps
                    .iter()
                    .map(|s| s.map_or(Step::Any, Step::Char))
                    .collect()
            };
            vec![
                // An error in the first two syllables (or an added one among them) leaves the
                // last three.
                (chars(2..5), 2, true),
                // Any other error, spelled out: every way stays four syllables or longer, so
                // parts that share three syllables do not all become candidates at once.
                (path(&[Some(a), Some(b), Some(c), Some(d)]), 0, false),
                (path(&[Some(a), Some(b), Some(c), None, Some(e)]), 0, false),
                (path(&[Some(a), Some(b), Some(c), Some(e)]), 0, false),
                (
                    path(&[Some(a), Some(b), Some(c), None, Some(d), Some(e)]),
                    0,
                    false,
                ),
                (path(&[Some(a), Some(b), None, Some(d), Some(e)]), 0, false),
                (path(&[Some(a), Some(b), Some(d), Some(e)]), 0, false),
            ]
        }
        (_, len) if len >= 6 => {
            let q = (len / 2).min(MAX_PIECE);
            vec![
                (chars(0..q), 0, false),
                (chars(len - q..len), len - q, true),
            ]
        }
        // Short parts with an error allowed (not in today's budget): every syllable a piece.
        (_, len) => (0..len).map(|i| (chars(i..i + 1), i, i > 0)).collect(),
    }
}

/// The trie while it is built: seeds per node.
struct Build {
    nodes: Vec<Node>,
    edges: IdMap,
    root: Vec<u32>,
    seeds: Vec<Vec<Seed>>,
}

impl Build {
    /// Adds the piece `steps` of a part heard as `heard` (each character's syllables), every
    /// reading of every character: the nodes where it ends, each with the first two syllables of
    /// the way there.
    fn insert(&mut self, steps: &[Step], heard: &[Vec<Blur>]) -> Vec<(u32, Blur, Blur)> {
        // (node, first syllable, second syllable) of every path so far; node 0 is the root.
        let mut frontier: Vec<(u32, Blur, Blur)> = vec![(0, 0, 0)];
        for (depth, step) in steps.iter().enumerate() {
            let mut next = Vec::new();
            for &(node, first, second) in &frontier {
                match *step {
                    Step::Any => next.push((self.any(node), first, second)),
                    Step::Char(i) => {
                        for &b in &heard[i] {
                            let (first, second) = match depth {
                                0 => (b, 0),
                                1 => (first, b),
                                _ => (first, second),
                            };
                            next.push((self.child(node, depth, b), first, second));
                        }
                    }
                }
            }
            next.sort_unstable();
            next.dedup();
            frontier = next;
        }
        frontier
    }

    fn new_node(&mut self) -> u32 {
        self.nodes.push(Node::new());
        self.seeds.push(Vec::new());
        (self.nodes.len() - 1) as u32
    }

    fn child(&mut self, node: u32, depth: usize, b: Blur) -> u32 {
        if depth == 0 {
            if self.root[b as usize] == NONE {
                self.root[b as usize] = self.new_node();
            }
            return self.root[b as usize];
        }
        if let Some(c) = self.edges.get(edge_key(node, b)) {
            return c;
        }
        let c = self.new_node();
        self.edges.insert(edge_key(node, b), c);
        self.nodes[node as usize].inner = true;
        c
    }

    fn any(&mut self, node: u32) -> u32 {
        if self.nodes[node as usize].any == NONE {
            let c = self.new_node();
            self.nodes[node as usize].any = c;
            self.nodes[node as usize].inner = true;
        }
        self.nodes[node as usize].any
    }
}

/// A map of u64 keys to u32 values in one open-addressing table: the edges below the root
/// ((node, syllable) → node) and the openings.
#[derive(Debug)]
struct IdMap {
    keys: Vec<u64>,
    values: Vec<u32>,
    len: usize,
}

const EMPTY: u64 = u64::MAX;

impl IdMap {
    fn with_capacity(n: usize) -> IdMap {
        let size = (n * 2).next_power_of_two().max(16);
        IdMap {
            keys: vec![EMPTY; size],
            values: vec![0; size],
            len: 0,
        }
    }

    #[inline]
    fn slot(&self, key: u64) -> usize {
        let bits = self.keys.len().trailing_zeros();
        (key.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - bits)) as usize
    }

    #[inline]
    fn get(&self, key: u64) -> Option<u32> {
        let mask = self.keys.len() - 1;
        let mut i = self.slot(key);
        loop {
            match self.keys[i] {
                k if k == key => return Some(self.values[i]),
                EMPTY => return None,
                _ => i = (i + 1) & mask,
            }
        }
    }

    fn insert(&mut self, key: u64, value: u32) {
        if (self.len + 1) * 2 > self.keys.len() {
            let old = std::mem::replace(self, IdMap::with_capacity(self.keys.len()));
            for (k, v) in old.keys.into_iter().zip(old.values) {
                if k != EMPTY {
                    self.insert(k, v);
                }
            }
        }
        let mask = self.keys.len() - 1;
        let mut i = self.slot(key);
        while self.keys[i] != EMPTY {
            i = (i + 1) & mask;
        }
        self.keys[i] = key;
        self.values[i] = value;
        self.len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way of hearing a part with at most one hard error keeps one of its pieces whole at a
    /// place its seed points back from: checked for every length, error kind and position.
    #[test]
    fn one_error_always_leaves_a_piece() {
        for len in 1..=12 {
            // One error in a part of one character leaves nothing to find it by (nor does the
            // reference find one: a find must open with a near sound).
            for errors in 0..=usize::from(len > 1) {
                let pieces = pieces(len, errors);
                // The text as part positions (None: an inserted or unlike syllable).
                let mut variants: Vec<Vec<Option<usize>>> = vec![(0..len).map(Some).collect()];
                if errors == 1 {
                    for k in 0..len {
                        let mut sub: Vec<Option<usize>> = (0..len).map(Some).collect();
                        sub[k] = None;
                        variants.push(sub);
                        variants.push((0..len).filter(|&i| i != k).map(Some).collect());
                    }
                    for k in 1..len {
                        let mut ins: Vec<Option<usize>> = (0..len).map(Some).collect();
                        ins.insert(k, None);
                        variants.push(ins);
                    }
                }
                // A part heard as nothing is no find.
                for v in variants.into_iter().filter(|v| !v.is_empty()) {
                    let found = pieces.iter().any(|(steps, offset, shifts)| {
                        (0..v.len()).any(|p| {
                            let whole = steps.iter().enumerate().all(|(d, s)| match s {
                                Step::Any => p + d < v.len(),
                                Step::Char(i) => v.get(p + d) == Some(&Some(*i)),
                            });
                            let start = p as i64 - *offset as i64;
                            whole && (start == 0 || (*shifts && start.abs() == 1))
                        })
                    });
                    assert!(
                        found,
                        "len {len}, errors {errors}: {v:?} has no whole piece"
                    );
                }
            }
        }
    }
}
