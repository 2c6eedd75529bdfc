#!/usr/bin/env python3
"""Batch benchmark: real-time factor and accuracy of each Whisper configuration of `courtesy
analyze`, next to faster-whisper int8 on the same weights and files, in one run on this machine.

  batch_bench.py --bin BIN --out DIR --ct2 CT2_DIR --fw-python PY [--rounds 3] [--threads N]
                 [--human DIR] [--tracks DIR] [--configs KEY,KEY…] [--alt NAME=BIN …]

A configuration KEY@NAME runs KEY with the binary given as --alt NAME=BIN (a build lever, e.g.
`--features openmp`).

Timing: every configuration runs once per round over the timing corpus (samples/windows and, when
given, the shared human clips); rounds alternate direction (A B C … C B A …) so a change of load
during the run falls on every configuration alike. The table gives the median real-time factor of
the rounds (wall time of the transcription over audio time; model loading excluded for both
engines), the spread, and the ratio to faster-whisper's median. The load average (1 min) before
each run is kept in OUT/runs.jsonl: figures measured while other work ran are not absolute.
Accuracy (greedy decoding is deterministic): CER on the timing corpus, banned phrases found on the
window dialogues and, with --tracks, on the live benchmark's tracks (one extra run each).
Prints markdown.
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# key → (label, TOML of the configuration; {t} = threads per call)
CONFIGS = {
    "f16-utt": ("f16, one call per utterance", 'weights = "f16"\n[asr]\nthreads = {t}\nfit_encoder = false\n'),
    "f16-long": ("f16, long-form", 'weights = "f16"\n[asr]\nthreads = {t}\nlong_form = true\nfit_encoder = false\n'),
    "q8_0-utt": ("q8_0, one call per utterance", 'weights = "q8_0"\n[asr]\nthreads = {t}\nfit_encoder = false\n'),
    "q8_0-long": ("q8_0, long-form", 'weights = "q8_0"\n[asr]\nthreads = {t}\nlong_form = true\nfit_encoder = false\n'),
    "q5_0-long": ("q5_0, long-form", 'weights = "q5_0"\n[asr]\nthreads = {t}\nlong_form = true\nfit_encoder = false\n'),
    "q5_1-long": ("q5_1, long-form", 'weights = "q5_1"\n[asr]\nthreads = {t}\nlong_form = true\nfit_encoder = false\n'),
    "q8_0-long-fa": ("q8_0, long-form, flash attention",
                     'weights = "q8_0"\n[asr]\nthreads = {t}\nlong_form = true\nflash_attn = true\nfit_encoder = false\n'),
    "q8_0-long-calls": ("q8_0, long-form, {w} calls × 1 thread",
                        'weights = "q8_0"\nworkers = {w}\n[asr]\nthreads = 1\nlong_form = true\nfit_encoder = false\n'),
    "q8_0-long-fit1": ("q8_0, long-form, {w} calls × 1 thread, encoder fitted, no second hearing",
                       'weights = "q8_0"\nworkers = {w}\n[asr]\nthreads = 1\nlong_form = true\n'
                       'fit_encoder = true\nhear_again = false\n'),
    "q8_0-long-fit": ("q8_0, long-form, {w} calls × 1 thread, encoder fitted, near misses heard again",
                      'weights = "q8_0"\nworkers = {w}\n[asr]\nthreads = 1\nlong_form = true\n'
                      'fit_encoder = true\nhear_again = true\n'),
    "fw": ("faster-whisper int8 (greedy, silero VAD)", None),
}
DEFAULT = "f16-utt,f16-long,q8_0-utt,q8_0-long,q8_0-long-calls,q8_0-long-fit,q5_0-long,q5_1-long,fw"


def wavs(path):
    out = []
    for d, _, fs in os.walk(path):
        out += [os.path.join(d, f) for f in fs if f.endswith(".wav")]
    return sorted(out)


def label(a, key):
    base, _, alt = key.partition("@")
    text = CONFIGS[base][0].format(w=a.threads)
    return f"{text}, `{alt}` build" if alt else text


def run_ours(a, key, files, tag):
    base, _, alt = key.partition("@")
    toml = CONFIGS[base][1]
    cfg = os.path.join(a.out, f"{base}.toml")
    with open(cfg, "w") as f:
        f.write(toml.format(t=a.threads, w=a.threads))
    report = os.path.join(a.out, f"{key}-{tag}.json")
    binary = a.alts[alt] if alt else a.bin
    with open(report, "w") as out, open(report + ".err", "w") as err:
        code = subprocess.call([binary, "analyze", "--config", cfg, "--format", "json", *files],
                               stdout=out, stderr=err)
    if code not in (0, 1):
        sys.exit(f"{key}: courtesy analyze failed, see {report}.err")
    return report, json.load(open(report))["stats"]["real_time_factor"]


def run_fw(a, files, tag):
    raw = os.path.join(a.out, f"fw-{tag}.raw.json")
    with open(raw, "w") as out:
        subprocess.check_call([a.fw_python, os.path.join(HERE, "faster_whisper_rtf.py"), a.ct2,
                               str(a.threads), *files], stdout=out)
    fw = json.load(open(raw))
    # Fold and match faster-whisper's segments with courtesy's text stage, one line each, so
    # its CER and banned phrases are read exactly like ours.
    lines = [(f, s) for f, segs in fw["segments"].items() for s in segs]
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as t:
        for _, s in lines:
            t.write(" ".join(s[2].split()) + "\n")
    res = subprocess.run([a.bin, "text", "--format", "jsonl", t.name], capture_output=True, text=True)
    os.unlink(t.name)
    report = {"utterances": [], "hits": [], "stats": {"real_time_factor": fw["real_time_factor"],
                                                       "audio_seconds": fw["audio_seconds"]}}
    for line in res.stdout.splitlines():
        e = json.loads(line)
        if e["type"] == "utterance":
            f, (s0, s1, _) = lines[int(e["start"])]
            report["utterances"].append({"file": f, "start": s0, "end": s1, "normalized": e["normalized"]})
        elif e["type"] == "hit":
            f, (s0, s1, _) = lines[e["line"] - 1]
            report["hits"].append({"file": f, "window": os.path.basename(os.path.dirname(f)),
                                   "start": s0, "end": s1, "kind": e["kind"], "phrase": e["phrase"]})
    path = os.path.join(a.out, f"fw-{tag}.json")
    json.dump(report, open(path, "w"), ensure_ascii=False)
    return path, fw["real_time_factor"]


def figures(a, report, tracks=False):
    cmd = [sys.executable, os.path.join(HERE, "batch_figures.py"), report,
           "--windows", os.path.join(ROOT, "samples", "windows")]
    if tracks:
        cmd = [sys.executable, os.path.join(HERE, "batch_figures.py"), report,
               "--tracks", os.path.join(a.tracks, "truth.tsv")]
    elif a.human:
        cmd += ["--human", a.human]
    return json.loads(subprocess.check_output(cmd))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ct2", required=True)
    ap.add_argument("--fw-python", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--human")
    ap.add_argument("--tracks")
    ap.add_argument("--configs", default=DEFAULT)
    ap.add_argument("--alt", action="append", default=[])
    a = ap.parse_args()
    a.alts = dict(x.split("=", 1) for x in a.alt)
    os.makedirs(a.out, exist_ok=True)
    keys = [k for k in a.configs.split(",") if k]
    for k in keys:
        base, _, alt = k.partition("@")
        if base not in CONFIGS or (alt and alt not in a.alts) or (alt and base == "fw"):
            sys.exit(f"unknown configuration {k}; known: {', '.join(CONFIGS)}, KEY@NAME with --alt NAME=BIN")
    files = wavs(os.path.join(ROOT, "samples", "windows")) + (wavs(a.human) if a.human else [])
    runs = open(os.path.join(a.out, "runs.jsonl"), "w")
    rtf = {k: [] for k in keys}
    loads = []
    first = {}
    for r in range(a.rounds):
        for k in (keys if r % 2 == 0 else keys[::-1]):
            load = os.getloadavg()[0]
            report, x = run_fw(a, files, f"r{r}") if k == "fw" else run_ours(a, k, files, f"r{r}")
            rtf[k].append(x)
            loads.append(load)
            first.setdefault(k, report)
            runs.write(json.dumps({"config": k, "round": r, "rtf": x, "load1": load}) + "\n")
            runs.flush()
            print(f"  round {r + 1}/{a.rounds} {k:<16} rtf {x:.3f}  (load {load:.1f})", file=sys.stderr)

    acc = {k: figures(a, first[k]) for k in keys}
    track = {}
    if a.tracks:
        tfiles = wavs(a.tracks)
        for k in keys:
            report, _ = run_fw(a, tfiles, "tracks") if k == "fw" else run_ours(a, k, tfiles, "tracks")
            track[k] = figures(a, report, tracks=True)["banned"].get("tracks")

    audio = json.load(open(first[keys[0]]))["stats"]["audio_seconds"]
    fw = statistics.median(rtf["fw"]) if "fw" in rtf else None
    print(f"Batch: {len(files)} files, {audio:.0f} s of audio (samples/windows"
          f"{' + shared human clips' if a.human else ''}), {a.threads} threads, {a.rounds} rounds "
          f"interleaved; load average {min(loads):.1f}–{max(loads):.1f} during the runs.\n")
    print("| configuration | real-time factor (median) | runs | vs faster-whisper | CER windows | CER human | CER all "
          "| banned, windows | banned, tracks |")
    print("|---|---|---|---|---|---|---|---|---|")
    pct = lambda x: "–" if x is None else f"{100 * x:.1f} %"
    ban = lambda b: "–" if not b else f"{b['found']}/{b['expected']}" + (f" ({b['false']} false)" if b["false"] else "")
    for k in keys:
        m = statistics.median(rtf[k])
        c = acc[k]["cer"]
        print(f"| {label(a, k)} | {m:.3f} | {' '.join(f'{x:.3f}' for x in rtf[k])} | "
              f"{'–' if not fw else f'{m / fw:.2f}×'} | {pct(c.get('windows'))} | {pct(c.get('human'))} | "
              f"{pct(c.get('all'))} | {ban(acc[k]['banned'].get('windows'))} | {ban(track.get(k))} |")


if __name__ == "__main__":
    main()
