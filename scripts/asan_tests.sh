#!/usr/bin/env bash
# Run tests/native against an AddressSanitizer + UndefinedBehaviorSanitizer build of ishowtts._native.
#
# The sanitized extension is built into its own directory (default build/asan) and loaded from a private
# copy of the python package (build/asan/overlay/ishowtts), put first on PYTHONPATH: the working tree's
# python/ishowtts/_native*.so and any installed wheel are never touched, so other work can go on.
#
# Usage: scripts/asan_tests.sh [extra pytest args, e.g. -k wav]
# Env:   PYTHON (default python), ISHOWTTS_ASAN_DIR (default <root>/build/asan),
#        ISHOWTTS_ASAN_PYTEST_TIMEOUT (seconds, default 900),
#        ISHOWTTS_ASAN_PASSES ("auto scalar" by default; "auto" skips the forced-scalar pass to save time)
# Exit:  pytest's status; any sanitizer report aborts the process (halt_on_error), which fails the run.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
py=${PYTHON:-python}
build=${ISHOWTTS_ASAN_DIR:-$root/build/asan}
limit=${ISHOWTTS_ASAN_PYTEST_TIMEOUT:-900}
passes=${ISHOWTTS_ASAN_PASSES:-auto scalar}
start=$(date +%s)
stamp() { echo "--- asan [$(($(date +%s) - start))s] $*"; }

cc=${CXX:-c++}
libasan=$("$cc" -print-file-name=libasan.so)
libubsan=$("$cc" -print-file-name=libubsan.so)
if [ ! -e "$libasan" ] || [ "$libasan" = "libasan.so" ]; then
  echo "asan_tests: $cc has no libasan.so (install the compiler's sanitizer runtime, e.g. libasan8)" >&2
  exit 2
fi

stamp "configure + build (-DISHOWTTS_SANITIZE=ON, Debug: asserts on) into $build"
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug -DISHOWTTS_SANITIZE=ON \
  -DPython_EXECUTABLE="$(command -v "$py")" \
  -Dpybind11_DIR="$("$py" -m pybind11 --cmakedir)" >/dev/null
cmake --build "$build" -j"$(nproc)"
so=$(ls "$build"/_native*.so)

stamp "overlay package with the sanitized extension"
overlay="$build/overlay"
rm -rf "$overlay"
mkdir -p "$overlay"
# the package sources (not build outputs) + the sanitized .so
(cd "$root/python" && tar --exclude='__pycache__' --exclude='_native*.so' -cf - ishowtts) | tar -xf - -C "$overlay"
cp -f "$so" "$overlay/ishowtts/"

export PYTHONPATH="$overlay${PYTHONPATH:+:$PYTHONPATH}"
# libasan must be the first DSO loaded: CPython itself is not instrumented.
export LD_PRELOAD="$libasan${libubsan:+:$libubsan}"
# CPython and numpy keep memory alive until exit by design: leak checking would only report those.
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:allocator_may_return_null=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:report_error_type=1"

loaded=$("$py" -c "import ishowtts._native as n; print(n.__file__)")
if [ "$loaded" != "$overlay/ishowtts/$(basename "$so")" ]; then
  echo "asan_tests: expected the sanitized extension, got $loaded" >&2
  exit 2
fi
stamp "loaded $loaded"

rc=0
for pass in $passes; do
  case $pass in
    auto) force=0 ;;
    scalar) force=1 ;;
    *) echo "asan_tests: unknown pass '$pass' in ISHOWTTS_ASAN_PASSES (auto, scalar)" >&2; exit 2 ;;
  esac
  stamp "tests/native under ASan+UBSan ($pass dispatch)"
  # not the `cross` tests: they build and run standalone C++ checks, never the sanitized extension
  ISHOWTTS_FORCE_SCALAR=$force timeout "$limit" "$py" -m pytest -q -p no:cacheprovider -m "native and not cross" \
    "$root/tests/native" "$@" || { rc=$?; break; }
done
stamp "done rc=$rc"
exit $rc
