"""Maximum throughput of one replica: output tokens per second under unlimited load.

The benchmark-style question (vLLM's benchmark_throughput, `trtllm-bench throughput`, MLPerf
Offline): every request is queued at once, all of one length, so the replica runs in lockstep waves
(offline.py): a wave's batch is the engine's cap or the sequences whose whole context fits the KV cache,
its prompts are prefilled, then it decodes over the growing context. The answer is offline.offline_state
on the performance model, at each quantile of the rates, so it carries the model's uncertainty as a Band.
Where the engine's benchmark picks its own batch cap and token budget from the ISL/OSL (`trtllm-bench throughput`
without --max_batch_size / --max_num_tokens, as the perf overview runs it), those are used unless max_batch_size is
given (trtllm_bench.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..calibration.efficiency import Efficiencies
from ..catalog import lookup as catalog
from ..catalog.specs import GPUSpec, ModelSpec
from ..core.band import Band
from ..core.errors import DoesNotFitError, InputError
from ..core import limits as L
from ..core import validate as V
from ..core.validate import require_positive
from ..core.provenance import Assumption
from ..core.results import ResultMixin
from . import inference as inf
from . import kv_budget
from . import load as ld
from . import search as sr
from . import trtllm_bench
from .engine import resolve_engine
from .offline import offline_state

MAX_REQUESTS = 10_000_000  # an offline benchmark's request count: far above any published run (judgement)


@dataclass(frozen=True)
class Throughput(ResultMixin):
    """One replica under unlimited load (steady state)."""

    model: str
    gpu: str
    precision: str
    kv_cache_dtype: str
    engine: str
    tensor_parallel: int
    prompt_tokens: float
    output_tokens: float
    tokens_per_s: Band  # output tokens per second of the replica
    tokens_per_s_per_gpu: Band
    requests_per_s: Band
    tpot_s: Band  # one engine step at that batch (prompts mixed in)
    batch_size: float  # sequences decoding at once (p50 rates)
    batch_cap: int  # the scheduler's cap (the engine's, or max_batch_size)
    max_batch_kv: int  # sequences whose KV cache fits
    limited_by: str
    efficiency_source: str
    assumptions: tuple[Assumption, ...]


def _one(m: ModelSpec, g: GPUSpec, precision: str, tp: int, setup, kv_cache_dtype, prompt: float, output: float,
         cap: int | None, attention_dp: bool = False, num_requests: int | None = None
         ) -> tuple[list[ld.Steady], inf.Replica, int, int]:
    if cap is None:  # the benchmark's own limits where it picks them from the dataset (trtllm_bench.py)
        kv = setup.kv_cache_dtype(precision, kv_cache_dtype)
        setup = trtllm_bench.bench_setup(setup, m, g, precision, tp, kv, prompt, output)
        cap = setup.batch_cap
    r = inf.replica(m, g, precision, tp, setup, kv_cache_dtype, attention_dp)
    context = prompt + output  # a lockstep wave holds every sequence's whole context at its end (offline.py)
    kv_limit = sr.max_batch_for_kv(r, context)
    if kv_limit < 1:
        inf.fits(r, 1, context)  # raises the DoesNotFitError naming the memory
    cap = kv_budget.replica_batch_cap(cap, setup, tp, attention_dp)
    steady = [offline_state(ld.load_for(r, setup, cap, prompt, output, quantile=q), num_requests) for q in (0, 1, 2)]
    return steady, r, kv_limit, cap


def _limited_by(batch: float, cap: int, kv_limit: int, chunked: bool) -> str:
    if batch >= cap - 1e-9:
        return f"max_batch_size={cap}"
    if batch >= kv_limit - 1:
        return "KV-cache memory"
    return "the prefill token budget per step" if chunked else "KV-cache memory"


def max_throughput(*, model: str | ModelSpec, gpu: str | GPUSpec, precision: str = "bf16",
                   kv_cache_dtype: str | None = None, engine: str = "vllm", tensor_parallel: int | None = None,
                   prompt_tokens: float = 512, output_tokens: float = 256, max_batch_size: int | None = None,
                   efficiencies: Efficiencies | None = None, attention_dp: bool = False,
                   num_requests: int | None = None) -> Throughput:
    """Output tokens per second of one replica with unlimited requests queued.

    tensor_parallel: None picks the degree (1, 2, 4, 8) with the most tokens per second per GPU;
    max_batch_size: the scheduler's cap on running sequences (default: the engine's, or on TensorRT-LLM the one
    trtllm-bench picks with its max_num_tokens from the lengths, trtllm_bench.py; under DP attention on an
    engine that caps each attention rank, TensorRT-LLM's, the replica runs tensor_parallel times it: kv_budget.py);
    attention_dp: an MoE model served with data-parallel attention and expert-parallel MoE over the
    tensor_parallel GPUs (SGLang --enable-dp-attention, TensorRT-LLM enable_attention_dp; moe_serving.py);
    num_requests: the benchmark's request count (None: unlimited); fewer than a full last wave lower the throughput
    (offline.offline_state).
    """
    V.spec_or_name("model", model, ModelSpec), V.spec_or_name("gpu", gpu, GPUSpec), V.name_text("precision", precision)
    V.name_text("engine", engine), V.name_text("kv_cache_dtype", kv_cache_dtype, optional=True)
    V.positive("prompt_tokens", prompt_tokens, L.MAX_TOKENS_PER_REQUEST, "tokens")
    V.positive("output_tokens", output_tokens, L.MAX_TOKENS_PER_REQUEST, "tokens")
    V.Whole(1, L.MAX_TENSOR_PARALLEL, optional=True)("tensor_parallel", tensor_parallel)
    V.Whole(1, L.MAX_BATCH_SIZE, optional=True)("max_batch_size", max_batch_size)
    V.Whole(1, MAX_REQUESTS, optional=True)("num_requests", num_requests)
    V.instance("efficiencies", efficiencies, (Efficiencies, type(None)), "an Efficiencies or None")
    V.flag("attention_dp", attention_dp)
    require_positive("prompt_tokens", prompt_tokens)
    require_positive("output_tokens", output_tokens)
    for name, v in (("tensor_parallel", tensor_parallel), ("max_batch_size", max_batch_size),
                    ("num_requests", num_requests)):
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1):
            raise InputError(name, f"must be a whole number >= 1, got {v!r}")
    m, g = catalog.model(model), catalog.gpu(gpu)
    setup = resolve_engine(engine, g, efficiencies)
    cap = max_batch_size  # None: the engine's default, or its benchmark's own (trtllm_bench.py)
    degrees = [tensor_parallel] if tensor_parallel else list(sr.TP_DEGREES)
    found, error = [], None
    for tp in degrees:
        try:
            steady, r, kv_limit, replica_cap = _one(m, g, precision, tp, setup, kv_cache_dtype, prompt_tokens,
                                                    output_tokens, cap, attention_dp, num_requests)
        except DoesNotFitError as e:
            error = e
            continue
        found.append((steady[1].output_tokens_per_s / tp, tp, steady, r, kv_limit, replica_cap))
    if not found:
        raise error
    _, tp, steady, r, kv_limit, cap = max(found, key=lambda f: (f[0], -f[1]))
    band = lambda xs: Band(*sorted(xs))  # noqa: E731
    tuned = setup if max_batch_size else trtllm_bench.bench_setup(setup, m, g, precision, tp, r.kv_cache_dtype,
                                                                   prompt_tokens, output_tokens)
    limits = () if tuned is setup else (Assumption(
        "scheduler_limits", f"max_batch_size {tuned.batch_cap}, max_num_tokens {tuned.chunk_tokens}", "per scheduler",
        "picked by the benchmark from the ISL/OSL (trtllm-bench's tuning heuristic: estimate/trtllm_bench.py)"),)
    tokens = [s.output_tokens_per_s for s in steady]
    return Throughput(
        model=m.name, gpu=g.name, precision=r.precision, kv_cache_dtype=r.kv_cache_dtype, engine=setup.engine,
        tensor_parallel=tp, prompt_tokens=float(prompt_tokens), output_tokens=float(output_tokens),
        tokens_per_s=band(tokens), tokens_per_s_per_gpu=band([t / tp for t in tokens]),
        requests_per_s=band([s.requests_per_s for s in steady]), tpot_s=band([s.step_s for s in steady]),
        batch_size=steady[1].batch, batch_cap=cap, max_batch_kv=kv_limit,
        limited_by=_limited_by(steady[1].batch, cap, kv_limit, setup.chunked_prefill),
        efficiency_source=setup.efficiencies.source,
        assumptions=(*inf.common_assumptions(r, tuned, kv_cache_dtype is not None),  # the limits the run used
                     Assumption("throughput_model", "offline benchmark: all requests at once, lockstep waves", "",
                                "estimate/offline.py (a wave's KV at prompt + output; prefill, then decode)"), *limits))
