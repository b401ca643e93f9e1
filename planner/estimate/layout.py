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

from ..catalog.lookup import gpu as lookup_gpu
from ..catalog.lookup import model as lookup_model
from ..catalog.specs import GPUSpec, ModelSpec
from ..core import limits as L
from ..core import npfast as nf
from ..core import arguments as A
from ..core import validate as V
from ..core.band import Band
from ..core.errors import InputError
from ..core.results import ResultMixin, built
from . import arithmetic as ar
from . import memory_terms as mt
from .fp8 import RECIPES as FP8_RECIPES

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
# The CUDA context, NCCL's buffers and the allocator's reserve are components of their own (memory_terms.py).
# Fraction of HBM a run can fill beyond them (spikes the peak model misses): judgement; FSDP runs keep 5-15% free.
USABLE_MEMORY_FRACTION = 0.90
# Memory is uncertain: the band around the central total, as fractions of it. The published memory check
# (planner/estimate/memory_check.py, README "Memory per GPU against measured peaks") finds the central
# estimate between 21% under and 0% over its calibration peaks; the band stays +-20% (judgement): its optimistic
# end covers over-estimates up to 25%, so no setup that ran there is refused. A setup is refused only when even
# the optimistic end exceeds the card's whole memory; between the usable fraction and that, it is "tight".
MEMORY_BAND_LOW, MEMORY_BAND_HIGH = 0.80, 1.20
FIGURES = ("allocated", "reserved", "device")  # MemoryBreakdown.figure's names (memory_terms.py says which is which)


_SIZES = ("tp", "pp", "virtual_stages", "dp", "ep", "cp", "micro_batch")
# How evenly the router spreads tokens over experts (planner/estimate/moe_train.py sizes what each costs):
# "aux-loss" (GShard/Switch auxiliary loss, dropless), "aux-free" (DeepSeek-V3's bias balancing) or "forced"
# (benchmarks' --moe-router-force-load-balancing, as the Megatron-Bridge tables run).
MOE_BALANCE = ("aux-loss", "aux-free", "forced")
# How tokens reach experts on other nodes (planner/estimate/moe_dispatch.py): "alltoall" (NCCL, every copy) or
# "deepep" (DeepEP / HybridEP, Megatron's flex dispatcher: once per destination node, then NVLink).
MOE_DISPATCHERS = ("alltoall", "deepep")


