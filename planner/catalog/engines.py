"""Serving-engine profiles (data/engines.toml): how fast an engine runs on one GPU vendor.

An `EngineProfile` holds raw fields with their sources: the performance model's rates (as
(p10, p50, p90) triples), the scheduler's cost per step, the KV-cache dtype per precision, the
batch cap, chunked prefill and how KV memory is admitted. `engine_profile(name, vendor)` finds
one; calibration/efficiency.py turns its rates into `Efficiencies`.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from ..core.errors import PlannerError, UnknownNameError
from ..core.provenance import Source
from .lookup import _read, _source
from .specs import KV_CACHE_DTYPES, PRECISIONS, GPUSpec

ENGINES = ("vllm", "tensorrt-llm", "sglang", "torch-compile", "roofline")
VENDORS = ("nvidia", "amd")
ADMISSION = ("on_demand", "reserve")
DEFAULT_ENGINE = "vllm"
_KEYS = {"name", "vendor", "memory", "gemm", "attention", "elementwise", "gemm_half_rows", "pass_overhead_s",
         "weight_stream", "kv_cache_dtype", "max_batch_size", "max_batch_size_large_memory", "large_memory_gib",
         "large_memory_excludes", "chunked_prefill", "prefill_chunk_tokens", "prefill_chunk_tokens_large_memory",
         "kv_admission", "memory_reserve_fraction", "moe_layer_overhead_s",
         "grouped_gemm_factor", "static_kv_cache", "kv_free_fraction", "batch_cap_per_dp_rank", "moe_workspace_profiled",
         "bench_tunes_limits", "sources"}
# Every entry must cite these (tests/test_engines.py checks each engine x vendor).
SOURCED = ("memory", "gemm", "attention", "pass_overhead_s", "weight_stream", "kv_cache_dtype", "max_batch_size",
           "chunked_prefill", "kv_admission", "memory_reserve_fraction")


@dataclass(frozen=True)
class EngineProfile:
    """One engine on one GPU vendor (raw fields; see data/engines.toml for their meaning)."""

    name: str
    vendor: str
    memory: tuple[float, float, float]
    gemm: tuple[float, float, float]
    attention: tuple[float, float, float]
    pass_overhead_s: float
    weight_stream: dict[str, float]
    kv_cache_dtype: dict[str, str]  # precision -> KV dtype; missing: the activation dtype
    max_batch_size: int
    chunked_prefill: bool
    prefill_chunk_tokens: int
    kv_admission: str
    memory_reserve_fraction: float
    max_batch_size_large_memory: int = 0  # 0: no change on large GPUs
    prefill_chunk_tokens_large_memory: int = 0
    large_memory_gib: float = 0.0
    large_memory_excludes: tuple[str, ...] = ()
    elementwise: float | None = None  # None: the literature default
    gemm_half_rows: float | None = None
    moe_layer_overhead_s: float = 0.0  # fixed cost per MoE layer of a forward (router, top-k, permute, launches)
    grouped_gemm_factor: float = 1.0  # routed experts' kernel rate relative to grouped_gemm.py's shape curve
    static_kv_cache: bool = False  # decode attention reads the whole allocated cache (prompt + output) every step
    kv_free_fraction: float = 1.0  # share of the memory left after weights and the reserve that the KV cache takes
    batch_cap_per_dp_rank: bool = False  # under DP attention max_batch_size caps each attention rank, not the replica
    moe_workspace_profiled: bool = False  # the profiling forward's fused-MoE workspace is taken before the KV cache
    bench_tunes_limits: bool = False  # its throughput benchmark picks max_batch_size and max_num_tokens (trtllm_bench)
    sources: dict[str, Source] = field(default_factory=dict)

    def _large(self, g: GPUSpec) -> bool:
        excluded = any(x.lower() in g.name.lower() for x in self.large_memory_excludes)
        return bool(self.large_memory_gib) and g.memory_bytes >= self.large_memory_gib * 2**30 and not excluded

    def batch_cap(self, g: GPUSpec) -> int:
        """The scheduler's default cap on running sequences on `g`."""
        return self.max_batch_size_large_memory if (self.max_batch_size_large_memory and self._large(g)) \
            else self.max_batch_size

    def chunk_tokens(self, g: GPUSpec) -> int:
        """Tokens one engine step may process on `g` (the chunked-prefill budget)."""
        return self.prefill_chunk_tokens_large_memory if (self.prefill_chunk_tokens_large_memory and self._large(g)) \
            else self.prefill_chunk_tokens

    def kv_dtype_for(self, precision_name: str, activation_dtype: str) -> str:
        """The engine's default KV-cache dtype at a precision."""
        return self.kv_cache_dtype.get(precision_name, activation_dtype)

    def stream_factor(self, precision_name: str) -> float:
        """Decode streaming rate of a weight format relative to dense 16-bit weights."""
        return self.weight_stream.get(precision_name, 1.0)


