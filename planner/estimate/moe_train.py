"""What a mixture-of-experts layer costs in a training step beyond its FLOPs, as Megatron-Core runs it.

perf.micro_step_s counts a routed expert as ordinary GEMMs at the large-GEMM rate, split over the attention's
tensor parallelism. A training framework runs them otherwise (Megatron-Core's MoE layer, `--moe-grouped-gemm`,
the alltoall/DeepEP token dispatchers), and each difference is one function here:

- the routed experts' GEMMs are grouped GEMMs whose rate falls with the rows each expert gets (M) and the
  expert's width (N, K): `grouped_gemm_s`, from DeepGEMM's published table (below);
- the experts are split over the expert tensor parallelism (etp, often 1 where attention uses tp = 2-4), and
  each rank dispatches only its sequence-parallel share of the tokens: `routed_experts_s`;
- the busiest expert on each rank sets the step: `imbalance_factor`;
- the router's softmax and top-k, and the permutation of k copies of every token to its experts and back
  (forward and backward), are memory-bound: `router_s`, `permutation_s`;
- the all-to-all dispatch and combine (training_step.step_terms) run on the critical path unless the recipe
  overlaps them: `A2A_NOT_OVERLAPPED`.

`micro_step_moe_s` returns what these add to one micro-step (the difference from perf's routed experts), for
one layout or for arrays of them; a dense model adds nothing. Shared experts and the dense layers of a
model that interleaves them (n_dense_layers, moe_layer_step) stay in perf, as ordinary GEMMs.
"""
from __future__ import annotations

import numpy as np

from ..catalog.specs import ModelSpec
from . import arithmetic as ar
from . import perf

# Grouped-GEMM rate by shape: rate(M, N, K) = r / (1 + M_HALF / M + N_HALF / N + K_HALF / K), fitted (least squares
# on log rate, 16 points, median error 2.3%, worst 18%) to DeepGEMM's README performance tables (commit 327ec92,
# 2025-04-09: 'Normal GEMMs for dense models' at M = 4096 and the contiguous and masked 'Grouped GEMMs for MoE
# models', M per group 256-8192, H800 SXM5, fp8): e.g. 1,520 TFLOP/s at (4096, 7168, 16384), 1,214 at M = 4096
# per group of (7168, 2048), 815 at M = 256 per group. Small M pays the tile fill and the per-expert alignment;
# small N or K leave the wave of tiles and the epilogue unamortised. Read from https://github.com/deepseek-ai/
# DeepGEMM/blob/327ec92/README.md (checked 2026-12-07). The same shape dependence is assumed for bf16 kernels
# (CUTLASS / cuBLASLt grouped GEMMs tile alike; judgement).
M_HALF, N_HALF, K_HALF = 198.0, 894.0, 707.0
# The shape the dense calibration's large-GEMM rate stands for (a model's projections, thousands wide): the
# grouped rate is taken relative to it, so dense estimates are untouched (judgement: 8192 cubed).
DENSE_REFERENCE = 8192.0

# Busiest expert on an EP rank over the mean (p10, p50, p90: slowest first, as the Kernels' rates). Forced
# balance (benchmarks) is 1. Dropless with an auxiliary loss: the Megatron MoE Model Zoo measured Qwen3-235B-A22B
# on H100 forced-balance vs dropless at 295/237, 335/277, 368/320, 389/357 TFLOP/s (seq 16K-128K), i.e. whole
# steps 9-25% slower (https://github.com/yanring/Megatron-MoE-ModelZoo/blob/main/best_practice/Qwen3/readme.md,
# 'Long Context', checked 2026-12-07); taking the MoE part (expert GEMMs, permutation, all-to-all) as about half
# such a step (judgement), it runs 1.2-1.5x slower. Aux-loss-free bias balancing (Wang et al. 2024, "Auxiliary-
# Loss-Free Load Balancing Strategy for Mixture-of-Experts", arXiv:2408.15664) balances tighter: half the excess
# (judgement).
IMBALANCE = {"forced": np.array([1.0, 1.0, 1.0]), "aux-loss": np.array([1.5, 1.3, 1.2]),
             "aux-free": np.array([1.25, 1.15, 1.1])}

