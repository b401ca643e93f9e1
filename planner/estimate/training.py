"""Shared training arithmetic: memory per GPU under full sharding, time per token from the
performance model, and GPU-hours, days and cost.

Pretraining and fine-tuning differ in which weights get gradients and which states are
kept; both then go through `min_gpus_to_fit`, `gpu_seconds_per_token` and `run_time_cost`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..calibration.efficiency import Efficiencies
from ..catalog.specs import GPUSpec, ModelSpec
from ..core.band import Band
from ..core.errors import DoesNotFitError
from ..core.units import HOURS_PER_DAY, SECONDS_PER_HOUR
from . import perf

# Mixed-precision Adam keeps bf16 weights (2) and gradients (2) plus fp32 master
# weights (4) and two moments (4 + 4): 16 bytes per trained parameter
# (Rajbhandari et al. 2020, "ZeRO", Sec. 3.1: 2 + 2 + 12 = 16 bytes per parameter).
ADAM_MIXED_BYTES_PER_PARAM = 16.0

# Fraction of HBM left for states and activations after the CUDA context,
# allocator fragmentation and communication buffers (an assumption; typical
# FSDP runs keep 5-15% free).
USABLE_MEMORY_FRACTION = 0.85



def activation_bytes_per_gpu(m: ModelSpec, seq_len: int, micro_batch: int = 1, *, checkpointing: bool = True) -> float:
    """Activation memory of one micro-batch on one GPU, bf16.

    Korthikanti et al. 2022 ("Reducing Activation Recomputation", Sec. 4.1): one
    layer holds s*b*h*(34 + 5*a*s/h) bytes; FlashAttention removes the 5as/h
    score term. With full checkpointing only each layer's bf16 input (2*s*b*h
    bytes) is kept, plus one layer's activations while it is recomputed.
    """
    sbh = float(seq_len) * micro_batch * m.dim
    one_layer = 34.0 * sbh
    if not checkpointing:
        return m.n_layers * one_layer
    return m.n_layers * 2.0 * sbh + one_layer


def min_gpus_to_fit(*, state_bytes: float, replicated_bytes: float, activation_bytes: float,
                    gpu: GPUSpec, what: str) -> int:
    """Fewest GPUs whose usable memory holds `state_bytes` fully sharded (ZeRO-3/FSDP).

    Each GPU also holds `replicated_bytes` (not sharded) and its own activations.
    Raises DoesNotFitError when even infinite sharding leaves no room.
    """
    usable = gpu.memory_bytes * USABLE_MEMORY_FRACTION
    room = usable - replicated_bytes - activation_bytes
    if room <= 0:
        raise DoesNotFitError(
            f"{what} does not fit on {gpu.name} even fully sharded: activations and unsharded "
            f"state need {(replicated_bytes + activation_bytes) / 1e9:.1f} GB per GPU of "
            f"{usable / 1e9:.1f} GB usable; shorten the sequence, use tensor/sequence parallelism, "
            f"or a GPU with more memory")
    return max(1, math.ceil(state_bytes / room))


def check_enough_gpus(n_gpus: int, min_gpus: int, *, state_bytes: float, gpu: GPUSpec, what: str) -> None:
    if n_gpus < min_gpus:
        raise DoesNotFitError(
            f"{what} needs at least {min_gpus} x {gpu.name} to hold {state_bytes / 1e9:,.0f} GB of "
            f"weights, gradients and optimizer states fully sharded (plus activations); got n_gpus={n_gpus}")


# Bytes the optimizer step moves per updated parameter, mixed-precision AdamW in one fused
# kernel: read fp32 master, m, v (12) and the bf16 gradient (2), write master, m, v (12) and the
# bf16 weight (2) = 28 (counted from the update rule, Loshchilov & Hutter 2019).
ADAMW_STEP_BYTES_PER_PARAM = 28.0


def gpu_seconds_per_token(m: ModelSpec, g: GPUSpec, eff: Efficiencies, *, seq_len: float, micro_batch: float = 1,
                          precision: str = "bf16", recompute: str = "selective", weight_grads: bool = True,
                          trainable_params_per_gpu: float = 0.0, tokens_per_step_per_gpu: float = 0.0,
                          optimizer_bytes_per_param: float = ADAMW_STEP_BYTES_PER_PARAM) -> np.ndarray:
    """GPU-seconds one trained token costs on `g`: the performance model's micro-step
    (perf.micro_step_s) over its tokens, plus the optimizer step spread over the tokens of a step.
    Returns (p10, p50, p90)-efficiency values (slowest first)."""
    wide = 4.0 if precision == "fp32" else 2.0  # bf16 mixed precision moves 2-byte weights and activations
    kern, num = perf.kernels_for(g.peak(precision), g.memory_bytes_per_s, eff), perf.Numerics(wide, wide, wide)
    work = perf.StepWork(micro_batch=micro_batch, seq_len=seq_len, recompute=recompute, weight_grads=weight_grads)
    step = perf.micro_step_s(m, kern, num, work) / (micro_batch * seq_len)
    if tokens_per_step_per_gpu:
        step = step + perf.optimizer_step_s(trainable_params_per_gpu, optimizer_bytes_per_param, kern) \
            / tokens_per_step_per_gpu
    return step


def mfu(flops_per_token: float, seconds_per_token, peak_flops_per_s: float) -> Band:
    """Model FLOPs utilisation the step time implies: model FLOPs / (dense peak x time)
    (Chowdhery et al. 2022, App. B)."""
    return perf.to_band(flops_per_token / (np.asarray(seconds_per_token) * peak_flops_per_s))


@dataclass(frozen=True)
class RunTimeCost:
    gpu_hours: Band
    wall_days: Band
    cost_usd: Band


def run_time_cost(*, tokens: float, seconds_per_token, gpu: GPUSpec, n_gpus: int, overhead_factor: float) -> RunTimeCost:
    """GPU-hours = tokens x GPU-seconds per token x overhead; days on n_gpus; $ at the GPU's price.

    `overhead_factor` adds restarts, failures and evaluation pauses that a model of one
    step cannot see.
    """
    gpu_hours = perf.to_band(tokens * np.asarray(seconds_per_token) * (overhead_factor / SECONDS_PER_HOUR))
    wall_days = gpu_hours * (1.0 / (n_gpus * HOURS_PER_DAY))
    return RunTimeCost(gpu_hours=gpu_hours, wall_days=wall_days, cost_usd=gpu_hours * gpu.usd_per_gpu_hour)
