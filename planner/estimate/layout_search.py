"""Choose how to lay a training run out over a cluster: the fastest layout whose memory fits.

Candidates are the layouts people run (Megatron-LM, FSDP, DeepSpeed): tensor parallelism inside
a scale-up domain, pipeline stages in powers of two up to the layer count, context parallelism
for long sequences, expert parallelism for MoE models taken from the data-parallel ranks, ZeRO
stage 1 (a distributed optimizer) or 3 (fully sharded), micro-batches of 1-4 sequences. For each,
the least recomputation that fits is used (none is fastest, full saves the most memory), and the
layout with the shortest step time per token wins. A user's own layout is evaluated as given.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from ..catalog.specs import GPUSpec, ModelSpec
from ..core import npfast as nf
from ..core.errors import DoesNotFitError
from . import layout_steps, perf
from .layout import (MEMORY_BAND_LOW, RECOMPUTE, USABLE_MEMORY_FRACTION, MemoryBreakdown, TrainingLayout, memory_arrays,
                     memory_breakdown, params_per_gpu, total_bytes, training_memory)
from .recipe import DEFAULT_RECIPE, TrainingRecipe
from .training_step import StepTime, step_time

TP_DEGREES = (1, 2, 4, 8)
MICRO_BATCHES = (1, 2, 4)
VIRTUAL_STAGES = (1, 2, 4)
ZERO_STAGES = (1, 3)
# The global batch may grow with the cluster (more data-parallel replicas) up to this many tokens:
# Llama 3 405B ended at 16M tokens per step (Dubey et al. 2024, Sec. 3.4.1).
MAX_TOKENS_PER_STEP = 16e6
# Megatron-LM keeps the pipeline bubble (p - 1) / (v m + p - 1) small by running m >> p / v micro-batches
# (Narayanan et al. 2021, Sec. 2.2): at least 4 p / v here (bubble <= 20%), judgement.
MICRO_STEPS_PER_STAGE = 4
# Layouts whose array-path time is within this factor of the fastest are re-timed with the scalar step_time, which
# decides: the two paths differ by float round-off (~1e-15), so the choice is the scalar search's.
RECHECK = 1e-6


@dataclass(frozen=True)
class Choice:
    """A layout, its memory and its step time."""

    layout: TrainingLayout
    memory: MemoryBreakdown
    step: StepTime
    global_batch: int

    def gpu_seconds_per_token(self) -> np.ndarray:
        return self.step.gpu_seconds_per_token(self.layout.n_gpus)


@dataclass(frozen=True)
class RunShape:
    """What the search needs besides the cluster: the model, sequence, batch and what is trained."""

    model: ModelSpec
    seq_len: float
    global_batch: int  # sequences per optimizer step (the default; may grow with data parallelism)
    weight_bytes: float = 2.0  # stored bytes per weight (a QLoRA base: 0.516)
    trainable_fraction: float = 1.0  # trained parameters / all parameters (LoRA: a small fraction)
    weight_grads: bool = True
    optimizer: str = "adamw"
    offload: str = "none"
    fp8: bool = False
    loss_chunks: int = 1  # cross-entropy chunks (1: the whole fp32 logits at once)
    recompute: tuple[str, ...] = RECOMPUTE  # the recomputation settings the search may use (activation checkpointing)
    micro_batch: int = 0  # sequences per micro-batch per GPU (per_device_train_batch_size); 0: searched
    grad_accum: int = 0  # micro-batches per optimizer step (gradient_accumulation_steps); 0: from global_batch
    # Fine-tuning frameworks (torchtune, litgpt, HF Trainer + accelerate) run data parallelism only: DDP, or FSDP /
    # ZeRO-3 sharding the weights (a LoRA's frozen base too) while each GPU keeps its whole micro-batch's activations.
    data_parallel_only: bool = False
    activation_offload: bool = False  # saved activations in CPU memory (torchtune enable_activation_offloading)
    optimizer_in_backward: bool = False  # the optimizer step fused into the backward: gradients freed layer by layer
    recipe: TrainingRecipe = DEFAULT_RECIPE  # the knobs besides sizes, applied to every layout tried (recipe.py)
    saved_input_bytes_per_sbh: float = 0.0  # activations per layer beyond the count (QLoRA stacks: qlora_memory.py)


def _pow2_upto(n: int) -> list[int]:
    return [2**i for i in range(int(math.log2(max(n, 1))) + 1)]


_FIELDS = ("tp", "pp", "virtual_stages", "dp", "ep", "cp", "zero_stage", "micro_batch")


def candidate_sizes(shape: RunShape, g: GPUSpec, n_gpus: int) -> dict[str, np.ndarray]:
    """Every layout to try on n_gpus as columns of sizes (one int array per TrainingLayout size field)."""
    m = shape.model
    out = []
    tps = (1,) if shape.data_parallel_only else TP_DEGREES
    for tp in (t for t in tps if t <= g.scale_up_domain_size and n_gpus % t == 0 and m.n_heads % t == 0):
        for cp in (1, 2, 4) if shape.seq_len >= 32768 and not shape.data_parallel_only else (1,):
            pps = (1,) if shape.data_parallel_only else _pow2_upto(m.n_layers)
            for pp in (p for p in pps if n_gpus % (tp * cp * p) == 0):
                dp = n_gpus // (tp * cp * pp)
                eps = [e for e in _pow2_upto(min(dp, m.n_experts)) if dp % e == 0 and m.n_experts % e == 0] \
                    if m.is_moe else [1]
                vs = [v for v in VIRTUAL_STAGES if m.n_layers >= pp * v] if pp > 1 else [1]
                mbs = (shape.micro_batch,) if shape.micro_batch else MICRO_BATCHES
                for ep, zero, mb, v in itertools.product(eps, ZERO_STAGES, mbs, vs):
                    out += (tp, pp, v, dp, ep, cp, zero, mb)  # flat: np.fromiter reads it at a fraction of np.array's cost
    table = np.fromiter(out, dtype=np.int64, count=len(out)).reshape(-1, len(_FIELDS))
    return {f: table[:, i] for i, f in enumerate(_FIELDS)}


def layout_at(shape: RunShape, sizes: dict[str, np.ndarray], i: int, recompute: str = "none") -> TrainingLayout:
    """Row `i` of `sizes` as a TrainingLayout."""
    return TrainingLayout(**{f: int(sizes[f][i]) for f in _FIELDS}, recompute=recompute, optimizer=shape.optimizer,
                          offload=shape.offload, fp8=shape.fp8, **shape.recipe.to_dict())


def candidate_layouts(shape: RunShape, g: GPUSpec, n_gpus: int) -> list[TrainingLayout]:
    """Every layout to try on n_gpus, before memory and recomputation are settled."""
    sizes = candidate_sizes(shape, g, n_gpus)
    return [layout_at(shape, sizes, i) for i in range(len(sizes["tp"]))]


def global_batches(shape: RunShape, tp=None, *, pp, dp, micro_batch, virtual_stages, **_) -> np.ndarray:
    """The step's sequences for each layout: the default, raised (up to MAX_TOKENS_PER_STEP) until every pipeline
    runs at least MICRO_STEPS_PER_STAGE x pp micro-batches, as large runs grow their batch with the cluster; 0 where
    even one round of micro-batches passes the cap."""
    per_round = dp * micro_batch
    if shape.grad_accum:  # pinned: micro-batch x accumulation x data-parallel replicas, as Trainer and torchtune count it
        return np.asarray(per_round * shape.grad_accum, dtype=np.int64)
    rounds = nf.where(pp > 1, nf.ceil(MICRO_STEPS_PER_STAGE * pp / virtual_stages), 1)  # one layout: numbers
    batch = nf.maximum(shape.global_batch, per_round * rounds)
    cap = max(MAX_TOKENS_PER_STEP, shape.global_batch * shape.seq_len)
    batch = nf.minimum(batch, max(int(cap // shape.seq_len), shape.global_batch))
    out = nf.where(batch < per_round, 0, nf.ceil(batch / per_round) * per_round)
    return out.astype(np.int64) if type(out) is np.ndarray else np.int64(out)


def global_batch_for(shape: RunShape, layout: TrainingLayout) -> int | None:
    """global_batches at one layout; None past the cap."""
    batch = int(global_batches(shape, pp=layout.pp, dp=layout.dp, micro_batch=layout.micro_batch,
                               virtual_stages=layout.virtual_stages))
    return batch or None


def most_saving(shape: RunShape) -> str:
    """The allowed recomputation setting that keeps the least memory."""
    return max(shape.recompute, key=RECOMPUTE.index)


def memory_totals(shape: RunShape, g: GPUSpec, sizes: dict[str, np.ndarray], recompute) -> np.ndarray:
    """Bytes per GPU of every layout in `sizes` at one recomputation setting (layout.memory_arrays), or at each of a
    tuple of settings in one pass, shape (settings, layouts); inf at a setting the shape does not allow."""
    if not isinstance(recompute, str):  # the settings on a leading axis: only the activations differ
        allowed = np.array([[r in shape.recompute] for r in recompute])
        return np.where(allowed, _totals(shape, g, sizes, np.array([[r == "full"] for r in recompute])), np.inf)
    totals = _totals(shape, g, sizes, recompute == "full")
    return totals if recompute in shape.recompute else np.full(np.shape(totals), np.inf)


def _totals(shape: RunShape, g: GPUSpec, sizes: dict[str, np.ndarray], full) -> np.ndarray:
    """layout.total_bytes of memory_arrays over `sizes`, `full` a bool or a column of them (one row per setting)."""
    mem = memory_arrays(shape.model, g.memory_bytes * USABLE_MEMORY_FRACTION, tp=sizes["tp"], pp=sizes["pp"],
                        dp=sizes["dp"], ep=sizes["ep"], cp=sizes["cp"], zero_stage=sizes["zero_stage"],
                        micro_batch=sizes["micro_batch"], full=full, optimizer=shape.optimizer,
                        offload=shape.offload, seq_len=shape.seq_len, weight_bytes=shape.weight_bytes,
                        trainable_fraction=shape.trainable_fraction, loss_chunks=shape.loss_chunks,
                        activation_offload=shape.activation_offload, optimizer_in_backward=shape.optimizer_in_backward,
                        saved_input_bytes_per_sbh=shape.saved_input_bytes_per_sbh)
    return total_bytes(mem)


def memory_of(shape: RunShape, g: GPUSpec, layout: TrainingLayout, checked: bool = True) -> MemoryBreakdown:
    """The layout's memory (layout.training_memory; unchecked: memory_breakdown, for a layout plan_run checked or
    the search built)."""
    trainable = params_per_gpu(shape.model, layout) * shape.trainable_fraction
    return (training_memory if checked else memory_breakdown)(
        shape.model, g, layout, shape.seq_len, weight_bytes=shape.weight_bytes, trainable_params=trainable,
        loss_chunks=shape.loss_chunks, activation_offload=shape.activation_offload,
        optimizer_in_backward=shape.optimizer_in_backward, saved_input_bytes_per_sbh=shape.saved_input_bytes_per_sbh)


def evaluate(shape: RunShape, g: GPUSpec, kern: perf.Kernels, layout: TrainingLayout,
             global_batch: int | None = None, cache: dict | None = None) -> Choice:
    """One layout's memory and step time (no search); `layout` fits the model (plan_run checks a given one)."""
    batch = global_batch or layout.global_batch or global_batch_for(shape, layout) or shape.global_batch
    trainable = params_per_gpu(shape.model, layout) * shape.trainable_fraction
    st = step_time(shape.model, g, kern, layout, seq_len=shape.seq_len, global_batch=batch,
                   weight_grads=shape.weight_grads, trainable_local=trainable, cache=cache)
    return Choice(layout=layout, memory=memory_of(shape, g, layout, checked=False), step=st, global_batch=batch)