# Share of the expert-parallel all-to-all time left on the critical path. Megatron-Core's alltoall and DeepEP
# dispatchers run between the router and the experts, in the compute stream, unless the recipe adds
# --overlap-moe-expert-parallel-comm (the 1F1B all-to-all overlap: 19.7 s -> 17.6 s per step in the Model Zoo's
# Qwen3-235B row "+1f1b overlap", same page as above). Default: not overlapped; a layout with moe_overlap=True
# hides them behind compute as training_step hides data-parallel traffic.
A2A_NOT_OVERLAPPED = 1.0

# The router in fp32 (Megatron's --moe-router-dtype fp32): softmax (or sigmoid), top-k and the gate weights each
# read or write the (tokens x experts) scores once: 3 passes forward (judgement, counted from the ops).
ROUTER_PASSES = 3
FP32_BYTES = 4.0


def grouped_gemm_factor(m_rows, n, k):
    """A grouped GEMM's rate over the dense large-GEMM rate at its shape (rows M per expert, N x K weights)."""
    ref = 1.0 + (M_HALF + N_HALF + K_HALF) / DENSE_REFERENCE
    return ref / (1.0 + M_HALF / np.maximum(m_rows, 1.0) + N_HALF / n + K_HALF / k)


def grouped_gemm_s(m_rows, n, k, kern: perf.Kernels, num: perf.Numerics):
    """One expert's (M x K) @ (K x N) inside a grouped GEMM: the roofline of perf.gemm_s with the compute rate
    scaled by grouped_gemm_factor (in place of perf's Hockney rows, which the factor's M term replaces)."""
    m_rows = np.asarray(m_rows, dtype=float)
    compute = 2.0 * n * k * m_rows / (kern.peak_flops_per_s * kern.gemm_efficiency * grouped_gemm_factor(m_rows, n, k))
    moved = n * k * num.weight_bytes + m_rows * (n + k) * num.activation_bytes
    return np.maximum(compute, moved / (kern.peak_bytes_per_s * kern.memory_efficiency))


def expert_rows(m: ModelSpec, rows, tp, etp, ep):
    """(experts on one GPU, rows each multiplies) when each of ep ranks dispatches its rows x etp / tp tokens
    (sequence parallelism leaves a tp-th of the rows on each rank; the etp ranks of an expert gather theirs)."""
    return perf.routed_rows(m, np.asarray(rows, dtype=float) * etp / tp, ep)


def _on_leading_axis(triples, kern: perf.Kernels):
    """(M, N, K) triples of numbers or arrays as three arrays with the triples on a new leading axis, the rest
    broadcast and padded so the Kernels' rates (p10/p50/p90 on their last axis) broadcast against them."""
    flat = np.broadcast_arrays(*(np.asarray(v, dtype=float) for t in triples for v in t))
    rates = max(np.ndim(getattr(kern, a)) for a in ("peak_flops_per_s", "gemm_efficiency", "memory_efficiency"))
    shape = (len(triples), 3) + (1,) * max(0, rates - flat[0].ndim) + flat[0].shape
    arr = np.stack(flat).reshape(shape)
    return arr[:, 0], arr[:, 1], arr[:, 2]


def routed_experts_s(m: ModelSpec, rows, tp, etp, ep, kern: perf.Kernels, num: perf.Numerics, *, weight_grads: bool):
    """(forward, backward) of one MoE layer's routed experts as grouped GEMMs, each expert split over etp:
    forward Y = X W^T per shape, backward dX = dY W and dW = dY^T X (a grouped GEMM whose reduction runs
    over the expert's M rows); all shapes in one numpy pass."""
    local, per_expert = expert_rows(m, rows, tp, etp, ep)
    shapes = perf.mlp_shapes(m, m.moe_ffn_dim / etp)  # 2-3 (N, K): the MLP's matrices
    triples = [(per_expert, n, k) for n, k in shapes] + [(per_expert, k, n) for n, k in shapes] \
        + ([(n, k, per_expert) for n, k in shapes] if weight_grads else [])
    t = grouped_gemm_s(*_on_leading_axis(triples, kern), kern, num)
    return local * t[:len(shapes)].sum(axis=0), local * t[len(shapes):].sum(axis=0)


