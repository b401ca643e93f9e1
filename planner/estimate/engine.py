"""Which engine serves, and what that sets: rates, scheduler cost, KV dtype, batch cap, chunking.

`resolve_engine(engine, gpu, efficiencies)` combines three sources of rates, first found wins:
an explicit `efficiencies=` argument (everything from it); a calibration profile the caller
registered for that GPU (planner.use_results: measured kernels win over the engine profile; the
engine's per-step scheduler cost is added where the benchmarks did not measure one, as they time
compiled forwards without a serving scheduler); else the engine's profile for the GPU's vendor
(catalog/data/engines.toml). `roofline` is the ideal bound and ignores calibration. A vendor no profile covers (Intel, Google) gets the literature
defaults. The engine's batch cap, chunked prefill, KV admission, KV dtype per precision and
weight-format streaming rates apply in every case.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..calibration import store
from ..calibration.efficiency import DEFAULTS, Efficiencies, from_engine
from ..catalog.engines import DEFAULT_ENGINE, EngineProfile, engine_name, engine_profile, gpu_vendor
from ..catalog.specs import GPUSpec, kv_cache_dtype_bytes
from ..catalog.specs import precision as lookup_precision
from ..core.memo import by_identity
from ..core.provenance import Assumption
from . import kernel_floor, weight_only

# Without an engine profile (a vendor none covers): the planner's earlier serving defaults.
FALLBACK_MAX_BATCH = 256  # vLLM's max_num_seqs on small GPUs
FALLBACK_RESERVE = 0.10  # vLLM's gpu_memory_utilization 0.9
FALLBACK_CHUNK_TOKENS = 2048


@dataclass(frozen=True)
class EngineSetup:
    """An engine resolved for one GPU: the rates estimates use and the scheduler's settings."""

    engine: str
    vendor: str
    profile: EngineProfile | None
    efficiencies: Efficiencies
    rates_from: str  # "explicit", "calibration", "silicon", "engine profile", "literature defaults"
    batch_cap: int
    chunked_prefill: bool
    chunk_tokens: int
    kv_admission: str
    memory_reserve_fraction: float
    measured_gemm_fixed_s: float = 0.0  # kernel_floor.gemm_fixed_s of the engine on this GPU's generation
    cuda_graph_batch: int = 0  # tokens per rank of the largest decode graph in the KV-sizing peak (0: none modelled)

    def kv_cache_dtype(self, precision_name: str, requested: str | None = None) -> str:
        """The KV dtype: the one asked for, else the engine's default at the precision."""
        if requested is not None:
            kv_cache_dtype_bytes(requested)  # refuse an unknown name, listing close matches
            return requested.lower()
        p = lookup_precision(precision_name)
        activation = "fp32" if p.activation_bytes == 4 else ("fp16" if p.name == "fp16" else "bf16")
        return self.profile.kv_dtype_for(p.kernel_name, activation) if self.profile else activation

    @property
    def moe_layer_overhead_s(self) -> float:
        """Fixed cost per MoE layer of a forward (router, top-k, permute, grouped-GEMM launches): the profile's."""
        return self.profile.moe_layer_overhead_s if self.profile else 0.0

    @property
    def grouped_gemm_factor(self) -> float:
        """Share of the dense GEMM rate the routed experts' grouped GEMMs reach: the profile's."""
        return self.profile.grouped_gemm_factor if self.profile else 1.0

    @property
    def kv_free_fraction(self) -> float:
        """Share of the memory left after weights and the runtime reserve that the KV cache takes: the profile's."""
        return self.profile.kv_free_fraction if self.profile else 1.0

    @property
    def batch_cap_per_dp_rank(self) -> bool:
        """Whether, under DP attention, the batch cap applies to each attention rank: the profile's."""
        return bool(self.profile and self.profile.batch_cap_per_dp_rank)

    @property
    def moe_profile_tokens(self) -> int:
        """Tokens per attention rank of the profiling forward whose fused-MoE workspace the engine allocates before its
        KV cache (kv_budget.py): its max_num_tokens (chunk_tokens) where the profile says so, else 0."""
        return self.chunk_tokens if self.profile and self.profile.moe_workspace_profiled else 0

    @property
    def dense_gemm_shape(self) -> bool:
        """Whether dense GEMMs run on gemm_shape.py's shape curve: for the large-GEMM rates of an engine profile or
        the literature defaults, which stand for wide projections; a measured, explicit or roofline rate is taken
        as it stands (a fit to a device's own GEMMs already holds its shapes)."""
        ideal = self.profile is not None and self.profile.name == "roofline"
        return self.rates_from in ("engine profile", "literature defaults") and not ideal

    @property
    def gemm_fixed_s(self) -> float:
        """A GEMM kernel's fixed latency (kernel_floor.py, from measured one-row GEMM tables) on the rates
        dense_gemm_shape applies to; a measured, explicit or roofline rate keeps its own gemm_overhead_s."""
        return self.measured_gemm_fixed_s if self.dense_gemm_shape else self.efficiencies.gemm_overhead_s

    def gemm_compute_share(self, precision_name: str) -> float:
        """Share of the 16-bit GEMM rate the precision's GEMMs reach once compute-bound (weight_only.py: a W4A16
        kernel's dequantisation), on the same rates as dense_gemm_shape; else 1 (a measured rate stands)."""
        return weight_only.compute_share(precision_name) if self.dense_gemm_shape else 1.0

    @property
    def static_kv_cache(self) -> bool:
        """Whether decode attention reads the whole allocated KV cache every step: the profile's."""
        return bool(self.profile and self.profile.static_kv_cache)

    def stream_factor(self, precision_name: str) -> float:
        """Decode streaming rate of the precision's weights relative to dense 16-bit weights."""
        name = lookup_precision(precision_name).kernel_name  # a format runs on its kernel family's rate
        if name in self.efficiencies.weight_stream:  # measured (silicon calibration) wins over the engine's judgement
            return float(self.efficiencies.weight_stream[name])
        return self.profile.stream_factor(name) if self.profile else 1.0

    def assumptions(self, precision_name: str, kv_dtype: str, kv_requested: bool) -> list[Assumption]:
        return list(_assumptions(self, precision_name, kv_dtype, kv_requested))

    def _assumptions(self, precision_name: str, kv_dtype: str, kv_requested: bool) -> tuple[Assumption, ...]:
        p, where = self.profile, f"{self.engine} on {self.vendor or 'this vendor'}"
        src = (lambda k: str(p.sources[k]) if p and k in p.sources else "no engine profile: planner default")
        rates = {"explicit": "the efficiencies= argument", "calibration": "the registered calibration profile "
                 "(measured kernels win over the engine profile)", "engine profile": f"engine profile {where}",
                 "silicon": f"{self.efficiencies.source} (planner.use_silicon; kernel rates win over the engine profile)",
                 "literature defaults": f"no {self.engine} profile for {self.vendor or 'this vendor'}: literature defaults"}
        return (
            Assumption("engine", self.engine, "", rates[self.rates_from]),
            Assumption("kv_cache_dtype", kv_dtype, f"{kv_cache_dtype_bytes(kv_dtype):g} B/element",
                       "requested" if kv_requested else f"{where} default at {precision_name}: {src('kv_cache_dtype')}"),
            Assumption("weight_stream_factor", self.stream_factor(precision_name), "x dense decode rate",
                       self.efficiencies.source if lookup_precision(precision_name).kernel_name in self.efficiencies.weight_stream
                       else src("weight_stream")),
            Assumption("scheduler_overhead_s", self.efficiencies.pass_overhead_s, "s per engine step",
                       src("pass_overhead_s") if self.rates_from != "explicit" else "the efficiencies= argument"),
            Assumption("moe_layer_overhead_s", self.moe_layer_overhead_s, "s per MoE layer of a forward",
                       src("moe_layer_overhead_s")),
            Assumption("grouped_gemm_factor", self.grouped_gemm_factor, "x grouped-GEMM shape curve (routed experts)",
                       src("grouped_gemm_factor")),
            Assumption("dense_gemm_shape", self.dense_gemm_shape, "dense GEMMs' compute rate by weight shape (N, K)",
                       "estimate/gemm_shape.py (grouped_gemm.py's DeepGEMM-fitted N, K terms)" if self.dense_gemm_shape
                       else "measured, explicit or roofline rates taken as they stand"),
            Assumption("gemm_fixed_s", self.gemm_fixed_s, "s per dense GEMM kernel (fixed latency)",
                       "estimate/kernel_floor.py (aiconfigurator-core's measured one-row GEMM tables)"
                       if self.dense_gemm_shape else "measured, explicit or roofline rates: their own gemm_overhead_s"),
            Assumption("gemm_compute_share", self.gemm_compute_share(precision_name),
                       "x 16-bit GEMM rate once compute-bound (weight-only dequantisation)", "estimate/weight_only.py"),
            Assumption("static_kv_cache", self.static_kv_cache, "decode attends over prompt + output keys"
                       if self.static_kv_cache else "decode attends over the keys written so far",
                       src("static_kv_cache") if self.static_kv_cache else "paged or dynamic cache"),
            Assumption("max_batch_size_default", self.batch_cap, "sequences", src("max_batch_size")),
            Assumption("chunked_prefill", f"{'on' if self.chunked_prefill else 'off'}, {self.chunk_tokens} tokens per step",
                       "", src("chunked_prefill")),
            Assumption("kv_admission", self.kv_admission, "", src("kv_admission")),
            Assumption("memory_reserve_fraction", self.memory_reserve_fraction, "fraction of GPU memory",
                       src("memory_reserve_fraction")),
            Assumption("kv_free_fraction", self.kv_free_fraction, "of the memory left after weights and the reserve",
                       src("kv_free_fraction") if self.kv_free_fraction != 1 else "all of it"),
            Assumption("moe_profile_tokens", self.moe_profile_tokens, "tokens per attention rank sizing the MoE "
                       "workspace before the KV cache", src("moe_workspace_profiled") if self.moe_profile_tokens
                       else "no MoE workspace before the KV cache (kv_budget.py)"),
            Assumption("batch_cap_per_dp_rank", self.batch_cap_per_dp_rank, "under DP attention the cap is per rank"
                       if self.batch_cap_per_dp_rank else "the cap is the replica's", src("batch_cap_per_dp_rank")
                       if self.batch_cap_per_dp_rank else "planner default"),
        )


