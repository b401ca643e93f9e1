"""Inference speed of one replica: prefill and decode on the layer-wise performance model (perf.py).

The functions below take numpy arrays for batch sizes and broadcast against the (p10, p50,
p90) of the efficiencies, so serving.py can sweep batch sizes x quantiles in one call. Times
are seconds, memory bytes, rates per second; a Band is built only at the edge.
"""
from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np

from ..calibration import store
from ..calibration.efficiency import Efficiencies
from ..catalog import lookup as catalog
from ..catalog.collectives import bus_factor
from ..catalog.specs import GPUSpec, ModelSpec, compute_peak, kv_cache_dtype_bytes
from ..catalog.specs import precision as lookup_precision
from ..core.band import Band
from ..core import limits as L
from ..core import validate as V
from ..core.errors import DoesNotFitError
from ..core.memo import by_identity
from ..core.provenance import Assumption
from ..core.results import built
from . import arithmetic as ar
from . import communication as comm
from . import context_attention, decode_attention, forward_table, moe_decode, passes, perf, moe_serving as moe
from .engine import EngineSetup, resolve_engine
from .perf import expected_experts_touched, kv_shards, quantiles, to_band  # noqa: F401  (used by serving, tests)

# Activations, CUDA context, allocator fragmentation and the framework take memory the weights
# and KV cache cannot use; vLLM's default gpu_memory_utilization=0.9 reserves the same 10%.
# An engine profile sets its own (calibration-free estimates without an engine use this one).
MEMORY_RESERVE_FRACTION = 0.10


def _resolve(model: str | ModelSpec, gpu: str | GPUSpec) -> tuple[ModelSpec, GPUSpec]:
    return catalog.model(model), catalog.gpu(gpu)


@functools.lru_cache(maxsize=64)  # a pure lookup of two names, asked on every estimate
def numerics(precision_name: str, kv_cache_dtype: str | None = None) -> perf.Numerics:
    """Bytes per weight, activation, KV element and output-head weight at a precision; the KV cache
    in `kv_cache_dtype`, else in the activation dtype."""
    p = lookup_precision(precision_name)
    kv = p.activation_bytes if kv_cache_dtype is None else kv_cache_dtype_bytes(kv_cache_dtype)
    return perf.Numerics(weight_bytes=p.bytes_per_weight, activation_bytes=p.activation_bytes, kv_bytes=kv,
                         head_weight_bytes=p.embedding_bytes)


@by_identity()  # a pure function of the catalog's GPU, a precision and the (immutable) efficiencies
def kernels(g: GPUSpec, precision_name: str, eff: Efficiencies, weight_stream_factor: float = 1.0) -> perf.Kernels:
    """The GPU's rates at the precision's compute dtype, each uncertain one as (p10, p50, p90)."""
    p = lookup_precision(precision_name)
    return perf.kernels_for(compute_peak(g, p), g.memory_bytes_per_s, eff.at_dtype(p.compute_dtype), weight_stream_factor)


def tp_link(g: GPUSpec, tensor_parallel: int) -> comm.Link:
    """The link a tensor-parallel group all-reduces over: a measured all-reduce fit registered for
    this GPU (planner.use_results on a collectives run), else the catalog's fabric (communication.py)."""
    return _tp_link(g, tensor_parallel, store.collective_fit(g.name, "all_reduce"))  # asked live: registrations change it


@by_identity()  # one Link per GPU x degree x fit, so a replica built on it caches too
def _tp_link(g: GPUSpec, tensor_parallel: int, fit) -> comm.Link:
    if fit is None:
        return comm.link_for(g, tensor_parallel)
    busbw = fit.busbw_bytes_per_s or fit.beta_bytes_per_s * bus_factor("all_reduce", fit.nproc)
    return comm.Link(f"{g.name} measured all-reduce fit ({fit.source or 'results file'}, {fit.nproc} ranks)",
                     fit.alpha_s, busbw)


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
    n_moe_layers = ar.n_moe_layers(m)
    unread = m.n_experts - expected_experts_touched(m.n_experts, m.n_experts_per_token, batch)
    return total - n_moe_layers * unread * expert_bytes


