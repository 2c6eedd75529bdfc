"""Which readings of each character modern Mandarin uses, from the words of CC-CEDICT.

The pinyin crate lists every reading Unihan knows, archaic ones included: 不 and 包 share "fu", and so
do 还 and 付, so by sound 包小的 was 不晓得 and 怎么付不了 was 怎么还不懂. CC-CEDICT's words (as shipped
in the dragonmapper wheel's data/hanzi_pinyin_words.tsv, pinyin written without spaces) say which
readings a character really takes: each word's pinyin is split back into syllables, one per
character, by the readings data/hanzi_pinyin_characters.tsv allows, and every reading a character
takes in a word of two or more characters is counted.

Writes `char<TAB>reading reading…` (toneless, ü kept) for every character whose modern readings are
not just its first: the matcher keeps a character's first reading, and its others only where this
table names them (src/text/pinyin.rs).

    python3 scripts/readings/cedict.py dragonmapper-0.3.0-py3-none-any.whl > src/text/readings.tsv
"""

import collections
import sys
import unicodedata
import zipfile

def plain(syllable: str) -> str:
    """Toneless: the tone marks dropped, ü (u + diaeresis once decomposed) kept."""
    s = unicodedata.normalize("NFD", syllable.lower()).replace("u\u0308", "ü")
    return "".join(c for c in s if not unicodedata.combining(c))


def split(word: str, pinyin: str, readings: dict) -> list | None:
    """The syllables of `pinyin`, one per character of `word`, each a reading the character has."""

    def go(i: int, j: int):
        if i == len(word):
            return [] if j == len(pinyin) else None
        for r in sorted(set(readings.get(word[i], ())), key=len, reverse=True):
            if pinyin.startswith(r, j):
                rest = go(i + 1, j + len(r))
                if rest is not None:
                    return [r] + rest
        return None

    return go(0, 0)


def main() -> None:
    with zipfile.ZipFile(sys.argv[1]) as wheel:
        chars = wheel.read("dragonmapper/data/hanzi_pinyin_characters.tsv").decode("utf-8")
        words = wheel.read("dragonmapper/data/hanzi_pinyin_words.tsv").decode("utf-8")
    readings = {}
    first = {}
    for line in chars.splitlines():
        c, p = line.split("\t")
        readings[c] = [r.lower() for r in p.split("/")]
        first[c] = plain(readings[c][0])
    used = collections.defaultdict(collections.Counter)
    for line in words.splitlines():
        word, pinyin = line.split("\t")
        if len(word) < 2:
            continue
        for alt in pinyin.split("/"):
            syllables = split(word, alt.replace("'", "").replace(" ", "").lower(), readings)
            for c, r in zip(word, syllables or ()):
                used[c][plain(r)] += 1
    print("# Modern readings of characters that take more than their first (or another one), from the")
    print("# words of CC-CEDICT (CC BY-SA 4.0) in the dragonmapper 0.3.0 wheel on PyPI, by")
    print("# scripts/readings.sh. A character not listed keeps only its first reading.")
    print("# char\treadings (most used first)")
    for c in sorted(used):
        kept = [r for r, _ in used[c].most_common()]
        if kept != [first.get(c)]:
            print(f"{c}\t{' '.join(kept)}")


if __name__ == "__main__":
    main()
