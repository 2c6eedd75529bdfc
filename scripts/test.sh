#!/usr/bin/env bash
# The test suite: unit tests, integration tests with the real model on real audio, and the
# labelled-set figures (banned recall, civil recall, false banned hits). Sets up whatever is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

cargo test --release --all-targets --no-fail-fast 2>&1

echo
echo "== labelled set (samples/labelled): text and audio =="
./target/release/courtesy eval samples/labelled --audio
