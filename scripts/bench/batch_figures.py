#!/usr/bin/env python3
"""Accuracy of one batch run (`courtesy analyze --format json`) on the benchmark corpora.

  batch_figures.py REPORT.json [--windows DIR] [--human DIR] [--tracks TRUTH.tsv] [--texts FOLDED.json]

Prints one JSON object:
- cer: character error rate over all files with a reference (samples/windows: EXPECTED.toml's
  utterances; the shared human clips: transcripts.tsv), and per corpus;
- banned: phrases expected / found / false alarms, on the window dialogues (EXPECTED.toml) and on
  the live benchmark's tracks (truth.tsv: a phrase is found when a banned hit of it overlaps its
  clip).
Hypotheses are the utterances' `normalized` text (Traditional folded to Simplified by courtesy),
joined per file in time order. With --texts, they come instead from a JSON object {file: folded
text} (faster-whisper's output, folded by `courtesy text`). Both sides lose punctuation and
spaces, and numbers written in digits are read out in Chinese (25 → 二十五), since references
and Whisper write numbers either way.
"""
import argparse, csv, json, os, sys, tomllib, unicodedata

DIGITS = "零一二三四五六七八九"


def say_number(s):
    """An integer in digits as it is read in Chinese (up to 9999; longer runs digit by digit)."""
    n = int(s)
    if len(s) > 4 or s.startswith("0") and len(s) > 1:
        return "".join(DIGITS[int(c)] for c in s)
    if n == 0:
        return "零"
    out, zero = "", False
    for value, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        d = n // value % 10
        if d == 0:
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += ("" if (d == 1 and unit == "十" and not out) else DIGITS[d]) + unit
    return out


def clean(text):
    out, run = [], ""
    for c in unicodedata.normalize("NFKC", text).lower():
        if c.isdigit() and c.isascii():
            run += c
            continue
        if run:
            out.append(say_number(run))
            run = ""
        if unicodedata.category(c)[0] in "PZSC":
            continue
        out.append(c)
    if run:
        out.append(say_number(run))
    return "".join(out)


def edits(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("report")
    ap.add_argument("--windows")
    ap.add_argument("--human")
    ap.add_argument("--tracks")
    ap.add_argument("--texts")
    a = ap.parse_args()
    report = json.load(open(a.report, encoding="utf-8"))
    key = lambda path: os.path.realpath(path)
    hyp = {}
    for u in sorted(report.get("utterances", []), key=lambda u: (u["file"], u["start"])):
        hyp.setdefault(key(u["file"]), []).append(u["normalized"])
    hyp = {f: "".join(t) for f, t in hyp.items()}
    if a.texts:
        hyp = {key(f): t for f, t in json.load(open(a.texts, encoding="utf-8")).items()}
    hits = [h for h in report.get("hits", []) if h["kind"] == "banned"]

    refs = {}  # corpus -> {file: reference}
    banned = {}
    if a.windows:
        exp = tomllib.load(open(os.path.join(a.windows, "EXPECTED.toml"), "rb"))
        refs["windows"] = {}
        want = found = false = 0
        for s in exp["session"]:
            f = key(os.path.join(a.windows, s["file"]))
            refs["windows"][f] = "".join(u["text"] for u in s["utterances"])
            heard = [h["phrase"] for h in hits if key(h["file"]) == f]
            expected = list(s["banned"])
            want += len(expected)
            for p in heard:
                if p in expected:
                    expected.remove(p)
                    found += 1
                else:
                    false += 1
        banned["windows"] = {"expected": want, "found": found, "false": false}
    if a.human:
        with open(os.path.join(a.human, "transcripts.tsv"), encoding="utf-8") as fh:
            refs["human"] = {key(os.path.join(a.human, r[0])): r[1] for r in csv.reader(fh, delimiter="\t") if r}
    if a.tracks and not a.texts:
        truth = list(csv.DictReader(open(a.tracks, encoding="utf-8"), delimiter="\t"))
        want = found = false = 0
        for row in truth:
            s, e = float(row["start"]), float(row["end"])
            over = {h["phrase"] for h in hits if h["window"] == row["window"] and h["start"] < e and s < h["end"]}
            expected = {p for p in row["banned"].split("|") if p}
            want += len(expected)
            found += len(expected & over)
            false += len(over - expected)
        banned["tracks"] = {"expected": want, "found": found, "false": false}

    cer = {}
    total_e = total_n = 0
    for corpus, files in refs.items():
        e = n = 0
        for f, ref in files.items():
            r, h = clean(ref), clean(hyp.get(f, ""))
            e += edits(r, h)
            n += len(r)
        cer[corpus] = round(e / n, 4) if n else None
        total_e, total_n = total_e + e, total_n + n
    if total_n:
        cer["all"] = round(total_e / total_n, 4)
    stats = report.get("stats", {})
    json.dump({"cer": cer, "banned": banned, "rtf": stats.get("real_time_factor"),
               "audio_seconds": stats.get("audio_seconds")}, sys.stdout, ensure_ascii=False)
    print()


if __name__ == "__main__":
    main()
