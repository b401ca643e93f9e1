"""The scheduler limits `trtllm-bench throughput` picks itself from the dataset when it is not given them.

The perf overview runs `trtllm-bench --tp N [--ep N] --model M throughput --dataset D --backend pytorch
--extra_llm_api_options llm_options.yml` (docs/source/performance/perf-overview.md, "Running the Benchmark", read
2026-12-08 at commit 00f37686): no --max_batch_size, no --max_num_tokens, and the overview's llm_options.yml sets
neither. The PyTorch backend's settings then come from get_settings (tensorrt_llm/bench/benchmark/utils/general.py,
commit 0171265e, read 2026-12-08): "Max batch size and max num tokens not provided. Using heuristics":
get_benchmark_engine_settings (bench/build/build.py, commit 000a01de) calls calc_engine_setting for the tuned
quantisations (no quantisation, FP8, FP8 block scales, NVFP4; any other keeps BuildConfig's defaults) with the
dataset's average ISL and OSL and the --kv_cache_free_gpu_mem_fraction, and without chunked prefill (the bench's
default) raises max_num_tokens to at least max ISL + max_batch_size. calc_engine_setting and finetune_setting
(bench/build/tuning.py, commit 04cba882, read 2026-12-08), in GiB (2^30 bytes):

  bytes/token  = 2 x attention layers x max(tp, kv heads) x head size x KV bytes    (the KV heads of the TP group)
  engine size  = checkpoint parameters x bytes per weight                            (1 FP8, 0.5 NVFP4, else 2)
  requests     = (GPU memory x tp x pp - engine size) x fraction / (bytes/token x (ISL + OSL))
  raw_bs       = min(requests, 4096) / pp;  raw_tokens = min(raw_bs x (1 + ISL / OSL), 32768)
  max_bs       = max(64, 32 ceil(raw_bs / 32)) under 256, 128 ceil(raw_bs / 128) under 1024, else 256 ceil(/256)
  max_tokens   = max(2048, 256 ceil(raw_tokens / 256)) under 4096, 512 ceil(/512) under 8192, else 1024 ceil(/1024)

The result is the LLM's max_batch_size and max_num_tokens, which under enable_attention_dp each attention rank applies
to itself (kv_budget.py), and max_num_tokens also sizes the profiling forward whose fused-MoE workspace precedes the KV
cache (kv_budget.engine_workspace_bytes). The heuristic knows nothing of DP attention or expert parallelism: it counts
every weight once over the tp x pp GPUs and the TP group's KV heads. Bias: the GPU memory is the catalog's (nvidia-smi
reports a little less: 79.6 GiB on an H100 80GB), the parameter count the catalog's (the checkpoint's safetensors count
adds the quantisation scales and, for Llama 4, the vision tower).
"""
from __future__ import annotations

import dataclasses
import math

from ..catalog.specs import GPUSpec, ModelSpec
from ..catalog.specs import precision as lookup_precision
from ..core.memo import by_identity
from . import arithmetic as ar
from . import cuda_graph_pool as graphs
from .engine import EngineSetup

GIB = 2 ** 30
TUNED_BYTES_PER_WEIGHT = {"fp32": 2.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0}  # tuning.BYTES_PER_ELEM (NO_QUANT: 2)
KV_BYTES = {"fp8": 1.0}  # BYTES_PER_ELEM of the KV quantisation; anything else 2
MAX_REQUESTS = 4096  # "Cap total batch size to avoid decoder buffer size becoming too large"
MAX_TOKENS = 32768  # "Cap num tokens to avoid TRT activation buffer becoming too large"
DEFAULT_LIMITS = (2048, 8192)  # BuildConfig.max_batch_size, max_num_tokens: the untuned quantisations' settings


