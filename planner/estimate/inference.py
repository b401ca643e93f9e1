"""Inference speed of one replica: prefill and decode on the layer-wise performance model (perf.py).

The functions below take numpy arrays for batch sizes and broadcast against the (p10, p50,
p90) of the efficiencies, so serving.py can sweep batch sizes x quantiles in one call. Times
are seconds, memory bytes, rates per second; a Band is built only at the edge.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..calibration.efficiency import Efficiencies
from ..calibration.store import resolve
from ..catalog import lookup as catalog
from ..catalog.specs import GPUSpec, ModelSpec
from ..catalog.specs import precision as lookup_precision
from ..core.band import Band
from ..core.errors import DoesNotFitError, InputError, require_positive
from ..core.provenance import Assumption
from . import arithmetic as ar
from . import perf
from .perf import expected_experts_touched, kv_shards, quantiles, to_band  # noqa: F401  (used by serving, tests)

# Activations, CUDA context, allocator fragmentation and the framework take memory
# the weights and KV cache cannot use; vLLM's default gpu_memory_utilization=0.9
# reserves the same 10%.
MEMORY_RESERVE_FRACTION = 0.10
# KV cache is kept in bf16 at every weight precision (vLLM's default kv_cache_dtype
# "auto" follows the activation dtype); fp8 KV would halve it. fp32 models keep fp32.
KV_BYTES_PER_ELEMENT = 2.0
# Tensor-parallel activations are all-reduced in bf16.
ACTIVATION_BYTES = 2.0
# Fixed cost of one small NCCL all-reduce over NVLink: an assumed order of magnitude
# (a few microseconds in nccl-tests at small message sizes), not a measurement here.
ALLREDUCE_LATENCY_S = 5e-6


def _resolve(model: str | ModelSpec, gpu: str | GPUSpec) -> tuple[ModelSpec, GPUSpec]:
    return catalog.model(model), catalog.gpu(gpu)


def numerics(precision_name: str) -> perf.Numerics:
    """Bytes per weight, activation and KV element at a precision (fp32 keeps everything in fp32)."""
    p = lookup_precision(precision_name)
    wide = 4.0 if p.compute_dtype == "fp32" else 2.0
    return perf.Numerics(weight_bytes=p.bytes_per_weight, activation_bytes=wide,
                         kv_bytes=wide if p.compute_dtype == "fp32" else KV_BYTES_PER_ELEMENT)


def kernels(g: GPUSpec, precision_name: str, eff: Efficiencies) -> perf.Kernels:
    """The GPU's rates at the precision's compute dtype, each uncertain one as (p10, p50, p90)."""
    return perf.kernels_for(g.peak(lookup_precision(precision_name).compute_dtype), g.memory_bytes_per_s, eff)


def decode_weight_bytes(m: ModelSpec, precision_name: str, batch) -> np.ndarray:
    """Weight bytes one decode step reads for `batch` tokens (all GPUs together).

    Dense: every weight once per step (the embedding table is counted too although
    only `batch` rows are read: ~2% over for a 7B model). MoE: the routed experts
    of each MoE layer are replaced by the expected number touched.
    """
    total = ar.weight_bytes(m, precision_name)
    if not m.is_moe:
        return np.full(np.shape(batch), total, dtype=float)
    expert_bytes = ar.expert_params(m) * lookup_precision(precision_name).bytes_per_weight
    n_moe_layers = m.n_layers - m.n_dense_layers
    unread = m.n_experts - expected_experts_touched(m.n_experts, m.n_experts_per_token, batch)
    return total - n_moe_layers * unread * expert_bytes


def kv_bytes_per_gpu(m: ModelSpec, sequences, context_tokens: float, tensor_parallel: int,
                     kv_bytes: float = KV_BYTES_PER_ELEMENT) -> np.ndarray:
    """KV-cache bytes on one GPU for `sequences` sequences of `context_tokens` each (window-aware)."""
    per_sequence = ar.kv_cache_bytes(m, context_tokens, kv_bytes)
    return np.asarray(sequences, dtype=float) * per_sequence / kv_shards(m, tensor_parallel)


def usable_memory_bytes(g: GPUSpec) -> float:
    """Memory for weights and KV cache: the GPU's memory less the runtime reserve."""
    return g.memory_bytes * (1.0 - MEMORY_RESERVE_FRACTION)


def memory_per_gpu_bytes(m: ModelSpec, precision_name: str, batch, context_tokens, tensor_parallel: int):
    """Weights split over TP ranks plus the KV cache of `batch` sequences at `context_tokens`."""
    weights = ar.weight_bytes(m, precision_name) / tensor_parallel
    return weights + kv_bytes_per_gpu(m, batch, context_tokens, tensor_parallel, numerics(precision_name).kv_bytes)


