#!/usr/bin/env bash
# Live benchmark: N replayed windows, each speaking about 30 % of the time, through `courtesy live`
# in real time. Per N: end-of-speech → alert latency p50/p95, CPU use, peak RSS, dropped
# utterances and lost frames, and banned-phrase recall; then the batch path (`courtesy analyze`)
# on the same files for the recall comparison.
# Last, live against batch on real voices (the shared human clips): CER of each.
#   scripts/bench-live.sh [SECONDS=120] [N…=1 4 8 16]   extra flags via LIVE_FLAGS="--config F"; BATCH=0 skips analyze;
#   N = 0 runs no tracks (real voices only); HUMAN=0 skips the real voices
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-120}; shift || true
ns=("$@"); ((${#ns[@]})) || ns=(1 4 8 16)
scripts/setup.sh >/dev/null
bin=./target/release/courtesy
out=target/bench/live
mkdir -p "$out"

printf '%-8s %-10s %-10s %-10s %-10s %-8s %-9s %-8s %-8s %-12s %s\n' windows "alert p50" "alert p95" "text p50" "text p95" "CPU %" "RSS MB" dropped "lost fr" "recall" "busy/calls"
for n in "${ns[@]}"; do
  [ "$n" != 0 ] || continue
  dir="$out/tracks-$n"
  [ -f "$dir/truth.tsv" ] || python3 scripts/bench/make_tracks.py "$dir" "$n" "$seconds"
  rm -rf "$out/run-$n"; mkdir -p "$out/run-$n"
  /usr/bin/time -f '%P %M' -o "$out/run-$n/time" \
    $bin live --replay "$dir" --format jsonl --log "$out/run-$n/alerts.jsonl" --clips "$out/run-$n/clips" \
    ${LIVE_FLAGS:-} > "$out/run-$n/events.jsonl" 2> "$out/run-$n/stderr"
  read -r cpu rss < "$out/run-$n/time"
  python3 scripts/bench/live_figures.py "$dir/truth.tsv" live "$out/run-$n/events.jsonl" > "$out/run-$n/figures.json"
  python3 - "$out/run-$n/figures.json" "$n" "$cpu" "$rss" <<'PY'
import json, sys
f = json.load(open(sys.argv[1])); s = f["summary"]
fmt = lambda x: "–" if x is None else f"{x:.2f} s"
print(f"{sys.argv[2]:<8} {fmt(s['latency_p50']):<10} {fmt(s['latency_p95']):<10} {fmt(s['transcript_latency_p50']):<10} "
      f"{fmt(s['transcript_latency_p95']):<10} {sys.argv[3]:<8} {int(sys.argv[4])//1024:<9} {s['dropped_utterances']:<8} "
      f"{s['overrun_frames']:<8} {f['found']}/{f['expected']} {100*f['recall']:.1f}%  {s['busy_calls']}/{s['whisper_calls']}")
PY
done

# The batch path on the largest set, same files (BATCH=0 skips it).
n=${ns[-1]}
if [ "${BATCH:-1}" = 1 ] && [ "$n" != 0 ]; then
$bin analyze "$out/tracks-$n" --format json > "$out/batch-$n.json" 2> "$out/batch-$n.stderr"
python3 scripts/bench/live_figures.py "$out/tracks-$n/truth.tsv" batch "$out/batch-$n.json" > "$out/batch-$n.figures.json"
for n2 in "${ns[@]}"; do
  [ "$n2" != 0 ] || continue
  python3 - "$out/run-$n2/figures.json" "$n2" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
print(f"live, {sys.argv[2]} windows: recall {f['found']}/{f['expected']}, false alarms {f['false_alarms']}")
PY
done
python3 - "$out/batch-$n.figures.json" "$n" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
print(f"batch (courtesy analyze) on the same {sys.argv[2]} windows: recall {f['found']}/{f['expected']} {100 * f['recall']:.1f}%, false alarms {f['false_alarms']}")
PY
fi

# Real voices (HUMAN=folder of the shared human clips, found by default; HUMAN=0 skips): the clips
# one after another, 2 s of silence apart, in one recording; `courtesy live --replay` and
# `courtesy analyze` on it — CER of each over all of them (scripts/bench/live_human.py).
human=${HUMAN:-}
if [ -z "$human" ]; then
  for d in ../shared/data/human-mandarin ../../shared/data/human-mandarin; do
    [ -f "$d/transcripts.tsv" ] && human=$(cd "$d" && pwd) && break
  done
fi
[ -n "$human" ] && [ "$human" != 0 ] || exit 0
rm -rf "$out/human"; mkdir -p "$out/human/play"
python3 scripts/bench/live_human.py join "$human" "$out/human/play/human.wav"
$bin live --replay "$out/human/play" --format jsonl ${LIVE_FLAGS:-} > "$out/human/live.jsonl" 2> "$out/human/live.stderr"
$bin analyze "$out/human/play" --format json > "$out/human/batch.json" 2> "$out/human/batch.stderr"
python3 scripts/bench/live_human.py cer "$bin" "$human" "$out/human/live.jsonl" "$out/human/batch.json" > "$out/human/figures.json"
python3 - "$out/human/figures.json" <<'PY'
import json, sys
f = json.load(open(sys.argv[1]))
print(f"real voices ({f['chars']} characters, the shared human clips in one recording): CER live {100 * f['cer_live']:.1f} % "
      f"({f['utterances_live']} utterances), batch {100 * f['cer_batch']:.1f} %")
PY
