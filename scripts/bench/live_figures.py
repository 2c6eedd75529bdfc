#!/usr/bin/env python3
"""Banned-phrase recall and false alarms of a live run (JSON lines) or a batch run (JSON report)
against the benchmark tracks' truth.tsv.

  live_figures.py TRUTH.tsv live  EVENTS.jsonl   → one JSON object
  live_figures.py TRUTH.tsv batch REPORT.json

An expected banned phrase counts as found when an utterance overlapping its clip has a banned
hit of that phrase. A banned hit in an utterance over a clip that does not expect it is a false alarm.
"""
import csv, json, sys

truth_path, mode, path = sys.argv[1:4]
truth = list(csv.DictReader(open(truth_path, encoding="utf-8"), delimiter="\t"))
# (window, start, end, [banned phrases]) per utterance
utts = []
summary = None
if mode == "live":
    for line in open(path, encoding="utf-8"):
        e = json.loads(line)
        if e["type"] == "utterance":
            utts.append((e["window"], e["start"], e["end"],
                         [h["phrase"] for h in e["hits"] if h["kind"] == "banned"]))
        elif e["type"] == "summary":
            summary = e
else:
    # The batch report lists hits on their own, each with its window and time.
    for h in json.load(open(path, encoding="utf-8"))["hits"]:
        if h["kind"] == "banned":
            utts.append((h["window"], h["start"], h["end"], [h["phrase"]]))

def overlapping(row):
    s, e = float(row["start"]), float(row["end"])
    return [u for u in utts if u[0] == row["window"] and u[1] < e and s < u[2]]

expected = found = false = 0
for row in truth:
    want = {p for p in row["banned"].split("|") if p}
    heard = {p for u in overlapping(row) for p in u[3]}
    expected += len(want)
    found += len(want & heard)
    false += len(heard - want)
out = {"expected": expected, "found": found,
       "recall": round(found / expected, 4) if expected else None, "false_alarms": false}
if summary:
    out["summary"] = summary
print(json.dumps(out, ensure_ascii=False))