def kv_bytes_per_gpu(m: ModelSpec, sequences, context_tokens: float, tensor_parallel: int,
                     kv_bytes: float = 2.0, attention_dp: bool = False) -> np.ndarray:
    """KV-cache bytes on one GPU for `sequences` sequences of `context_tokens` each (window-aware): split
    by heads over TP (MLA's latent is on every rank), or by sequences over DP-attention ranks."""
    per_sequence = ar.kv_cache_bytes(m, context_tokens, kv_bytes)
    sequences = np.asarray(sequences, dtype=float) if ar.ndim_of(sequences) else float(sequences)  # a number: floats
    return sequences * per_sequence / _kv_ways(m, tensor_parallel, attention_dp)


def usable_memory_bytes(g: GPUSpec, reserve_fraction: float = MEMORY_RESERVE_FRACTION) -> float:
    """Memory for weights and KV cache: the GPU's memory less the runtime reserve."""
    return g.memory_bytes * (1.0 - reserve_fraction)


def memory_per_gpu_bytes(m: ModelSpec, precision_name: str, batch, context_tokens, tensor_parallel: int,
                         kv_bytes: float | None = None, attention_dp: bool = False):
    """Weights split over TP ranks (or, with DP attention, experts over EP ranks) plus the KV cache of
    `batch` sequences at `context_tokens` (KV in `kv_bytes` per element, else the activation dtype)."""
    weights = _weights_per_gpu(m, precision_name, tensor_parallel, attention_dp)
    kv = numerics(precision_name).kv_bytes if kv_bytes is None else kv_bytes
    return weights + kv_bytes_per_gpu(m, batch, context_tokens, tensor_parallel, kv, attention_dp)


@by_identity()  # pure: a catalog model, a precision's name and a split, asked by every memory check
def _weights_per_gpu(m: ModelSpec, precision_name: str, tensor_parallel: int, attention_dp: bool) -> float:
    return moe.weight_bytes_per_gpu(m, precision_name, moe.Split(tensor_parallel, attention_dp))


def min_tensor_parallel(m: ModelSpec, g: GPUSpec, precision_name: str, context_tokens: float,
                        kv_bytes: float | None = None, reserve_fraction: float = MEMORY_RESERVE_FRACTION,
                        attention_dp: bool = False) -> int | None:
    """Smallest power-of-two TP (<= 64) at which batch 1 at `context_tokens` fits, else None."""
    for tp in (1, 2, 4, 8, 16, 32, 64):
        if memory_per_gpu_bytes(m, precision_name, 1, context_tokens, tp, kv_bytes, attention_dp) \
                <= usable_memory_bytes(g, reserve_fraction):
            return tp
    return None


def check_fits(m: ModelSpec, g: GPUSpec, precision_name: str, batch: int, context_tokens: float,
               tensor_parallel: int, kv_bytes: float | None = None,
               reserve_fraction: float = MEMORY_RESERVE_FRACTION, attention_dp: bool = False) -> float:
    """Memory needed per GPU in bytes; DoesNotFitError if over the usable memory."""
    need = float(memory_per_gpu_bytes(m, precision_name, batch, context_tokens, tensor_parallel, kv_bytes,
                                      attention_dp))
    have = usable_memory_bytes(g, reserve_fraction)
    if need <= have:
        return need
    weights = moe.weight_bytes_per_gpu(m, precision_name, moe.Split(tensor_parallel, attention_dp))
    tp_fit = min_tensor_parallel(m, g, precision_name, context_tokens, kv_bytes, reserve_fraction, attention_dp)
    hint = f"tensor_parallel={tp_fit}" if tp_fit and tp_fit > tensor_parallel else "more tensor parallelism"
    raise DoesNotFitError(
        f"{m.name} {precision_name} needs {need / 1e9:.1f} GB per GPU at tensor_parallel={tensor_parallel} "
        f"(weights {weights / 1e9:.1f} GB + KV cache {(need - weights) / 1e9:.1f} GB for batch {batch} x "
        f"{context_tokens:,.0f} tokens) but one {g.name} has {have / 1e9:.1f} GB usable "
        f"({g.memory_bytes / 1e9:.1f} GB less a {reserve_fraction:.0%} runtime reserve). "
        f"Try {hint}, a lower precision (fp8, int8, int4-weight-only), an fp8 KV cache, a smaller batch "
        f"or a GPU with more memory.")