def _triple(d: dict, key: str, where: str) -> tuple[float, float, float]:
    v = d.get(key)
    if not (isinstance(v, list) and len(v) == 3 and all(isinstance(x, (int, float)) for x in v)
            and 0 < v[0] <= v[1] <= v[2] <= 1):
        raise PlannerError(f"{where}: {key} must be [p10, p50, p90] fractions in (0, 1], ascending; got {v!r}")
    return float(v[0]), float(v[1]), float(v[2])


def _check(p: EngineProfile, where: str) -> None:
    if p.name not in ENGINES or p.vendor not in VENDORS:
        raise PlannerError(f"{where}: engine must be one of {ENGINES} and vendor one of {VENDORS}")
    if p.kv_admission not in ADMISSION:
        raise PlannerError(f"{where}: kv_admission must be one of {ADMISSION}, got {p.kv_admission!r}")
    bad = [k for k in p.weight_stream if k not in PRECISIONS or not 0 < p.weight_stream[k] <= 1]
    bad += [k for k, v in p.kv_cache_dtype.items() if k not in PRECISIONS or v not in KV_CACHE_DTYPES]
    if bad:
        raise PlannerError(f"{where}: bad weight_stream or kv_cache_dtype entries {bad}")
    if not 0 <= p.memory_reserve_fraction < 1 or min(p.pass_overhead_s, p.moe_layer_overhead_s) < 0 \
            or p.max_batch_size < 1:
        raise PlannerError(f"{where}: memory_reserve_fraction, pass_overhead_s or max_batch_size out of range")
    missing = [k for k in SOURCED if k not in p.sources]
    for name in ("grouped_gemm_factor", "kv_free_fraction"):
        if not 0 < getattr(p, name) <= 1:
            raise PlannerError(f"{where}: {name} must be in (0, 1], got {getattr(p, name)!r}")
    missing += [k for k, v in (("moe_layer_overhead_s", p.moe_layer_overhead_s != 0),
                               ("grouped_gemm_factor", p.grouped_gemm_factor != 1),
                               ("static_kv_cache", p.static_kv_cache), ("kv_free_fraction", p.kv_free_fraction != 1),
                               ("batch_cap_per_dp_rank", p.batch_cap_per_dp_rank),
                               ("moe_workspace_profiled", p.moe_workspace_profiled),
                               ("bench_tunes_limits", p.bench_tunes_limits)) if v and k not in p.sources]
    if missing:
        raise PlannerError(f"{where}: no source for {missing}")


