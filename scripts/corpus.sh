#!/usr/bin/env bash
# The negative corpus for precision (`courtesy eval --negative`, tests/integration/precision.rs):
# 135,242 service-side sentences (insurance professionals' answers) and 15,773 customers' questions
# from InsuranceQA-zh, the insuranceqa-data 1.0 sdist on PyPI (its only release that ships the data),
# pinned by sha256, extracted into target/corpus (never committed). Idempotent.
#   scripts/corpus.sh        → target/corpus/agent.txt (split by answer into agent-tune.txt, the half
#                              rules are written from, and agent-held.txt, the held-out half), citizen.txt
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/corpus
sdist=$dir/insuranceqa_data-1.0.tar.gz
sha=f413933723f379fa39bf5e3c2c20618a2f9c230daa94a431eda216feb13498f5
if [ -s "$dir/agent.txt" ] && [ -s "$dir/agent-held.txt" ] && [ -s "$dir/citizen.txt" ]; then
  exit 0
fi
mkdir -p "$dir"
[ -s "$sdist" ] || python3 -m pip download -q --no-deps --no-binary :all: -d "$dir" insuranceqa-data==1.0
echo "$sha  $sdist" | sha256sum -c --quiet
python3 scripts/corpus/insuranceqa.py "$sdist" "$dir"