def min_tensor_parallel(m: ModelSpec, g: GPUSpec, precision_name: str, context_tokens: float) -> int | None:
    """Smallest power-of-two TP (<= 64) at which batch 1 at `context_tokens` fits, else None."""
    for tp in (1, 2, 4, 8, 16, 32, 64):
        if memory_per_gpu_bytes(m, precision_name, 1, context_tokens, tp) <= usable_memory_bytes(g):
            return tp
    return None


def check_fits(m: ModelSpec, g: GPUSpec, precision_name: str, batch: int, context_tokens: float,
               tensor_parallel: int) -> float:
    """Memory needed per GPU in bytes; DoesNotFitError if over the usable memory."""
    need = float(memory_per_gpu_bytes(m, precision_name, batch, context_tokens, tensor_parallel))
    have = usable_memory_bytes(g)
    if need <= have:
        return need
    weights = ar.weight_bytes(m, precision_name) / tensor_parallel
    tp_fit = min_tensor_parallel(m, g, precision_name, context_tokens)
    hint = f"tensor_parallel={tp_fit}" if tp_fit and tp_fit > tensor_parallel else "more tensor parallelism"
    raise DoesNotFitError(
        f"{m.name} {precision_name} needs {need / 1e9:.1f} GB per GPU at tensor_parallel={tensor_parallel} "
        f"(weights {weights / 1e9:.1f} GB + KV cache {(need - weights) / 1e9:.1f} GB for batch {batch} x "
        f"{context_tokens:,.0f} tokens) but one {g.name} has {have / 1e9:.1f} GB usable "
        f"({g.memory_bytes / 1e9:.1f} GB less a {MEMORY_RESERVE_FRACTION:.0%} runtime reserve). "
        f"Try {hint}, a lower precision (int8, fp8, int4), a smaller batch or a GPU with more memory.")


def tp_allreduce_s(m: ModelSpec, tokens, tensor_parallel: int, interconnect_bytes_per_s: float):
    """Time of the tensor-parallel all-reduces in one forward pass over `tokens` tokens.

    Megatron-LM (Shoeybi et al. 2019, Sec. 3) all-reduces twice per layer (after
    attention and after the MLP), each of tokens x dim activations (bf16). A ring
    all-reduce sends 2 (tp - 1) / tp of the buffer per GPU (Patarasuk & Yuan 2009):
        t = 2 L [2 (tp-1)/tp x tokens x dim x 2 B / interconnect + latency]
    """
    if tensor_parallel == 1:
        return np.zeros(np.shape(tokens))
    buffer_bytes = np.asarray(tokens, dtype=float) * m.dim * ACTIVATION_BYTES
    ring_bytes = 2.0 * (tensor_parallel - 1) / tensor_parallel * buffer_bytes
    # The catalog holds the vendors' aggregate (both directions) figure; a ring sends one way.
    return 2 * m.n_layers * (ring_bytes / (interconnect_bytes_per_s / 2) + ALLREDUCE_LATENCY_S)


def prefill_s(m: ModelSpec, g: GPUSpec, precision_name: str, batch, prompt_tokens: float,
              tensor_parallel: int, eff: Efficiencies):
    """Prefill of `batch` prompts on one replica (perf.prefill_s) plus its tensor-parallel all-reduces."""
    kern, num = kernels(g, precision_name, eff), numerics(precision_name)
    batch = np.asarray(batch, dtype=float)
    compute = perf.prefill_s(m, kern, num, batch=batch, prompt_tokens=prompt_tokens, tp=tensor_parallel)
    return compute + tp_allreduce_s(m, batch * prompt_tokens, tensor_parallel, g.interconnect_bytes_per_s)


def decode_step_s(m: ModelSpec, g: GPUSpec, precision_name: str, batch, context_tokens: float,
                  tensor_parallel: int, eff: Efficiencies):
    """One decode step of `batch` sequences (perf.decode_step_s) plus all-reduces; and whether
    it is memory-bound (at each quantile)."""
    kern, num = kernels(g, precision_name, eff), numerics(precision_name)
    kw = {"batch": batch, "context_tokens": context_tokens, "tp": tensor_parallel}
    step = perf.decode_step_s(m, kern, num, **kw)
    comm = tp_allreduce_s(m, batch, tensor_parallel, g.interconnect_bytes_per_s)
    return step + comm, perf.decode_is_memory_bound(m, kern, num, **kw)


def mean_decode_context(prompt_tokens: float, output_tokens: float) -> float:
    """Average keys attended per decode step: the prompt plus half the output generated so far."""
    return prompt_tokens + output_tokens / 2.0


def e2e_s(ttft_s, tpot_s, output_tokens: float):
    """Request latency: the first token comes from prefill, the other output_tokens - 1 from decode."""
    return ttft_s + max(output_tokens - 1.0, 0.0) * tpot_s