@dataclass(frozen=True)
class TrainingLayout:
    """Parallelism and memory choices of one training run (sizes in sequences)."""

    tp: int = 1  # tensor parallel (inside a node)
    pp: int = 1  # pipeline stages
    virtual_stages: int = 1  # model chunks per pipeline rank: the interleaved 1F1B schedule (Narayanan et al. 2021)
    dp: int = 1  # data-parallel replicas
    ep: int = 1  # expert parallel: routed experts split over ep of the tp x cp x dp ranks (Megatron-Core)
    cp: int = 1  # context parallel: the sequence split over cp ranks
    zero_stage: int = 1  # 0 none, 1 optimizer states, 2 + gradients, 3 + weights sharded over dp x cp
    micro_batch: int = 1  # sequences per micro-batch on each model replica
    global_batch: int = 0  # sequences per optimizer step (0: the estimate's default)
    recompute: str = "selective"  # none | selective | full
    optimizer: str = "adamw"  # adamw | adamw-bf16 | adamw-8bit | paged-adamw-8bit | sgd
    offload: str = "none"  # none | optimizer (states in CPU memory) | params (states and weights)
    fp8: bool = False  # GEMMs in fp8 (Transformer Engine / DeepSeek-V3 style); weights and activations bf16
    fp8_recipe: str = "auto"  # with fp8: tensorwise | delayed | blockwise | mxfp8; auto: the GPU's default (fp8.py)
    etp: int = 0  # expert tensor parallel: each expert split over etp ranks (0: as attention, tp; Megatron's default)
    moe_balance: str = "aux-loss"  # aux-loss | aux-free | forced: how evenly tokens reach experts (MOE_BALANCE)
    moe_overlap: bool = False  # all-to-alls hidden behind another micro-batch's compute (Megatron's
    # --overlap-moe-expert-parallel-comm, DeepSeek's DualPipe); False: on the critical path, Megatron's default
    fp8_param_gather: bool = True  # with fp8: linear weights all-gathered in fp8 (torchtitan's float8 docs,
    # Megatron-Bridge's fp8 recipes: comm_overlap.py); False: in bf16
    tp_overlap: bool = False  # TP collectives overlapped with the GEMMs (TE userbuffers, torchtitan async TP:
    # comm_overlap.py); False: Megatron-Core's and torchtitan's default
    moe_dispatcher: str = "alltoall"  # alltoall | deepep: how tokens cross nodes (MOE_DISPATCHERS)
    cuda_graphs: bool = False  # the whole forward-backward captured in a CUDA graph (Megatron's --cuda-graph-impl
    # full_iteration, which needs static MoE shapes): no host-bound MoE layers (moe_host.py); False: eager launches,
    # Megatron-Core's default (per-layer TE graph scopes, which leave dropless experts uncaptured, count as False)

    def __post_init__(self):
        # core/validate.py's checks, called only for a value that is not already plainly right: the layout
        # search builds hundreds of layouts per estimate
        for name, lo, hi in (*((n, 1, 1_000_000) for n in _SIZES), ("global_batch", 0, 2**40), ("zero_stage", 0, 3)):
            v = getattr(self, name)
            if type(v) is not int or not lo <= v <= hi:
                object.__setattr__(self, name, V.whole(f"layout.{name}", v, lo, hi))
        if type(self.etp) is not int or not 0 <= self.etp <= 1_000_000:
            object.__setattr__(self, "etp", V.whole("layout.etp", self.etp, 0, 1_000_000))
        for name, allowed in (("recompute", RECOMPUTE), ("optimizer", tuple(OPTIMIZER_BYTES)), ("offload", OFFLOAD),
                              ("moe_balance", MOE_BALANCE), ("moe_dispatcher", MOE_DISPATCHERS)):
            if type(getattr(self, name)) is not str or getattr(self, name) not in allowed:
                object.__setattr__(self, name, V.one_of(f"layout.{name}", getattr(self, name), allowed))
        for name in ("fp8", "moe_overlap", "fp8_param_gather", "tp_overlap", "cuda_graphs"):
            if type(getattr(self, name)) is not bool:
                V.flag(f"layout.{name}", getattr(self, name))
        if type(self.fp8_recipe) is not str or self.fp8_recipe not in ("auto", *FP8_RECIPES):
            V.one_of("layout.fp8_recipe", self.fp8_recipe, ("auto", *FP8_RECIPES))
        # Megatron-Core folds the tp x cp x dp ranks of a pipeline stage into etp x ep x expert-data-parallel
        # (megatron/core/parallel_state.py, expert model parallel groups), so ep may exceed dp
        if (self.tp * self.cp * self.dp) % (self.expert_tp * self.ep):
            raise InputError("layout.ep", f"expert parallelism takes its ranks from tensor x context x data parallelism: "
                                          f"etp x ep = {self.expert_tp} x {self.ep} must divide tp x cp x dp = "
                                          f"{self.tp} x {self.cp} x {self.dp}")

    @property
    def expert_tp(self) -> int:
        """Ranks each routed expert is split over (etp, or tp where etp is 0)."""
        return self.etp or self.tp

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
            + ([f"ETP{self.etp}"] if self.etp and self.etp != self.tp else []) \
            + ([f"CP{self.cp}"] if self.cp > 1 else [])
        extra = [f"ZeRO-{self.zero_stage}", f"micro-batch {self.micro_batch}",
                 "no recomputation" if self.recompute == "none" else f"{self.recompute} recomputation",
                 self.optimizer] + ([f"{self.offload} offload"] if self.offload != "none" else []) \
            + ([f"fp8 GEMMs ({self.fp8_recipe} scaling)" if self.fp8_recipe != "auto" else "fp8 GEMMs"] if self.fp8 else []) \
            + (["TP comm overlapped"] if self.tp_overlap and self.tp > 1 else [])
        return " x ".join(parts) + " (" + ", ".join(extra) + ")"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MemoryBreakdown(ResultMixin):
    """Bytes per GPU by component (the most loaded GPU: the first pipeline stage).

    Three figures (memory_terms.py says which measurement each matches): `allocated` (tensors: PyTorch's
    max_memory_allocated), `reserved` (+ the caching allocator's unused blocks: max_memory_reserved) and `total`,
    the device figure (+ CUDA context and NCCL buffers: what nvidia-smi shows and the card must hold)."""

    weights: float
    gradients: float
    optimizer_states: float
    activations: float
    communication_buffers: float  # gathered weights and unsharded gradients the parallelism holds
    usable: float  # what the GPU offers the run
    allocator_reserve: float = 0.0
    cuda_context: float = 0.0
    nccl_buffers: float = 0.0

    @property
    def allocated(self) -> float:
        return self.weights + self.gradients + self.optimizer_states + self.activations + self.communication_buffers

    @property
    def reserved(self) -> float:
        return self.allocated + self.allocator_reserve

    @property
    def total(self) -> float:
        """The device figure: everything the card holds for the run."""
        return self.reserved + self.cuda_context + self.nccl_buffers

    @A.checked(kind=V.Choice(FIGURES))
    def figure(self, kind: str) -> float:
        """One of the three figures by the name a measurement gives it: allocated | reserved | device."""
        return {"allocated": self.allocated, "reserved": self.reserved, "device": self.total}[kind]

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
                "activations": self.activations, "communication buffers": self.communication_buffers,
                "allocator reserve": self.allocator_reserve, "CUDA context": self.cuda_context,
                "NCCL buffers": self.nccl_buffers}


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
    return (total - experts) / (layout.tp * layout.pp) + experts / (layout.expert_tp * layout.pp * layout.ep)


