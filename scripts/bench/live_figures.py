#!/usr/bin/env python3
"""Banned-phrase recall and false alarms of a live run (JSON lines) or a batch run (JSON report)
against the benchmark tracks' truth.tsv.

  live_figures.py TRUTH.tsv live  EVENTS.jsonl   → one JSON object
  live_figures.py TRUTH.tsv batch REPORT.json

An expected banned phrase counts as found when an utterance overlapping its clip has a banned
hit of that phrase. A banned hit in an utterance over a clip that does not expect it is a false alarm.
Both are listed (`missed`, `false`: window, clip, phrase, what was heard there).
"""
import csv, json, sys

truth_path, mode, path = sys.argv[1:4]
truth = list(csv.DictReader(open(truth_path, encoding="utf-8"), delimiter="\t"))
# (window, start, end, [banned phrases]) per utterance
utts = []
summary = None
again = []
seqs = {}
if mode == "live":
    for line in open(path, encoding="utf-8"):
        e = json.loads(line)
        if e["type"] == "utterance":
            utts.append((e["window"], e["start"], e["end"],
                         [h["phrase"] for h in e["hits"] if h["kind"] == "banned"], e.get("text", "")))
            seqs[(e["window"], str(e["seq"]))] = len(utts) - 1
        elif e["type"] == "alert" and "-again-" in e["id"]:
            # A second hearing's alert (live::recheck): its utterance is the one of that seq.
            window_seq = e["id"].split("-", 1)[1].rsplit("-again-", 1)[0]
            again.append((window_seq.rsplit("-", 1), e["phrase"], e["text"]))
        elif e["type"] == "summary":
            summary = e
else:
    # The batch report lists hits on their own, each with its window and time.
    for h in json.load(open(path, encoding="utf-8"))["hits"]:
        if h["kind"] == "banned":
            utts.append((h["window"], h["start"], h["end"], [h["phrase"]], h.get("matched", "")))

for (window, seq), phrase, text in again:
    k = seqs.get((window, seq))
    if k is not None:
        w, s, e, phrases, heard = utts[k]
        utts[k] = (w, s, e, phrases + [phrase], heard + " (heard again: " + text + ")")

def overlapping(row):
    s, e = float(row["start"]), float(row["end"])
    return [u for u in utts if u[0] == row["window"] and u[1] < e and s < u[2]]

expected = found = false = 0
missed, false_alarms = [], []
for row in truth:
    want = {p for p in row["banned"].split("|") if p}
    heard = {p for u in overlapping(row) for p in u[3]}
    said = " / ".join(u[4] for u in overlapping(row))
    expected += len(want)
    found += len(want & heard)
    false += len(heard - want)
    missed += [[row["window"], row["id"], p, said] for p in sorted(want - heard)]
    false_alarms += [[row["window"], row["id"], p, said] for p in sorted(heard - want)]
out = {"expected": expected, "found": found,
       "recall": round(found / expected, 4) if expected else None, "false_alarms": false,
       "missed": missed, "false": false_alarms}
if summary:
    out["summary"] = summary
print(json.dumps(out, ensure_ascii=False))