_assumptions = by_identity()(EngineSetup._assumptions)  # a setup is built once per engine x GPU x rates (_setup)


def _rates(name: str, profile: EngineProfile | None, g: GPUSpec,
           efficiencies: Efficiencies | None) -> tuple[Efficiencies, str]:
    if efficiencies is not None:
        return efficiencies, "explicit"
    if profile is not None and profile.name == "roofline":  # the ideal bound, whatever was measured
        return from_engine(profile), "engine profile"
    measured = store.calibrated(g.name, engine=name)
    if measured is not None:
        if measured.source.startswith("silicon"):  # its scheduler cost is its own (calibration/silicon.py)
            return measured, "silicon"
        overhead = measured.pass_overhead_s or (profile.pass_overhead_s if profile else 0.0)
        return replace(measured, pass_overhead_s=overhead), "calibration"
    if profile is not None:
        return from_engine(profile), "engine profile"
    return DEFAULTS, "literature defaults"


def resolve_engine(engine: str | None, g: GPUSpec, efficiencies: Efficiencies | None = None) -> EngineSetup:
    """The engine's setup on `g` (see the module docstring for which rates win)."""
    name = engine_name(engine or DEFAULT_ENGINE)
    profile = engine_profile(name, g)
    eff, rates_from = _rates(name, profile, g, efficiencies)  # asked on every call: registrations change it
    return _setup(name, profile, eff, rates_from, g)


@by_identity()  # one EngineSetup per engine x profile x rates x GPU, so what is built from it caches on it too
def _setup(name: str, profile: EngineProfile | None, eff: Efficiencies, rates_from: str, g: GPUSpec) -> EngineSetup:
    if profile is None:
        return EngineSetup(name, gpu_vendor(g), None, eff, rates_from, FALLBACK_MAX_BATCH, True,
                           FALLBACK_CHUNK_TOKENS, "on_demand", FALLBACK_RESERVE, kernel_floor.gemm_fixed_s(g, name))
    return EngineSetup(name, profile.vendor, profile, eff, rates_from, profile.batch_cap(g), profile.chunked_prefill,
                       profile.chunk_tokens(g), profile.kv_admission, profile.memory_reserve_fraction,
                       kernel_floor.gemm_fixed_s(g, name))