def kv_gib_per_token(m: ModelSpec, tp: int, kv_cache_dtype: str) -> float:
    """calc_engine_setting's byte_per_token (GiB): K and V of every layer over the TP group's max(tp, kv heads)."""
    return 2.0 * m.n_layers * max(tp, m.n_kv_heads) * m.head_dim * KV_BYTES.get(kv_cache_dtype, 2.0) / GIB


def kv_max_requests(m: ModelSpec, g: GPUSpec, precision: str, tp: int, kv_cache_dtype: str, isl: float, osl: float,
                    kv_fraction: float, pp: int = 1) -> float:
    """Requests of ISL + OSL tokens the heuristic fits in its KV share of the GPUs' memory less the engine."""
    engine_gib = ar.total_params(m) * TUNED_BYTES_PER_WEIGHT[lookup_precision(precision).name] / GIB
    cache_gib = (g.memory_bytes / GIB * tp * pp - engine_gib) * kv_fraction
    return cache_gib / (kv_gib_per_token(m, tp, kv_cache_dtype) * (isl + osl))


def finetune_setting(kv_requests: float, isl: float, osl: float, pp: int = 1) -> tuple[int, int]:
    """tuning.finetune_setting (optimistic tuning): (max_batch_size, max_num_tokens) from the requests that fit."""
    raw_bs = min(kv_requests, MAX_REQUESTS) / pp
    raw_tokens = min(raw_bs * (1.0 + isl / osl), MAX_TOKENS)
    if raw_bs < 256:
        bs = max(64, 32 * math.ceil(raw_bs / 32))
    else:
        bs = (128 if raw_bs < 1024 else 256) * math.ceil(raw_bs / (128 if raw_bs < 1024 else 256))
    if raw_tokens < 4096:
        tokens = max(2048, 256 * math.ceil(raw_tokens / 256))
    else:
        tokens = (512 if raw_tokens < 8192 else 1024) * math.ceil(raw_tokens / (512 if raw_tokens < 8192 else 1024))
    return int(bs), int(tokens)


def bench_limits(m: ModelSpec, g: GPUSpec, precision: str, tp: int, kv_cache_dtype: str, isl: float, osl: float,
                 kv_fraction: float, chunked: bool) -> tuple[int, int]:
    """(max_batch_size, max_num_tokens) trtllm-bench runs a uniform ISL/OSL dataset with (get_settings): the tuned
    heuristic, or BuildConfig's defaults for an untuned quantisation; unchunked, max_num_tokens >= ISL + max_bs."""
    if lookup_precision(precision).name not in TUNED_BYTES_PER_WEIGHT:
        bs, tokens = DEFAULT_LIMITS
    else:
        bs, tokens = finetune_setting(kv_max_requests(m, g, precision, tp, kv_cache_dtype, isl, osl, kv_fraction),
                                      isl, osl)
    return bs, (tokens if chunked else max(tokens, int(math.ceil(isl)) + bs))


@by_identity()  # one setup per (setup, limits): the replica and step tables built from it cache on it
def _with_limits(setup: EngineSetup, batch_cap: int, chunk_tokens: int) -> EngineSetup:
    return dataclasses.replace(setup, batch_cap=batch_cap, chunk_tokens=chunk_tokens,
                               cuda_graph_batch=graphs.graph_batch(batch_cap, chunk_tokens))


def bench_setup(setup: EngineSetup, m: ModelSpec, g: GPUSpec, precision: str, tp: int, kv_cache_dtype: str,
                isl: float, osl: float) -> EngineSetup:
    """`setup` with the batch cap and token budget its benchmark picks from the dataset where its profile says the
    benchmark tunes them (TensorRT-LLM: bench_tunes_limits), and the largest CUDA graph the benchmark captures with
    them (cuda_graph_pool.py); else `setup` itself."""
    if not (setup.profile and setup.profile.bench_tunes_limits):
        return setup
    bs, tokens = bench_limits(m, g, precision, tp, kv_cache_dtype, isl, osl, setup.kv_free_fraction,
                              setup.chunked_prefill)
    return _with_limits(setup, bs, tokens)
