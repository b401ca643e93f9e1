"""The pretraining run's speed per Monte Carlo sample: the performance model re-run on arrays.

compare() times the final run at three efficiency points (p10, p50, p90 of the GPU's Efficiencies,
together) with the layout its search chose. The Monte Carlo re-runs the same step-time model
(estimate/training_step.step_time) at that layout with one set of kernel rates per sample, so a
sample's run time has the same dependence on the efficiencies as compare()'s band points: its GEMMs
slow with efficiency.gemm, its weight and optimizer traffic with efficiency.memory, while its
communication does not slow at all. The closed form this replaces (time x p50_gemm / gemm) moved the
whole step with the GEMM rate.

The sampled efficiencies are the self-host GPU's; where the training GPU is another, each sample takes
its efficiencies at the same quantiles (as below). Attention efficiency is not a Monte Carlo input:
each sample takes the attention rate at the same quantile as its GEMM rate (piecewise linear through the Efficiencies bands' p10/p50/p90, extended
linearly and kept in (0, 1]), as compare()'s band points pair them. The layout stays the one compare()
chose (its search ranks layouts at p50): a slow sample does not re-search its layout.

With fixed estimates (monte_carlo(physics=False)) the model is not re-run per sample: it is evaluated once on a
grid of TABLE_NODES x TABLE_NODES efficiencies spanning the samples' range, even in 1/efficiency (a step's time
is close to linear in each), and each sample reads its value off the grid bilinearly (`tabled`). On the bundled
examples and the benchmark's scenario this is within 5e-4 of the per-sample model (tests/test_montecarlo_rows.py).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..calibration.store import resolve
from ..catalog.lookup import gpu as lookup_gpu
from ..catalog.lookup import model as lookup_model
from ..core.band import Band
from ..core.units import SECONDS_PER_HOUR
from ..estimate import perf
from ..estimate.training_step import step_time

TABLE_NODES = 17  # per efficiency axis of the fixed-estimates table: within 4e-4 of the model on the benchmark's
# scenario (9 nodes: 5e-4, 33: 3e-4; what is left is the kinks of `paired`, between nodes)


def paired(x: np.ndarray, given: Band, paired_with: Band) -> np.ndarray:
    """The value of `paired_with` at the quantile `x` has in `given`: piecewise linear through their p10/p50/p90,
    extended linearly past p10 and p90, kept in (0, 1]."""
    lo = paired_with.p50 + (x - given.p50) * _slope(given.p10, given.p50, paired_with.p10, paired_with.p50)
    hi = paired_with.p50 + (x - given.p50) * _slope(given.p50, given.p90, paired_with.p50, paired_with.p90)
    return np.clip(np.where(x < given.p50, lo, hi), 1e-6, 1.0)


def tabled(f, x: np.ndarray, y: np.ndarray, nodes: int) -> np.ndarray:
    """f(x, y) (arrays of one length) at every (x, y), read bilinearly off f evaluated once on a nodes x nodes grid
    spanning x's and y's range, even in 1/x and 1/y (an axis whose values are all equal has one node)."""
    axes = [_axis(1.0 / np.asarray(a, dtype=float), nodes) for a in (x, y)]
    (u, ux), (w, wy) = axes
    grid_x, grid_y = np.meshgrid(1.0 / ux, 1.0 / wy, indexing="ij")
    table = np.asarray(f(grid_x.ravel(), grid_y.ravel()), dtype=float).reshape(ux.size, wy.size)
    i, fx = u
    j, fy = w
    flat = i * wy.size + j  # the cell's lower corner in the flattened table
    step_x, step_y = (wy.size if ux.size > 1 else 0), (1 if wy.size > 1 else 0)
    t = table.ravel()
    # each node's step to the next along y, one subtraction per node (not per sample): the same differences
    rise = np.zeros_like(t)
    if step_y:
        np.subtract(t[1:], t[:-1], out=rise[:-1])
    low, high = t[flat], t[flat + step_x] if step_x else None
    low += fy * rise[flat]
    if high is None:
        return low
    flat += step_x
    high += fy * rise[flat]
    high -= low
    high *= fx
    return np.add(low, high, out=high)


def _axis(v: np.ndarray, nodes: int):
    """((each value's cell index, its fraction of the cell), the nodes): nodes even from v's min to max."""
    lo, hi = float(v.min()), float(v.max())
    if not hi > lo:
        return (np.zeros(v.size, dtype=np.intp), np.zeros(v.size)), np.array([lo])
    f = np.subtract(v, lo)
    f *= (nodes - 1) / (hi - lo)
    i = np.minimum(np.floor(f), nodes - 2)  # f >= 0: the floor is the truncation
    return (i.astype(np.intp), np.subtract(f, i, out=f)), np.linspace(lo, hi, nodes)


def _slope(x0: float, x1: float, y0: float, y1: float) -> float:
    return 0.0 if x1 == x0 else (y1 - y0) / (x1 - x0)


class TrainingSpeed:
    """GPU-hours per token of compare()'s final pretraining run, as a function of the sampled efficiencies."""

    def __init__(self, pre, model: str, sampled):
        """pre: compare()'s PretrainingEstimate of `model`; sampled: the Efficiencies the Monte Carlo's efficiency
        inputs default to (the self-host GPU's): a sample maps to the training GPU's at the same quantile."""
        self.model, self.gpu, self.pre, self.sampled = lookup_model(model), lookup_gpu(pre.gpu), pre, sampled
        self.eff = resolve(self.gpu.name)
        self.kern = perf.kernels_for(self.gpu.peak("bf16"), self.gpu.memory_bytes_per_s, self.eff)  # fp8: step_time

    def gpu_hours_per_token(self, gemm, memory) -> np.ndarray:
        """One value per sample (gemm and memory: arrays of one length), before the run's overhead factor."""
        gemm = paired(np.atleast_1d(np.asarray(gemm, dtype=float)), self.sampled.gemm, self.eff.gemm)
        memory = paired(np.atleast_1d(np.asarray(memory, dtype=float)), self.sampled.memory, self.eff.memory)
        attention = paired(gemm, self.eff.gemm, self.eff.attention)
        kern = replace(self.kern, gemm_efficiency=gemm[:, None], memory_efficiency=memory[:, None],
                       attention_efficiency=attention[:, None])  # (n, 1): step_time's band axis stays last
        pre, lay = self.pre, self.pre.layout
        st = step_time(self.model, self.gpu, kern, lay, seq_len=pre.seq_len,
                       global_batch=round(pre.global_batch_tokens / pre.seq_len))
        return st.gpu_seconds_per_token(lay.n_gpus)[:, 0] / SECONDS_PER_HOUR
