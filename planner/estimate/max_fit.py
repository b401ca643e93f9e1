"""What fits: the largest micro-batch and the longest sequence a fine-tune can run on a card.

The same memory model and layout candidates as `finetuning` (layout.memory_arrays over the data-parallel
layouts the frameworks run, with the least recomputation allowed): a size "fits" when some layout's central
memory is within the usable memory, and fits "tightly" when only its optimistic end is within the card
(MemoryBreakdown's band). Both are monotone in the size, so a doubling then bisection finds each limit.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..catalog.lookup import gpu as lookup_gpu
from ..catalog.lookup import model as lookup_model
from ..catalog.specs import GPUSpec, ModelSpec
from ..core import limits as L
from ..core import validate as V
from ..core.results import ResultMixin
from .finetuning import DEFAULT_OPTIMIZER, LORA_TARGETS, METHODS, _check_choice, lora_params, run_shape
from .layout import MEMORY_BAND_LOW, OFFLOAD, OPTIMIZER_BYTES, USABLE_MEMORY_FRACTION
from .layout_search import RunShape, candidate_sizes, memory_totals
from .memory_inputs import check_lora_targets, context_note, host_bytes_per_gpu
from .qlora_memory import DEFAULT_STACK, STACKS
from .arithmetic import total_params

MAX_MICRO_BATCH = 4096


@dataclass(frozen=True)
class MaxFit(ResultMixin):
    model: str
    gpu: str
    method: str
    n_gpus: int
    seq_len: int  # the sequence the micro-batch limit is for
    max_micro_batch: int  # largest per-device batch whose central memory fits the usable memory (0: none)
    max_micro_batch_tight: int  # largest whose optimistic end fits the card (may run out of memory)
    max_seq_len: int  # longest sequence at micro-batch 1 that fits (capped at the model's context length)
    max_seq_len_tight: int
    seq_len_limit: str  # "memory" or "context length" (the model's), for max_seq_len


def _least_bytes(shape: RunShape, g: GPUSpec, n_gpus: int) -> float:
    """The smallest per-GPU footprint over the candidate layouts and allowed recomputation settings."""
    sizes = candidate_sizes(shape, g, n_gpus)
    if not len(sizes["tp"]):
        return np.inf
    return float(min(np.min(memory_totals(shape, g, sizes, r)) for r in shape.recompute))


def _largest(fits, hi: int) -> int:
    """The largest x in [1, hi] with fits(x) (fits monotone decreasing); 0 if not even 1."""
    if not fits(1):
        return 0
    lo, step = 1, 2
    while step <= hi and fits(step):
        lo, step = step, step * 2
    top = min(step, hi + 1)  # fits(lo), not fits(top) (or top past hi)
    while top - lo > 1:
        mid = (lo + top) // 2
        lo, top = (mid, top) if fits(mid) else (lo, mid)
    return lo


def max_fit(*, model: str | ModelSpec, gpu: str | GPUSpec, method: str = "lora", n_gpus: int = 1, seq_len: int = 2048,
            lora_rank: int = 16, lora_targets: str = "all-linear", optimizer: str | None = None, offload: str = "none",
            double_quant: bool = True, chunked_loss: bool = False,
            activation_checkpointing: bool | None = None, activation_offload: bool = False,
            optimizer_in_backward: bool = False, qlora_stack: str = DEFAULT_STACK) -> MaxFit:
    """The largest micro-batch at `seq_len`, and the longest sequence at micro-batch 1, that fit `n_gpus` x `gpu`
    for this fine-tune (the arguments mean what they mean in `finetuning`)."""
    V.spec_or_name("model", model, ModelSpec), V.spec_or_name("gpu", gpu, GPUSpec)
    V.whole("n_gpus", n_gpus, 1, L.MAX_GPUS, "GPUs"), V.whole("seq_len", seq_len, 1, L.MAX_SEQ_LEN, "tokens")
    V.whole("lora_rank", lora_rank, 1, L.MAX_LORA_RANK)
    V.flag("double_quant", double_quant), V.flag("chunked_loss", chunked_loss)
    V.flag("activation_offload", activation_offload), V.flag("optimizer_in_backward", optimizer_in_backward)
    V.name_text("qlora_stack", qlora_stack)
    if activation_checkpointing is not None:
        V.flag("activation_checkpointing", activation_checkpointing)
    m, g = lookup_model(model), lookup_gpu(gpu)
    method = _check_choice("fine-tuning method", method, METHODS)
    targets = _check_choice("LoRA target set", lora_targets, tuple(LORA_TARGETS))
    optimizer = _check_choice("optimizer", optimizer or DEFAULT_OPTIMIZER[method], tuple(OPTIMIZER_BYTES))
    offload = _check_choice("offload", offload, OFFLOAD)
    qlora_stack = _check_choice("qlora_stack", qlora_stack, tuple(STACKS))
    if method != "full":
        check_lora_targets(m, targets)
    host_bytes_per_gpu(g, offload)
    context_note(m, seq_len)  # refuses past a learned-position model's context; rotary models are capped below
    trainable = total_params(m) if method == "full" else lora_params(m, lora_rank, targets)
    base = run_shape(m, method=method, seq_len=seq_len, trainable=trainable, optimizer=optimizer, offload=offload,
                     double_quant=double_quant, chunked_loss=chunked_loss,
                     activation_checkpointing=activation_checkpointing, micro_batch=1,
                     activation_offload=activation_offload, optimizer_in_backward=optimizer_in_backward,
                     qlora_stack=qlora_stack)
    usable, card = g.memory_bytes * USABLE_MEMORY_FRACTION, g.memory_bytes

    def fits(limit, **change):
        return _least_bytes(replace(base, **change), g, n_gpus) * (MEMORY_BAND_LOW if limit == card else 1.0) <= limit

    context = min(m.context_length, L.MAX_SEQ_LEN)
    longest = _largest(lambda s: fits(usable, seq_len=s), context)
    return MaxFit(
        model=m.name, gpu=g.name, method=method, n_gpus=n_gpus, seq_len=seq_len,
        max_micro_batch=_largest(lambda b: fits(usable, micro_batch=b), MAX_MICRO_BATCH),
        max_micro_batch_tight=_largest(lambda b: fits(card, micro_batch=b), MAX_MICRO_BATCH),
        max_seq_len=longest, max_seq_len_tight=_largest(lambda s: fits(card, seq_len=s), context),
        seq_len_limit="context length" if longest == context else "memory")
