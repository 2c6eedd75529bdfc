#!/usr/bin/env bash
# Soak: `courtesy live --replay --loop` with WINDOWS windows for MINUTES. Each window is a 10-minute
# track of the labelled clips speaking 30 % of the time (scripts/bench/make_tracks.py; the share
# `[live] speech_share` plans capacity with), played again and again. The sample dialogues
# (samples/windows) speak back to back: 16 of them need more than 2 cores (a soak of them dropped
# 4684 utterances, as its capacity event had said), so SOAK_SOURCE=samples is an overload test.
# Every minute it samples the process's resident memory, open file descriptors (/proc/PID/fd) and
# threads (/proc/PID/status) into target/soak/samples.csv and prints a table; at the end it checks
#   - memory flat within 10 % after the warm-up (every later sample against the first one after it),
#   - no growth of file descriptors or threads after the warm-up,
#   - nothing dropped, no frames lost, no failures (from the run's JSON-lines summary);
# and reports the stop: how long Ctrl-C took and what its bounded drain ([live] drain_seconds) left
# untranscribed (the `shutdown` event, per window).
# Exit 0 when all hold, 1 when one does not (each named), 2 when the run itself failed.
#   scripts/soak.sh [MINUTES=30] [WINDOWS=16]
#   COURTESY_BIN=path uses that binary instead of building a release one (scripts/setup.sh);
#   SAMPLE_SECONDS (60) and WARMUP_MINUTES (min(5, MINUTES/3), at least 1) change the schedule.
# Whisper busy-waits: on a shared machine the figures mean little. Run the full 30 × 16 when idle.
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-30}
windows=${2:-16}
every=${SAMPLE_SECONDS:-60}
warmup=${WARMUP_MINUTES:-$(( minutes / 3 < 5 ? (minutes / 3 > 1 ? minutes / 3 : 1) : 5 ))}
if [ -n "${COURTESY_BIN:-}" ]; then
  bin=$COURTESY_BIN
else
  scripts/setup.sh >/dev/null
  bin=./target/release/courtesy
fi
out=target/soak
rm -rf "$out"; mkdir -p "$out/replay"