def tp_allreduce_s(m: ModelSpec, tokens, tensor_parallel: int, link: comm.Link, activation_bytes: float = 2.0):
    """Time of the tensor-parallel all-reduces in one forward pass over `tokens` tokens.

    Megatron-LM (Shoeybi et al. 2019, Sec. 3) all-reduces twice per layer (after attention and
    after the MLP), each of tokens x dim activations: 2 L x collective_s(all-reduce), i.e.
    2 L [latency + 2 (tp-1)/tp x tokens x dim x bytes / bus bandwidth] (communication.py).
    """
    if tensor_parallel == 1:
        return np.zeros(np.shape(tokens))
    buffer_bytes = (float(tokens) if type(tokens) in (int, float) else np.asarray(tokens, dtype=float)) * m.dim \
        * activation_bytes  # a number stays a float: one scalar answer without numpy's per-call cost
    return 2 * m.n_layers * comm.collective_s("all_reduce", buffer_bytes, tensor_parallel, link)


@dataclass(frozen=True, eq=False)  # eq=False: hashed by identity (simulation caches key on it)
class Replica:
    """One replica's model, GPU, formats, rates and link: everything a step time needs."""

    m: ModelSpec
    g: GPUSpec
    precision: str
    kv_cache_dtype: str
    tp: int
    kern: perf.Kernels  # uncertain rates as (p10, p50, p90)
    num: perf.Numerics
    link: comm.Link
    reserve_fraction: float
    attention_dp: bool = False  # DP attention + EP MoE over the tp GPUs (moe_serving.py)
    kv_free_fraction: float = 1.0  # share of the memory after weights and reserve the KV cache takes (kv_budget.py)
    moe_profile_tokens: int = 0  # max_num_tokens of the profiling forward whose MoE workspace precedes the KV cache
    moe_op: tuple | None = None  # the engine's fused-MoE op (t0, e) at decode-sized steps here (moe_decode.py)
    graph_batch: int = 0  # tokens per rank of the largest CUDA graph whose pool precedes the KV cache (kv_budget.py)

    usable_bytes = property(lambda self: usable_memory_bytes(self.g, self.reserve_fraction))

    def cache_key(self) -> tuple:
        """Everything a step time depends on, hashable: equal keys give equal simulations."""
        rates = tuple((k, tuple(np.ravel(v).tolist())) for k, v in dataclasses.asdict(self.kern).items())
        return (self.m, self.g.memory_bytes, self.precision, self.kv_cache_dtype, self.tp, rates, dataclasses.astuple(self.num),
                self.link, self.reserve_fraction, self.attention_dp, self.kv_free_fraction, self.moe_profile_tokens, self.moe_op,
                self.graph_batch)

    split = property(lambda self: moe.Split(self.tp, self.attention_dp))  # how its GPUs share a pass (TP, or DP attn + EP)


def replica(m: ModelSpec, g: GPUSpec, precision_name: str, tensor_parallel: int, setup: EngineSetup,
            kv_cache_dtype: str | None = None, attention_dp: bool = False) -> Replica:
    """A Replica on `setup`'s engine (KV dtype: `kv_cache_dtype`, else the engine's default; `attention_dp`:
    data-parallel attention with expert-parallel MoE over the tensor_parallel GPUs)."""
    if attention_dp:
        moe.split(m, tensor_parallel, attention_dp)  # refuses DP attention on a dense model
    return _replica(m, g, lookup_precision(precision_name).name, tensor_parallel, setup, kv_cache_dtype,
                    tp_link(g, tensor_parallel), bool(attention_dp))


