"""A training run on a cluster: its layout (searched or given), GPU-hours, days and MFU.

Shared by `pretraining` and `finetuning`: both describe the work as a `RunShape` (the model,
sequence, batch, what is trained), then this module picks or checks the layout, times a step
with the performance model and the layout's communication (training_step.py), and turns the
GPU-seconds per token into GPU-hours with the overhead a model of one step cannot see.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from ..catalog.specs import GPUSpec
from ..core.band import Band
from ..core.errors import DoesNotFitError, InputError
from ..core.units import HOURS_PER_DAY, SECONDS_PER_HOUR
from . import perf
from .layout import USABLE_MEMORY_FRACTION, MemoryBreakdown, TrainingLayout, check_layout_for_model
from .layout_search import (Choice, RunShape, best_layout, candidate_sizes, evaluate, global_batches, memory_totals,
                            most_saving)

# What a model of one step cannot see, as a whole run's GPU-hours show it: goodput lost to failures,
# restarts and checkpoint stalls (Llama 3 405B kept >90% effective training time through 466
# interruptions in 54 days on 16K GPUs, Dubey et al. 2024, Sec. 3.3.4), evaluation and data stalls,
# long-context and annealing stages run at other shapes, post-training folded into a model card's
# "training time", and the step model's own optimism (it predicts MFU 0.53-0.57 for dense 4-15B models
# on H100, where whole H100 runs imply 0.2-0.4). Calibrated on the calibration set of
# published_runs.toml (16 runs, 2026-12-07): the 10th/50th/90th percentiles of published GPU-hours over
# the step model's, from `python -m planner.estimate.published_check` (whole_run_overhead); the
# validation runs were not used. Was 1.05/1.10/1.30 (Llama 3's 90% alone, p10/p90 judgement), which
# left whole runs a median 17% low (Phi-3/4, Llama 3 and GPT-NeoX-20B 18-61% low). Re-set 2026-12-07 when
# DeepSeek-V3 was timed with its published recipe (DualPipe overlap, aux-free balance, DeepEP-style dispatch,
# block-wise fp8: published_runs.toml) instead of Megatron's defaults: its ratio went 0.62 -> 1.15, p10 1.00 -> 1.07.
RUN_OVERHEAD = Band(1.07, 1.32, 2.44)
# The same factor for each way a published figure counts GPU-hours (published.GPU_HOURS_BASES), from the
# calibration runs of that basis only (train-acc, 2026-12-07, whole_run_overhead(df, basis)): "metered", a lab's
# job GPU time (the 12 Llama / LLaMA card and paper runs); "allocation", the cluster x the training period's
# wall-clock (Phi-3-mini, Phi-4, GPT-NeoX-20B, DeepSeek-V3: 4 runs, so its p10/p90 are rough), which also holds
# the hours the cluster sat idle between jobs, restarted or evaluated; what renting a cluster for the run costs.
# RUN_OVERHEAD (all calibration runs, either basis) stays the default; the published check compares each run with
# the factor of its own basis.
METERED_OVERHEAD = Band(1.03, 1.26, 2.73)
ALLOCATION_OVERHEAD = Band(1.33, 1.88, 2.01)
OVERHEAD_BY_BASIS = {"metered": METERED_OVERHEAD, "allocation": ALLOCATION_OVERHEAD}
DEFAULT_TARGET_DAYS = 90.0  # without n_gpus: the fewest GPUs (a multiple of 8) finishing in this many days
MAX_GPUS = 1_000_000


@dataclass(frozen=True)
class RunPlan:
    """The chosen layout and what it costs per token."""

    choice: Choice
    min_gpus: int
    gpu_seconds_per_token: np.ndarray  # (p10, p50, p90)-efficiency values, slowest first

    @property
    def layout(self) -> TrainingLayout:
        return self.choice.layout

    @property
    def memory(self) -> MemoryBreakdown:
        return self.choice.memory


@dataclass(frozen=True)
class RunTimeCost:
    gpu_hours: Band
    wall_days: Band
    cost_usd: Band


def overhead_band(overhead) -> Band:
    """A float is a certain overhead; a Band is used as given; both must be >= 1 (they add lost time); a GPU-hours
    basis's name ("metered", "allocation") is that basis's factor (OVERHEAD_BY_BASIS)."""
    if isinstance(overhead, str):
        return OVERHEAD_BY_BASIS[overhead]
    band = overhead if isinstance(overhead, Band) else Band.point(float(overhead))
    if band.p10 < 1:
        raise InputError("overhead_factor", f"must be >= 1 (it adds lost time), got {overhead}")
    return band


def run_time_cost(*, tokens: float, seconds_per_token, gpu: GPUSpec, n_gpus: int, overhead) -> RunTimeCost:
    """GPU-hours = tokens x GPU-seconds per token x overhead (comonotone: the slow end with the high
    overhead); days on n_gpus; $ at the GPU's price."""
    hours = perf.to_band(tokens * np.asarray(seconds_per_token) / SECONDS_PER_HOUR) * overhead_band(overhead)
    return RunTimeCost(gpu_hours=hours, wall_days=hours * (1.0 / (n_gpus * HOURS_PER_DAY)),
                       cost_usd=hours * gpu.usd_per_gpu_hour)


