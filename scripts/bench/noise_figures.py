#!/usr/bin/env python3
"""One row of the noisy-set table from `courtesy eval --audio --json` output.

  noise_figures.py EVAL.json CONDITION LEVER RTF BIN

Prints a markdown row: condition, lever, banned recall, civil recall, false banned hits, polite
sentences with a banned hit, CER (label text against Whisper's transcript folded to Simplified by
BIN's text stage, as the matcher reads it; both without punctuation, numbers read out; see
batch_figures.py), and the real-time factor eval printed.
"""
import json, subprocess, sys, tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch_figures import clean, edits  # noqa: E402

LABELLED = str(Path(__file__).resolve().parents[2] / "samples" / "labelled")


def main():
    report, condition, lever, rtf, binary = sys.argv[1:6]
    data = json.load(open(report, encoding="utf-8"))
    labels = {o["id"]: o for o in data[0]["summary"]["outcomes"]}
    audio = next(d["summary"] for d in data if d.get("source", "").startswith("audio"))
    outcomes = audio["outcomes"]
    folded = [""] * len(outcomes)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", encoding="utf-8") as t:
        t.write("".join(" ".join(o["heard"].strip("“”").split()) + "\n" for o in outcomes))
        t.flush()
        res = subprocess.run([binary, "text", "--format", "jsonl", t.name],
                             capture_output=True, text=True, check=True)
    for line in res.stdout.splitlines():
        e = json.loads(line)
        if e["type"] == "utterance":
            folded[int(e["start"])] = e["normalized"]
    # The banned and civil figures: BIN's matcher on the saved transcripts (the same as the run's
    # own for a run of this build; a run kept from before a lexicon change is re-matched).
    with tempfile.NamedTemporaryFile("w", suffix=".tsv", encoding="utf-8") as t:
        t.write("".join(o["id"] + "\t" + " ".join(o["heard"].strip("“”").split()) + "\n" for o in outcomes))
        t.flush()
        res = subprocess.run([binary, "eval", LABELLED, "--heard", t.name, "--json"],
                             capture_output=True, text=True, check=True)
    audio = next(d["summary"] for d in json.loads(res.stdout) if d["source"].startswith("audio"))
    ref_chars = err = 0
    for o, heard in zip(outcomes, folded):
        ref = clean(labels[o["id"]]["heard"])
        hyp = clean(heard)
        ref_chars += len(ref)
        err += edits(ref, hyp)
    s = audio
    print(
        f"| {condition} | {lever} | {s['banned_found']}/{s['banned_expected']} ({100 * s['banned_recall']:.1f} %) "
        f"| {s['civil_found']}/{s['civil_expected']} ({100 * s['civil_recall']:.1f} %) "
        f"| {s['false_banned_hits']} | {s['polite_sentences_with_banned_hit']}/{s['polite_sentences']} "
        f"| {100 * err / max(1, ref_chars):.1f} % | {rtf} |"
    )


if __name__ == "__main__":
    main()