@by_identity()  # a pure function of specs, names and a setup built once (engine._setup): one Replica for them all
def _replica(m: ModelSpec, g: GPUSpec, prec: str, tensor_parallel: int, setup: EngineSetup, kv_cache_dtype: str | None,
             link: comm.Link, attention_dp: bool) -> Replica:
    kv, kern = setup.kv_cache_dtype(prec, kv_cache_dtype), kernels(g, prec, setup.efficiencies, setup.stream_factor(prec))
    kern = decode_attention.on_kernels(dataclasses.replace(kern, moe_layer_overhead_s=setup.moe_layer_overhead_s,
        dense_gemm_shape=setup.dense_gemm_shape, grouped_gemm_factor=setup.grouped_gemm_factor, gemm_overhead_s=setup.gemm_fixed_s,
        gemm_efficiency=kern.gemm_efficiency * setup.gemm_compute_share(prec)), m, g, setup)
    kern = context_attention.on_kernels(kern, m, g, setup, kv)  # prefill attention at TensorRT-LLM's measured rate
    return Replica(m, g, prec, kv, tensor_parallel, kern, numerics(prec, kv), link, setup.memory_reserve_fraction,
                   attention_dp, setup.kv_free_fraction, setup.moe_profile_tokens, moe_decode.op_constants(g, setup.engine),
                   setup.cuda_graph_batch)


def fits(r: Replica, batch: int, context_tokens: float) -> float:
    """Memory per GPU of `batch` sequences at `context_tokens` on `r`; DoesNotFitError when over."""
    return check_fits(r.m, r.g, r.precision, batch, context_tokens, r.tp, r.num.kv_bytes, r.reserve_fraction,
                      r.attention_dp)


def prefill_s(r: Replica, batch, prompt_tokens: float):
    """Prefill of `batch` prompts on one replica (perf.prefill_s) plus its tensor-parallel all-reduces
    (under DP attention: the busiest rank's prompts, and the gathers around each MoE layer)."""
    batch, s = np.asarray(batch, dtype=float), r.split
    compute = perf.prefill_s(r.m, r.kern, r.num, batch=s.local(batch), prompt_tokens=prompt_tokens, tp=s.tp, ep=s.ep)
    return compute + collectives_s(r, batch * prompt_tokens) + moe.step_extra_s(r, r.kern, batch * prompt_tokens, None)


def collectives_s(r: Replica, tokens):
    """Communication of one forward over `tokens` tokens: TP all-reduces, or DP attention's gathers."""
    if r.attention_dp:
        return moe.dp_collectives_s(r.m, tokens, r.split, r.link, r.num.activation_bytes, r.precision, r.g.name)
    return tp_allreduce_s(r.m, tokens, r.tp, r.link, r.num.activation_bytes)


def decode_step_s(r: Replica, batch, context_tokens: float):
    """One decode step of `batch` sequences (perf.decode_step_s) plus all-reduces; and whether
    it is memory-bound (at each quantile)."""
    s = r.split
    step, memory_bound = perf.decode_step_and_bound(r.m, r.kern, r.num, batch=s.local(batch),
                                                    context_tokens=context_tokens, tp=s.tp, ep=s.ep)
    return step + collectives_s(r, batch) + moe.step_extra_s(r, r.kern, batch, None), memory_bound


_stacked = forward_table.stacked_peaks  # the prefill, the decode step and its roofline bound on a leading axis of 4
_table = by_identity()(lambda r: forward_table.table(r.m, r.tp, _stacked(r.kern), r.num))  # a replica's, built once
_kv_ways = by_identity()(lambda m, tp, dp: moe.Split(tp, dp).kv_ways(m))  # pure: asked by every memory check


