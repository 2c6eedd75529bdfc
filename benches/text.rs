//! Throughput of the text stage in MB/s of input, on one thread unless named: folding, jieba
//! segmentation, and matching with the built-in lexicons and with 50,000 generated phrases — the
//! matcher next to its reference (the matcher as first written) in the same run.
//!
//! The corpus is the file named by `COURTESY_CORPUS` (scripts/bench-text.sh fetches a large one:
//! People's Daily news and shopping reviews), else the labelled set's texts repeated to ~100 KB.
//! The reference is timed on the corpus's first lines only (it is thousands of times slower).
//! Under `cargo test` (no `--bench`) every benchmark runs once on a small slice.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rayon::prelude::*;

use courtesy::lexicon::{synthetic_toml, Kind, Lexicon};
use courtesy::matcher::Matcher;
use courtesy::text::{Normalizer, Segmenter};

/// Lines of the corpus, non-empty, and its name.
fn corpus() -> (Vec<String>, String) {
    if let Ok(path) = std::env::var("COURTESY_CORPUS") {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!("{path}: cannot read it ({e}) — COURTESY_CORPUS must name a UTF-8 text file")
        });
        let lines = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect();
        return (lines, path);
    }
    let labels = include_str!("../samples/labelled/labels.tsv");
    let lines: Vec<String> = labels
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').nth(1))
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    while bytes(&out) < 100_000 {
        out.extend(lines.iter().cloned());
    }
    (out, "labelled set ×N".into())
}

fn bytes(lines: &[String]) -> usize {
    lines.iter().map(String::len).sum()
}

/// The first lines of `lines` holding up to `limit` bytes.
fn head(lines: &[String], limit: usize) -> &[String] {
    let mut total = 0;
    let n = lines
        .iter()
        .take_while(|l| {
            total += l.len();
            total <= limit
        })
        .count();
    &lines[..n.max(1)]
}

fn fifty_thousand() -> Lexicon {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("civil.toml"),
        synthetic_toml(Kind::Civil, 0, 25_000),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("banned.toml"),
        synthetic_toml(Kind::Banned, 25_000, 25_000),
    )
    .unwrap();
    Lexicon::load_dir(dir.path()).unwrap()
}

fn text_stage(c: &mut Criterion) {
    let benching = std::env::args().any(|a| a == "--bench");
    let (all, name) = corpus();
    let lines = if benching {
        &all[..]
    } else {
        head(&all, 20_000)
    };
    eprintln!(
        "corpus: {name}, {} lines, {:.1} MB used",
        lines.len(),
        bytes(lines) as f64 / 1e6
    );
    let normalizer = Normalizer::shared();
    let builtin = Matcher::new(&Lexicon::builtin().unwrap());
    let segmenter = Segmenter::new(["不知道", "我不管"]);

    let mut g = c.benchmark_group("text");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(if benching { 20 } else { 1 }));
    g.throughput(Throughput::Bytes(bytes(lines) as u64));
    g.bench_function("normalize", |b| {
        b.iter(|| {
            lines
                .iter()
                .map(|l| normalizer.normalize(l).len())
                .sum::<usize>()
        })
    });
    g.bench_function("segment", |b| {
        b.iter(|| {
            lines
                .iter()
                .map(|l| segmenter.words(l).len())
                .sum::<usize>()
        })
    });
    g.bench_function(BenchmarkId::new("match", "builtin"), |b| {
        b.iter(|| lines.iter().map(|l| builtin.find(l).len()).sum::<usize>())
    });
    g.bench_function(BenchmarkId::new("match (rayon)", "builtin"), |b| {
        b.iter(|| {
            lines
                .par_iter()
                .map(|l| builtin.find(l).len())
                .sum::<usize>()
        })
    });
    let old = head(lines, if benching { 200_000 } else { 5_000 });
    let reference = builtin.reference();
    g.throughput(Throughput::Bytes(bytes(old) as u64));
    g.bench_function("normalize (converting all)", |b| {
        b.iter(|| {
            old.iter()
                .map(|l| normalizer.normalize_converting(l).len())
                .sum::<usize>()
        })
    });
    g.bench_function(BenchmarkId::new("reference", "builtin"), |b| {
        b.iter(|| old.iter().map(|l| reference.find(l).len()).sum::<usize>())
    });

    let big = Matcher::new(&fifty_thousand());
    g.throughput(Throughput::Bytes(bytes(lines) as u64));
    g.bench_function(BenchmarkId::new("match", "50k"), |b| {
        b.iter(|| lines.iter().map(|l| big.find(l).len()).sum::<usize>())
    });
    let old = head(lines, if benching { 4_000 } else { 500 });
    let reference = big.reference();
    g.throughput(Throughput::Bytes(bytes(old) as u64));
    g.bench_function(BenchmarkId::new("reference", "50k"), |b| {
        b.iter(|| old.iter().map(|l| reference.find(l).len()).sum::<usize>())
    });
    g.finish();
}

criterion_group!(benches, text_stage);
criterion_main!(benches);