def activation_bytes(m: ModelSpec, layout: TrainingLayout, seq_len: float) -> float:
    """Activations one GPU holds at once: its layers' per-micro-batch activations, times the micro-batches a
    1F1B pipeline keeps in flight on its first stage (pp of them), split over tp (with sequence parallelism) and cp."""
    return float(_activation_bytes(m, layout.tp, layout.pp, layout.cp, layout.micro_batch,
                                   layout.recompute == "full", seq_len, zero_stage=layout.zero_stage))


def logit_bytes_per_element(loss_chunks: int = 1) -> float:
    """Bytes per (token x vocab) element the loss holds at its peak. Unchunked, the logits are upcast to fp32 and
    kept for the cross-entropy's backward: 4. Chunked (torchtune's CEWithChunkedOutputLoss, 8 chunks; Liger's
    fused linear cross-entropy), the bf16 logits stay and one chunk at a time is upcast: 2 + 4 / chunks.
    Unchunked: memory_terms.UNCHUNKED_LOSS_BYTES_PER_ELEMENT (bf16 logits, saved fp32 log-softmax, an fp32 transient)."""
    return mt.UNCHUNKED_LOSS_BYTES_PER_ELEMENT if loss_chunks <= 1 else 2.0 + 4.0 / loss_chunks


def _activation_bytes(m: ModelSpec, tp, pp, cp, micro_batch, full, seq_len: float, loss_chunks: int = 1,
                      activation_offload: bool = False, zero_stage=0, extra_per_sbh: float = 0.0):
    sbh_full = float(seq_len) / cp * micro_batch * m.dim
    sbh = sbh_full / tp
    # tensor parallelism over fully sharded weights is PyTorch's DTensor stack (torchtitan), which keeps the
    # gathered inputs; Megatron-LM (ZeRO-1 distributed optimizer) gathers them again in the backward
    gathered = nf.where(zero_stage == 3, mt.tp_gathered_input_bytes(sbh_full, tp), 0.0)
    # selective recomputation over fully sharded weights is PyTorch's op-level policy (memory_terms), else Megatron's
    selective = nf.where(zero_stage == 3, mt.op_selective_bytes_per_sbh(m), ACTIVATION_BYTES_PER_SBH) * sbh
    # extra_per_sbh: what a stack keeps beyond the count (a QLoRA matmul's inputs: qlora_memory.py), in every stored
    # layer, or only in the one being recomputed under full recomputation
    per_layer = nf.where(full, 2.0 * sbh, selective + gathered + extra_per_sbh * sbh)
    layers = nf.ceil(m.n_layers / pp)
    in_flight = pp
    layer_sbh = ACTIVATION_BYTES_PER_SBH + extra_per_sbh
    working = nf.where(full, layer_sbh * sbh + gathered, 0.0)  # the layer being recomputed
    if activation_offload:  # torchtune's enable_activation_offloading: saved tensors go to pinned CPU memory on a side
        # stream; the GPU keeps the layer being computed and the one in transfer (judgement: 2 layers' activations)
        per_layer, working = 0.0 * per_layer, 2.0 * layer_sbh * sbh
    logits = float(seq_len) / cp * micro_batch * m.vocab_size / tp * logit_bytes_per_element(loss_chunks)  # last stage
    return layers * per_layer * in_flight + working + nf.where(pp == 1, logits, 0.0)