def prefill_and_decode_s(r: Replica, batch: int, prompt_tokens: float, context_tokens: float):
    """(prefill_s, decode_step_s, decode memory-bound), each three values at the (p10, p50, p90) rates, equal to prefill_s
    and decode_step_s: one pass over (prefill, decode step, at unlimited FLOP/s, at unlimited bandwidth)."""
    if ar.ndim_of(r.kern.peak_flops_per_s) or ar.ndim_of(r.kern.peak_bytes_per_s) or r.attention_dp:
        both = (prefill_s(r, batch, prompt_tokens), *decode_step_s(r, batch, context_tokens))  # peaks already arrays,
        return tuple(np.asarray(v).tolist() for v in both)  # or DP attention's busiest rank: the two passes as they are
    pre = passes.prefill_work(r.m, r.num.kv_bytes, batch=batch, prompt_tokens=prompt_tokens)
    dec = passes.decode_work(r.m, r.num.kv_bytes, batch=batch, context_tokens=context_tokens)
    dec["logit_rows"] = batch * dec["new_tokens"]  # forward_s's default: a logit per row
    if (tab := _table(r)) is not None:  # a dense model: the four passes as one table of coefficients (forward_table.py)
        step = forward_table.rows_of(tab, **dec)
        t = forward_table.forward_s(tab, [forward_table.rows_of(tab, **pre), step, step, step]).tolist()
    else:
        both = [(float(pre[k]), float(dec[k])) for k in pre]  # an input the two passes share stays a number
        work = {k: a if a == b else np.array([[a], [b], [b], [b]]) for k, (a, b) in zip(pre, both)}  # (4, 1)
        t = perf.forward_s(r.m, _stacked(r.kern), r.num, **work, tp=r.tp).tolist()  # (4, rates)
    c_pre, c_dec = (collectives_s(r, n) + moe.step_extra_s(r, r.kern, n, None) for n in (batch * prompt_tokens, batch * 1.0))
    add = (lambda xs, c: [x + float(c) for x in xs]) if tab is not None else (lambda xs, c: np.add(xs, c).tolist())
    c_pre = c_pre + context_attention.qkv_s(r.m, r.kern, batch * prompt_tokens, r.tp)  # floats; a MoE extra: a band
    return add(t[0], c_pre), add(t[1], c_dec), [a >= b for a, b in zip(t[2], t[3])]


def mean_decode_context(prompt_tokens: float, output_tokens: float) -> float:
    """Average keys attended per decode step: the prompt plus half the output generated so far."""
    return prompt_tokens + output_tokens / 2.0


def decode_context(prompt_tokens, output_tokens, static_kv_cache: bool):
    """Keys one decode step's attention reads, averaged over the output: the mean context, or with a static
    cache (gpt-fast's KVCache.update returns the whole max_seq_length buffer and SDPA masks it) every
    allocated position: prompt + output."""
    return prompt_tokens + output_tokens if static_kv_cache else mean_decode_context(prompt_tokens, output_tokens)


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
    engine: str = "vllm"
    kv_cache_dtype: str = "bf16"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def common_assumptions(r: Replica, setup: EngineSetup, kv_requested: bool = False) -> list[Assumption]:
    """The assumptions every inference and serving estimate shares."""
    return list(_common_assumptions(r, setup, kv_requested))


@by_identity()  # a pure function of a replica and a setup, each built once (_replica, engine._setup)
def _common_assumptions(r: Replica, setup: EngineSetup, kv_requested: bool) -> tuple[Assumption, ...]:
    p, eff = lookup_precision(r.precision), setup.efficiencies
    out = [
        Assumption("precision", p.name, f"{p.bytes_per_weight:g} B/weight, {p.compute_dtype} peak, "
                   f"embeddings and head {p.embedding_bytes:g} B", p.description),
        *setup.assumptions(p.name, r.kv_cache_dtype, kv_requested),
        Assumption("efficiency_source", eff.source, "", "estimate/engine.py: explicit > calibration > engine profile"),
        Assumption("performance_model", "layer-wise: GEMMs, attention, element-wise, overheads", "",
                   "planner/estimate/perf.py"),
        *eff.assumptions(), *context_attention.assumptions(r, setup),  # measured attention kernels, where they apply
    ]
    if r.tp > 1:
        out.append(Assumption(
            "tp_allreduce", f"2 L x [{r.link.latency_s * 1e6:.3g} us + {comm.STEPS['all_reduce'](r.tp)} x "
            f"{r.link.hop_latency_s * 1e6:.2g} us + 2(tp-1)/tp x tokens x dim x {r.num.activation_bytes:g} B / "
            f"{r.link.bus_bytes_per_s / 1e9:.3g} GB/s] over {r.link.name}", "s per forward",
            "Megatron-LM Sec. 3; NCCL latency model and nccl-tests bus bandwidth (estimate/communication.py)"))
    if r.m.is_moe:
        out.append(Assumption("moe_experts_read", "n (1 - (1 - k/n)^batch) per MoE layer", "experts",
                              "uniform routing; skewed routers read fewer"))
        out.append(Assumption("moe_parallelism", f"DP attention + EP{r.tp}" if r.attention_dp else f"TP{r.tp} experts",
                              "", "estimate/moe_serving.py (SGLang DP/DPA guide)"))
    return tuple(out)


