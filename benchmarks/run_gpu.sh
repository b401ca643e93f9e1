#!/usr/bin/env bash
# One-shot GPU benchmark: GPU-only tests, then the full suite on CUDA (bf16 and int8),
# written to $OUT (or benchmarks/results/) as <gpu-slug>.json, summary on stdout.
# Budget: at most 7.5 minutes (90 s tests + 360 s suite; the suite needs ~2-4 min on an H100/H200). Run from the repository root. SIGINT on timeout
# makes the suite write the points measured so far (marked "interrupted").
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR="${OUT:-benchmarks/results}"
mkdir -p "$OUT_DIR"
nvidia-smi --query-gpu=name,driver_version,memory.total,power.limit --format=csv || true
python -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA GPU'; print(torch.__version__, torch.cuda.get_device_name(0))" || exit 2
timeout 90 python -m pytest -q -m gpu tests/test_bench_*.py 2>&1 | tail -15 | tee "$OUT_DIR/gpu-tests.log"
timeout -s INT 360 python -m benchmarks run --device cuda --out-dir "$OUT_DIR" --no-progress 2>&1 | tee "$OUT_DIR/run.log"
rc=${PIPESTATUS[0]}
ls -l "$OUT_DIR"
exit "$rc"
