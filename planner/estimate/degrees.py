"""A dense model's kept GEMM coefficients (perf._dense_linears) at a tensor-parallel degree per layout.

perf.py keeps each dense model's GEMM coefficients per (model, degree, Kernels, Numerics), so a forward or a
backward pass at one degree is a dozen array operations. The layout search times hundreds of layouts at once
with a degree per layout (an array), of which there are only a few distinct ones (1, 2, 4, 8): here each
distinct degree's kept coefficients are gathered to the layouts that use it, so the search takes the same
path as one layout instead of recomputing every shape's coefficients per layout. The numbers are the kept
coefficients', so the array answer is the one-layout answer (tests/test_call_paths.py, test_array_path.py).
"""
from __future__ import annotations

import numpy as np

from ..core.memo import by_identity
from . import arithmetic as ar
from .gemm import rates_ndim


def _pad(v: np.ndarray, trailing: int) -> np.ndarray:
    """(shapes, rest...) with ones inserted after the shapes' axis until `trailing` axes follow it."""
    return v.reshape(v.shape[:1] + (1,) * (trailing - (v.ndim - 1)) + v.shape[1:])


def at(dense, m, tp, kern, num, backward: bool, rows_ndim: int = 0) -> tuple | None:
    """`dense(m, degree, kern, num, backward)` (perf._dense_linears' tuple) at `tp`: one degree as kept, or, for a
    degree per layout (an array whose trailing axes are the rates', of length 1), each layout's degree gathered
    (coefficients (layouts..., rates..., shapes), (n, k, layers) (shapes, layouts..., rates...)); the (n, k, layers)
    padded to broadcast against rows of `rows_ndim` axes. None for an MoE model (its experts are timed shape by
    shape) or a degree array of another shape."""
    if ar.n_moe_layers(m):
        return None
    nd = rates_ndim(kern)
    if not ar.ndim_of(tp):
        kept = dense(m, tp, kern, num, backward)
        if rows_ndim <= nd:
            return kept
        coef, counts, is_head, half_rows, overhead_s, lead = kept
        return coef, counts, is_head, half_rows, overhead_s, tuple(_pad(v, rows_ndim) for v in lead)
    tp = np.asarray(tp, dtype=float)
    if tp.ndim < nd or any(s != 1 for s in tp.shape[tp.ndim - nd:]):
        return None
    layouts = tp.shape[:tp.ndim - nd]
    distinct = sorted(set(tp.ravel().tolist()))  # a few degrees among many layouts
    index = np.searchsorted(distinct, tp.reshape(layouts))
    stacked, n, k, first = _stacked(dense, m, kern, num, backward, *distinct)
    coef = tuple(c[index] for c in stacked)  # (layouts..., rates..., shapes)
    trailing = max(rows_ndim, len(layouts) + nd)
    lead = (_pad(np.take(n, index, axis=1), trailing), _pad(np.take(k, index, axis=1), trailing),
            _pad(first[5][2], trailing)) if backward else first[5]  # the forward reads no (n, k, layers)
    return coef, first[1], first[2], first[3], first[4], lead


@by_identity()  # pure: the kept coefficients of a model's degrees, stacked once per set of degrees
def _stacked(dense, m, kern, num, backward: bool, *distinct: float) -> tuple:
    """(coefficients (degrees, rates..., shapes), n and k (shapes, degrees, rates...), the first degree's tuple)."""
    kept = [dense(m, d, kern, num, backward) for d in distinct]
    return (tuple(np.stack([kp[0][i] for kp in kept]) for i in range(3)),
            *(np.stack([kp[5][i] for kp in kept], axis=1) for i in range(2)), kept[0])