_BATCH, _TP = V.Whole(1, L.MAX_BATCH_SIZE), V.Whole(1, L.MAX_TENSOR_PARALLEL)  # checks built once, run per call
_TOKENS = V.Real(0.0, L.MAX_TOKENS_PER_REQUEST, lo_open=True, unit="tokens")


def _validate(model, gpu, precision, batch_size, prompt_tokens, output_tokens, tensor_parallel, efficiencies,
              engine, kv_cache_dtype, attention_dp=False) -> tuple:
    """Every argument checked (core/validate.py) before any work; returns the cleaned numbers."""
    V.spec_or_name("model", model, ModelSpec), V.spec_or_name("gpu", gpu, GPUSpec), V.name_text("precision", precision)
    V.name_text("engine", engine), V.name_text("kv_cache_dtype", kv_cache_dtype, optional=True)
    V.instance("efficiencies", efficiencies, (Efficiencies, type(None)), "an Efficiencies or None")
    attention_dp is False or V.flag("attention_dp", attention_dp)  # the default skips the check's call
    return (_BATCH("batch_size", batch_size), _TOKENS("prompt_tokens", prompt_tokens),
            _TOKENS("output_tokens", output_tokens), _TP("tensor_parallel", tensor_parallel))


def inference_speed(*, model: str | ModelSpec, gpu: str | GPUSpec, precision: str = "bf16",
                    batch_size: int = 1, prompt_tokens: float = 512, output_tokens: float = 256,
                    tensor_parallel: int = 1, efficiencies: Efficiencies | None = None, engine: str = "vllm",
                    kv_cache_dtype: str | None = None, attention_dp: bool = False) -> InferenceSpeed:
    """Prefill and decode speed of `model` on `tensor_parallel` x `gpu` at a fixed batch, on `engine`
    (vllm, tensorrt-llm, sglang, torch-compile, roofline) with the KV cache in `kv_cache_dtype`
    (bf16, fp8, int8; default: the engine's default at the precision); `attention_dp`: an MoE model
    with data-parallel attention and expert-parallel experts over the tensor_parallel GPUs."""
    batch_size, prompt_tokens, output_tokens, tensor_parallel = _validate(
        model, gpu, precision, batch_size, prompt_tokens, output_tokens, tensor_parallel, efficiencies, engine,
        kv_cache_dtype, attention_dp)
    m, g = _resolve(model, gpu)
    setup = resolve_engine(engine, g, efficiencies)
    r = replica(m, g, precision, tensor_parallel, setup, kv_cache_dtype, attention_dp)
    need = fits(r, batch_size, prompt_tokens + output_tokens)
    pre, step, memory_bound = prefill_and_decode_s(r, batch_size, prompt_tokens,
                                                   decode_context(prompt_tokens, output_tokens, setup.static_kv_cache))
    pre_band, step_band = Band._sorted(pre), Band._sorted(step)  # to_band of Python floats, without its type check
    return built(
        InferenceSpeed, model=m.name, gpu=g.name, precision=r.precision, batch_size=batch_size,
        prompt_tokens=prompt_tokens, output_tokens=output_tokens, tensor_parallel=tensor_parallel,
        prefill_s=pre_band, decode_step_s=step_band, ttft_s=pre_band, tpot_s=step_band,
        e2e_s=Band._sorted([e2e_s(a, b, output_tokens) for a, b in zip(pre, step)]),
        tokens_per_s_per_sequence=Band._sorted([1.0 / x for x in step]),
        tokens_per_s_total=Band._sorted([batch_size / x for x in step]),
        bound="memory" if memory_bound[1] else "compute",
        memory_per_gpu_bytes=need, usable_memory_bytes=r.usable_bytes,
        efficiency_source=setup.efficiencies.source,
        assumptions=_common_assumptions(r, setup, kv_cache_dtype is not None),
        engine=setup.engine, kv_cache_dtype=r.kv_cache_dtype)

