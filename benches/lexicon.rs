//! Load time of lexicons at scale: parsing and checking the TOML, then building the matcher
//! (aho-corasick, jieba words, syllables), at 5,000, 10,000 and 50,000 generated phrases.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};

use courtesy::lexicon::{synthetic_toml, Kind, Lexicon};
use courtesy::matcher::Matcher;

fn lexicon_load(c: &mut Criterion) {
    let mut group = c.benchmark_group("lexicon_load");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for n in [5_000, 10_000, 50_000] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("civil.toml"),
            synthetic_toml(Kind::Civil, 0, n / 2),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("banned.toml"),
            synthetic_toml(Kind::Banned, n / 2, n - n / 2),
        )
        .unwrap();
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                let lexicon = Lexicon::load_dir(dir.path()).unwrap();
                Matcher::new(&lexicon)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, lexicon_load);
criterion_main!(benches);
