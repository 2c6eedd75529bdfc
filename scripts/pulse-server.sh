#!/usr/bin/env bash
# A private PulseAudio with one null sink per service window, as real capture devices for tests.
#
#   scripts/pulse-server.sh start N [--multi] [--dir DIR]   # sinks win01..winNN (+ `multi`, 2 channels)
#   scripts/pulse-server.sh stop [--dir DIR]
#
# `start` prints the variables a client must export (`export K=V` lines, nothing else on stdout):
#   PULSE_SERVER       where paplay/pactl find this server
#   ALSA_CONFIG_PATH   the system alsa.conf plus DIR/asound.conf, which declares one capture PCM per
#                      window (`win01` records `win01.monitor`), so cpal lists and opens them
#   COURTESY_PULSE_DIR DIR, for `stop`
# Everything lives in DIR (default /tmp/courtesy-pulse-$UID): give each test run its own DIR and runs
# never collide. Idempotent: `start` on a running server only prints the variables again (the sinks
# are whatever the first `start` made); `stop` kills the daemon by its pid and removes DIR.
#
# The daemon runs with `rescue-streams = no`: by default PulseAudio moves a recording whose source
# vanishes to the default source, so an unplugged window would silently record another window.
set -euo pipefail

usage() {
  echo "usage: $0 start N [--multi] [--dir DIR] | stop [--dir DIR]" >&2
  exit 2
}

cmd="${1:-}"
[ -n "$cmd" ] || usage
shift
count=0
multi=0
dir="${COURTESY_PULSE_DIR:-/tmp/courtesy-pulse-$(id -u)}"
if [ "$cmd" = start ]; then
  [[ "${1:-}" =~ ^[0-9]+$ ]] || usage
  count=$1
  shift
fi
while (($#)); do
  case "$1" in
    --multi) multi=1 ;;
    --dir) dir="${2:?--dir needs a path}"; shift ;;
    *) usage ;;
  esac
  shift
done

run="$dir/run"
pidfile="$run/pid"
socket="$run/native"
system_conf=/usr/share/alsa/alsa.conf

running() {
  [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null
}

print_env() {
  echo "export PULSE_SERVER=unix:$socket"
  echo "export ALSA_CONFIG_PATH=$system_conf:$dir/asound.conf"
  echo "export COURTESY_PULSE_DIR=$dir"
}

# One capture PCM per sink: `type pulse` records the sink's monitor through ALSA's pulse plugin; the
# hint makes ALSA's device list (and so cpal's) show it.
alsa_pcm() {
  cat <<EOF
pcm.$1 {
  type pulse
  server "unix:$socket"
  device "$1.monitor"
  hint { show on description "courtesy test window $1 ($2)" }
}
EOF
}

case "$cmd" in
  start)
    if running; then
      print_env
      exit 0
    fi
    for tool in pulseaudio pactl paplay; do
      if ! command -v "$tool" >/dev/null; then
        echo "pulse-server: $tool not found — run \`scripts/setup.sh --test\` (installs pulseaudio pulseaudio-utils libasound2-plugins alsa-utils)" >&2
        exit 1
      fi
    done
    if [ ! -f "$system_conf" ] || ! ls /usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so >/dev/null 2>&1; then
      echo "pulse-server: ALSA's pulse plugin is missing — run \`scripts/setup.sh --test\` (installs libasound2-plugins)" >&2
      exit 1
    fi
    rm -rf "$dir"
    mkdir -p "$run" "$dir/state" "$dir/home"
    chmod 700 "$run"
    echo "rescue-streams = no" >"$dir/daemon.conf"
    loads=(--load="module-native-protocol-unix auth-anonymous=1 socket=$socket")
    : >"$dir/asound.conf"
    for ((i = 1; i <= count; i++)); do
      name=$(printf 'win%02d' "$i")
      loads+=(--load="module-null-sink sink_name=$name rate=48000 channels=1")
      alsa_pcm "$name" "1 channel" >>"$dir/asound.conf"
    done
    if ((multi)); then
      loads+=(--load="module-null-sink sink_name=multi rate=48000 channels=2 channel_map=front-left,front-right")
      alsa_pcm multi "2 channels" >>"$dir/asound.conf"
    fi
    # Every path the daemon touches points into DIR, so no user or system config is read or written.
    if ! env HOME="$dir/home" XDG_RUNTIME_DIR="$run" XDG_CONFIG_HOME="$dir/home" \
      PULSE_RUNTIME_PATH="$run" PULSE_STATE_PATH="$dir/state" PULSE_CONFIG="$dir/daemon.conf" \
      pulseaudio --daemonize=yes --exit-idle-time=-1 -n --use-pid-file=yes --disable-shm=yes \
      --log-target="file:$dir/log" "${loads[@]}"; then
      echo "pulse-server: pulseaudio failed to start — see $dir/log; run \`scripts/setup.sh --test\` if it is not installed" >&2
      exit 1
    fi
    # --daemonize returns once the modules are loaded; wait for the socket to answer to be sure.
    for _ in $(seq 50); do
      PULSE_SERVER="unix:$socket" pactl info >/dev/null 2>&1 && break
      sleep 0.1
    done
    if ! PULSE_SERVER="unix:$socket" pactl info >/dev/null 2>&1; then
      echo "pulse-server: pulseaudio started but does not answer on $socket — see $dir/log" >&2
      exit 1
    fi
    print_env
    ;;
  stop)
    if running; then
      pid=$(cat "$pidfile")
      kill "$pid"
      for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    # Only a directory this script made (it holds daemon.conf) is removed.
    if [ -f "$dir/daemon.conf" ]; then
      rm -rf "$dir"
    fi
    ;;
  *) usage ;;
esac
