"""A dense GEMM's compute rate by the shape of its weights: narrow N or K run below the large-GEMM rate.

A GEMM's output is cut into tiles, one per compute unit at a time, and each tile loops over K. Few output
columns (N) leave too few tiles to fill the GPU's SMs/CUs (the last wave runs part-empty), and a short K leaves
each tile's prologue and epilogue (loads before, the store and the scaling after) unamortised. Tensor
parallelism makes both narrow: Llama-3.1-70B at TP8 multiplies by q/k/v weights 1,280 wide (10,240 / 8) and an
output projection 1,024 deep (8,192 / 8), where Llama-3.1-405B at TP8 has 2,304 and 2,048.

The rate is grouped_gemm.py's shape curve without its M term (perf.gemm_s already charges few rows with
Hockney's n_1/2): rate / large rate = (1 + (N_HALF + K_HALF) / R) / (1 + N_HALF / N + K_HALF / K), at most 1,
where R = 8,192 is the shape the engine profiles' large-GEMM rates stand for. N_HALF and K_HALF are fitted to
DeepGEMM's published dense and grouped GEMM tables (H800, fp8; grouped_gemm.py: one fact, one copy), so
e.g. N = 1,280, K = 8,192 runs at 0.67 of the large rate, N = 2,304, K = 16,384 at 0.84, and projections of
8,192 and wider at 1. Assumed alike for bf16 and for other GPUs' GEMM libraries (cuBLASLt, hipBLASLt: tiled
alike; judgement; a GPU with more compute units than the H800's 132 fills fewer waves, so on an MI300X's
304 CUs it is if anything optimistic).
"""
from __future__ import annotations

import numpy as np

from .grouped_gemm import DENSE_REFERENCE, K_HALF, N_HALF

_REFERENCE = 1.0 + (N_HALF + K_HALF) / DENSE_REFERENCE


def dense_factor(n, k):
    """Compute rate of a GEMM with (n x k) weights over the large-GEMM rate, at most 1 (numbers or arrays)."""
    if type(n) in (int, float) and type(k) in (int, float):  # a scalar stays a float (no numpy per call)
        return min(_REFERENCE / (1.0 + N_HALF / n + K_HALF / k), 1.0)
    return np.minimum(_REFERENCE / (1.0 + N_HALF / np.asarray(n, dtype=float) + K_HALF / np.asarray(k, dtype=float)),
                      1.0)
