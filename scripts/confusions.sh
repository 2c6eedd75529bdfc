#!/usr/bin/env bash
# Regenerates src/text/confusions.tsv, the syllable pairs Whisper confuses (the matcher's only near
# sounds), from Whisper's transcripts of the labelled clips. Runs Whisper once (a few minutes) unless
# samples/labelled/heard.tsv is already there.
#   scripts/confusions.sh [--again]
set -euo pipefail
cd "$(dirname "$0")/.."
heard=samples/labelled/heard.tsv
if [ ! -s "$heard" ] || [ "${1:-}" = --again ]; then
  cargo run --release --quiet -- eval samples/labelled --audio --save-heard "$heard" >/dev/null
fi
cargo run --release --quiet --example confusions -- samples/labelled/labels.tsv "$heard" > src/text/confusions.tsv
grep -vc '^#' src/text/confusions.tsv | xargs echo "confusion pairs:"
