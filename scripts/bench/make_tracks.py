#!/usr/bin/env python3
"""Builds replay windows for the live benchmark: each window is one track of labelled clips
(samples/labelled) separated by silences, so the window speaks about FRACTION of the time.

  make_tracks.py OUT N [SECONDS=120] [FRACTION=0.3]

Writes OUT/wNN/track.wav (16 kHz mono 16-bit) and OUT/truth.tsv: window, clip id, start, end
(seconds in the track), banned phrases (|-separated), kind. Deterministic (seeded by window).
"""
import csv, os, random, sys, wave

out, n = sys.argv[1], int(sys.argv[2])
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 120.0
fraction = float(sys.argv[4]) if len(sys.argv) > 4 else 0.3
root = os.path.join(os.path.dirname(__file__), "..", "..", "samples", "labelled")
with open(os.path.join(root, "labels.tsv"), encoding="utf-8") as f:
    labels = list(csv.DictReader(f, delimiter="\t"))
clips = {}
for l in labels:
    with wave.open(os.path.join(root, l["id"] + ".wav")) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        clips[l["id"]] = w.readframes(w.getnframes())

os.makedirs(out, exist_ok=True)
rows = []
for k in range(1, n + 1):
    rng = random.Random(k)
    order = labels[:]
    rng.shuffle(order)
    name = f"w{k:02d}"
    os.makedirs(os.path.join(out, name), exist_ok=True)
    pcm = bytearray(b"\0\0" * int(16000 * rng.uniform(0.5, 4.0)))
    i = 0
    while len(pcm) / 32000 < seconds:
        l = order[i % len(order)]
        i += 1
        start = len(pcm) / 32000
        pcm += clips[l["id"]]
        end = len(pcm) / 32000
        rows.append([name, l["id"], f"{start:.3f}", f"{end:.3f}", l["banned"], l["kind"]])
        gap = max(2.0, (end - start) * (1 / fraction - 1) * rng.uniform(0.6, 1.4))
        pcm += b"\0\0" * int(16000 * gap)
    with wave.open(os.path.join(out, name, "track.wav"), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(bytes(pcm))
with open(os.path.join(out, "truth.tsv"), "w", encoding="utf-8", newline="") as f:
    wr = csv.writer(f, delimiter="\t")
    wr.writerow(["window", "id", "start", "end", "banned", "kind"])
    wr.writerows(rows)