if [ "${SOAK_SOURCE:-tracks}" = samples ]; then
  # WINDOWS windows, each a copy of one of the sample windows (w01-polite, w02-rude, …) in turn.
  mapfile -t sources < <(find samples/windows -mindepth 1 -maxdepth 1 -type d | sort)
  for ((i = 0; i < windows; i++)); do
    w=$(printf 'w%02d' $((i + 1)))
    mkdir -p "$out/replay/$w"
    cp "${sources[i % ${#sources[@]}]}"/*.wav "$out/replay/$w/"
  done
else
  python3 scripts/bench/make_tracks.py "$out/tracks" "$windows" 600 0.3
  for ((i = 1; i <= windows; i++)); do
    w=$(printf 'w%02d' "$i")
    mkdir -p "$out/replay/$w"
    cp "$out/tracks/$w"/*.wav "$out/replay/$w/"
  done
fi

"$bin" live --replay "$out/replay" --loop --format jsonl \
  --log "$out/alerts.jsonl" --clips "$out/clips" >"$out/events.jsonl" 2>"$out/stderr" &
pid=$!
trap 'kill -INT $pid 2>/dev/null || true' EXIT

sample() { # minute → one CSV row
  local rss threads fds
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")
  threads=$(awk '/^Threads:/ {print $2}' "/proc/$pid/status")
  fds=$(ls "/proc/$pid/fd" | wc -l)
  echo "$1,$rss,$fds,$threads,$(grep -c '"type":"utterance"' "$out/events.jsonl" || true),$(grep -c '"type":"alert"' "$out/events.jsonl" || true)"
}

echo "minute,rss_kb,fds,threads,utterances,alerts" >"$out/samples.csv"
printf '%-7s %-9s %-5s %-8s %-11s %s\n' minute "RSS MB" fds threads utterances alerts
for ((m = 1; m <= minutes; m++)); do
  sleep "$every"
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "soak: courtesy stopped after $((m - 1)) minute(s) — see $out/stderr" >&2
    tail -n 5 "$out/stderr" >&2
    exit 2
  fi
  row=$(sample "$m")
  echo "$row" >>"$out/samples.csv"
  IFS=, read -r _ rss fds threads utt alerts <<<"$row"
  printf '%-7s %-9s %-5s %-8s %-11s %s\n' "$m" "$((rss / 1024))" "$fds" "$threads" "$utt" "$alerts"
done

# Stop as Ctrl-C does: what was heard is transcribed for at most [live] drain_seconds, what is
# left is the `shutdown` event, the summary is the last event.
stop_start=$(date +%s.%N)
kill -INT "$pid"
trap - EXIT
wait "$pid" && code=0 || code=$?
stop_end=$(date +%s.%N)
echo "courtesy exited $code, $(python3 -c "print(f'{$stop_end - $stop_start:.1f}')") s after Ctrl-C" >&2

python3 - "$out/samples.csv" "$out/events.jsonl" "$warmup" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
warmup = int(sys.argv[3])
after = [r for r in rows if int(r["minute"]) >= warmup]
problems = []
if len(after) < 2:
    problems.append(f"too short to judge: {len(after)} sample(s) after the {warmup}-minute warm-up")
else:
    base = after[0]
    rss = [int(r["rss_kb"]) for r in after]
    drift = max(abs(x - int(base["rss_kb"])) for x in rss) / int(base["rss_kb"])
    print(f"memory after warm-up (minute {base['minute']}): {min(rss)//1024}–{max(rss)//1024} MB, "
          f"largest drift {100*drift:.1f} % of {int(base['rss_kb'])//1024} MB")
    if drift > 0.10:
        problems.append(f"memory drifts {100*drift:.1f} % (more than 10 %)")
    for key in ("fds", "threads"):
        first, top = int(base[key]), max(int(r[key]) for r in after)
        print(f"{key}: {first} at minute {base['minute']}, at most {top} after")
        if top > first:
            problems.append(f"{key} grew from {first} to {top}")
secs = lambda x: "–" if x is None else f"{x:.2f} s"
summary = shutdown = None
for line in open(sys.argv[2]):
    e = json.loads(line)
    if e.get("type") == "summary":
        summary = e
    elif e.get("type") == "shutdown":
        shutdown = e
if shutdown is None:
    problems.append("no shutdown event: the stop was not reported")
else:
    per = ", ".join(f"{w['window']} {w['utterances']} ({w['seconds']:.1f} s)" for w in shutdown["windows"])
    print(f"shutdown: drained {shutdown['drained_seconds']:.1f} s of at most {shutdown['drain_seconds']:.0f} s; "
          f"{shutdown['utterances']} utterances, {shutdown['seconds']:.1f} s of speech not transcribed"
          + (f" ({per})" if per else ""))
if summary is None:
    problems.append("no summary event: the run did not finish cleanly")
else:
    print(f"summary: {summary['windows']} windows, {summary['audio_seconds']:.0f} s of audio, "
          f"{summary['utterances']} utterances, {summary['alerts']} alerts, "
          f"{summary['dropped_utterances']} dropped, {summary['overrun_frames']} frames lost, "
          f"{summary.get('failures', 0)} failures; alert latency p50 {secs(summary.get('latency_p50'))}, "
          f"p95 {secs(summary.get('latency_p95'))}")
    for key in ("dropped_utterances", "overrun_frames", "failures"):
        if summary.get(key, 0):
            problems.append(f"{key}: {summary[key]}")
for p in problems:
    print("FAIL:", p)
print("soak: " + ("ok" if not problems else f"{len(problems)} problem(s)"))
sys.exit(1 if problems else 0)
PY
