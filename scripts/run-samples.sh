#!/usr/bin/env bash
# The main job on the bundled samples: the nightly batch over samples/windows into a record
# (target/samples/courtesy.db, with evidence clips beside it), then the day's report — the windows
# ranked here, everything in target/samples/report.html. Sets up whatever is missing first (apt
# packages, the build, the model). Running it again skips what the record already holds.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
bin=./target/release/courtesy
out=target/samples
mkdir -p "$out"
status=0
$bin batch samples/windows --db "$out/courtesy.db" "$@" || status=$?
$bin report --db "$out/courtesy.db" --format html --out "$out/report.html"
echo
echo "windows ranked (the day's report: $out/report.html):"
$bin report --db "$out/courtesy.db" --format csv --table windows | sed '1s/^\xEF\xBB\xBF//' | cut -d, -f1-8 | column -s, -t
exit $status
