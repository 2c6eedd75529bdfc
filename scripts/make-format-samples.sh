#!/usr/bin/env bash
# Rebuilds samples/formats/: two labelled clips in every recorder format `audio::open` reads, plus
# the bad files it must refuse with one clear line. Needs ffmpeg (`apt-get install -y ffmpeg`).
#
# The good files use different rates and channel counts on purpose (8 kHz mono to 48 kHz stereo),
# so the tests exercise the resampler and the downmix, not only the container.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v ffmpeg >/dev/null || { echo "ffmpeg not found — apt-get install -y ffmpeg" >&2; exit 1; }

out=samples/formats
mkdir -p "$out"
a=samples/labelled/L003.wav   # 2.15 s, banned: 不知道，你问别人去。
b=samples/labelled/L070.wav   # 3.68 s, civil: 对不起，我没听清楚，请您重复一遍。
# -bitexact and a fixed date keep reruns byte-identical (no encoder version or clock in the files).
ff=(ffmpeg -hide_banner -loglevel error -y)
bx=(-fflags +bitexact -flags +bitexact)
date=2026-11-30T08:30:00

# Good files: A in every format, B in the two a recorder most likely writes.
"${ff[@]}" -i "$a" -ar 44100 -ac 2 -c:a libmp3lame -b:a 48k -id3v2_version 4 \
    -metadata date="$date" "${bx[@]}" "$out/L003.mp3"
"${ff[@]}" -i "$a" -ar 22050 -ac 1 -c:a aac -b:a 32k -metadata creation_time="${date}Z" \
    -movflags +faststart "${bx[@]}" "$out/L003.m4a"
"${ff[@]}" -i "$a" -ar 16000 -ac 1 -c:a aac -b:a 24k -f adts "${bx[@]}" "$out/L003.aac"
"${ff[@]}" -i "$a" -ar 16000 -ac 1 -c:a flac -metadata date="$date" "${bx[@]}" "$out/L003.flac"
"${ff[@]}" -i "$a" -ar 48000 -ac 2 -c:a libvorbis -q:a 0 -metadata date="$date" "${bx[@]}" "$out/L003.ogg"
"${ff[@]}" -i "$a" -ac 1 -c:a libopus -b:a 24k -application voip "${bx[@]}" "$out/L003.opus"
"${ff[@]}" -i "$b" -ar 8000 -ac 1 -c:a libmp3lame -b:a 24k "${bx[@]}" "$out/L070.mp3"
"${ff[@]}" -i "$b" -ar 48000 -ac 1 -c:a aac -b:a 32k "${bx[@]}" "$out/L070.m4a"

# Bad files.
# AMR: no encoder in Debian's ffmpeg, and only the magic decides; the header plus frames of junk.
{ printf '#!AMR\n'; head -c 600 /dev/zero | tr '\0' '\074'; } >"$out/bad-amr.amr"
# Video: 1 s of a 32×32 test picture with a short tone, in MP4 and in Matroska.
"${ff[@]}" -f lavfi -i testsrc=size=32x32:rate=5:duration=1 -f lavfi -i sine=frequency=440:duration=1 \
    -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -b:a 24k -shortest "${bx[@]}" "$out/bad-video.mp4"
"${ff[@]}" -f lavfi -i testsrc=size=32x32:rate=5:duration=1 -f lavfi -i sine=frequency=440:duration=1 \
    -c:v mpeg4 -c:a libopus -b:a 24k -shortest "${bx[@]}" "$out/bad-video.mkv"
# An MP3 cut off part-way (a copy that stopped): its header still declares the whole length.
head -c "$(($(stat -c %s "$out/L003.mp3") * 45 / 100))" "$out/L003.mp3" >"$out/bad-truncated.mp3"
# An MP3 with 1.5 KB of garbage written over its middle (a bad sector).
cp "$out/L003.mp3" "$out/bad-corrupt.mp3"
size=$(stat -c %s "$out/bad-corrupt.mp3")
head -c 1536 /dev/zero | tr '\0' '\125' |
    dd of="$out/bad-corrupt.mp3" bs=1 seek=$((size / 2)) conv=notrunc status=none
# A text file and an empty file with an audio name.
printf '这不是录音文件。\nThis is a note someone saved with the wrong name.\n' >"$out/bad-text.mp3"
: >"$out/bad-empty.mp3"

ls -l "$out"
du -sh "$out"