def fitting(shape: RunShape, g: GPUSpec, n_gpus: int):
    """(sizes, global batches, the least recomputation index that fits or -1, full-recomputation bytes) of every
    candidate on n_gpus, in one numpy pass per recomputation setting. Layouts whose central memory fits the usable
    memory come first; when none does, those whose optimistic end fits the card (tight: never refuse what may run)."""
    sizes = candidate_sizes(shape, g, n_gpus)
    batches = global_batches(shape, **sizes)
    usable = g.memory_bytes * USABLE_MEMORY_FRACTION
    totals = memory_totals(shape, g, sizes, RECOMPUTE)  # (recompute, layouts)
    fits = (totals <= usable) & (batches > 0)
    if not fits.any():
        fits = (totals * MEMORY_BAND_LOW <= g.memory_bytes) & (batches > 0)
    least = np.where(fits.any(axis=0), fits.argmax(axis=0), -1)
    return sizes, batches, least, totals[RECOMPUTE.index(most_saving(shape))]


def best_layout(shape: RunShape, g: GPUSpec, kern: perf.Kernels, n_gpus: int) -> Choice:
    """The fastest fitting layout on n_gpus; DoesNotFitError naming the smallest footprint if none fits."""
    sizes, batches, least, full_bytes = fitting(shape, g, n_gpus)
    fit = np.flatnonzero(least >= 0)
    if len(fit):  # rank every fitting layout in one array pass; re-time the few near the best with step_time
        p50 = layout_steps.gpu_seconds_per_token(shape, g, kern, {f: v[fit] for f, v in sizes.items()}, least[fit],
                                                 batches[fit])[:, 1]
        fit = fit[p50 <= p50.min() * (1.0 + RECHECK)]
    best, cache = None, {}
    for i in fit:
        choice = evaluate(shape, g, kern, layout_at(shape, sizes, i, RECOMPUTE[least[i]]), int(batches[i]), cache)
        if best is None or choice.gpu_seconds_per_token()[1] < best.gpu_seconds_per_token()[1]:
            best = choice
    if best is None:
        tried = np.flatnonzero(batches > 0)
        smallest = None
        if len(tried):
            i = tried[np.argmin(full_bytes[tried])]
            smallest = (layout_at(shape, sizes, i), memory_of(shape, g, layout_at(shape, sizes, i, most_saving(shape))))
        raise DoesNotFitError(_no_fit_message(shape, g, n_gpus, smallest))
    return best


def _no_fit_message(shape: RunShape, g: GPUSpec, n_gpus: int, smallest) -> str:
    if smallest is None:
        return (f"no layout of {n_gpus} x {g.name} can train {shape.model.name}: the GPU count does not split into "
                "tensor, pipeline and data parallelism for this model and batch; try a multiple of 8 GPUs")
    layout, mem = smallest
    parts = ", ".join(f"{k} {v / 1e9:.1f}" for k, v in mem.components().items())
    return (f"{shape.model.name} does not fit on {n_gpus} x {g.name} in any layout tried: the smallest footprint "
            f"({layout.describe()}, {most_saving(shape)} recomputation) needs {mem.total / 1e9:.1f} GB per GPU ({parts} GB); even "
            f"its optimistic {mem.band.p10 / 1e9:.1f} GB exceeds the card's {mem.capacity / 1e9:.1f} GB. Use more GPUs, a GPU with more memory, 8-bit or paged optimizers, "
            "CPU offload, or LoRA/QLoRA")
