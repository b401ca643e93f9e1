#!/usr/bin/env bash
# One-shot GPU benchmark: the GPU-only tests, then the full suite on CUDA (bf16, and int8-weight-only
# if it passes its perplexity gate), then collectives when there are >= 2 GPUs. Everything is
# written under $OUT (default ./bench-results): <gpu-slug>.json, the logs, the summary on stdout.
# Run from anywhere; needs python3 with torch (numpy, pytest and nvidia-ml-py are optional).
#
# Budget: under 7 minutes on one H100/H200 at worst: ~10 s of checks, 45 s tests + 330 s suite (+ 10-15 s
# grace each), and 45 s collectives on a multi-GPU machine. The suite starts no point after 240 s
# (--deadline-s): the points left, the int8 ones last, are recorded as skipped with `deadline: true`,
# and the 90 s after it are for the point then running (an int8 point may compile kernels for a minute).
# `timeout -s INT` is the backstop: the suite stops and writes what it has (marked "interrupted"); `-k`
# kills it if it has not stopped by then. The results file is rewritten after every point, so even a
# kill keeps the points measured so far.
# Collectives are skipped on one GPU: one process has nobody to communicate with.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-bench-results}"
mkdir -p "$OUT_DIR" || exit 1
nvidia-smi --query-gpu=index,name,driver_version,memory.total,power.limit,clocks.max.sm --format=csv || true
NGPU=$(python3 -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA GPU'; print(torch.cuda.device_count())") || exit 2
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"
if python3 -c "import pytest" 2>/dev/null; then
  # Only the files holding gpu tests: another test file may need what a bare GPU image lacks (hypothesis),
  # and a collection error would stop pytest before any test ran.
  timeout -k 10 45 python3 -m pytest -q -p no:cacheprovider --continue-on-collection-errors -m gpu \
    tests/test_bench_suite.py tests/test_bench_quantize.py 2>&1 | tail -15 | tee "$OUT_DIR/gpu-tests.log"
else
  echo "gpu tests: skipped (no pytest)" | tee "$OUT_DIR/gpu-tests.log"
fi
timeout -s INT -k 15 330 python3 -m benchmarks run --device cuda --deadline-s 240 --out-dir "$OUT_DIR" \
  --no-progress 2>&1 | tee "$OUT_DIR/run.log"
rc=${PIPESTATUS[0]}
if [ "$NGPU" -ge 2 ]; then
  timeout -s INT -k 10 45 python3 -m benchmarks collectives --nproc "$NGPU" --device cuda --max-bytes 268435456 \
    --out-dir "$OUT_DIR" 2>&1 | tee "$OUT_DIR/collectives.log"
else
  echo "collectives: skipped ($NGPU GPU: one process has nobody to communicate with)" | tee "$OUT_DIR/collectives.log"
fi
ls -l "$OUT_DIR"
exit "$rc"
