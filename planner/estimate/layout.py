"""How a training run is laid out over its GPUs, and what each GPU then holds in memory.

`TrainingLayout` names the parallelism (tensor, pipeline, data, expert, context), the ZeRO
stage, the batch, recomputation, the optimizer and offload. `training_memory` gives the bytes
per GPU by component (Rajbhandari et al. 2020 "ZeRO" for states; Korthikanti et al. 2022 for
activations). Ranks are ordered tensor-parallel innermost, then context, data and pipeline
(Megatron-LM's order), so a tensor-parallel group stays inside a node.
"""
from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import numpy as np

from ..catalog.specs import GPUSpec, ModelSpec
from ..core import limits as L
from ..core import arguments as A
from ..core import validate as V
from ..core.band import Band
from ..core.errors import InputError
from ..core.results import ResultMixin
from . import arithmetic as ar

RECOMPUTE = ("none", "selective", "full")
OFFLOAD = ("none", "optimizer", "params")
# Optimizer state bytes per trained parameter. AdamW in mixed precision: fp32 master weights, m and
# v, 4 + 4 + 4 = 12 (ZeRO, Sec. 3.1). 8-bit AdamW keeps m and v in 1 byte each and updates the bf16
# weights in place, with no fp32 master (Dettmers et al. 2022, arXiv:2110.02861; the bitsandbytes
# bf16 setup of Hugging Face and torchtune recipes) = 2. Paged 8-bit AdamW keeps the same states in
# pageable memory that moves to the CPU under pressure (QLoRA, arXiv:2305.14314): 0 bytes counted
# on the GPU, their traffic charged to the step. SGD with momentum: fp32 master + momentum = 8.
# bf16 AdamW with no master copy (torchtune's full-fine-tune recipes: bf16 parameters, torch.optim.AdamW keeps m and
# v in the parameters' dtype; HF Trainer on a model loaded in bf16 does the same): 2 + 2 = 4.
OPTIMIZER_BYTES = {"adamw": 12.0, "adamw-bf16": 4.0, "adamw-8bit": 2.0, "paged-adamw-8bit": 2.0, "sgd": 8.0}
PAGED = ("paged-adamw-8bit",)
# Bytes the optimizer step moves per updated parameter (read + write of states, gradient, weights).
# adamw-bf16: read weight, gradient, m, v (4 x 2) and write weight, m, v (3 x 2) = 14.
OPTIMIZER_STEP_BYTES = {"adamw": 28.0, "adamw-bf16": 14.0, "adamw-8bit": 10.0, "paged-adamw-8bit": 10.0, "sgd": 20.0}
BF16 = 2.0
# Korthikanti et al. 2022, Sec. 4: one transformer layer stores s b h (34 + 5 a s / h) bytes of
# activations in 16-bit training; FlashAttention never stores the 5 a s / h score term, and
# selective recomputation drops it too. Full recomputation keeps only each layer's input (2 s b h).
ACTIVATION_BYTES_PER_SBH = 34.0
# NCCL and the allocator: a fixed reserve per GPU (judgement; NCCL's buffers are ~ hundreds of MB).
COMM_RESERVE_BYTES = 1.0e9
# Fraction of HBM a run can fill (CUDA context, fragmentation): judgement; FSDP runs keep 5-15% free.
USABLE_MEMORY_FRACTION = 0.90
# Memory is uncertain: the band around the central total, as fractions of it. An independent check of
# published fine-tuning peaks (torchtune, litgpt, Qwen, torchtitan; issue 22) found the central model a
# median ~26% off, in both directions; until a published memory check sizes it, the band is +-20%
# (judgement). A setup is refused only when even the optimistic end exceeds the card's whole memory;
# between the usable fraction and that, it is "tight".
MEMORY_BAND_LOW, MEMORY_BAND_HIGH = 0.80, 1.20


_SIZES = ("tp", "pp", "virtual_stages", "dp", "ep", "cp", "micro_batch")


