#!/usr/bin/env bash
# The GPU checks of a session that is lent a device, in as few device minutes as possible.
#
#   scripts/gpu_wheels.sh                                   # here, once: wheels the device image lacks
#   run(command="bash benchmarks/gpu_session.sh core", carry=[".whl"], timeout_s=560)
#   run(command="bash benchmarks/gpu_session.sh grid", carry=[".whl"], timeout_s=560)      # if time is left
#   run(command="bash benchmarks/gpu_session.sh compile", carry=[".whl"], timeout_s=560)   # if time is left
#
# core:    tests/engine/fastpath/test_cuda.py (graph replay == eager, fp16 tolerance, compile and int8 inside
#          graphs, memory back on release), then the target cell of gpu_check (F5TTS_v1_Base, NFE 16,
#          10 s, batch 1 and 8, no compile);
# grid:    gpu_check over NFE 7/16/32 x 3/10/25 s, batch 1/4/8, no compile, 2 rounds;
# compile: gpu_check's compile+graph row for the target cell.
# Everything lands in $OUT (session.log + the gpu_check JSON files): commit the JSON under
# benchmarks/results/. Needs no weights and no native build (nothing here imports ishowtts._native).
set -uo pipefail
stage=${1:-core}
out=${OUT:-/tmp/ishowtts-gpu}
mkdir -p "$out"
log="$out/session.log"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/python"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
step() { echo "=== [$(date -u +%T)] $*" | tee -a "$log"; }
step "stage $stage"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>&1 | tee -a "$log"
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" 2>&1 | tee -a "$log"
rc=0
case "$stage" in
  core)
    step "tests/engine/fastpath/test_cuda.py"
    timeout 200 python3 -m pytest -q -p no:cacheprovider tests/engine/fastpath/test_cuda.py 2>&1 | tee -a "$log" || rc=1
    step "gpu_check target cell"
    timeout 250 python3 benchmarks/gpu_check.py --nfe 16 --seconds 10 --batches 1 8 --no-compile --out "$out" \
      2>&1 | tee -a "$log" || rc=1
    ;;
  grid)
    step "gpu_check grid (no compile)"
    timeout 520 python3 benchmarks/gpu_check.py --batches 1 4 8 --rounds 2 --no-compile --out "$out" \
      2>&1 | tee -a "$log" || rc=1
    ;;
  compile)
    step "gpu_check compile+graph, target cell"
    timeout 520 python3 benchmarks/gpu_check.py --nfe 16 --seconds 10 --batches 1 --rounds 2 --out "$out" \
      2>&1 | tee -a "$log" || rc=1
    ;;
  *) echo "unknown stage $stage (core | grid | compile)"; exit 2 ;;
esac
step "done rc=$rc"
exit $rc
