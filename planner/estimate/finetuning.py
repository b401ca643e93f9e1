"""Fine-tuning estimate: full, LoRA and QLoRA as people run them, as Bands of GPU-hours, days and $.

The run is laid out like pretraining (training_run.py: searched or given layout, memory by
component, step time from the performance model and communication), with what fine-tuning
changes: frozen base weights (no weight gradients, states only for the adapters), a 4-bit base
for QLoRA, 8-bit and paged optimizers, CPU offload, unpacked padded examples, and the eager
framework's per-layer overhead on short sequences.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..calibration.efficiency import Efficiencies
from ..calibration.store import resolve
from ..catalog.lookup import gpu as lookup_gpu
from ..catalog.lookup import model as lookup_model
from ..catalog.specs import GATED_MLPS, GPUSpec, ModelSpec
from ..core.band import Band
from ..core import limits as L
from ..core import validate as V
from ..core.errors import InputError, UnknownNameError
from ..core.validate import require_positive
from ..core.provenance import Assumption
from ..core.results import ResultMixin
from . import perf
from .arithmetic import attention_flops_per_token, embedding_params, is_moe_layer, matmul_params, total_params
from .layout import OFFLOAD, OPTIMIZER_BYTES, RECOMPUTE, MemoryBreakdown, TrainingLayout
from .layout_search import RunShape
from . import qlora_memory as qm
from .recipe import TrainingRecipe, searched_recipe
from .memory_inputs import check_host_fit, check_lora_targets, context_note, host_bytes_per_gpu
from .training_run import overhead_band, plan_run, run_time_cost
from .training_step import StepBreakdown, mfu

METHODS = ("full", "lora", "qlora")
# LoRA target sets, as PEFT's target_modules and torchtune's lora_attn_modules / apply_lora_to_mlp /
# apply_lora_to_output name them.
LORA_TARGETS = {"all-linear": "q, k, v, o and every MLP matrix (the QLoRA recipe; PEFT 'all-linear')",
                "all-linear+output": "all-linear and the output head (torchtune apply_lora_to_output)",
                "attention": "q, k, v and o", "qkv": "q, k and v", "qv": "q and v (Hu et al. 2021's default)",
                "mlp": "every MLP matrix only (torchtune apply_lora_to_mlp without attention modules)"}
# torchtune's CEWithChunkedOutputLoss splits the output into 8 chunks (torchtune docs, "Memory optimization overview").
LOSS_CHUNKS = 8
FRAMEWORKS = ("eager", "compiled")
DEFAULT_OPTIMIZER = {"full": "adamw", "lora": "adamw", "qlora": "paged-adamw-8bit"}  # the QLoRA paper's choice

# QLoRA stores the base's linear weights as 4-bit NormalFloat in blocks of 64 with one absmax constant each
# (Dettmers et al. 2023, arXiv:2305.14314, Sec. 3): fp32 constants cost 32/64 = 0.5 bits per weight, 4.5 in
# all; double quantization stores them in 8 bits with an fp32 constant per 256 blocks, 8/64 + 32/(64 x 256)
# = 0.127 bits, 4.127 in all. bitsandbytes (Hugging Face's BitsAndBytesConfig) and torchtune quantize only the
# transformer blocks' linears: the embedding, the output head and the norms stay bf16.
NF4_BITS_PER_PARAM = {True: 4.127, False: 4.5}  # double_quant -> bits
QLORA_BYTES_PER_PARAM = NF4_BITS_PER_PARAM[True] / 8  # the quantized linears alone

# Dequantizing NF4 weights before every matmul (forward and backward) slows QLoRA:
# Raschka measured 1.39x the runtime of LoRA for the same run ("Practical Tips for
# Finetuning LLMs Using LoRA", Ahead of AI, 2023). Applied to time, not FLOPs.
QLORA_SLOWDOWN = 1.39

# Sequences of `seq_len` per optimizer step across the GPUs: a common fine-tuning batch of 64
# (judgement; LoRA and QLoRA recipes use 16-128 sequences).
SEQUENCES_PER_STEP = 64

# Eager PyTorch (Hugging Face Trainer + PEFT) pays a launch cost per op: about 10 us (H. He, "Making
# Deep Learning Go Brrrr From First Principles", 2022) x about 60 ops per decoder layer forward and
# backward (counted on a Llama layer) = 0.6 ms per layer per micro-step; hidden on long sequences,
# dominant on short unpacked ones. Judgement; a calibration profile's fitted value replaces it.
EAGER_TRAIN_LAYER_OVERHEAD_S = 6e-4

# Fine-tuning runs end-to-end with evaluation and checkpointing, on few GPUs: judgement.
OVERHEAD_FACTOR = Band(1.05, 1.10, 1.20)


@dataclass(frozen=True)
class FinetuningEstimate(ResultMixin):
    model: str
    gpu: str
    method: str
    n_gpus: int
    min_gpus: int
    tokens: float  # useful (non-padding) training tokens per epoch
    epochs: float
    trainable_params: int
    flops_per_token: float
    training_flops: float
    layout: TrainingLayout
    useful_fraction: float  # real tokens / computed tokens (1 when packed)
    mfu: Band  # model FLOPs utilisation the performance model predicts (QLoRA's slowdown included)
    step: StepBreakdown
    memory: MemoryBreakdown
    memory_per_gpu_bytes: float
    gpu_hours: Band
    wall_days: Band
    cost_usd: Band
    efficiency_source: str
    assumptions: tuple[Assumption, ...]
    memory_fit: str = ""  # "" when the central memory fits the usable memory; else how tight (MemoryBreakdown.fit_note)


def _targets(m: ModelSpec, targets: str) -> list[tuple[int, int]]:
    """(d_in, d_out) of the attention linears LoRA adapts in one layer."""
    q, kv = m.n_heads * m.head_dim, m.n_kv_heads * m.head_dim
    attn = {"qv": [(m.dim, q), (m.dim, kv)], "qkv": [(m.dim, q), (m.dim, kv), (m.dim, kv)], "mlp": [],
            "attention": [(m.dim, q), (m.dim, kv), (m.dim, kv), (q, m.dim)]}
    return attn.get(targets, attn["attention"])


def lora_params(m: ModelSpec, rank: int, targets: str = "all-linear") -> int:
    """Adapter parameters: rank x (d_in + d_out) per adapted linear (Hu et al. 2021, arXiv:2106.09685).

    "all-linear" adapts attention (q, k, v, o) and the dense or expert MLP, the QLoRA recipe
    (Dettmers et al. 2023, Sec. 4); "+output" adds the output head (dim -> vocab); "mlp" the MLP alone;
    "attention", "qkv" and "qv" adapt attention only.
    """
    attn = sum(a + b for a, b in _targets(m, targets))
    head = rank * (m.dim + m.vocab_size) if targets == "all-linear+output" else 0
    if targets not in ("all-linear", "all-linear+output", "mlp"):
        return rank * m.n_layers * attn
    mats = 3 if m.mlp in GATED_MLPS else 2
    ffn = 0
    for i in range(m.n_layers):
        if is_moe_layer(m, i):
            ffn += (m.n_experts * mats * (m.dim + m.moe_ffn_dim)
                    + m.n_shared_experts * mats * (m.dim + m.shared_expert_ffn_dim))
        else:
            ffn += mats * (m.dim + m.ffn_dim)
    return rank * (m.n_layers * attn + ffn) + head


def flops_per_token(m: ModelSpec, method: str, seq_len: int, rank: int, targets: str = "all-linear") -> float:
    """Training FLOPs per token for a method.

    Full: forward 2N, backward 4N (input and weight gradients) = 6N, plus 3x attention.
    LoRA/QLoRA: frozen base weights need no weight gradients, so backward is 2N and
    the total 4N (2/3 of full), plus the adapters' own 6 x N_lora and 3x attention.
    """
    n = matmul_params(m)
    attn = 3.0 * attention_flops_per_token(m, seq_len)
    if method == "full":
        return 6.0 * n + attn
    return 4.0 * n + 6.0 * lora_params(m, rank, targets) + attn


def qlora_weight_bytes(m: ModelSpec, double_quant: bool = True, stack: str = qm.DEFAULT_STACK) -> float:
    """Stored bytes per parameter of a QLoRA base, averaged over the model: NF4 block linears, bf16 embedding,
    head and norms, plus the bf16 buffer one linear is dequantized into before its matmul (the largest one);
    `stack` (qlora_memory.STACKS) says what else its NF4 matmuls hold (litgpt: an NF4 head, two copies)."""
    return qm.weight_bytes_per_param(m, NF4_BITS_PER_PARAM[bool(double_quant)], qm.STACKS[stack])


def run_shape(m: ModelSpec, *, method: str, seq_len: float, trainable: int, optimizer: str, offload: str = "none",
              double_quant: bool = True, chunked_loss: bool = False, activation_checkpointing: bool | None = None,
              micro_batch: int | None = None, grad_accum: int | None = None, activation_offload: bool = False,
              optimizer_in_backward: bool = False, qlora_stack: str = qm.DEFAULT_STACK) -> RunShape:
    """What a fine-tune asks of the layout search (checked arguments; finetuning() and max_fit() share it)."""
    qlora = method == "qlora"
    return RunShape(model=m, seq_len=seq_len, global_batch=SEQUENCES_PER_STEP,
                    weight_bytes=qlora_weight_bytes(m, double_quant, qlora_stack) if qlora else 2.0,
                    saved_input_bytes_per_sbh=qm.saved_input_bytes_per_sbh(m, qm.STACKS[qlora_stack]) if qlora else 0.0,
                    trainable_fraction=trainable / total_params(m), weight_grads=method == "full",
                    optimizer=optimizer, offload=offload, loss_chunks=LOSS_CHUNKS if chunked_loss else 1,
                    recompute=RECOMPUTE if activation_checkpointing is None else
                    (("full",) if activation_checkpointing else ("none",)),
                    micro_batch=micro_batch or 0, grad_accum=grad_accum or 0, data_parallel_only=True,
                    activation_offload=activation_offload, optimizer_in_backward=optimizer_in_backward)


def _offloaded_bytes_per_gpu(lay: TrainingLayout, trainable: float, total: float, weight_bytes: float) -> float:
    """What CPU offload keeps in host memory for one GPU: the trained parameters' optimizer states and reduced
    gradients (ZeRO-Offload), and with `params` the weights too, over the ranks that shard them."""
    if lay.offload == "none":
        return 0.0
    shards = lay.n_gpus if lay.zero_stage >= 1 else lay.tp * lay.pp
    held = trainable * (OPTIMIZER_BYTES[lay.optimizer] + 2.0) + (total * weight_bytes if lay.offload == "params" else 0.0)
    return held / shards


def _check_choice(name: str, value, allowed) -> str:
    v = str(value).lower()
    if v not in allowed:
        raise UnknownNameError(name, str(value), allowed)
    return v


def _validate(model, gpu, method, tokens, epochs, n_gpus, seq_len, lora_rank, lora_targets, packing, example_tokens,
              optimizer, offload, layout, framework, overhead_factor, efficiencies) -> None:
    """Every argument's type and bounds (core/validate.py, core/limits.py) before any work; names are
    then matched against their sets below."""
    V.spec_or_name("model", model, ModelSpec), V.spec_or_name("gpu", gpu, GPUSpec), V.flag("packing", packing)
    for name, value in (("method", method), ("lora_targets", lora_targets), ("offload", offload),
                        ("framework", framework), ("optimizer", optimizer)):
        V.name_text(name, value, optional=name == "optimizer")
    V.positive("tokens", tokens, L.MAX_TOKENS, "tokens"), V.positive("epochs", epochs, L.MAX_EPOCHS, "epochs")
    V.Whole(1, L.MAX_GPUS, unit="GPUs", optional=True)("n_gpus", n_gpus)
    V.whole("seq_len", seq_len, 1, L.MAX_SEQ_LEN, "tokens"), V.whole("lora_rank", lora_rank, 1, L.MAX_LORA_RANK)
    V.Real(0.0, L.MAX_SEQ_LEN, lo_open=True, unit="tokens", optional=True)("example_tokens", example_tokens)
    V.factor("overhead_factor", overhead_factor)
    V.instance("layout", layout, (TrainingLayout, type(None)), "a TrainingLayout or None")
    V.instance("efficiencies", efficiencies, (Efficiencies, type(None)), "an Efficiencies or None")


def finetuning(*, model: str | ModelSpec, gpu: str | GPUSpec, method: str = "lora", tokens: float,
               epochs: float = 3, n_gpus: int | None = None, seq_len: int = 2048, lora_rank: int = 16,
               lora_targets: str = "all-linear", packing: bool = True, example_tokens: float | None = None,
               optimizer: str | None = None, offload: str = "none", layout: TrainingLayout | None = None,
               framework: str = "eager", overhead_factor=OVERHEAD_FACTOR,
               efficiencies: Efficiencies | None = None, double_quant: bool = True, micro_batch: int | None = None,
               grad_accum: int | None = None, activation_checkpointing: bool | None = None,
               chunked_loss: bool = False, activation_offload: bool = False,
               optimizer_in_backward: bool = False, recipe: TrainingRecipe | dict | None = None,
               qlora_stack: str = qm.DEFAULT_STACK) -> FinetuningEstimate:
    """Estimate fine-tuning `model` on `tokens` real training tokens per epoch for `epochs` passes.

    method: "full" (all weights), "lora" (bf16 frozen base), "qlora" (4-bit frozen base).
    packing: examples packed into `seq_len` sequences; False: one example per sequence, padded to
    `seq_len` (set it to your max_length), of `example_tokens` real tokens on average.
    optimizer: adamw | adamw-bf16 (no fp32 master copy, torchtune's) | adamw-8bit | paged-adamw-8bit | sgd
    (default: paged 8-bit for QLoRA, else AdamW with an fp32 master copy).
    offload: none | optimizer | params (CPU offload, ZeRO-Offload). layout: evaluate a TrainingLayout as
    given (default: the fastest fitting layout on n_gpus, or on the fewest GPUs that fit).
    framework: "eager" (Hugging Face Trainer + PEFT: a per-layer launch cost) or "compiled".
    double_quant: QLoRA's NF4 with double-quantized constants (bnb_4bit_use_double_quant; 4.127 bits) or not (4.5).
    micro_batch / grad_accum: per-device batch size and gradient accumulation steps (Trainer's
    per_device_train_batch_size / gradient_accumulation_steps, torchtune's batch_size /
    gradient_accumulation_steps); None: searched / the default batch of SEQUENCES_PER_STEP.
    activation_checkpointing: True (full: each layer keeps its input), False (none), None (the least that fits).
    chunked_loss: cross-entropy over LOSS_CHUNKS chunks (torchtune CEWithChunkedOutputLoss) instead of whole fp32 logits.
    activation_offload: saved activations in CPU memory (torchtune enable_activation_offloading; its copies overlap
    compute on a side stream, so no time is charged: optimistic on slow PCIe). optimizer_in_backward: the optimizer
    step fused into the backward (torchtune optimizer_in_bwd), freeing each layer's gradients as it goes.
    recipe: a TrainingRecipe or a dict of its fields (moe_balance, moe_overlap, moe_dispatcher, ...) applied to every
    searched layout (recipe.py; fine-tunes train in bf16, so no fp8_recipe); with layout= set them on the layout.
    qlora_stack: what computes QLoRA's NF4 linears (qlora_memory.STACKS): "peft" (Hugging Face PEFT on bitsandbytes)
    or "litgpt" (litgpt + Lightning on bitsandbytes 0.42.0: inputs kept for the backward, NF4 head).
    """
    _validate(model, gpu, method, tokens, epochs, n_gpus, seq_len, lora_rank, lora_targets, packing, example_tokens,
              optimizer, offload, layout, framework, overhead_factor, efficiencies)
    V.flag("double_quant", double_quant), V.flag("chunked_loss", chunked_loss)
    V.flag("activation_offload", activation_offload), V.flag("optimizer_in_backward", optimizer_in_backward)
    V.name_text("qlora_stack", qlora_stack)
    V.Whole(1, L.MAX_GPUS, unit="sequences", optional=True)("micro_batch", micro_batch)
    V.Whole(1, 1_000_000, unit="micro-batches", optional=True)("grad_accum", grad_accum)
    if activation_checkpointing is not None:
        V.flag("activation_checkpointing", activation_checkpointing)
    m, g = lookup_model(model), lookup_gpu(gpu)
    run_recipe = searched_recipe(recipe, fp8=False, gpu=g, layout=layout)
    method = _check_choice("fine-tuning method", method, METHODS)
    lora_targets = _check_choice("LoRA target set", lora_targets, tuple(LORA_TARGETS))
    framework = _check_choice("framework", framework, FRAMEWORKS)
    optimizer = _check_choice("optimizer", optimizer or DEFAULT_OPTIMIZER[method], tuple(OPTIMIZER_BYTES))
    offload = _check_choice("offload", offload, OFFLOAD)
    qlora_stack = _check_choice("qlora_stack", qlora_stack, tuple(qm.STACKS))
    if method != "full":
        check_lora_targets(m, lora_targets)
    host_bytes_per_gpu(g, offload)
    context = context_note(m, seq_len)
    tokens, epochs = require_positive("tokens", tokens), require_positive("epochs", epochs)
    seq_len, rank = int(require_positive("seq_len", seq_len)), int(require_positive("lora_rank", lora_rank))
    real = float(seq_len) if packing or example_tokens is None else require_positive("example_tokens", example_tokens)
    if real > seq_len:
        raise InputError("example_tokens", f"must be <= seq_len={seq_len} (examples are padded to seq_len), got {real:g}")
    if n_gpus is not None and (isinstance(n_gpus, bool) or int(require_positive("n_gpus", n_gpus)) != n_gpus):
        raise InputError("n_gpus", f"must be a positive whole number, got {n_gpus!r}")
    eff = resolve(g.name, efficiencies)
    if framework == "eager" and eff.train_layer_overhead_s < EAGER_TRAIN_LAYER_OVERHEAD_S and "calibration" not in eff.source:
        eff = replace(eff, train_layer_overhead_s=EAGER_TRAIN_LAYER_OVERHEAD_S)
    trainable = total_params(m) if method == "full" else lora_params(m, rank, lora_targets)
    shape = run_shape(m, method=method, seq_len=seq_len, trainable=trainable, optimizer=optimizer, offload=offload,
                      double_quant=double_quant, chunked_loss=chunked_loss,
                      activation_checkpointing=activation_checkpointing, micro_batch=micro_batch, grad_accum=grad_accum,
                      activation_offload=activation_offload, optimizer_in_backward=optimizer_in_backward,
                      qlora_stack=qlora_stack)
    shape = replace(shape, recipe=run_recipe)
    kern = perf.kernels_for(g.peak("bf16"), g.memory_bytes_per_s, eff)
    useful = real / seq_len
    slowdown = QLORA_SLOWDOWN if method == "qlora" else 1.0
    plan = plan_run(shape, g, kern, tokens=tokens * epochs / useful, n_gpus=n_gpus, layout=layout)
    check_host_fit(g, plan.layout.offload, _offloaded_bytes_per_gpu(plan.layout, trainable, total_params(m), shape.weight_bytes))
    per_token = plan.gpu_seconds_per_token * slowdown / useful  # per real token
    fpt = flops_per_token(m, method, seq_len, rank, lora_targets)
    run = run_time_cost(tokens=tokens * epochs, seconds_per_token=per_token, gpu=g, n_gpus=plan.layout.n_gpus,
                        overhead=overhead_band(overhead_factor))
    predicted_mfu = mfu(fpt, per_token, g.peak("bf16"))
    return FinetuningEstimate(
        model=m.name, gpu=g.name, method=method, n_gpus=plan.layout.n_gpus, min_gpus=plan.min_gpus,
        tokens=float(tokens), epochs=float(epochs), trainable_params=int(trainable), flops_per_token=fpt,
        training_flops=fpt * tokens * epochs, layout=plan.layout, useful_fraction=useful, mfu=predicted_mfu,
        step=plan.choice.step.breakdown, memory=plan.memory, memory_per_gpu_bytes=plan.memory.total,
        gpu_hours=run.gpu_hours, wall_days=run.wall_days, cost_usd=run.cost_usd, efficiency_source=eff.source,
        memory_fit=plan.memory.fit_note(),
        assumptions=(
            Assumption("method", method, "", "LoRA: Hu et al. 2021 (arXiv:2106.09685); QLoRA: Dettmers et al. 2023 (arXiv:2305.14314)"),
            Assumption("lora_rank", rank, "", "common default (PEFT examples use 8-64)"),
            Assumption("lora_targets", lora_targets, "", LORA_TARGETS[lora_targets]),
            Assumption("layout", plan.layout.describe(), "", "given" if layout is not None else "searched"),
            *([Assumption("recipe", run_recipe.describe(), "", "given, applied to every searched layout")]
              if recipe is not None else []),
            Assumption("packing", packing, "", f"real tokens are {useful:.0%} of the computed ones"),
            Assumption("seq_len", seq_len, "tokens", context or f"within {m.name}'s context length of {m.context_length:,}"),
            Assumption("global_batch", plan.choice.global_batch, "sequences per optimizer step",
                       "micro_batch x grad_accum x data-parallel replicas" if grad_accum else
                       "layout.global_batch" if layout is not None and layout.global_batch else
                       f"default {SEQUENCES_PER_STEP} (judgement), raised to fill the pipeline"),
            Assumption("memory_per_gpu_bytes", plan.memory.total, "bytes",
                       f"device figure (nvidia-smi): {plan.memory.allocated / 1e9:.1f} GB allocated (PyTorch's "
                       f"max_memory_allocated), {plan.memory.reserved / 1e9:.1f} GB reserved (+ allocator), + CUDA "
                       "context and NCCL buffers (planner/estimate/memory_terms.py)"),
            Assumption("optimizer", optimizer, f"{OPTIMIZER_BYTES[optimizer]:g} B/param of states",
                       "8-bit: Dettmers et al. 2022 (arXiv:2110.02861); paged: QLoRA"),
            Assumption("flops_per_token", fpt, "FLOP", "full 6N; LoRA 4N + 6 N_lora (no weight gradients for frozen weights)"),
            Assumption("predicted_mfu", predicted_mfu, "fraction of dense bf16 peak",
                       "performance model (planner/estimate/perf.py) and the layout's communication"),
            *eff.assumptions(),
            Assumption("framework", framework, "", f"eager: {EAGER_TRAIN_LAYER_OVERHEAD_S * 1e3:g} ms per layer per "
                                                   "micro-step (H. He 2022: ~10 us per eager op); judgement"),
            *((Assumption("qlora_stack", qlora_stack, "", qm.STACKS[qlora_stack].note),) if method == "qlora" else ()),
            Assumption("qlora_slowdown", slowdown, "x", "Raschka 2023, 'Practical Tips for Finetuning LLMs Using LoRA': QLoRA 1.39x LoRA runtime"),
            Assumption("overhead_factor", overhead_band(overhead_factor), "x", "evaluation and checkpointing (judgement)"),
            Assumption("usd_per_gpu_hour", g.usd_per_gpu_hour, "$/GPU-hour", str(g.sources.get("usd_per_gpu_hour", "catalog"))),
        ),
    )