@dataclass(frozen=True)
class TrainingLayout:
    """Parallelism and memory choices of one training run (sizes in sequences)."""

    tp: int = 1  # tensor parallel (inside a node)
    pp: int = 1  # pipeline stages
    virtual_stages: int = 1  # model chunks per pipeline rank: the interleaved 1F1B schedule (Narayanan et al. 2021)
    dp: int = 1  # data-parallel replicas
    ep: int = 1  # expert parallel: routed experts split over ep of the data-parallel ranks
    cp: int = 1  # context parallel: the sequence split over cp ranks
    zero_stage: int = 1  # 0 none, 1 optimizer states, 2 + gradients, 3 + weights sharded over dp x cp
    micro_batch: int = 1  # sequences per micro-batch on each model replica
    global_batch: int = 0  # sequences per optimizer step (0: the estimate's default)
    recompute: str = "selective"  # none | selective | full
    optimizer: str = "adamw"  # adamw | adamw-bf16 | adamw-8bit | paged-adamw-8bit | sgd
    offload: str = "none"  # none | optimizer (states in CPU memory) | params (states and weights)
    fp8: bool = False  # GEMMs in fp8 (Transformer Engine / DeepSeek-V3 style); weights and activations bf16

    def __post_init__(self):
        # core/validate.py's checks, called only for a value that is not already plainly right: the layout
        # search builds hundreds of layouts per estimate
        for name, lo, hi in (*((n, 1, 1_000_000) for n in _SIZES), ("global_batch", 0, 2**40), ("zero_stage", 0, 3)):
            v = getattr(self, name)
            if type(v) is not int or not lo <= v <= hi:
                object.__setattr__(self, name, V.whole(f"layout.{name}", v, lo, hi))
        for name, allowed in (("recompute", RECOMPUTE), ("optimizer", tuple(OPTIMIZER_BYTES)), ("offload", OFFLOAD)):
            if type(getattr(self, name)) is not str or getattr(self, name) not in allowed:
                object.__setattr__(self, name, V.one_of(f"layout.{name}", getattr(self, name), allowed))
        if type(self.fp8) is not bool:
            V.flag("layout.fp8", self.fp8)
        if self.dp % self.ep:
            raise InputError("layout.ep", f"expert parallelism takes its ranks from data parallelism: ep={self.ep} "
                                          f"must divide dp={self.dp}")

    @property
    def n_gpus(self) -> int:
        return self.tp * self.pp * self.dp * self.cp

    @property
    def shards(self) -> int:
        """Ranks the ZeRO states are sharded over (data x context parallel)."""
        return self.dp * self.cp

    @A.checked(global_batch=V.Whole(1, 2**40, unit="sequences"))  # the bound of the global_batch field above
    def micro_steps(self, global_batch: int) -> int:
        """Micro-batches each pipeline runs per optimizer step."""
        return max(1, math.ceil(global_batch / (self.dp * self.micro_batch)))

    def describe(self) -> str:
        parts = [f"TP{self.tp}", f"PP{self.pp}" + (f"/v{self.virtual_stages}" if self.virtual_stages > 1 else ""),
                 f"DP{self.dp}"] + ([f"EP{self.ep}"] if self.ep > 1 else []) \
            + ([f"CP{self.cp}"] if self.cp > 1 else [])
        extra = [f"ZeRO-{self.zero_stage}", f"micro-batch {self.micro_batch}",
                 "no recomputation" if self.recompute == "none" else f"{self.recompute} recomputation",
                 self.optimizer] + ([f"{self.offload} offload"] if self.offload != "none" else []) \
            + (["fp8 GEMMs"] if self.fp8 else [])
        return " x ".join(parts) + " (" + ", ".join(extra) + ")"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MemoryBreakdown(ResultMixin):
    """Bytes per GPU by component (the most loaded GPU: the first pipeline stage)."""

    weights: float
    gradients: float
    optimizer_states: float
    activations: float
    communication_buffers: float
    usable: float  # what the GPU offers the run

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.optimizer_states + self.activations + self.communication_buffers

    @property
    def capacity(self) -> float:
        """The card's whole memory (usable is USABLE_MEMORY_FRACTION of it)."""
        return self.usable / USABLE_MEMORY_FRACTION

    @property
    def band(self) -> Band:
        """Bytes per GPU as a band: optimistic, central, pessimistic (MEMORY_BAND_LOW/HIGH)."""
        return Band(self.total * MEMORY_BAND_LOW, self.total, self.total * MEMORY_BAND_HIGH)

    @property
    def fits(self) -> bool:
        """Could run: even the optimistic end within the card's memory (never refuse what may run)."""
        return self.total * MEMORY_BAND_LOW <= self.capacity

    @property
    def comfortable(self) -> bool:
        """The central estimate within the usable memory: what the planner picks on its own."""
        return self.total <= self.usable

    @property
    def tight(self) -> bool:
        return self.fits and not self.comfortable

    def fit_note(self) -> str:
        """One line on how the memory sits against the card ('' when comfortable)."""
        gb = 1e9
        if self.comfortable:
            return ""
        over = (self.total - self.usable) / gb
        if self.fits:
            return (f"tight: needs {self.total / gb:.1f} GB per GPU (band {self.band.p10 / gb:.1f}-"
                    f"{self.band.p90 / gb:.1f}), {over:.1f} GB over the {self.usable / gb:.1f} GB usable of "
                    f"{self.capacity / gb:.1f} GB; it may run out of memory")
        return (f"does not fit: even the optimistic {self.band.p10 / gb:.1f} GB per GPU exceeds the card's "
                f"{self.capacity / gb:.1f} GB")

    def components(self) -> dict[str, float]:
        return {"weights": self.weights, "gradients": self.gradients, "optimizer states": self.optimizer_states,
                "activations": self.activations, "communication buffers": self.communication_buffers}


