#!/usr/bin/env bash
# The main job on the bundled samples: every window's courtesy score and the phrases found in it.
# Sets up whatever is missing first (apt packages, the build, the model).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec ./target/release/courtesy analyze samples/windows "$@"