def profile_from_dict(d: dict) -> EngineProfile:
    """Build and check an EngineProfile from an engines.toml entry."""
    where = f"engine {d.get('name', '?')!r} ({d.get('vendor', '?')})"
    unknown = set(d) - _KEYS
    if unknown:
        raise PlannerError(f"{where}: unknown field(s) {sorted(unknown)}")
    try:
        p = EngineProfile(
            name=d["name"], vendor=d["vendor"], memory=_triple(d, "memory", where), gemm=_triple(d, "gemm", where),
            attention=_triple(d, "attention", where), pass_overhead_s=float(d["pass_overhead_s"]),
            weight_stream={k: float(v) for k, v in d["weight_stream"].items()},
            kv_cache_dtype=dict(d["kv_cache_dtype"]), max_batch_size=int(d["max_batch_size"]),
            chunked_prefill=bool(d["chunked_prefill"]), prefill_chunk_tokens=int(d["prefill_chunk_tokens"]),
            kv_admission=d["kv_admission"], memory_reserve_fraction=float(d["memory_reserve_fraction"]),
            max_batch_size_large_memory=int(d.get("max_batch_size_large_memory", 0)),
            prefill_chunk_tokens_large_memory=int(d.get("prefill_chunk_tokens_large_memory", 0)),
            large_memory_gib=float(d.get("large_memory_gib", 0)),
            large_memory_excludes=tuple(d.get("large_memory_excludes", ())),
            elementwise=d.get("elementwise"), gemm_half_rows=d.get("gemm_half_rows"),
            moe_layer_overhead_s=float(d.get("moe_layer_overhead_s", 0.0)),
            grouped_gemm_factor=float(d.get("grouped_gemm_factor", 1.0)),
            static_kv_cache=bool(d.get("static_kv_cache", False)),
            kv_free_fraction=float(d.get("kv_free_fraction", 1.0)),
            batch_cap_per_dp_rank=bool(d.get("batch_cap_per_dp_rank", False)),
            moe_workspace_profiled=bool(d.get("moe_workspace_profiled", False)),
            bench_tunes_limits=bool(d.get("bench_tunes_limits", False)),
            sources={k: _source(v, where) for k, v in d.get("sources", {}).items()})
    except KeyError as e:
        raise PlannerError(f"{where}: missing field {e.args[0]!r}") from None
    _check(p, where)
    return p


@functools.cache
def _profiles() -> dict[tuple[str, str], EngineProfile]:
    out = {}
    for d in _read("engines.toml")["engine"]:
        p = profile_from_dict(d)
        out[(p.name, p.vendor)] = p
    return out


def engine_profiles() -> list[EngineProfile]:
    """Every engine x vendor profile, in file order."""
    return list(_profiles().values())


def engine_name(name: str) -> str:
    """The canonical engine name; UnknownNameError (with close matches) otherwise."""
    known = _ENGINE_NAMES.get(name) if type(name) is str else None  # asked twice per estimate
    if known is not None:
        return known
    key = str(name).strip().lower().replace("_", "-")
    key = {"trt-llm": "tensorrt-llm", "trtllm": "tensorrt-llm", "gpt-fast": "torch-compile"}.get(key, key)
    if key not in ENGINES:
        raise UnknownNameError("engine", str(name), ENGINES)
    if type(name) is str and len(_ENGINE_NAMES) < 256:  # spellings of a known engine only: a bounded table
        _ENGINE_NAMES[name] = key
    return key


_ENGINE_NAMES: dict[str, str] = {}


def gpu_vendor(g: GPUSpec) -> str:
    """The catalog vendor as the engine table keys it ("nvidia", "amd", or another vendor's name)."""
    return g.vendor.strip().lower()


def engine_profile(name: str, g: GPUSpec) -> EngineProfile | None:
    """The profile of engine `name` on `g`'s vendor; None for a vendor no engine profile covers
    (Intel, Google: the literature defaults apply). TensorRT-LLM on a non-NVIDIA GPU is an error."""
    key, vendor = engine_name(name), gpu_vendor(g)
    found = _profiles().get((key, vendor))
    if found is None and key == "tensorrt-llm" and vendor in VENDORS:
        raise PlannerError(f"engine 'tensorrt-llm' runs on NVIDIA GPUs only; {g.name} is {g.vendor}. "
                           f"Use engine='vllm' or 'sglang'")
    return found
