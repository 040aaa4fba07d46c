#!/usr/bin/env bash
# Run every atheris fuzz target for a bounded time (libFuzzer's -max_total_time), one after the other.
# Usage: fuzz/run.sh [seconds per target, default 25] [extra libFuzzer args]
# Env:   PYTHON (default python). Corpora live in build/fuzz/<target> (kept between runs, never committed).
# Exit:  non-zero as soon as a target reports a finding (its crash-* input is saved in build/fuzz/).
# With the ASan overlay of scripts/asan_tests.sh, run with PYTHONPATH=build/asan/overlay and
# LD_PRELOAD=$(c++ -print-file-name=libasan.so) to catch memory errors in the bindings too.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python}
secs=${1:-25}
shift || true
"$py" -c "import atheris" 2>/dev/null || {
  echo "fuzz/run.sh: atheris is not installed (pip install atheris)" >&2
  exit 2
}
for target in "$root"/fuzz/fuzz_*.py; do
  name=$(basename "$target" .py)
  work="$root/build/fuzz/$name"
  mkdir -p "$work/corpus"
  echo "--- fuzz $name for ${secs}s"
  (cd "$work" && timeout $((secs + 60)) "$py" "$target" "$work/corpus" -max_total_time="$secs" \
    -timeout=20 -rss_limit_mb=3072 -max_len=16384 -print_final_stats=1 "$@" 2>&1 | tail -n 25)
done
echo "--- fuzz: all targets clean"