def perf_routed_s(m: ModelSpec, rows, tp, ep, kern: perf.Kernels, num: perf.Numerics, *, weight_grads: bool):
    """(forward, backward) of the routed experts as perf.micro_step_s counts them (ordinary GEMMs over tp)."""
    local, shapes, per_expert = perf._ffn_parts(m, np.asarray(rows, dtype=float), tp, ep)[0]
    fwd = local * perf.gemm_stack_s(per_expert, shapes, kern, num)
    bwd = local * perf.gemm_stack_s(per_expert, [(k, n) for n, k in shapes], kern, num)
    if weight_grads:
        bwd = bwd + local * perf.gemm_stack_s(per_expert, shapes, kern, num, transpose=True)
    return fwd, bwd


def dispatch_bytes(m: ModelSpec, rows, tp, fp8: bool):
    """Bytes one rank sends in one all-to-all of a MoE layer, the mean of dispatch and combine: k copies of its
    sequence-parallel share rows / tp (Megatron's alltoall dispatcher sends before the expert-TP all-gather),
    dispatched in fp8 where the GEMMs are (as DeepSeek-V3 does; the step model's earlier assumption, kept) and
    combined in bf16."""
    return np.asarray(rows, dtype=float) / tp * m.n_experts_per_token * m.dim * ((1.0 if fp8 else 2.0) + 2.0) / 2


def imbalance_factor(balance: str) -> np.ndarray:
    """How much longer the busiest expert's rank works than the mean one, (p10, p50, p90)."""
    return IMBALANCE[balance]


def permutation_bytes(m: ModelSpec, tokens, local_experts, activation_bytes: float):
    """Bytes one MoE layer's token permutation moves in a forward and backward, for `tokens` dispatched by
    this rank: permute reads each token and writes its k copies, unpermute reads the k copies and writes the
    weighted sum ((1 + k) x tokens x dim each way), and the backward mirrors both; with several experts on a
    rank the received k x tokens are sorted by expert after the all-to-all and back (Megatron's alltoall
    dispatcher, sort_chunks_by_idxs): 2 k x tokens x dim more each way, forward and backward."""
    k = m.n_experts_per_token
    passes = 4.0 * (1 + k) + np.where(np.asarray(local_experts) > 1, 4.0 * 2 * k, 0.0)
    return passes * np.asarray(tokens, dtype=float) * m.dim * activation_bytes


def permutation_s(m: ModelSpec, tokens, local_experts, kern: perf.Kernels, num: perf.Numerics):
    """permutation_bytes at the element-wise bandwidth: gathers and scatters of whole rows."""
    return permutation_bytes(m, tokens, local_experts, num.activation_bytes) / (
        kern.peak_bytes_per_s * kern.elementwise_efficiency)


def router_s(m: ModelSpec, tokens, kern: perf.Kernels):
    """Softmax / top-k / gating of `tokens` over n_experts fp32 scores, forward and backward (the gating GEMM
    itself is in perf's MoE layer)."""
    moved = (1.0 + perf.BACKWARD_FACTOR) * ROUTER_PASSES * np.asarray(tokens, dtype=float) * m.n_experts * FP32_BYTES
    return moved / (kern.peak_bytes_per_s * kern.elementwise_efficiency)


def micro_step_moe_s(m: ModelSpec, kern: perf.Kernels, num: perf.Numerics, *, rows, tp, etp, ep, full_recompute,
                     weight_grads: bool, balance: str):
    """What the MoE terms add to perf.micro_step_s for one micro-batch of `rows` tokens (per tensor-parallel
    group) on one GPU of a pipeline stage holding `m`'s layers: (grouped experts x imbalance - perf's routed
    experts) + permutation x imbalance + router, per MoE layer. 0 for a dense model."""
    n_moe = ar.n_moe_layers(m)
    if not n_moe:
        return 0.0
    worst = imbalance_factor(balance)
    fwd, bwd = routed_experts_s(m, rows, tp, etp, ep, kern, num, weight_grads=weight_grads)
    old_fwd, old_bwd = perf_routed_s(m, rows, tp, ep, kern, num, weight_grads=weight_grads)
    redo = np.where(full_recompute, 1.0, 0.0)  # full recomputation runs the forward again
    experts = worst * ((1.0 + redo) * fwd + bwd) - ((1.0 + redo) * old_fwd + old_bwd)
    tokens = np.asarray(rows, dtype=float) / tp  # each rank routes its sequence-parallel share
    local, _ = expert_rows(m, rows, tp, etp, ep)
    moved = worst * permutation_s(m, tokens * etp, local, kern, num) + router_s(m, tokens, kern)
    return n_moe * (experts + moved)
