#!/usr/bin/env bash
# A courtesy binary for any x86-64 server with AVX2 (x86-64-v3: Intel Haswell and later, AMD Zen and
# later), whatever machine builds it: for a package or a container image made on one machine and run
# on the centre's servers. `cargo build` (scripts/setup.sh) builds whisper.cpp for the CPU it runs
# on (GGML_NATIVE), and a binary built on an AVX-512 machine refuses to start on an AVX2 one
# (`courtesy model info` says what a binary was built for). Here whisper.cpp's own kernels are
# built for AVX2 + FMA + F16C; the encoder's large matrix products go to OpenBLAS, whose Debian
# build picks its kernels for the CPU at run time (SkylakeX on AVX-512, Haswell on AVX2).
# Output: target/portable/release/courtesy (its own target folder: the native build stays).
#   scripts/build-portable.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --deps
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target/portable}
# whisper-rs-sys's build script does not watch GGML_* variables: build whisper.cpp afresh.
cargo clean --release --quiet -p whisper-rs-sys
GGML_NATIVE=OFF GGML_AVX=ON GGML_AVX2=ON GGML_FMA=ON GGML_F16C=ON GGML_BMI2=ON \
  cargo build --release --locked --quiet
echo "$CARGO_TARGET_DIR/release/courtesy"
