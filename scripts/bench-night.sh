#!/usr/bin/env bash
# The nightly batch on a synthetic night: WINDOWS windows × HOURS hours of service sessions made of
# the labelled clips, MP3-encoded in 30-minute recorder files (scripts/bench/make_night.py).
#   1. the record's cost: `courtesy analyze` and `courtesy batch` on the same files (window W01),
#      one after the other in this run;
#   2. the whole night into that record (W01 is skipped: already done — the resumable path; time,
#      real-time factor, peak memory of the rest), banned recall against the layout's truth;
#   3. the day's report as HTML (target/night/report.html).
#   scripts/bench-night.sh [WINDOWS=4] [HOURS=1]
set -euo pipefail
cd "$(dirname "$0")/.."
windows=${1:-4}
hours=${2:-1}
scripts/setup.sh
if ! command -v ffmpeg >/dev/null; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq ffmpeg >/dev/null
fi
bin=./target/release/courtesy
out=target/night
night="$out/2026-11-30"
# The night is made once per size (deterministic); the record and clips are new every run.
stamp="$out/made-$windows-$hours"
if [ ! -e "$stamp" ]; then
  rm -rf "$out" && mkdir -p "$out"
  python3 scripts/bench/make_night.py "$out/wav" "$windows" "$hours"
  for f in "$out"/wav/W*/*.wav; do
    w=$(basename "$(dirname "$f")")
    mkdir -p "$night/$w"
    ffmpeg -loglevel error -y -i "$f" -ac 1 -ar 16000 -codec:a libmp3lame -b:a 32k "$night/$w/$(basename "${f%.wav}").mp3"
  done
  touch "$stamp"
fi
rm -rf "$out/night.db"* "$out/clips"
du -sh "$night"

echo "== 1. the record's cost: the same files (W01) through analyze and batch"
/usr/bin/time -f "analyze: %e s wall, %M KB peak" $bin analyze "$night/W01" --format json --out "$out/analyze.json" 2>&1 | tail -1
/usr/bin/time -f "batch:   %e s wall, %M KB peak" $bin batch "$night/W01" --db "$out/night.db" --lines 2>&1 | tail -2

echo "== 2. the whole night into the same record (W01 already done)"
/usr/bin/time -f "night: %e s wall, %M KB peak" $bin batch "$night" --db "$out/night.db" --lines --json > "$out/summary.json" 2> "$out/batch.log" || true
tail -2 "$out/batch.log"
python3 - "$out" <<'PY'
import csv, json, sqlite3, sys
out = sys.argv[1]
s = json.load(open(f"{out}/summary.json"))
print(f"files {s['files']}, audio {s['audio_seconds']/3600:.2f} h, wall {s['wall_seconds']:.0f} s, "
      f"real-time factor {s['real_time_factor']:.3f}, failed {len(s['failed'])}")
db = sqlite3.connect(f"{out}/night.db")
hits = db.execute("""SELECT r.path, h.start_s, h.phrase FROM hits h JOIN utterances u ON u.id = h.utterance_id
                     JOIN recordings r ON r.id = u.recording_id WHERE h.kind = 'banned'""").fetchall()
truth = list(csv.DictReader(open(f"{out}/wav/truth.tsv", encoding="utf-8"), delimiter="\t"))
want = found = 0
for t in truth:
    for phrase in filter(None, t["banned"].split("|")):
        want += 1
        stem = t["file"][:-4]
        if any(stem in p and ph == phrase and abs(st - float(t["start"])) < 12 for p, st, ph in hits):
            found += 1
false = 0
for p, st, ph in hits:
    ok = any(t["file"][:-4] in p and ph in t["banned"].split("|") and abs(st - float(t["start"])) < 12 for t in truth)
    false += not ok
print(f"banned recall {found}/{want} ({100*found/max(want,1):.1f} %), banned hits not in the layout: {false}")
PY

echo "== 3. the day's report"
$bin report --db "$out/night.db" --day 2026-11-30 --format html --out "$out/report.html"
$bin report --db "$out/night.db" --day 2026-11-30 --format csv --table windows --out "$out/windows.csv"
ls -la "$out/report.html" "$out/windows.csv"
