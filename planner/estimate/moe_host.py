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

So one MoE layer of a micro-batch takes max(GPU work, CPU launch work) rather than the GPU work alone: the CPU
can run ahead within a layer but not across its sync. `host_layer_s` counts the CPU work as the per-expert GEMM
launches (2 forward: fc1, fc2; 4 backward: their data and weight gradients; the forward again under full
recomputation) times a host time per expert GEMM, HOST_S_PER_EXPERT_GEMM, set from the calibration rows of
published_steps.toml. The layer's other launches (attention, router, permutation) are left out: they do not grow
with the local experts, and Megatron Bridge's recipes capture some of them in CUDA graphs (scopes attn,
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
# launch together). Set from the MoE calibration rows of published_steps.toml only: 0-150 us in steps of 10-30 us,
# their median |error| is lowest (14%, from 29% at 0) at 80-100 us; the middle taken. Only one calibration row
# moves (Qwen3-30B-A3B, 8 B200, MBS 1: +210% -> 0%), so this is one row's fit. It is 10x a bare cuBLAS launch:
# the term stands for all the host work the sync exposes, not launches alone (judgement).
HOST_S_PER_EXPERT_GEMM = 90e-6


def local_experts(m: ModelSpec, ep) -> np.ndarray:
    """Routed experts held by one GPU of an expert-parallel group of ep (at least one)."""
    return np.maximum(1.0, m.n_experts / np.asarray(ep, dtype=float))


def host_layer_s(m: ModelSpec, ep, full_recompute) -> np.ndarray:
    """CPU seconds to launch one MoE layer's expert GEMMs for one micro-batch, forward and backward (the forward
    twice under full recomputation)."""
    forwards = 1.0 + np.where(full_recompute, 1.0, 0.0)
    gemms = forwards * FORWARD_GEMMS_PER_EXPERT + BACKWARD_GEMMS_PER_EXPERT
    return local_experts(m, ep) * gemms * HOST_S_PER_EXPERT_GEMM


def host_bound_s(m: ModelSpec, micro, *, pp, ep, full_recompute):
    """Seconds a micro-step of one pipeline stage waits on the host: each of its MoE layers takes
    max(GPU, CPU), the GPU time of a layer being the micro-step's `micro` (GPU work, rates on the last axis)
    spread evenly over the stage's layers. 0 for a dense model."""
    if not m.is_moe:
        return 0.0
    layers = np.ceil(m.n_layers / np.asarray(pp, dtype=float))
    moe_layers = np.ceil(n_moe_layers(m) / np.asarray(pp, dtype=float))
    gpu_layer = np.asarray(micro, dtype=float) / layers
    return moe_layers * np.maximum(0.0, host_layer_s(m, ep, full_recompute) - gpu_layer)
