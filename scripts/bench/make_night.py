#!/usr/bin/env python3
"""Builds a synthetic night for the batch benchmark: WINDOWS windows × HOURS hours of service
sessions made of the labelled clips (samples/labelled), laid out as a window really sounds —
a greeting, a few exchanges, a farewell, then a pause before the next citizen — over faint noise,
cut into 30-minute files named as recorders name them (W01_20261130_083000.wav).

  make_night.py OUT [WINDOWS=4] [HOURS=1] [DAY=20261130]

Writes OUT/W0k/W0k_DAY_HHMMSS.wav (16 kHz mono 16-bit; scripts/bench-night.sh encodes them to MP3)
and OUT/truth.tsv: window, file, clip id, start (s in file), banned phrases, kind. Deterministic.
"""
import csv, os, random, struct, sys, wave

out = sys.argv[1]
windows = int(sys.argv[2]) if len(sys.argv) > 2 else 4
hours = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
day = sys.argv[4] if len(sys.argv) > 4 else "20261130"
root = os.path.join(os.path.dirname(__file__), "..", "..", "samples", "labelled")
with open(os.path.join(root, "labels.tsv"), encoding="utf-8") as f:
    labels = list(csv.DictReader(f, delimiter="\t"))
clips = {}
for l in labels:
    with wave.open(os.path.join(root, l["id"] + ".wav")) as w:
        assert w.getframerate() == 16000 and w.getnchannels() == 1 and w.getsampwidth() == 2
        clips[l["id"]] = w.readframes(w.getnframes())
greetings = [l for l in labels if "您好" in l["text"] or "你好" in l["text"]]
farewells = [l for l in labels if "慢走" in l["text"] or "再见" in l["text"]]
middle = [l for l in labels if l not in greetings and l not in farewells]
assert greetings and farewells, "the labelled set needs greetings and farewells"

FILE_SECONDS = 1800
rows = []
for k in range(1, windows + 1):
    rng = random.Random(1000 + k)
    name = f"W{k:02d}"
    os.makedirs(os.path.join(out, name), exist_ok=True)
    total = int(hours * 3600)
    pcm = bytearray()

    def silence(seconds):
        # Faint noise (about −60 dBFS), not digital zero: a hall is never silent.
        n = int(16000 * seconds)
        return struct.pack(f"<{n}h", *(rng.randint(-30, 30) for _ in range(n)))

    def say(l):
        rows.append([name, len(pcm) / 32000, l["id"], l["banned"], l["kind"]])
        pcm.extend(clips[l["id"]])

    pcm += silence(rng.uniform(5, 30))
    while len(pcm) / 32000 < total - 60:
        session = [rng.choice(greetings)] + rng.sample(middle, rng.randint(1, 4))
        if rng.random() < 0.8:
            session.append(rng.choice(farewells))
        for i, l in enumerate(session):
            say(l)
            pcm += silence(rng.uniform(1.5, 4.0))
        pcm += silence(rng.uniform(30, 120))
    pcm = pcm[: total * 32000]
    pcm += silence(total - len(pcm) / 32000) if len(pcm) < total * 32000 else b""
    # Cut into recorder files.
    for part, start in enumerate(range(0, total, FILE_SECONDS)):
        end = min(total, start + FILE_SECONDS)
        t = 8 * 3600 + 30 * 60 + start
        fname = f"{name}_{day}_{t // 3600:02d}{t // 60 % 60:02d}{t % 60:02d}.wav"
        with wave.open(os.path.join(out, name, fname), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(16000)
            w.writeframes(bytes(pcm[start * 32000 : end * 32000]))
        for r in rows:
            if len(r) == 5 and r[0] == name and start <= r[1] < end:
                r.insert(1, fname)
                r[2] = f"{r[2] - start:.2f}"
with open(os.path.join(out, "truth.tsv"), "w", encoding="utf-8", newline="") as f:
    wr = csv.writer(f, delimiter="\t")
    wr.writerow(["window", "file", "start", "id", "banned", "kind"])
    wr.writerows(rows)
print(f"{windows} windows × {hours} h, {len(rows)} clips → {out}")
