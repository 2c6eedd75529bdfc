#!/usr/bin/env python3
"""Live against batch on real voices: CER of `courtesy live --replay` and of `courtesy analyze` on
one recording of the shared human clips, one after another with 2 s of silence between them.

  live_human.py join HUMAN_DIR OUT.wav                       writes the recording
  live_human.py cer BIN HUMAN_DIR LIVE_EVENTS.jsonl BATCH_REPORT.json

References are joined in the clips' name order (the recording's order) and compared whole with
each side's transcript in time order; text is cleaned as batch_figures.py cleans it
(punctuation, spaces, numbers read out). Live's utterances are those of `utterance` events (first
hearings), folded to Simplified by `courtesy text` as batch folds its own; batch's are the
report's `normalized` texts. Prints one JSON object: chars, utterances_live, cer_live, cer_batch.
"""
import csv, json, os, subprocess, sys, tempfile, wave

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from batch_figures import clean, edits  # noqa: E402

GAP_SECONDS = 2.0


def references(human):
    with open(os.path.join(human, "transcripts.tsv"), encoding="utf-8") as fh:
        refs = {r[0]: r[1] for r in csv.reader(fh, delimiter="\t") if r}
    return [(f, refs[f]) for f in sorted(refs)]


def join(human, out):
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        for i, (f, _) in enumerate(references(human)):
            if i:
                w.writeframes(b"\0\0" * int(GAP_SECONDS * 16000))
            with wave.open(os.path.join(human, f)) as r:
                assert (r.getnchannels(), r.getsampwidth(), r.getframerate()) == (1, 2, 16000), f
                w.writeframes(r.readframes(r.getnframes()))


def texts(path, key):
    """(start, text) of the `utterance` events (JSON lines) or the report's utterances."""
    if path.endswith(".jsonl"):
        with open(path, encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh]
        rows = [e for e in rows if e.get("type") == "utterance"]
    else:
        rows = json.load(open(path, encoding="utf-8")).get("utterances", [])
    return [t for _, t in sorted((u["start"], u[key]) for u in rows)]


def fold(bin_, lines):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as t:
        for text in lines:
            t.write(" ".join(text.split()) + "\n")
    res = subprocess.run([bin_, "text", "--format", "jsonl", t.name], capture_output=True,
                         text=True, check=True)
    os.unlink(t.name)
    return [e["normalized"] for e in map(json.loads, res.stdout.splitlines())
            if e["type"] == "utterance"]


def cer(bin_, human, events, report):
    ref = clean("".join(t for _, t in references(human)))
    live = texts(events, "text")
    live_text = clean("".join(fold(bin_, live)))
    batch_text = clean("".join(texts(report, "normalized")))
    return {"chars": len(ref), "utterances_live": len(live),
            "cer_live": round(edits(ref, live_text) / len(ref), 4),
            "cer_batch": round(edits(ref, batch_text) / len(ref), 4)}


def main():
    if sys.argv[1] == "join":
        join(*sys.argv[2:4])
    else:
        json.dump(cer(*sys.argv[2:6]), sys.stdout)
        print()


if __name__ == "__main__":
    main()