def min_gpus(shape: RunShape, g: GPUSpec) -> int:
    """Fewest GPUs (1, 2, 4, 8, then multiples of 8) on which some layout's memory fits."""
    return _min_gpus(shape, _FitsOn(g.name, g.memory_bytes, g.scale_up_domain_size))


@dataclass(frozen=True)
class _FitsOn:
    """What min_gpus reads of a GPU (its memory and scale-up domain): a hashable key for its cache."""

    name: str
    memory_bytes: float
    scale_up_domain_size: int


@functools.lru_cache(maxsize=256)  # a pure function of the run's shape and the GPU's memory: asked on every estimate
def _min_gpus(shape: RunShape, g: _FitsOn) -> int:
    counts = [1, 2, 4] + [8 * 2**i for i in range(18) if 8 * 2**i <= MAX_GPUS]  # a layout refuses more
    for n in counts:
        sizes = candidate_sizes(shape, g, n)
        fits = memory_totals(shape, g, sizes, most_saving(shape)) <= g.memory_bytes * USABLE_MEMORY_FRACTION
        if np.any((global_batches(shape, **sizes) > 0) & fits):
            return n
    raise DoesNotFitError(f"{shape.model.name} does not fit on any cluster of {g.name} up to {counts[-1]:,} GPUs")


def _plan_at(shape: RunShape, g: GPUSpec, kern: perf.Kernels, n_gpus: int, low: int) -> RunPlan:
    choice = best_layout(shape, g, kern, n_gpus)
    return RunPlan(choice=choice, min_gpus=low, gpu_seconds_per_token=choice.gpu_seconds_per_token())


def plan_run(shape: RunShape, g: GPUSpec, kern: perf.Kernels, *, tokens: float, n_gpus: int | None = None,
             layout: TrainingLayout | None = None, target_days: float = DEFAULT_TARGET_DAYS) -> RunPlan:
    """The layout and its cost per token: the user's layout as given, else the fastest on n_gpus, else
    on the fewest GPUs (a multiple of 8) that finish in `target_days` at p50."""
    low = min_gpus(shape, g)
    if layout is not None:
        if n_gpus is not None and n_gpus != layout.n_gpus:
            raise InputError("n_gpus", f"{n_gpus} does not match the layout's tp x pp x dp x cp = {layout.n_gpus}")
        check_layout_for_model(shape.model, layout)
        choice = evaluate(shape, g, kern, layout)
        if not choice.memory.fits:
            parts = ", ".join(f"{k} {v / 1e9:.1f}" for k, v in choice.memory.components().items())
            raise DoesNotFitError(f"{shape.model.name} in {layout.describe()} needs {choice.memory.total / 1e9:.1f} GB "
                                  f"per GPU ({parts} GB); even the optimistic {choice.memory.band.p10 / 1e9:.1f} GB "
                                  f"exceeds the {choice.memory.capacity / 1e9:.1f} GB of {g.name}; "
                                  "try more recomputation, more parallelism, ZeRO-3, an 8-bit optimizer or offload")
        return RunPlan(choice=choice, min_gpus=low, gpu_seconds_per_token=choice.gpu_seconds_per_token())
    if n_gpus is not None:  # below min_gpus a layout may still fit tightly: best_layout refuses past the optimistic end
        try:
            return _plan_at(shape, g, kern, n_gpus, low)
        except DoesNotFitError as e:
            if n_gpus >= low:
                raise
            raise DoesNotFitError(f"{shape.model.name} needs at least {low} x {g.name} to fit its weights, gradients, "
                                  f"optimizer states and activations in any layout; got n_gpus={n_gpus} ({e})") from None
    probe = _plan_at(shape, g, kern, low, low)
    hours = tokens * probe.gpu_seconds_per_token[1] * RUN_OVERHEAD.p50 / SECONDS_PER_HOUR
    if hours <= target_days * HOURS_PER_DAY * low:
        return probe
    n = max(low, 8 * math.ceil(hours / (target_days * HOURS_PER_DAY) / 8))
    for candidate in (n, n + 8, 2 * n):  # a count that splits into no layout: try the next node, then double
        try:
            return _plan_at(shape, g, kern, min(candidate, MAX_GPUS), low)
        except DoesNotFitError:
            continue
    return _plan_at(shape, g, kern, 8 * 2 ** math.ceil(math.log2(max(n, 8) / 8)), low)
