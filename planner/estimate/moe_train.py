"""What a mixture-of-experts layer costs in a training step beyond its FLOPs, as Megatron-Core runs it.

perf.micro_step_s counts a routed expert as ordinary GEMMs at the large-GEMM rate, split over the attention's
tensor parallelism. A training framework runs them otherwise (Megatron-Core's MoE layer, `--moe-grouped-gemm`,
the alltoall/DeepEP token dispatchers), and each difference is one function here:

- the routed experts' GEMMs are grouped GEMMs whose rate falls with the rows each expert gets (M) and the
  expert's width (N, K): grouped_gemm.py's curve (DeepGEMM's published table), the one serving uses too,
  with its half-lengths stretched on datapaths faster than the fit's H800 fp8 (grouped_gemm.half_scale);
  in fp8 the curve scales the fp8 rate (fp8.fp8_kernels), so fp8 experts are not counted twice;
- the experts are split over the expert tensor parallelism (etp, often 1 where attention uses tp = 2-4), and
  each rank dispatches only its sequence-parallel share of the tokens: `routed_experts_s`;
- the busiest expert on each rank sets the step: `imbalance_factor`;
- the router's softmax and top-k, and the permutation of k copies of every token to its experts and back
  (forward and backward), are memory-bound: `router_s`, `permutation_s`;
- each MoE layer launches dozens of small kernels and waits once for the host to learn how many tokens each
  expert got: a fixed time per layer, forward and backward, `layer_fixed_s`;
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
from . import fp8 as fp8_gemms
from . import grouped_gemm, perf

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

# Fixed time of one MoE layer, forward: its router, top-k, permutation, grouped GEMMs and unpermutation are a few
# dozen kernels, small at a training micro-batch's per-rank tokens, and Megatron-Core's dispatchers copy the
# tokens-per-expert counts to the host before the grouped GEMM (a device-host sync that drains the launch queue;
# Megatron-Core MoE report, arXiv:2603.07685, "Compute wall: ... many kernel launches, host-boundedness", and
# AMD Primus issue 203, "almost all component of Megatron MoE requires CPU synchronization: Router, Dispatcher,
# Permutation, GroupMLP", both read 2026-12-07). Sized from the one measured fixed cost found: aiconfigurator-
# core's H200 fused-MoE op at 1 token, 33-60 us per layer forward, 40 us for vLLM's (engines.toml,
# moe_layer_overhead_s), taken for a training forward as it is (judgement: the training layer launches more
# kernels and syncs, but its host runs ahead of the GPU wherever the layer's GPU work outlasts them); the
# backward, with twice the GEMMs (dX, dW) and the permutations' mirrors, twice the forward (judgement).
LAYER_FORWARD_S = 40e-6
LAYER_BACKWARD_S = 2 * LAYER_FORWARD_S

# The router in fp32 (Megatron's --moe-router-dtype fp32): softmax (or sigmoid), top-k and the gate weights each
# read or write the (tokens x experts) scores once: 3 passes forward (judgement, counted from the ops).
ROUTER_PASSES = 3
FP32_BYTES = 4.0


def expert_rows(m: ModelSpec, rows, tp, etp, ep):
    """(experts on one GPU, rows each multiplies) when each of ep ranks dispatches its rows x etp / tp tokens
    (sequence parallelism leaves a tp-th of the rows on each rank; the etp ranks of an expert gather theirs)."""
    return perf.routed_rows(m, np.asarray(rows, dtype=float) * etp / tp, ep)


def routed_experts_s(m: ModelSpec, rows, tp, etp, ep, kern: perf.Kernels, num: perf.Numerics, *, weight_grads: bool,
                     half_scale=1.0):
    """(forward, backward) of one MoE layer's routed experts as grouped GEMMs, each expert split over etp:
    forward Y = X W^T per shape, backward dX = dY W and dW = dY^T X (a grouped GEMM whose reduction runs
    over the expert's M rows); all shapes in one numpy pass. `half_scale`: the curve's half-lengths on this
    datapath (grouped_gemm.half_scale)."""
    local, per_expert = expert_rows(m, rows, tp, etp, ep)
    shapes = perf.mlp_shapes(m, m.moe_ffn_dim / etp)  # 2-3 (N, K): the MLP's matrices
    triples = [(per_expert, n, k) for n, k in shapes] + [(per_expert, k, n) for n, k in shapes] \
        + ([(n, k, per_expert) for n, k in shapes] if weight_grads else [])
    t = grouped_gemm.gemm_s(*grouped_gemm.on_leading_axis(triples, kern), kern, num, half_scale)
    return local * t[:len(shapes)].sum(axis=0), local * t[len(shapes):].sum(axis=0)


def perf_routed_s(m: ModelSpec, rows, tp, ep, kern: perf.Kernels, num: perf.Numerics, *, weight_grads: bool):
    """(forward, backward) of the routed experts as perf.micro_step_s counts them: split over tp, the forward on
    the grouped curve (perf.ffn_s), the backward as ordinary GEMMs (perf.backward_linears_s)."""
    local, shapes, per_expert = perf._ffn_parts(m, np.asarray(rows, dtype=float), tp, ep)[0]
    fwd = local * grouped_gemm.stack_s(per_expert, shapes, kern, num)  # perf.ffn_s: the grouped curve at tp
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


def layer_fixed_s(full_recompute):
    """Fixed time of one MoE layer in a forward and backward (the forward twice under full recomputation)."""
    return (1.0 + np.where(full_recompute, 1.0, 0.0)) * LAYER_FORWARD_S + LAYER_BACKWARD_S


def routed_casts_delta_s(m: ModelSpec, rows, tp, etp, ep, kern: perf.Kernels, fp8: fp8_gemms.Fp8Gemms):
    """One MoE layer's fp8 quantisation of the routed experts with each expert split over etp, less what
    fp8.stack_cast_elements counted (split over tp, as perf): zero where etp = tp."""
    local, per_expert = expert_rows(m, rows, tp, etp, ep)
    old_local, old_rows = perf.routed_rows(m, np.asarray(rows, dtype=float), ep)

    def elements(n_local, n_rows, split):
        hidden = m.moe_ffn_dim / split
        return n_local * fp8_gemms.cast_elements(perf.mlp_shapes(m, hidden), fp8_gemms.mlp_inputs(m, hidden), n_rows)
    return fp8_gemms.cast_s(elements(local, per_expert, etp) - elements(old_local, old_rows, tp), fp8.recipe, kern)


def micro_step_moe_s(m: ModelSpec, kern: perf.Kernels, num: perf.Numerics, *, rows, tp, etp, ep, full_recompute,
                     weight_grads: bool, balance: str, fp8: fp8_gemms.Fp8Gemms | None = None):
    """What the MoE terms add to fp8.micro_step_s for one micro-batch of `rows` tokens (per tensor-parallel
    group) on one GPU of a pipeline stage holding `m`'s layers: (grouped experts x imbalance - the routed
    experts as fp8.micro_step_s counted them) + permutation x imbalance + router + the layer's fixed time, per
    MoE layer. With `fp8` both expert terms are at the fp8 rates (fp8.micro_step_s's bf16 step plus its fp8
    change is the step at the fp8 rates), so the grouped curve applies to the fp8 GEMMs and the routed
    experts are replaced once; their casts follow etp (routed_casts_delta_s). 0 for a dense model."""
    n_moe = ar.n_moe_layers(m)
    if not n_moe:
        return 0.0
    worst = imbalance_factor(balance)
    gk = kern if fp8 is None else fp8_gemms.fp8_kernels(kern, fp8)
    scale = grouped_gemm.half_scale(kern.peak_flops_per_s * (1.0 if fp8 is None else fp8.peak_ratio))
    fwd, bwd = routed_experts_s(m, rows, tp, etp, ep, gk, num, weight_grads=weight_grads, half_scale=scale)
    old_fwd, old_bwd = perf_routed_s(m, rows, tp, ep, gk, num, weight_grads=weight_grads)
    redo = np.where(full_recompute, 1.0, 0.0)  # full recomputation runs the forward again
    experts = worst * ((1.0 + redo) * fwd + bwd) - ((1.0 + redo) * old_fwd + old_bwd)
    tokens = np.asarray(rows, dtype=float) / tp  # each rank routes its sequence-parallel share
    local, _ = expert_rows(m, rows, tp, etp, ep)
    moved = worst * permutation_s(m, tokens * etp, local, kern, num) + router_s(m, tokens, kern)
    casts = 0.0 if fp8 is None else routed_casts_delta_s(m, rows, tp, etp, ep, kern, fp8)
    return n_moe * (experts + moved + casts + layer_fixed_s(full_recompute))
