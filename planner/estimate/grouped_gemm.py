"""The routed experts' grouped GEMMs: one rate curve by shape, for training and serving alike.

A mixture-of-experts layer multiplies each expert's rows by its weights in one grouped GEMM. Its rate falls
with the rows each expert gets (M) and the expert's width (N, K): `factor`, fitted to DeepGEMM's published
table (below). Training (moe_train.py, per-expert batches of hundreds to thousands of rows) and serving
(perf.ffn_s, per-expert batches of a few rows at decode, thousands at prefill) use this one curve; an engine
profile's `grouped_gemm_factor` is its kernel's rate relative to the curve (1: as DeepGEMM). Training stretches
the curve's half-lengths on datapaths faster than the fit's (`half_scale`); serving still uses the fitted ones
(half_scale 1: its engine profiles were set on them).

Below DeepGEMM's smallest published rows per expert (M_FIT_MIN = 256) the curve is not extrapolated: the rate
per row stays at its value there (a kernel pads each expert to its own tile, 16-64 rows, not to the fit's
Hockney length of ~200 rows; judgement), so a decode step's few rows per expert are timed by the weights
they stream, as perf.gemm_s streams a GEMV. Extrapolating the M term would charge ~200 rows of compute per
expert at any batch, which makes weight-only int4/int8 MoE decode compute-bound.

This module imports nothing from perf (perf imports it): it reads the Kernels' and Numerics' fields by name.
"""
from __future__ import annotations

import functools

import numpy as np

# Grouped-GEMM rate by shape: rate(M, N, K) = r / (1 + M_HALF / M + N_HALF / N + K_HALF / K), fitted (least squares
# on log rate, 16 points, median error 2.3%, worst 18%) to DeepGEMM's README performance tables (commit 327ec92,
# 2025-04-09: 'Normal GEMMs for dense models' at M = 4096 and the contiguous and masked 'Grouped GEMMs for MoE
# models', M per group 256-8192, H800 SXM5, fp8): e.g. 1,520 TFLOP/s at (4096, 7168, 16384), 1,214 at M = 4096
# per group of (7168, 2048), 815 at M = 256 per group. Small M pays the tile fill and the per-expert alignment;
# small N or K leave the wave of tiles and the epilogue unamortised. Read from https://github.com/deepseek-ai/
# DeepGEMM/blob/327ec92/README.md (checked 2026-12-07). The same shape dependence is assumed for bf16 kernels
# and for serving engines' fused-MoE kernels (CUTLASS / cuBLASLt / Triton grouped GEMMs tile alike; judgement).
M_HALF, N_HALF, K_HALF = 198.0, 894.0, 707.0
# The shape the dense calibration's large-GEMM rate stands for (a model's projections, thousands wide): the
# grouped rate is taken relative to it, so dense estimates are untouched (judgement: 8192 cubed).
DENSE_REFERENCE = 8192.0
M_FIT_MIN = 256.0  # the smallest rows per expert in DeepGEMM's grouped tables
# The datapath the fit was measured on: DeepGEMM's tables are fp8 on an H800 SXM, whose dense fp8 peak is the
# catalog's (gpus.toml, 1,978.9 TFLOP/s); `half_scale` compares another datapath's peak with it.
FIT_GPU, FIT_FORMAT = "H800 SXM", "fp8"


def factor(m_rows, n, k, half_scale=1.0):
    """A grouped GEMM's rate over the dense large-GEMM rate at its shape (rows M per expert, N x K weights),
    held at its M_FIT_MIN value below M_FIT_MIN rows; `half_scale` multiplies the half-lengths (the reference
    shape keeps factor 1 at any scale: the dense calibration stands for it on every device)."""
    m_rows = np.maximum(np.asarray(m_rows, dtype=float), M_FIT_MIN)
    reference = 1.0 + half_scale * (M_HALF + N_HALF + K_HALF) / DENSE_REFERENCE
    return reference / (1.0 + half_scale * (M_HALF / m_rows + N_HALF / np.asarray(n, dtype=float)
                                            + K_HALF / np.asarray(k, dtype=float)))


@functools.cache
def _fit_peak_flops_per_s() -> float:
    from ..catalog.lookup import gpu  # the catalog's copy of the fit device's peak
    return gpu(FIT_GPU).peak(FIT_FORMAT)


def half_scale(peak_flops_per_s):
    """How much longer the curve's half-lengths are on a datapath of `peak_flops_per_s` (the format's dense
    peak) than on the fit's: a GEMM's fixed start-up time t0 per tile and per expert does not shrink with a
    faster datapath, so its half-performance length n_1/2 = r_inf x t0 grows with the rate (Hockney &
    Jesshope 1988; fp8.py applies the same rule to the dense GEMMs). Not below 1: on a slower datapath the
    tile padding of each expert's rows and the last wave of tiles, counted in rows and tiles rather than in
    time, keep the fitted lengths (judgement). B200 fp8 (4,500 TFLOP/s): 2.3; GB200 fp8: 2.5; H100 bf16: 1."""
    return np.maximum(1.0, np.asarray(peak_flops_per_s, dtype=float) / _fit_peak_flops_per_s())


def gemm_s(m_rows, n, k, kern, num, half_scale=1.0):
    """One expert's (M x K) @ (K x N) inside a grouped GEMM: perf.gemm_s's roofline with the compute rate
    scaled by `factor` and the kernel's grouped_gemm_factor (in place of perf's Hockney rows, which the
    factor's M term replaces); weights stream at the format's rate. No per-GEMM fixed latency (the Kernels'
    gemm_overhead_s, kernel_floor.py): one grouped kernel serves every expert, and the fused-MoE op's fixed time
    is charged once per MoE layer (moe_layer_overhead_s), not once per expert."""
    m_rows = np.asarray(m_rows, dtype=float)
    rate = kern.peak_flops_per_s * kern.gemm_efficiency * kern.grouped_gemm_factor * factor(m_rows, n, k, half_scale)
    compute = 2.0 * n * k * m_rows / rate
    moved = n * k * num.weight_bytes + m_rows * (n + k) * num.activation_bytes
    stream = kern.peak_bytes_per_s * kern.memory_efficiency * kern.weight_stream_factor
    return np.maximum(compute, moved / stream + n * kern.gemm_row_overhead_s)


_RATES = ("peak_flops_per_s", "peak_bytes_per_s", "gemm_efficiency", "memory_efficiency", "grouped_gemm_factor",
          "weight_stream_factor")


def on_leading_axis(triples, kern):
    """(M, N, K) triples of numbers or arrays as three arrays with the triples on a new leading axis, the rest
    broadcast and padded so the Kernels' rates (p10/p50/p90 on their last axis) broadcast against them."""
    flat = np.broadcast_arrays(*(np.asarray(v, dtype=float) for t in triples for v in t))
    rates = max(np.ndim(getattr(kern, a)) for a in _RATES)
    shape = (len(triples), 3) + (1,) * max(0, rates - flat[0].ndim) + flat[0].shape
    arr = np.stack(flat).reshape(shape)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def stack_s(m_rows, shapes, kern, num):
    """The sum of gemm_s over an expert's (n, k) `shapes` with `m_rows` rows each, in one numpy pass."""
    return gemm_s(*on_leading_axis([(m_rows, n, k) for n, k in shapes], kern), kern, num).sum(axis=0)
