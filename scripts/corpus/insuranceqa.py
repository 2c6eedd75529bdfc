"""Negative corpus for precision: real service-side and customer-side Chinese sentences nobody on the
team wrote, from the insuranceqa-data 1.0 sdist on PyPI (InsuranceQA-zh: 27,413 answers written by
insurance professionals to 16,889 customers' questions, in Chinese translation).

    python3 scripts/corpus/insuranceqa.py insuranceqa_data-1.0.tar.gz OUT_DIR

Writes OUT_DIR/agent.txt (the professionals' answers, one sentence a line) and OUT_DIR/citizen.txt
(the customers' questions, one a line). agent.txt is also split by answer into two halves, whole
answers to one side (an answer's sentences share its wording): agent-tune.txt (even answer ids), the
half polite rules may be written from, and agent-held.txt (odd ids), the held-out half precision is
asserted on. Sentences are split at 。！？!? and ；, trimmed, kept when they
hold 4–120 characters with at least one Han character, and deduplicated in file order.
"""
import gzip
import json
import re
import sys
import tarfile

ROOT = "insuranceqa_data-1.0/insuranceqa_data/"
SPLIT = re.compile(r"(?<=[。！？!?；])")
HAN = re.compile(r"[\u4e00-\u9fff]")


def sentences(text):
    for s in SPLIT.split(text):
        s = s.strip()
        if 4 <= len(s) <= 120 and HAN.search(s):
            yield s


def unique(items):
    seen = set()
    for s in items:
        if s not in seen:
            seen.add(s)
            yield s


def unique_pairs(items):
    """(answer id, sentence) pairs, each sentence with the first answer that holds it."""
    seen = set()
    for k, s in items:
        if s not in seen:
            seen.add(s)
            yield k, s


def main(tarball, out_dir):
    with tarfile.open(tarball) as tar:
        load = lambda name: json.load(gzip.open(tar.extractfile(ROOT + name)))
        answers = load("answers.json.gz")
        questions = [q["zh"] for name in ("train.json.gz", "valid.json.gz", "test.json.gz")
                     for q in load(name).values()]
    pairs = list(unique_pairs((int(k), s) for k in sorted(answers, key=int)
                              for s in sentences(answers[k]["zh"])))
    agent = [s for _, s in pairs]
    tune = [s for k, s in pairs if k % 2 == 0]
    held = [s for k, s in pairs if k % 2 == 1]
    citizen = list(unique(s for q in questions for s in sentences(q)))
    for name, lines in (("agent.txt", agent), ("agent-tune.txt", tune), ("agent-held.txt", held),
                        ("citizen.txt", citizen)):
        with open(f"{out_dir}/{name}", "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        print(f"{out_dir}/{name}: {len(lines)} sentences")


if __name__ == "__main__":
    main(*sys.argv[1:])
