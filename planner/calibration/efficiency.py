"""How fast real kernels run against a GPU's peaks: defaults from the literature, or a calibration.

These are the rates of the performance model (planner/estimate/perf.py): the fraction of dense
peak a large GEMM and attention reach inside a model, the fraction of memory bandwidth that
weight and K/V streaming and element-wise work reach, the rows at which a GEMM runs at half its
large-GEMM rate, and fixed costs per call, layer and pass. Every estimate takes an
`Efficiencies`; planner.calibration.store.resolve picks the profile a caller registered for
that GPU, else these literature defaults, and `source` travels into the estimate.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from ..catalog.engines import EngineProfile
from ..core import arguments as A
from ..core import validate as V
from ..core.band import Band
from ..core.errors import InputError
from ..core.limits import MAX_EFFICIENCY, MIN_EFFICIENCY
from ..core.memo import by_identity
from ..core.provenance import Assumption

BANDS = ("gemm", "memory", "attention")  # the uncertain rates, each a Band
POINTS = ("elementwise", "gemm_half_rows", "gemm_overhead_s", "gemm_row_overhead_s", "layer_overhead_s", "train_layer_overhead_s",
          "pass_overhead_s")
_UNITS = {"gemm": "fraction of dense peak", "memory": "fraction of memory bandwidth",
          "attention": "fraction of dense peak", "elementwise": "fraction of memory bandwidth",
          "gemm_half_rows": "rows", "gemm_overhead_s": "s per GEMM", "gemm_row_overhead_s": "s per output feature", "layer_overhead_s": "s per layer",
          "train_layer_overhead_s": "s per layer", "pass_overhead_s": "s per forward pass"}


@dataclass(frozen=True)
class Efficiencies:
    """Achieved rates of one device relative to its peaks; the three uncertain ones are Bands."""

    gemm: Band  # large GEMMs inside a model: FLOPs / (dense peak x time)
    memory: Band  # weights and K/V streamed by GEMMs and attention: bytes / (bandwidth x time)
    attention: Band  # attention FLOPs / (dense peak x time)
    elementwise: float = 0.70  # norms, activations, residual adds: bytes / (bandwidth x time)
    gemm_half_rows: float = 64.0  # rows at which a GEMM runs at half the large-GEMM rate (Hockney n_1/2)
    gemm_overhead_s: float = 0.0
    gemm_row_overhead_s: float = 0.0
    layer_overhead_s: float = 0.0
    train_layer_overhead_s: float = 0.0
    pass_overhead_s: float = 0.0
    fused: bool = True  # production kernels (perf.FUSED); False: the eager reference model
    # per weight format: decode streaming rate relative to dense 16-bit weights (replaces the engine
    # profile's weight_stream where given; silicon calibration measures fp8's)
    weight_stream: dict = field(default_factory=dict)
    # per compute dtype: large-GEMM efficiency at that dtype's peak relative to `gemm` (16-bit); 1 where absent
    gemm_scale: dict = field(default_factory=dict)
    source: str = "literature defaults"
    citations: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        """Fractions of peak in [MIN_EFFICIENCY, MAX_EFFICIENCY] (estimates divide by them; see core/limits.py),
        sizes and overheads >= 0."""
        for name in BANDS:
            b = V.instance(f"efficiency.{name}", getattr(self, name), Band, "a Band of fractions of peak")
            if not (MIN_EFFICIENCY <= b.p10 and b.p90 <= MAX_EFFICIENCY):
                raise InputError(f"efficiency.{name}", f"must lie in [{MIN_EFFICIENCY:g}, {MAX_EFFICIENCY:g}] (a "
                                                      f"fraction of peak), got {b} ({self.source})", value=b)
        V.number("efficiency.elementwise", self.elementwise, lo=MIN_EFFICIENCY, hi=MAX_EFFICIENCY)
        V.nonnegative("efficiency.gemm_half_rows", self.gemm_half_rows, 1e6, "rows")
        for name in POINTS[2:]:
            V.nonnegative(f"efficiency.{name}", getattr(self, name), 1.0, "s")
        V.flag("efficiency.fused", self.fused), V.Text(10_000, multiline=True)("efficiency.source", self.source)
        V.instance("efficiency.citations", self.citations, dict, "a dict of name -> citation")
        for name in ("weight_stream", "gemm_scale"):
            for k, v in V.instance(f"efficiency.{name}", getattr(self, name), dict, "a dict of name -> factor").items():
                V.number(f"efficiency.{name}[{k!r}]", v, lo=MIN_EFFICIENCY, hi=4.0)

    @A.checked(compute_dtype=V.Text(empty=False))
    def at_dtype(self, compute_dtype: str) -> "Efficiencies":
        """These rates for GEMMs in `compute_dtype`: `gemm` scaled by gemm_scale[dtype] (capped at 1: a fraction of peak)."""
        scale = self.gemm_scale.get(compute_dtype)
        if scale is None or scale == 1.0:
            return self
        g = Band(*(min(x * scale, 1.0) for x in (self.gemm.p10, self.gemm.p50, self.gemm.p90)))
        return replace(self, gemm=g)

    def assumptions(self) -> list[Assumption]:
        return list(_assumptions(self))


@by_identity()  # frozen rates: their assumptions are built once, not on every estimate
def _assumptions(e: Efficiencies) -> tuple[Assumption, ...]:
    return tuple(Assumption(f"efficiency.{k}", getattr(e, k), _UNITS[k], e.citations.get(k, e.source))
                 for k in (*BANDS, *POINTS))


# Large GEMMs inside a model. PaLM 540B trained at 57.8% hardware FLOPs utilisation (its MFU
# 46.2% plus rematerialisation; Chowdhery et al. 2022, Table 3) and MegaScale at 55.2% MFU on
# 12,288 GPUs (Jiang et al. 2024): whole training runs, so the GEMMs inside them ran faster.
# p50 0.60 sits just above those; p90 0.72, about what cuBLAS reaches on large bf16 GEMMs on an
# H100 (NVIDIA, "New cuBLAS 12.0 Features and Matrix Multiplication Performance on NVIDIA
# Hopper GPUs", 2023); p10 0.45, the low end of engines' prefill MFU (TensorRT-LLM performance
# overview 2024; Sarathi-Serve, arXiv:2403.02310). The p10/p90 are judgement.
GEMM = Band(0.45, 0.60, 0.72)

# Batch-1 decode streams every weight once per token: gpt-fast reaches 1397 GB/s of 2039 GB/s
# (69%) for Llama-2-7B bf16 on A100-80GB (pytorch-labs/gpt-fast README); Databricks measured
# 55-65% MBU on A100/H100 ("LLM Inference Performance Engineering: Best Practices", 2023).
MEMORY = Band(0.55, 0.68, 0.80)

# FlashAttention-2 forward reaches 50-73% of the A100's peak (Dao 2023, arXiv:2307.08691);
# FlashAttention-3 about 75% on an H100 (Shah et al. 2024, arXiv:2407.08608). p10 0.35: the
# FlashAttention-2 backward's low end on A100 in the same paper; judgement.
ATTENTION = Band(0.35, 0.50, 0.70)

DEFAULTS = Efficiencies(
    gemm=GEMM, memory=MEMORY, attention=ATTENTION, source="literature defaults",
    citations={
        "gemm": "PaLM (arXiv:2204.02311) 57.8% HFU; MegaScale (arXiv:2402.15627) 55.2% MFU; cuBLAS on H100 (NVIDIA 2023); p10/p90 judgement",
        "memory": "gpt-fast README (Llama-2-7B, A100-80GB: 1397 GB/s of 2039); Databricks inference best practices (2023)",
        "attention": "FlashAttention-2 (arXiv:2307.08691) 50-73% fwd on A100; FlashAttention-3 (arXiv:2407.08608) ~75% on H100",
        "elementwise": "judgement: fused element-wise kernels stream at about the decode MBU above",
        "gemm_half_rows": "judgement: tensor-core tiles are 64-128 rows; puts a 256-row decode GEMM at 0.8 of the large-GEMM rate",
        "gemm_overhead_s": "0: the measured rates above already include launch costs",
        "gemm_row_overhead_s": "0: GPUs stream long and short weight rows alike",
        "layer_overhead_s": "0: the measured rates above already include launch costs",
        "train_layer_overhead_s": "0: the measured rates above already include launch costs",
        "pass_overhead_s": "0: no engine scheduler modelled",
    },
)


_FROM_ENGINE: dict[int, tuple] = {}  # id(profile) -> (profile, its Efficiencies): profiles are loaded once


def from_engine(p: EngineProfile) -> Efficiencies:
    """The rates of an engine profile (catalog/data/engines.toml) as Efficiencies, each with its source
    (built and validated once per profile: every inference estimate asks for them)."""
    hit = _FROM_ENGINE.get(id(p))
    if hit is not None and hit[0] is p:
        return hit[1]
    eff = _from_engine(p)
    _FROM_ENGINE[id(p)] = (p, eff)
    return eff


def _from_engine(p: EngineProfile) -> Efficiencies:
    def cite(key: str) -> str:
        return str(p.sources[key]) if key in p.sources else DEFAULTS.citations.get(key, DEFAULTS.source)

    return Efficiencies(
        gemm=Band(*p.gemm), memory=Band(*p.memory), attention=Band(*p.attention),
        elementwise=DEFAULTS.elementwise if p.elementwise is None else float(p.elementwise),
        gemm_half_rows=DEFAULTS.gemm_half_rows if p.gemm_half_rows is None else float(p.gemm_half_rows),
        pass_overhead_s=p.pass_overhead_s, source=f"engine profile: {p.name} on {p.vendor}",
        citations={**DEFAULTS.citations, **{k: cite(k) for k in ("gemm", "memory", "attention", "pass_overhead_s")}},
    )
