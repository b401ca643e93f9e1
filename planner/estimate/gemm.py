"""One GEMM's time on the roofline (perf.py's model of a linear layer), and a stack of them in one numpy pass.

perf.py re-exports gemm_s and gemm_stack_s; its dense forward pass (perf.linears_s) keeps each model's
`coefficients` once per (model, degree, Kernels, Numerics) and times every linear layer and the output head
with `from_coefficients` in a dozen array operations. gemm_s is the same two functions, so the paths cannot
drift. This module imports nothing from perf (perf imports it): it reads the Kernels' and Numerics' fields by name.
"""
from __future__ import annotations

import numpy as np

from ..core.memo import by_identity
from .gemm_shape import dense_factor


def coefficients(n, k, kern, num):
    """A GEMM of stored (n x k) weights as three costs: (compute seconds per row, memory seconds fixed, memory
    seconds per row). Compute: 2 n k FLOPs a row at peak x gemm_efficiency; memory: the weights once (at the
    format's `weight_stream_factor` share of the streaming rate) plus a cost per output feature, and k + n
    activations a row. With the Kernels' dense_gemm_shape, compute runs at gemm_shape.dense_factor of that rate."""
    stream = kern.peak_bytes_per_s * kern.memory_efficiency * kern.weight_stream_factor
    shape = dense_factor(n, k) if kern.dense_gemm_shape else 1.0
    return (2.0 * n * k / (kern.peak_flops_per_s * kern.gemm_efficiency * shape),
            n * k * num.weight_bytes / stream + n * kern.gemm_row_overhead_s,
            (k + n) * num.activation_bytes / stream)


def from_coefficients(rows, coef, half_rows, overhead_s):
    """overhead + max(compute, memory) of GEMMs with `coef` (coefficients) on `rows` rows (an array), with the
    Kernels' gemm_half_rows and gemm_overhead_s.

    Compute follows Hockney's half-performance length: (rows + gemm_half_rows) rows' worth of FLOPs. One row
    is a matrix-vector product, which BLAS libraries run as a streaming GEMV kernel rather than a tiled GEMM
    (cuBLAS and oneDNN both dispatch it so), so it pays no tile fill."""
    compute_per_row, fixed, per_row = coef
    tile_fill = np.where(rows > 1.0, half_rows, 0.0)  # one row: a GEMV, streamed, no tile to fill
    return overhead_s + np.maximum(compute_per_row * (rows + tile_fill), fixed + per_row * rows)


def gemm_s(rows, n, k, kern, num):
    """One (rows x k) @ (k x n) GEMM with stored weights (n x k): overhead + max(compute, memory).

    Quantised weights stream at `weight_stream_factor` x the dense rate (dequantisation in the
    kernel: gpt-fast's int8/int4 decode reaches 52%/42% of peak bandwidth where bf16 reaches 69%)."""
    return from_coefficients(np.asarray(rows, dtype=float), coefficients(n, k, kern, num), kern.gemm_half_rows,
                             kern.gemm_overhead_s)


_GEMM_RATES = ("peak_flops_per_s", "peak_bytes_per_s", "gemm_efficiency", "memory_efficiency", "weight_stream_factor",
               "gemm_half_rows", "gemm_overhead_s", "gemm_row_overhead_s")
rates_ndim = by_identity()(lambda kern: max(getattr(getattr(kern, a), "ndim", 0) for a in _GEMM_RATES))  # frozen


def on_leading_axis(shapes, nd: int) -> np.ndarray:
    """(n, k) `shapes` as an array (len(shapes), 2, ...) padded to broadcast against `nd` trailing axes; sizes that
    are arrays themselves (a tensor-parallel degree per layout) are broadcast (their axes last)."""
    try:
        return np.asarray(shapes, dtype=float).reshape((len(shapes), 2) + (1,) * nd)
    except ValueError:
        flat = [v for pair in shapes for v in pair]
        common = np.broadcast_shapes(*(v.shape for v in flat if type(v) is np.ndarray))  # numbers broadcast anyway
        nk = np.empty((len(flat),) + common)
        for i, v in enumerate(flat):
            nk[i] = v
        nd = max(nd, len(common))
        return nk.reshape((len(shapes), 2) + (1,) * (nd - len(common)) + common)


def gemm_stack_s(rows, shapes, kern, num, counts=None, *, transpose: bool = False):
    """The sum of gemm_s over `shapes` ((n, k) pairs), each weighted by its `counts` (default 1), in
    one numpy pass: the shapes lie on a new leading axis that broadcasts against `rows` and the rates,
    so a few array operations replace a Python loop of tiny-array calls. `transpose`: the weight
    gradients' GEMMs dW = dY^T X, which run n rows of a (rows x k) operand: gemm_s(n, k, rows)."""
    rows = np.asarray(rows, dtype=float)
    nk = on_leading_axis(shapes, max(rows.ndim, rates_ndim(kern)))
    nd = nk.ndim - 2
    n, k = nk[:, 0], nk[:, 1]
    t = gemm_s(n, k, rows, kern, num) if transpose else gemm_s(rows, n, k, kern, num)
    return t.sum(axis=0) if counts is None else \
        (np.asarray(counts, dtype=float).reshape((len(shapes),) + (1,) * nd) * t).sum(axis=0)
