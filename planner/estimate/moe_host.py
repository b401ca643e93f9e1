"""Host-bound MoE layers: the GPU waits for the CPU after each MoE layer's device-to-host sync.

Megatron-Core's dropless MoE learns on the host how many tokens each local expert got before it can shape the
grouped GEMM (the tokens-per-expert counts are copied to the CPU: a device-host synchronisation), so the CPU cannot
queue work past that point while the GPU still runs the layer before it. Its MoE layers are also not CUDA-graph
capturable while dropless: "when --moe-expert-capacity-factor and --moe-pad-expert-input-to-capacity are not set,
the resulting dynamic shapes make MoE layers uncapturable" (Megatron-LM megatron/core/transformer/moe/README.md,
'CUDA Graph Support', read 2026-12-07), and Transformer Engine's grouped GEMM "launch[es] multiple local GEMM
kernels" (same README, --moe-grouped-gemm), one per local expert. Megatron Bridge's docs name the effect: CUDA
graphs "mainly solve launch-bound training steps where GPU compute is fast enough that repeated host-driver
submission overhead becomes noticeable" and its MoE playbook lists "host overhead" first for GB200
(docs.nvidia.com/nemo/megatron-bridge/0.7.0/training/cuda-graphs.html and .../skills/perf-moe-hardware-configs,
read 2026-12-07).

So the sync splits each MoE layer's forward: the CPU cannot launch the experts' GEMMs before the counts arrive,
i.e. before the GPU has finished the layer's attention, router and permutation, so those launches cannot hide
behind that work; after the sync the GPU runs each small expert GEMM as its launch arrives (a GEMM of a few
hundred rows lasts microseconds, less than its launch), so the forward's expert launches are on the critical
path whole (`forward_exposed_s`: a slight pessimism where an expert's GEMM outlasts its launch). The backward
has no sync (the counts are known from the forward), so the CPU runs ahead through it and only its excess over
the GPU's backward of the layer shows (`backward_exposed_s`, the backward taken as two thirds of the layer's
GPU work: dX and dW against the forward's one GEMM per matrix). `host_layer_s` counts the CPU work as the
per-expert GEMM launches (2 forward: fc1, fc2; 4 backward: their data and weight gradients; the forward again
under full recomputation) times a host time per expert GEMM, HOST_S_PER_EXPERT_GEMM, set from the calibration
rows of published_steps.toml. The layer's other launches (attention, router, permutation) are left out: they do
not grow with the local experts, and Megatron Bridge's recipes capture some of them in CUDA graphs (scopes attn,
moe_router, moe_preprocess), which this leaves unmodelled. The host CPU (x86 in DGX H100/B200, Grace in GB200)
is not distinguished: no source read gives their launch times (judgement: the same).
"""
from __future__ import annotations

import numpy as np

from ..catalog.specs import ModelSpec
from .arithmetic import n_moe_layers

# Expert GEMM launches per local expert and MoE layer: forward fc1 and fc2, backward dgrad and wgrad of each
# (Megatron-Core's TEGroupedMLP: two GroupedLinear layers, counted from the ops).
FORWARD_GEMMS_PER_EXPERT = 2
BACKWARD_GEMMS_PER_EXPERT = 4

# Host seconds per expert GEMM launch (Transformer Engine's per-expert Python work, quantisation and the cuBLAS
# launch together). Set from the MoE calibration rows of published_steps.toml only (train-acc, 2026-12-07, with
# the forward's launches serialised behind the sync): over 0-200 us in steps of 10-50 us their median |error| is
# lowest at 80 us (14.1%; 16.0% for the earlier max(GPU, CPU) per layer at its best, 90 us). Mostly one row's fit
# (Qwen3-30B-A3B, 8 B200, MBS 1: +182% at 0 -> +1%); the Qwen3-30B-A3B H100 row (+98%) is not explained by it.
# It is ~10x a bare cuBLAS launch: the term stands for all the host work the sync exposes (judgement).
HOST_S_PER_EXPERT_GEMM = 80e-6
# Share of a layer's GPU work (forward + backward) in its backward: dX and dW per forward GEMM (judgement, from
# the GEMM count; attention's backward is ~2.5x its forward, perf.BACKWARD_FACTOR, close enough).
BACKWARD_SHARE = 2.0 / 3.0


def local_experts(m: ModelSpec, ep) -> np.ndarray:
    """Routed experts held by one GPU of an expert-parallel group of ep (at least one)."""
    return np.maximum(1.0, m.n_experts / np.asarray(ep, dtype=float))


def host_layer_s(m: ModelSpec, ep, full_recompute) -> np.ndarray:
    """CPU seconds to launch one MoE layer's expert GEMMs for one micro-batch, forward and backward (the forward
    twice under full recomputation)."""
    forwards = 1.0 + np.where(full_recompute, 1.0, 0.0)
    gemms = forwards * FORWARD_GEMMS_PER_EXPERT + BACKWARD_GEMMS_PER_EXPERT
    return local_experts(m, ep) * gemms * HOST_S_PER_EXPERT_GEMM


def forward_exposed_s(m: ModelSpec, ep, full_recompute) -> np.ndarray:
    """CPU seconds of one MoE layer's forward expert launches, all on the critical path (after the sync; the
    forward twice under full recomputation)."""
    forwards = 1.0 + np.where(full_recompute, 1.0, 0.0)
    return forwards * local_experts(m, ep) * FORWARD_GEMMS_PER_EXPERT * HOST_S_PER_EXPERT_GEMM


def backward_exposed_s(m: ModelSpec, ep, gpu_layer_s) -> np.ndarray:
    """What one MoE layer's backward expert launches add beyond the GPU's backward of the layer."""
    cpu = local_experts(m, ep) * BACKWARD_GEMMS_PER_EXPERT * HOST_S_PER_EXPERT_GEMM
    return np.maximum(0.0, cpu - BACKWARD_SHARE * np.asarray(gpu_layer_s, dtype=float))


def host_bound_s(m: ModelSpec, micro, *, pp, ep, full_recompute):
    """Seconds a micro-step of one pipeline stage waits on the host: each of its MoE layers' forward expert
    launches, and their backward launches' excess over the layer's backward GPU work, the GPU time of a layer
    being the micro-step's `micro` (GPU work, rates on the last axis) spread evenly over the stage's layers.
    0 for a dense model."""
    if not m.is_moe:
        return 0.0
    layers = np.ceil(m.n_layers / np.asarray(pp, dtype=float))
    moe_layers = np.ceil(n_moe_layers(m) / np.asarray(pp, dtype=float))
    gpu_layer = np.asarray(micro, dtype=float) / layers
    return moe_layers * (forward_exposed_s(m, ep, full_recompute) + backward_exposed_s(m, ep, gpu_layer))
