#!/usr/bin/env bash
# The noisy test set: banned recall, civil recall, false alarms, CER and real-time factor of the
# labelled clips heard through hall noise — babble of six real voices, queue-number announcements,
# a keyboard and a printer (scripts/noise/make_noise.py) — at 10 and 5 dB SNR, and the levers that
# might move them: the VAD (off: the whole clip to Whisper), the prompt (none, or one that names the
# setting), Whisper's temperature fallback, the f16 weights against the default q8_0. Prints one
# markdown table.
#
#   scripts/bench-noise.sh
# Environment: CONDITIONS="clean babble:10 …" (default: clean and every noise at 10 and 5 dB),
# LEVERS="default whole vad-off no-prompt service-prompt fallback f16" (whole: the encoder over Whisper's
# whole 30 s window, not fitted to the clip; default: all of them on babble at
# 10 dB, the default elsewhere; LEVERS set = those on every condition). Each run of the 101 clips
# takes about 2.5 minutes here.
# Whisper's threads busy-wait: run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
bin=$PWD/target/release/courtesy
out=target/bench/noise
mkdir -p "$out"
python3 scripts/noise/make_noise.py target/noise >/dev/null

conditions=${CONDITIONS:-"clean babble:10 babble:5 announce:10 announce:5 office:10 office:5"}
all_levers="default whole vad-off no-prompt service-prompt fallback f16"

# Each lever is a config file (and for f16, the weights).
cat > "$out/default.toml" <<'TOML'
TOML
cat > "$out/vad-off.toml" <<'TOML'
[vad]
threshold = 0.0
hold_threshold = 0.0
noise_margin_db = 0.0
energy_floor_dbfs = -150.0
TOML
cat > "$out/no-prompt.toml" <<'TOML'
[asr]
prompt = ""
TOML
cat > "$out/service-prompt.toml" <<'TOML'
[asr]
prompt = "以下是政务服务中心窗口工作人员和办事群众的普通话对话。"
TOML
cat > "$out/fallback.toml" <<'TOML'
[asr]
temperature_fallback = true
TOML
cat > "$out/whole.toml" <<'TOML'
[asr]
fit_encoder = false
TOML
cp "$out/default.toml" "$out/f16.toml"
"$bin" model install --quant f16 --no-verify >/dev/null

echo "Noisy set: samples/labelled ($(($(wc -l < samples/labelled/labels.tsv) - 1)) clips) through hall noise; load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo
echo "| condition | lever | banned recall | civil recall | false banned hits | polite clips with a banned hit | CER | RTF |"
echo "|---|---|---|---|---|---|---|---|"
for cond in $conditions; do
  if [ -n "${LEVERS:-}" ]; then levers=$LEVERS
  elif [ "$cond" = babble:10 ]; then levers=$all_levers
  else levers=default; fi
  for lever in $levers; do
    args=(eval samples/labelled --audio --json --config "$out/$lever.toml")
    [ "$lever" = f16 ] && args+=(--weights f16)
    [ "$cond" != clean ] && args+=(--noise "target/noise/${cond%%:*}.wav" --snr "${cond##*:}")
    name=${cond/:/-}-$lever
    "$bin" "${args[@]}" > "$out/$name.json" 2> "$out/$name.err" || true
    rtf=$(grep -o 'real-time factor [0-9.]*' "$out/$name.err" | tail -1 | cut -d' ' -f3)
    python3 scripts/bench/noise_figures.py "$out/$name.json" "$cond" "$lever" "${rtf:-?}" "$bin"
  done
done
