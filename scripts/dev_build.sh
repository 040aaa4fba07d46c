#!/usr/bin/env bash
# Fast developer rebuild of ishowtts._native in place (python/ishowtts/_native*.so), for a venv that has
# python/ on its path (pip install -e . does that, or a .pth file). `pip install .` is the real build.
# Usage: scripts/dev_build.sh [extra cmake args, e.g. -DISHOWTTS_SANITIZE=ON]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python}
build=${ISHOWTTS_BUILD_DIR:-$root/build/dev}
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DPython_EXECUTABLE="$(command -v "$py")" \
  -Dpybind11_DIR="$("$py" -m pybind11 --cmakedir)" "$@" >/dev/null
cmake --build "$build" -j"$(nproc)"
cp -f "$build"/_native*.so "$root/python/ishowtts/"
echo "built $(ls "$root"/python/ishowtts/_native*.so)"
