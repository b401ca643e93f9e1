"""Fine-tuning estimate: full, LoRA and QLoRA on your GPUs, as Bands of GPU-hours, days and $."""
from __future__ import annotations

from dataclasses import dataclass

from ..calibration.efficiency import Efficiencies
from ..calibration.store import resolve
from ..catalog.lookup import gpu as lookup_gpu
from ..catalog.lookup import model as lookup_model
from ..catalog.specs import GPUSpec, ModelSpec
from ..core.band import Band
from ..core.errors import InputError, UnknownNameError, require_positive
from ..core.provenance import Assumption
from ..core.results import ResultMixin
from .arithmetic import attention_flops_per_token, matmul_params, total_params
from .training import (
    ADAM_MIXED_BYTES_PER_PARAM,
    activation_bytes_per_gpu,
    check_enough_gpus,
    min_gpus_to_fit,
    gpu_seconds_per_token,
    mfu,
    run_time_cost,
)

METHODS = ("full", "lora", "qlora")

# QLoRA stores base weights as 4-bit NormalFloat with double-quantized constants:
# 4.127 bits per parameter (Dettmers et al. 2023, arXiv:2305.14314, Sec. 3).
QLORA_BYTES_PER_PARAM = 4.127 / 8

# Dequantizing NF4 weights before every matmul (forward and backward) slows QLoRA:
# Raschka measured 1.39x the runtime of LoRA for the same run ("Practical Tips for
# Finetuning LLMs Using LoRA", Ahead of AI, 2023). Applied to time, not FLOPs.
QLORA_SLOWDOWN = 1.39

# Sequences of `seq_len` per optimizer step across the GPUs: a common fine-tuning batch of 64
# (judgement; LoRA and QLoRA recipes use 16-128 sequences).
TOKENS_PER_STEP = 64 * 2048

# Fine-tuning runs end-to-end with evaluation and checkpointing, on few GPUs.
OVERHEAD_FACTOR = 1.10


@dataclass(frozen=True)
class FinetuningEstimate(ResultMixin):
    model: str
    gpu: str
    method: str
    n_gpus: int
    min_gpus: int
    tokens: float
    epochs: float
    trainable_params: int
    flops_per_token: float
    training_flops: float
    mfu: Band  # model FLOPs utilisation the performance model predicts (QLoRA's slowdown included)
    memory_per_gpu_bytes: float
    gpu_hours: Band
    wall_days: Band
    cost_usd: Band
    efficiency_source: str
    assumptions: tuple[Assumption, ...]


def lora_params(m: ModelSpec, rank: int) -> int:
    """Adapter parameters: rank x (d_in + d_out) per adapted linear (Hu et al. 2021, arXiv:2106.09685).

    Adapts every linear layer of attention (q, k, v, o) and the dense or expert
    FFN (w1, w2, w3), the QLoRA recipe (Dettmers et al. 2023, Sec. 4).
    """
    q, kv = m.n_heads * m.head_dim, m.n_kv_heads * m.head_dim
    attn = (m.dim + q) * 2 + (m.dim + kv) * 2
    ffn_layers = []
    for i in range(m.n_layers):
        if m.is_moe and i >= m.n_dense_layers:
            ffn_layers.append((m.n_experts + m.n_shared_experts) * 3 * (m.dim + m.moe_ffn_dim))
        else:
            ffn_layers.append(3 * (m.dim + m.ffn_dim))
    return rank * (m.n_layers * attn + sum(ffn_layers))


def flops_per_token(m: ModelSpec, method: str, seq_len: int, rank: int) -> float:
    """Training FLOPs per token for a method.

    Full: forward 2N, backward 4N (input and weight gradients) = 6N, plus 3x attention.
    LoRA/QLoRA: frozen base weights need no weight gradients, so backward is 2N and
    the total 4N (2/3 of full), plus the adapters' own 6 x N_lora and 3x attention.
    """
    n = matmul_params(m)
    attn = 3.0 * attention_flops_per_token(m, seq_len)
    if method == "full":
        return 6.0 * n + attn
    return 4.0 * n + 6.0 * lora_params(m, rank) + attn


def _memory(m: ModelSpec, method: str, rank: int) -> tuple[float, float, int]:
    """(sharded state bytes, trainable params): see module constants for each term."""
    n = total_params(m)
    if method == "full":
        return ADAM_MIXED_BYTES_PER_PARAM * n, 0.0, n
    trainable = lora_params(m, rank)
    base = (2.0 if method == "lora" else QLORA_BYTES_PER_PARAM) * n
    return base + ADAM_MIXED_BYTES_PER_PARAM * trainable, 0.0, trainable