@functools.lru_cache(maxsize=512)
def _split_params(m: ModelSpec) -> tuple[int, int]:
    """(all parameters, those in routed experts): the experts are split by expert parallelism too."""
    experts = ar.n_moe_layers(m) * m.n_experts * ar.expert_params(m)
    return ar.total_params(m), experts


def check_layout_for_model(m: ModelSpec, layout: TrainingLayout) -> None:
    """Refuse a layout the model cannot be split by, naming the field: expert parallelism must split the
    routed experts evenly (Megatron-LM and DeepSpeed-MoE require num_experts % ep == 0), and a dense
    model has no experts to split."""
    if layout.ep > 1 and not m.is_moe:
        raise InputError("layout.ep", f"is {layout.ep} but {m.name} is dense (no experts to split); use ep=1")
    if m.is_moe and m.n_experts % layout.ep:
        raise InputError("layout.ep", f"{layout.ep} does not divide the {m.n_experts} routed experts of {m.name}; "
                                      "pick an ep that divides them")


def params_per_gpu(m: ModelSpec, layout: TrainingLayout) -> float:
    """Parameters one GPU owns before ZeRO sharding: the dense part over tp x pp, the experts over tp x pp x ep."""
    total, experts = _split_params(m)
    return (total - experts) / (layout.tp * layout.pp) + experts / (layout.tp * layout.pp * layout.ep)


def activation_bytes(m: ModelSpec, layout: TrainingLayout, seq_len: float) -> float:
    """Activations one GPU holds at once: its layers' per-micro-batch activations, times the micro-batches a
    1F1B pipeline keeps in flight on its first stage (pp of them), split over tp (with sequence parallelism) and cp."""
    return float(_activation_bytes(m, layout.tp, layout.pp, layout.cp, layout.micro_batch,
                                   layout.recompute == "full", seq_len))


def logit_bytes_per_element(loss_chunks: int = 1) -> float:
    """Bytes per (token x vocab) element the loss holds at its peak. Unchunked, the logits are upcast to fp32 and
    kept for the cross-entropy's backward: 4. Chunked (torchtune's CEWithChunkedOutputLoss, 8 chunks; Liger's
    fused linear cross-entropy), the bf16 logits stay and one chunk at a time is upcast: 2 + 4 / chunks."""
    return 4.0 if loss_chunks <= 1 else 2.0 + 4.0 / loss_chunks


def _activation_bytes(m: ModelSpec, tp, pp, cp, micro_batch, full, seq_len: float, loss_chunks: int = 1,
                      activation_offload: bool = False):
    sbh = float(seq_len) / cp * micro_batch * m.dim / tp
    per_layer = np.where(full, 2.0 * sbh, ACTIVATION_BYTES_PER_SBH * sbh)
    layers = np.ceil(m.n_layers / pp)
    in_flight = pp
    working = np.where(full, ACTIVATION_BYTES_PER_SBH * sbh, 0.0)  # the layer being recomputed
    if activation_offload:  # torchtune's enable_activation_offloading: saved tensors go to pinned CPU memory on a side
        # stream; the GPU keeps the layer being computed and the one in transfer (judgement: 2 layers' activations)
        per_layer, working = 0.0 * per_layer, 2.0 * ACTIVATION_BYTES_PER_SBH * sbh
    logits = float(seq_len) / cp * micro_batch * m.vocab_size / tp * logit_bytes_per_element(loss_chunks)  # last stage
    return layers * per_layer * in_flight + working + np.where(pp == 1, logits, 0.0)


