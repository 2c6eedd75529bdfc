#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer, AddressSanitizer) of every target in fuzz/, one
# after another, SECONDS each at nice 10. Per target it prints the seconds run, executions, corpus
# size and crashes; crash inputs are kept in fuzz/artifacts/TARGET/ (turn each into a regression
# test). The corpus grows in fuzz/corpus/TARGET/ across runs, seeded from the repository's samples.
#   scripts/fuzz.sh [SECONDS=60] [TARGET…]     (targets: wav decode lexicon config text_match http)
# Needs a nightly toolchain (`rustup toolchain install nightly`); installs cargo-fuzz when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
targets=("$@")
((${#targets[@]})) || targets=(wav decode lexicon config text_match http)
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz

# Seeds: real inputs of each kind, copied (never edited) into the corpus when it is empty.
seed() { # target, files…
  local dir=fuzz/corpus/$1
  shift
  mkdir -p "$dir"
  if [ -z "$(ls -A "$dir")" ]; then
    for f in "$@"; do cp "$f" "$dir/seed-$(basename "$f")"; done
  fi
}
seed wav samples/labelled/L001.wav src/asr/verify.wav
seed decode samples/formats/*.{aac,flac,m4a,mp3,ogg,opus,amr,mkv,mp4} samples/labelled/L001.wav
seed lexicon lexicons/banned.toml lexicons/civil.toml
seed config deploy/courtesy.toml samples/windows/EXPECTED.toml
# Transcripts are short: one seed per labelled sentence (the matcher's cost grows with the length).
mkdir -p fuzz/corpus/text_match
[ -n "$(ls -A fuzz/corpus/text_match)" ] ||
  tail -n +2 samples/labelled/labels.tsv | cut -f2 | head -n 60 | split -l 1 - fuzz/corpus/text_match/seed-
# http: [method/prefix] [session: bit 2 on, role = byte % 4] [range length] range… path (fuzz/fuzz_targets/http.rs).
mkdir -p fuzz/corpus/http
[ -n "$(ls -A fuzz/corpus/http)" ] || {
  printf '\x10\x07\x00w07/a.wav' >fuzz/corpus/http/seed-clip
  printf '\x10\x07\x0bbytes=0-3w07/a.wav' >fuzz/corpus/http/seed-range
  printf '\x50\x06\x00w07/a.wav' >fuzz/corpus/http/seed-live-clip
  printf '\x80\x05\x00review/items?window=w07&day=2026-11-30' >fuzz/corpus/http/seed-api
  printf '\xb0\x05\x00?day=2026-11-30&from=2026-11-01&to=2026-11-30' >fuzz/corpus/http/seed-reports
  printf '\xf0\x00\x00/login' >fuzz/corpus/http/seed-login
}

max_len() {
  case $1 in
    wav | decode) echo 16384 ;;
    lexicon) echo 8192 ;;
    text_match) echo 1024 ;;
    *) echo 4096 ;;
  esac
}

cd fuzz
# The crate's own versions of every dependency (fuzz/ is a workspace of its own).
cp ../Cargo.lock Cargo.lock
mkdir -p artifacts
# Build once (release, debug assertions on, AddressSanitizer), then run each target.
nice -n 10 cargo +nightly fuzz build -O -a >/dev/null 2>artifacts/build.log ||
  { tail -20 artifacts/build.log >&2; exit 2; }
printf '%-11s %8s %12s %8s %s\n' target seconds executions corpus crashes
status=0
for t in "${targets[@]}"; do
  mkdir -p "artifacts/$t"
  before=$(ls "artifacts/$t" | wc -l)
  log="artifacts/$t.log"
  start=$(date +%s)
  nice -n 10 cargo +nightly fuzz run -O -a "$t" -- -max_total_time="$seconds" \
    -max_len="$(max_len "$t")" -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || true
  took=$(($(date +%s) - start))
  execs=$(grep -Eo 'stat::number_of_executed_units: [0-9]+' "$log" | awk '{print $2}' | tail -1)
  # A run that stopped at a crash prints no final stats: its last status line counts.
  [ -n "$execs" ] || execs=$(grep -Eo '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  crashes=$(($(ls "artifacts/$t" | wc -l) - before))
  corpus=$(ls "corpus/$t" | wc -l)
  note=""
  if ((crashes > 0)); then
    status=1
    note="  $(grep -m1 -E 'panicked at|ERROR: AddressSanitizer|ERROR: libFuzzer' "$log" | cut -c1-120)"
  fi
  printf '%-11s %8s %12s %8s %s%s\n' "$t" "$took" "${execs:-?}" "$corpus" "$crashes" "$note"
done
exit $status
