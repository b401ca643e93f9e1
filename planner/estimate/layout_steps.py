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
    fields = ("pp", "cp", "tp", "micro_batch", "ep")
    distinct, which = np.unique(np.stack([c[f] for f in fields] + [recompute], axis=1), axis=0, return_inverse=True)
    c, recompute = dict(zip(fields, distinct[:, :-1].T)), distinct[:, -1]
    out = np.empty((len(recompute), 3))
    keys = np.stack([c["pp"], c["cp"]], axis=1)
    names = np.array(RECOMPUTE)[recompute]
    for key in np.unique(keys, axis=0):
        pp, cp = (int(v) for v in key)
        idx = np.flatnonzero((keys == key).all(axis=1))
        col = lambda f: c[f][idx][:, None].astype(float)  # noqa: E731  (layouts on axis 0, rates on axis 1)
        work = perf.StepWork(micro_batch=col("micro_batch"), seq_len=shape.seq_len / cp, tp=col("tp"),
                             recompute=names[idx][:, None], weight_grads=shape.weight_grads,
                             expert_parallel=col("ep"), context_parallel=cp)
        stage, num = stage_model(shape.model, pp), perf.DEFAULT_NUMERICS
        out[idx] = fp8_gemms.micro_step_s(stage, kern, num, work, fp8) + moe_train.micro_step_moe_s(
            stage, kern, num, rows=col("micro_batch") * shape.seq_len / cp, tp=col("tp"), etp=col("tp"), ep=col("ep"),
            full_recompute=names[idx][:, None] == "full", weight_grads=shape.weight_grads, balance=shape.recipe.moe_balance,
            fp8=fp8)
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
