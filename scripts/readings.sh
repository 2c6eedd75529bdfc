#!/usr/bin/env bash
# Regenerates src/text/readings.tsv, the readings each character takes in modern words (the matcher
# ignores Unihan's archaic ones), from CC-CEDICT as shipped in the dragonmapper 0.3.0 wheel on PyPI,
# pinned by sha256. The table is committed; this only runs when it should change.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/readings
wheel=$dir/dragonmapper-0.3.0-py3-none-any.whl
sha=7b9f4503963e5e016bfcdfc4d58d73fc029214f54d643880fab834e51ec55f6a
mkdir -p "$dir"
[ -s "$wheel" ] || python3 -m pip download -q --no-deps -d "$dir" dragonmapper==0.3.0
echo "$sha  $wheel" | sha256sum -c --quiet
python3 scripts/readings/cedict.py "$wheel" > src/text/readings.tsv
grep -vc '^#' src/text/readings.tsv | xargs echo "characters with modern readings beyond the first:"