@dataclass(frozen=True)
class InferenceSpeed:
    """Latency and throughput of one replica at a fixed batch (static batching view)."""

    model: str
    gpu: str
    precision: str
    batch_size: int
    prompt_tokens: float
    output_tokens: float
    tensor_parallel: int
    prefill_s: Band  # all `batch_size` prompts together
    decode_step_s: Band
    ttft_s: Band  # = prefill_s: the prefill pass emits the first token
    tpot_s: Band  # = decode_step_s
    e2e_s: Band
    tokens_per_s_per_sequence: Band
    tokens_per_s_total: Band
    bound: str  # "memory" or "compute": the active roofline bound of decode at p50
    memory_per_gpu_bytes: float
    usable_memory_bytes: float
    efficiency_source: str
    assumptions: tuple[Assumption, ...]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def common_assumptions(m: ModelSpec, g: GPUSpec, precision_name: str, tensor_parallel: int,
                       eff: Efficiencies) -> list[Assumption]:
    """The assumptions every inference and serving estimate shares."""
    p = lookup_precision(precision_name)
    out = [
        Assumption("precision", p.name, f"{p.bytes_per_weight} B/weight, {p.compute_dtype} peak", p.description),
        Assumption("kv_cache_bytes_per_element", KV_BYTES_PER_ELEMENT, "bytes", "bf16 KV cache (vLLM default 'auto')"),
        Assumption("memory_reserve_fraction", MEMORY_RESERVE_FRACTION, "fraction of GPU memory",
                   "activations and runtime; vLLM gpu_memory_utilization=0.9"),
        Assumption("efficiency_source", eff.source, "", "calibration.store.resolve"),
        Assumption("performance_model", "layer-wise: GEMMs, attention, element-wise, overheads", "",
                   "planner/estimate/perf.py"),
        *eff.assumptions(),
    ]
    if tensor_parallel > 1:
        out.append(Assumption(
            "tp_allreduce", f"2 L [2(tp-1)/tp x tokens x dim x 2 B / {g.interconnect_bytes_per_s:.3g} B/s "
            f"+ {ALLREDUCE_LATENCY_S:g} s]", "s per forward", "Megatron-LM Sec. 3; ring all-reduce"))
    if m.is_moe:
        out.append(Assumption("moe_experts_read", "n (1 - (1 - k/n)^batch) per MoE layer", "experts",
                              "uniform routing; skewed routers read fewer"))
    return out


def _validate(batch_size: int, prompt_tokens: float, output_tokens: float, tensor_parallel: int) -> None:
    for name, v in (("batch_size", batch_size), ("tensor_parallel", tensor_parallel)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InputError(name, f"must be a whole number >= 1, got {v!r}")
    require_positive("prompt_tokens", prompt_tokens)
    require_positive("output_tokens", output_tokens)


def inference_speed(*, model: str | ModelSpec, gpu: str | GPUSpec, precision: str = "bf16",
                    batch_size: int = 1, prompt_tokens: float = 512, output_tokens: float = 256,
                    tensor_parallel: int = 1, efficiencies: Efficiencies | None = None) -> InferenceSpeed:
    """Prefill and decode speed of `model` on `tensor_parallel` x `gpu` at a fixed batch."""
    _validate(batch_size, prompt_tokens, output_tokens, tensor_parallel)
    m, g = _resolve(model, gpu)
    prec = lookup_precision(precision).name
    eff = resolve(g.name, efficiencies)
    context = prompt_tokens + output_tokens
    need = check_fits(m, g, prec, batch_size, context, tensor_parallel)
    pre = prefill_s(m, g, prec, batch_size, prompt_tokens, tensor_parallel, eff)
    ctx = mean_decode_context(prompt_tokens, output_tokens)
    step, memory_bound = decode_step_s(m, g, prec, batch_size, ctx, tensor_parallel, eff)
    return InferenceSpeed(
        model=m.name, gpu=g.name, precision=prec, batch_size=batch_size, prompt_tokens=prompt_tokens,
        output_tokens=output_tokens, tensor_parallel=tensor_parallel,
        prefill_s=to_band(pre), decode_step_s=to_band(step), ttft_s=to_band(pre), tpot_s=to_band(step),
        e2e_s=to_band(e2e_s(pre, step, output_tokens)),
        tokens_per_s_per_sequence=to_band(1.0 / step), tokens_per_s_total=to_band(batch_size / step),
        bound="memory" if memory_bound[1] else "compute",
        memory_per_gpu_bytes=need, usable_memory_bytes=usable_memory_bytes(g),
        efficiency_source=eff.source,
        assumptions=tuple(common_assumptions(m, g, prec, tensor_parallel, eff)),
    )
