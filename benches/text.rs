//! Throughput of the text stage: folding, segmentation and matching, on service-window sentences.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rayon::prelude::*;

use courtesy::lexicon::Lexicon;
use courtesy::matcher::Matcher;
use courtesy::text::{Normalizer, Segmenter};

/// About 100 KB of sentences: the labelled set's texts, repeated.
fn corpus() -> Vec<String> {
    let labels = include_str!("../samples/labelled/labels.tsv");
    let lines: Vec<String> = labels
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').nth(1))
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    while out.iter().map(String::len).sum::<usize>() < 100_000 {
        out.extend(lines.iter().cloned());
    }
    out
}

fn text_stage(c: &mut Criterion) {
    let lines = corpus();
    let bytes: usize = lines.iter().map(String::len).sum();
    let normalizer = Normalizer::shared();
    let matcher = Matcher::new(&Lexicon::builtin().unwrap());
    let segmenter = Segmenter::new(["不知道", "我不管"]);
    let mut g = c.benchmark_group("text");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
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
    g.bench_function("match (1 thread)", |b| {
        b.iter(|| lines.iter().map(|l| matcher.find(l).len()).sum::<usize>())
    });
    g.bench_function("match (rayon)", |b| {
        b.iter(|| {
            lines
                .par_iter()
                .map(|l| matcher.find(l).len())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, text_stage);
criterion_main!(benches);