def memory_arrays(m: ModelSpec, usable_bytes: float, *, tp, pp, dp, ep, cp, zero_stage, micro_batch, full,
                  optimizer: str, offload: str, seq_len: float, weight_bytes: float = BF16,
                  trainable_params=None, trainable_fraction: float = 1.0, loss_chunks: int = 1,
                  activation_offload: bool = False, optimizer_in_backward: bool = False,
                  saved_input_bytes_per_sbh: float = 0.0) -> dict[str, np.ndarray]:
    """training_memory's components for many layouts in one numpy pass: every size an int array (or an int)
    that broadcasts, `full` whether recomputation is full. `trainable_params`: trained parameters per GPU
    (None: `trainable_fraction` of those it owns). `saved_input_bytes_per_sbh`: activations per layer beyond the
    count (qlora_memory.saved_input_bytes_per_sbh). Returns the MemoryBreakdown fields as arrays."""
    total, experts = _split_params(m)
    local = (total - experts) / (tp * pp) + experts / (tp * pp * ep)
    trained = local * trainable_fraction if trainable_params is None else \
        float(trainable_params) if type(trainable_params) in (int, float) else np.asarray(trainable_params, dtype=float)
    # ZeRO shards a GPU's dense parameters over the dp x cp replicas holding the same ones, and its experts
    # over the dp x cp / ep replicas holding the same experts (DeepSpeed-MoE's expert-data-parallel group).
    shards = dp * cp
    expert_share = nf.where(local > 0, experts / (tp * pp * ep) / nf.where(local > 0, local, 1.0), 0.0)
    shard = 1.0 / ((1 - expert_share) / shards + expert_share / nf.maximum(1, shards // ep))
    weights = local * weight_bytes / nf.where(zero_stage == 3, shard, 1)
    if offload == "params":  # two layers streamed in; under ZeRO-3 they are the gathered buffers below (FSDP2
        # CPUOffloadPolicy: "Sharded parameters are copied host-to-device before all-gather"), so nothing else stays
        weights = nf.where(zero_stage == 3, 0.0, 2.0 * local * weight_bytes / nf.maximum(1, m.n_layers // pp))
    grads = trained * BF16 / nf.where(zero_stage >= 2, shard, 1)
    if offload != "none" or optimizer_in_backward:  # ZeRO-Offload streams each layer's reduced gradients to the CPU;
        # an optimizer step fused into the backward (torchtune optimizer_in_bwd) frees them layer by layer: two layers'
        grads = 2.0 * trained * BF16 / nf.maximum(1, nf.ceil(m.n_layers / pp))
    states = 0.0 * trained if offload != "none" or optimizer in PAGED else \
        trained * OPTIMIZER_BYTES[optimizer] / nf.where(zero_stage >= 1, shard, 1)
    per_layer = local / nf.maximum(1, nf.ceil(m.n_layers / pp)) * weight_bytes  # gathered as stored (NF4 for QLoRA)
    buffers = nf.where(zero_stage == 3, 2.0 * per_layer, 0.0)  # ZeRO-3 gathers prefetched
    buffers = buffers + mt.pipeline_unsharded_bytes(local, trained, pp, zero_stage, weight_bytes)
    acts = _activation_bytes(m, tp, pp, cp, micro_batch, full, seq_len, loss_chunks, activation_offload, zero_stage,
                             saved_input_bytes_per_sbh)
    allocated = weights + grads + states + acts + buffers
    return {"weights": weights, "gradients": grads, "optimizer_states": states, "activations": acts,
            "communication_buffers": buffers, "usable": usable_bytes,
            "allocator_reserve": mt.allocator_reserve_bytes(allocated), "cuda_context": mt.CUDA_CONTEXT_BYTES,
            "nccl_buffers": mt.nccl_buffer_bytes(tp * pp * dp * cp)}


def total_bytes(mem: dict) -> np.ndarray:
    """MemoryBreakdown.total (the device figure) over arrays, in its order of addition."""
    return (mem["weights"] + mem["gradients"] + mem["optimizer_states"] + mem["activations"]
            + mem["communication_buffers"] + mem["allocator_reserve"] + mem["cuda_context"] + mem["nccl_buffers"])


def training_memory(model: str | ModelSpec, gpu: str | GPUSpec, layout: TrainingLayout, seq_len: float, *,
                    weight_bytes: float = BF16, trainable_params: float | None = None,
                    loss_chunks: int = 1, activation_offload: bool = False,
                    optimizer_in_backward: bool = False, saved_input_bytes_per_sbh: float = 0.0) -> MemoryBreakdown:
    """Bytes per GPU by component for `layout` (see the module docstring for the sources).

    `weight_bytes`: bytes per stored weight (bf16 2; a QLoRA base 0.516). `trainable_params`: the
    parameters with gradients and optimizer states on this GPU (None: all it owns; LoRA: its adapters).
    """
    V.spec_or_name("model", model, ModelSpec), V.spec_or_name("gpu", gpu, GPUSpec)
    V.instance("layout", layout, TrainingLayout, "a planner.TrainingLayout")
    V.positive("seq_len", seq_len, L.MAX_SEQ_LEN, "tokens"), V.positive("weight_bytes", weight_bytes, 8.0, "bytes")
    V.Real(0.0, 1e15, unit="parameters", optional=True)("trainable_params", trainable_params)
    V.whole("loss_chunks", loss_chunks, 1, 1024)
    V.flag("activation_offload", activation_offload), V.flag("optimizer_in_backward", optimizer_in_backward)
    V.Real(0.0, 1e3, unit="bytes per s b h")("saved_input_bytes_per_sbh", saved_input_bytes_per_sbh)
    model, gpu = lookup_model(model), lookup_gpu(gpu)
    check_layout_for_model(model, layout)
    return memory_breakdown(model, gpu, layout, seq_len, weight_bytes=weight_bytes, trainable_params=trainable_params,
                            loss_chunks=loss_chunks, activation_offload=activation_offload,
                            optimizer_in_backward=optimizer_in_backward,
                            saved_input_bytes_per_sbh=saved_input_bytes_per_sbh)


def memory_breakdown(model: ModelSpec, gpu: GPUSpec, layout: TrainingLayout, seq_len: float, *,
                     weight_bytes: float = BF16, trainable_params: float | None = None, loss_chunks: int = 1,
                     activation_offload: bool = False, optimizer_in_backward: bool = False,
                     saved_input_bytes_per_sbh: float = 0.0) -> MemoryBreakdown:
    """training_memory without its checks, for callers whose arguments are checked already (pretraining and
    fine-tuning check theirs, plan_run the layout against the model, the search builds its layouts): specs, not
    names."""
    lay = layout
    # experts split over etp x ep (not tp x ep): the same as ep x etp / tp over memory_arrays' tp
    mem = memory_arrays(model, gpu.memory_bytes * USABLE_MEMORY_FRACTION, tp=lay.tp, pp=lay.pp, dp=lay.dp,
                        ep=lay.ep * lay.expert_tp / lay.tp,
                        cp=lay.cp, zero_stage=lay.zero_stage, micro_batch=lay.micro_batch, full=lay.recompute == "full",
                        optimizer=lay.optimizer, offload=lay.offload, seq_len=seq_len, weight_bytes=weight_bytes,
                        trainable_params=trainable_params, loss_chunks=loss_chunks,
                        activation_offload=activation_offload, optimizer_in_backward=optimizer_in_backward,
                        saved_input_bytes_per_sbh=saved_input_bytes_per_sbh)
    return built(MemoryBreakdown, **{k: float(v) for k, v in mem.items()})