def finetuning(*, model: str | ModelSpec, gpu: str | GPUSpec, method: str = "lora", tokens: float,
               epochs: float = 3, n_gpus: int | None = None, seq_len: int = 2048, lora_rank: int = 16,
               overhead_factor: float = OVERHEAD_FACTOR, efficiencies: Efficiencies | None = None) -> FinetuningEstimate:
    """Estimate fine-tuning `model` on `tokens` training tokens for `epochs` passes.

    method: "full" (all weights, mixed-precision Adam), "lora" (bf16 frozen base),
    "qlora" (4-bit frozen base). n_gpus defaults to the fewest that fit.
    """
    m, g = lookup_model(model), lookup_gpu(gpu)
    method = str(method).lower()
    if method not in METHODS:
        raise UnknownNameError("fine-tuning method", method, METHODS)
    tokens, epochs = require_positive("tokens", tokens), require_positive("epochs", epochs)
    seq_len, rank = int(require_positive("seq_len", seq_len)), int(require_positive("lora_rank", lora_rank))
    eff = resolve(g.name, efficiencies)
    state, replicated, trainable = _memory(m, method, rank)
    act = activation_bytes_per_gpu(m, seq_len)
    what = f"{method} fine-tuning of {m.name}"
    min_gpus = min_gpus_to_fit(state_bytes=state, replicated_bytes=replicated, activation_bytes=act, gpu=g, what=what)
    if n_gpus is None:
        n_gpus = min_gpus
    elif isinstance(n_gpus, bool) or int(require_positive("n_gpus", n_gpus)) != n_gpus:
        raise InputError("n_gpus", f"must be a positive whole number, got {n_gpus!r}")
    check_enough_gpus(int(n_gpus), min_gpus, state_bytes=state, gpu=g, what=what)
    fpt = flops_per_token(m, method, seq_len, rank)
    flops = fpt * tokens * epochs
    slowdown = QLORA_SLOWDOWN if method == "qlora" else 1.0
    # Adapters are a small share of the work: their GEMMs are left out of the step time (their
    # FLOPs stay in flops_per_token); frozen base weights get no dW GEMMs.
    per_token = gpu_seconds_per_token(m, g, eff, seq_len=seq_len, weight_grads=method == "full",
                                      trainable_params_per_gpu=trainable / int(n_gpus),
                                      tokens_per_step_per_gpu=TOKENS_PER_STEP / int(n_gpus))
    run = run_time_cost(tokens=tokens * epochs, seconds_per_token=per_token, gpu=g, n_gpus=int(n_gpus),
                        overhead_factor=overhead_factor * slowdown)
    predicted_mfu = mfu(fpt, per_token * slowdown, g.peak("bf16"))
    return FinetuningEstimate(
        model=m.name, gpu=g.name, method=method, n_gpus=int(n_gpus), min_gpus=min_gpus, tokens=float(tokens),
        epochs=float(epochs), trainable_params=trainable, flops_per_token=fpt, training_flops=flops, mfu=predicted_mfu,
        memory_per_gpu_bytes=state / int(n_gpus) + replicated + act,
        gpu_hours=run.gpu_hours, wall_days=run.wall_days, cost_usd=run.cost_usd, efficiency_source=eff.source,
        assumptions=(
            Assumption("method", method, "", "LoRA: Hu et al. 2021 (arXiv:2106.09685); QLoRA: Dettmers et al. 2023 (arXiv:2305.14314)"),
            Assumption("lora_rank", rank, "", "common default (PEFT examples use 8-64)"),
            Assumption("flops_per_token", fpt, "FLOP", "full 6N; LoRA 4N + 6 N_lora (no weight gradients for frozen weights)"),
            Assumption("predicted_mfu", predicted_mfu, "fraction of dense bf16 peak",
                       "performance model (planner/estimate/perf.py): selective recomputation, 1-sequence micro-batches"),
            *eff.assumptions(),
            Assumption("qlora_slowdown", slowdown, "x", "Raschka 2023, 'Practical Tips for Finetuning LLMs Using LoRA': QLoRA 1.39x LoRA runtime"),
            Assumption("overhead_factor", overhead_factor, "x", "evaluation and checkpointing (assumption)"),
            Assumption("usd_per_gpu_hour", g.usd_per_gpu_hour, "$/GPU-hour", str(g.sources.get("usd_per_gpu_hour", "catalog"))),
        ),
    )
