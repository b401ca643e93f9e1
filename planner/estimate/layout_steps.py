"""Step time of every candidate layout in a few numpy passes: training_step.step_time over columns.

The layout search (layout_search.best_layout) ranks hundreds of layouts; timing each with the scalar
step_time cost a Python call tree per layout. Here every size is a column (one row per layout, the
(p10, p50, p90) rates on the last axis): the performance model's micro-step runs once per group of
layouts sharing pipeline depth and context parallelism (tensor parallelism, micro-batch, expert parallelism
and recomputation broadcast inside perf.py), and the communication, bubble, data-parallel and optimizer
terms are training_step.step_terms, the function step_time evaluates at one layout. The search re-times
its best few with step_time, which decides, so the layout chosen and its numbers are the scalar path's.
"""
from __future__ import annotations

import numpy as np

from ..catalog.specs import GPUSpec
from . import fp8 as fp8_gemms
from . import moe_train, perf
from .layout import RECOMPUTE, _split_params
from .training_step import stage_model, step_terms


def micro_compute(shape, kern: perf.Kernels, c: dict, recompute: np.ndarray, fp8=None) -> np.ndarray:
    """fp8.micro_step_s (`fp8`: fp8.Fp8Gemms or None) plus the MoE terms (moe_train; expert TP as attention's, the
    balance of shape.recipe) of every layout, shape (layouts, 3): one pass per (pp, cp) group."""
    # the micro-step reads no other size: layouts differing only in dp, ZeRO stage or virtual stages share one
    distinct, which = np.unique(np.stack([c["pp"], c["cp"], c["tp"], c["micro_batch"], c["ep"], recompute], axis=1),
                                axis=0, return_inverse=True)  # sorted: each (pp, cp) group is a run of rows
    sizes, names = distinct.astype(float), np.array(RECOMPUTE)[distinct[:, 5]][:, None]
    out = np.empty((len(distinct), 3))
    starts = np.flatnonzero(np.any(np.diff(distinct[:, :2], axis=0, prepend=-1) != 0, axis=1)).tolist()
    for lo, hi in zip(starts, starts[1:] + [len(distinct)]):
        pp, cp = int(distinct[lo, 0]), int(distinct[lo, 1])
        tp, mb, ep = (sizes[lo:hi, i:i + 1] for i in (2, 3, 4))  # layouts on axis 0, rates on axis 1
        work = perf.StepWork(micro_batch=mb, seq_len=shape.seq_len / cp, tp=tp, recompute=names[lo:hi],
                             weight_grads=shape.weight_grads, expert_parallel=ep, context_parallel=cp)
        stage, num = stage_model(shape.model, pp), perf.DEFAULT_NUMERICS
        out[lo:hi] = fp8_gemms.micro_step_s(stage, kern, num, work, fp8) + moe_train.micro_step_moe_s(
            stage, kern, num, rows=mb * shape.seq_len / cp, tp=tp, etp=tp, ep=ep, full_recompute=names[lo:hi] == "full",
            weight_grads=shape.weight_grads, balance=shape.recipe.moe_balance, fp8=fp8)
    return out[which.ravel()]


def gpu_seconds_per_token(shape, g: GPUSpec, kern: perf.Kernels, c: dict, recompute: np.ndarray,
                          batches: np.ndarray) -> np.ndarray:
    """training_step.step_time(...).gpu_seconds_per_token of every layout in columns `c` (layout_search's
    candidate_sizes), at recomputation index `recompute` and global batch `batches`; shape (layouts, 3)."""
    col = {f: v[:, None] for f, v in c.items()}  # layouts on axis 0, the rates' quantiles on axis 1
    r = shape.recipe  # the knobs step_time reads from each layout, the same for every candidate
    total, experts = _split_params(shape.model)
    local = (total - experts) / (col["tp"] * col["pp"]) + experts / (col["tp"] * col["pp"] * col["ep"])
    t = step_terms(shape.model, g, kern, **col, full=(recompute == RECOMPUTE.index("full"))[:, None],
                   micro=micro_compute(shape, kern, c, recompute, fp8_gemms.gemms_for(g, r.fp8_recipe) if shape.fp8 else None),
                   global_batch=batches[:, None],
                   seq_len=shape.seq_len, trainable=local * shape.trainable_fraction, fp8=shape.fp8,
                   optimizer=shape.optimizer, offload=shape.offload, moe_balance=r.moe_balance,
                   moe_overlap=r.moe_overlap, fp8_param_gather=r.fp8_param_gather, tp_overlap=r.tp_overlap,
                   moe_dispatcher=r.moe_dispatcher, cuda_graphs=r.cuda_graphs)
    seconds = t["pipeline"] + t["dp"] + t["optimizer"] + t["offload"]
    return seconds * (col["tp"] * col["pp"] * col["dp"] * col["cp"]) / t["tokens"]
