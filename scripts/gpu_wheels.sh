#!/usr/bin/env bash
# Wheels the GPU machine lacks, for its CPython 3.12 (its image already has torch, numpy, safetensors,
# pyyaml, pytest, pytest-benchmark, hypothesis): the text front end and torchao. Run here, before the
# device run that names ".whl" in carry (see benchmarks/gpu_session.sh). ~8 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >>.git/info/exclude
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d .whl pypinyin rjieba "torchao==${TORCHAO_VERSION:-0.17.0}"
ls -la .whl