def memory_arrays(m: ModelSpec, usable_bytes: float, *, tp, pp, dp, ep, cp, zero_stage, micro_batch, full,
                  optimizer: str, offload: str, seq_len: float, weight_bytes: float = BF16,
                  trainable_params=None, trainable_fraction: float = 1.0, loss_chunks: int = 1,
                  activation_offload: bool = False, optimizer_in_backward: bool = False) -> dict[str, np.ndarray]:
    """training_memory's components for many layouts in one numpy pass: every size an int array (or an int)
    that broadcasts, `full` whether recomputation is full. `trainable_params`: trained parameters per GPU
    (None: `trainable_fraction` of those it owns). Returns the MemoryBreakdown fields as arrays."""
    total, experts = _split_params(m)
    local = (total - experts) / (tp * pp) + experts / (tp * pp * ep)
    trained = local * trainable_fraction if trainable_params is None else np.asarray(trainable_params, dtype=float)
    # ZeRO shards a GPU's dense parameters over the dp x cp replicas holding the same ones, and its experts
    # over the dp x cp / ep replicas holding the same experts (DeepSpeed-MoE's expert-data-parallel group).
    shards = dp * cp
    expert_share = np.where(local > 0, experts / (tp * pp * ep) / np.where(local > 0, local, 1.0), 0.0)
    shard = 1.0 / ((1 - expert_share) / shards + expert_share / np.maximum(1, shards // ep))
    weights = local * weight_bytes / np.where(zero_stage == 3, shard, 1)
    if offload == "params":
        weights = 2.0 * local * weight_bytes / np.maximum(1, m.n_layers // pp)  # two layers streamed in
    grads = trained * BF16 / np.where(zero_stage >= 2, shard, 1)
    if offload != "none" or optimizer_in_backward:  # ZeRO-Offload streams each layer's reduced gradients to the CPU;
        # an optimizer step fused into the backward (torchtune optimizer_in_bwd) frees them layer by layer: two layers'
        grads = 2.0 * trained * BF16 / np.maximum(1, np.ceil(m.n_layers / pp))
    states = 0.0 * trained if offload != "none" or optimizer in PAGED else \
        trained * OPTIMIZER_BYTES[optimizer] / np.where(zero_stage >= 1, shard, 1)
    per_layer = local / np.maximum(1, np.ceil(m.n_layers / pp)) * BF16
    buffers = COMM_RESERVE_BYTES + np.where(zero_stage == 3, 2.0 * per_layer, 0.0)  # ZeRO-3 gathers prefetched
    return {"weights": weights, "gradients": grads, "optimizer_states": states,
            "activations": _activation_bytes(m, tp, pp, cp, micro_batch, full, seq_len, loss_chunks, activation_offload),
            "communication_buffers": buffers, "usable": usable_bytes}


def total_bytes(mem: dict) -> np.ndarray:
    """MemoryBreakdown.total over arrays, in its order of addition."""
    return (mem["weights"] + mem["gradients"] + mem["optimizer_states"] + mem["activations"]
            + mem["communication_buffers"])


def training_memory(model: str | ModelSpec, gpu: str | GPUSpec, layout: TrainingLayout, seq_len: float, *,
                    weight_bytes: float = BF16, trainable_params: float | None = None,
                    loss_chunks: int = 1, activation_offload: bool = False,
                    optimizer_in_backward: bool = False) -> MemoryBreakdown:
    """Bytes per GPU by component for `layout` (see the module docstring for the sources).

    `weight_bytes`: bytes per stored weight (bf16 2; a QLoRA base 0.516). `trainable_params`: the
    parameters with gradients and optimizer states on this GPU (None: all it owns; LoRA: its adapters).
    """
    from ..catalog.lookup import gpu as lookup_gpu
    from ..catalog.lookup import model as lookup_model
    V.spec_or_name("model", model, ModelSpec), V.spec_or_name("gpu", gpu, GPUSpec)
    V.instance("layout", layout, TrainingLayout, "a planner.TrainingLayout")
    V.positive("seq_len", seq_len, L.MAX_SEQ_LEN, "tokens"), V.positive("weight_bytes", weight_bytes, 8.0, "bytes")
    V.Real(0.0, 1e15, unit="parameters", optional=True)("trainable_params", trainable_params)
    V.whole("loss_chunks", loss_chunks, 1, 1024)
    V.flag("activation_offload", activation_offload), V.flag("optimizer_in_backward", optimizer_in_backward)
    model, gpu = lookup_model(model), lookup_gpu(gpu)
    check_layout_for_model(model, layout)
    lay = layout
    mem = memory_arrays(model, gpu.memory_bytes * USABLE_MEMORY_FRACTION, tp=lay.tp, pp=lay.pp, dp=lay.dp, ep=lay.ep,
                        cp=lay.cp, zero_stage=lay.zero_stage, micro_batch=lay.micro_batch, full=lay.recompute == "full",
                        optimizer=lay.optimizer, offload=lay.offload, seq_len=seq_len, weight_bytes=weight_bytes,
                        trainable_params=trainable_params, loss_chunks=loss_chunks,
                        activation_offload=activation_offload, optimizer_in_backward=optimizer_in_backward)
    return MemoryBreakdown(**{k: float(v) for k, v in mem.items()})
