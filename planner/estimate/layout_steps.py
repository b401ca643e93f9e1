"""Step time of every candidate layout in a few numpy passes: training_step.step_time over columns.

The layout search (layout_search.best_layout) ranks hundreds of layouts; timing each with the scalar
step_time cost a Python call tree per layout. Here every size is a column (one row per layout, the
(p10, p50, p90) rates on the last axis): the performance model's micro-step runs once per group of
layouts sharing pipeline depth, recomputation and context parallelism (tensor parallelism, micro-batch
and expert parallelism broadcast inside perf.py), and the communication, bubble, data-parallel and
optimizer terms are the same formulas as training_step.py on arrays. The search re-times its best few
with the scalar step_time, so the layout chosen and its numbers are the scalar path's.
"""
from __future__ import annotations

import numpy as np

from ..catalog.collectives import bus_factor
from ..catalog.specs import GPUSpec
from . import communication as comm
from . import perf
from .layout import BF16, OPTIMIZER_BYTES, OPTIMIZER_STEP_BYTES, PAGED, RECOMPUTE, _split_params
from .training_step import HOST_BYTES_PER_S_PER_GPU, NOT_OVERLAPPED, PCIE_BYTES_PER_S, stage_model


def _link(g: GPUSpec, group, stride):
    """(latency, hop latency, bus bytes/s) of communication.link_for for each group size and stride."""
    span = group * stride
    up, pcie, out = comm.scale_up_link(g), comm.pcie_link(g), comm.scale_out_link(g)
    use_up = span <= g.scale_up_domain_size
    use_pcie = ~use_up & (span <= comm.PCIE_NODE_SIZE) & (g.link_kind in ("pcie", "nvlink"))

    def pick(attr: str):
        return np.where(use_up, getattr(up, attr), np.where(use_pcie, getattr(pcie, attr), getattr(out, attr)))
    return pick("latency_s"), pick("hop_latency_s"), pick("bus_bytes_per_s")


def _collective(op: str, n_bytes, n_ranks, link):
    """communication.collective_s for arrays of ranks and links: zero where a group has one rank."""
    latency, hop, bus = link
    n = np.maximum(n_ranks, 1)
    t = latency + comm.STEPS[op](n) * hop + bus_factor(op, n) * n_bytes / bus
    return np.where(n_ranks <= 1, 0.0, t)


def _exposed(comm_s, compute_s):
    return np.maximum(comm_s - compute_s, 0.0) + NOT_OVERLAPPED * np.minimum(comm_s, compute_s)


def micro_compute(shape, kern: perf.Kernels, c: dict, recompute: np.ndarray) -> np.ndarray:
    """perf.micro_step_s of every layout, shape (layouts, 3): one pass per (pp, cp) group."""
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
        out[idx] = perf.micro_step_s(stage_model(shape.model, pp), kern, perf.Numerics(), work)
    return out


def gpu_seconds_per_token(shape, g: GPUSpec, kern: perf.Kernels, c: dict, recompute: np.ndarray,
                          batches: np.ndarray) -> np.ndarray:
    """training_step.step_time(...).gpu_seconds_per_token of every layout in columns `c` (layout_search's
    candidate_sizes), at recomputation index `recompute` and global batch `batches`; shape (layouts, 3)."""
    m = shape.model
    tp, pp, dp, ep, cp, mb, v = (c[f][:, None] for f in ("tp", "pp", "dp", "ep", "cp", "micro_batch",
                                                          "virtual_stages"))
    zero, full = c["zero_stage"][:, None], (recompute == RECOMPUTE.index("full"))[:, None]
    micro = micro_compute(shape, kern, c, recompute)
    micro_steps = np.maximum(1, np.ceil(batches[:, None] / (dp * mb)))
    rows = mb * shape.seq_len / cp
    tp_s = np.where(full, 6, 4) * np.ceil(m.n_layers / pp) * _collective(
        "all_reduce", rows * m.dim * BF16, tp, _link(g, tp, 1))
    ep_s = 0.0
    if m.is_moe:
        sent = rows * m.n_experts_per_token * m.dim * ((1.0 if shape.fp8 else BF16) + BF16) / 2 / tp
        moe_layers = np.ceil((m.n_layers - m.n_dense_layers) / pp)
        ep_s = 4 * moe_layers * _collective("all_to_all", sent, ep, _link(g, ep, tp * cp))
    send = 2 * v * _collective("send_recv", rows * m.dim * BF16 / tp, 2, _link(g, 2, tp * cp * dp))
    send = np.where(pp > 1, send, 0.0)
    per_micro = micro + tp_s + _exposed(ep_s, micro) + send
    pipeline = micro_steps * per_micro + (pp - 1) / v * per_micro
    total, experts = _split_params(m)
    local = (total - experts) / (tp * pp) + experts / (tp * pp * ep)
    trainable, shards = local * shape.trainable_fraction, dp * cp
    link = _link(g, shards, tp)
    grads = trainable * BF16
    gathers = np.where(zero == 3, 2 * micro_steps, 1)
    sharded = _collective("reduce_scatter", grads, shards, link) \
        + gathers * _collective("all_gather", local * BF16, shards, link)
    dp_s = np.where(zero == 0, _collective("all_reduce", grads, shards, link), sharded)
    exposed = _exposed(dp_s, micro_steps * micro * (2.0 / 3.0))
    shard_local = trainable / np.where(zero >= 1, shards, 1)
    optimizer = 0.0 if shape.offload != "none" else \
        perf.optimizer_step_s(shard_local, OPTIMIZER_STEP_BYTES[shape.optimizer], kern)
    seconds = pipeline + exposed + optimizer + _offload_s(m, shape, local, shard_local, shards, pp, micro_steps)
    return seconds * (tp * pp * dp * cp) / (micro_steps * dp * mb * shape.seq_len)


def _offload_s(m, shape, local, shard_local, shards, pp, micro_steps):
    """training_step.offload_s over columns."""
    if shape.offload == "none":
        paged = shape.optimizer in PAGED  # paged states: in from and back to the host every step
        return 2 * shard_local * OPTIMIZER_BYTES[shape.optimizer] / PCIE_BYTES_PER_S if paged else 0.0
    t = 2 * shard_local * BF16 / PCIE_BYTES_PER_S
    t = t + shard_local * OPTIMIZER_STEP_BYTES[shape.optimizer] / HOST_BYTES_PER_S_PER_GPU
    if shape.offload == "params":
        t = t + micro_steps * 2 * local * BF16 / shards / PCIE_BYTES_PER_S
    return t
