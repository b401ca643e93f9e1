"""Calibration: benchmark results (benchmarks/SCHEMA.md) -> efficiencies for that hardware.

`profile_from_results(doc)` summarises one results document (read torch-free by
results_file) as a CalibrationProfile: achieved GEMM FLOP/s per dtype and copy bandwidth,
training MFU, prefill MFU, decode MBU and the int8-over-dense decode speed-up, each a Band
(descriptive: what the run measured). planner.calibrate (estimate/calibrated.py) adds the
performance model's rates fitted to the same points; `profile.efficiencies()` returns them.
"""
from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..catalog.devices import PEAK_KEY, catalog_gpu_name
from ..catalog.specs import GPUSpec
from ..core import limits as L
from ..core import arguments as A
from ..core import validate as V
from ..core.band import Band
from ..core.errors import PlannerError
from .efficiency import DEFAULTS, Efficiencies
from .results_file import INT8_WEIGHT_ONLY, calibration_points, measured_points, quant_format


def _rates(p: dict, key: str) -> tuple[float, float, float]:
    """(low, median, high) of a point's rate: work / time at median + IQR/2, median, median - IQR/2."""
    work = p[key] * p["median_s"]
    half = p.get("iqr_s", 0.0) / 2
    return work / (p["median_s"] + half), p[key], work / max(p["median_s"] - half, p["min_s"])


def rate_band(points: list[dict], key: str, scale: float = 1.0) -> Band | None:
    """A Band over points: p50 the median of their medians; p10/p90 the lowest and highest
    rate inside any point's interquartile range. `scale` divides (e.g. by a peak)."""
    triples = [_rates(p, key) for p in points if p.get(key)]
    if not triples:
        return None
    lo, mid, hi = zip(*triples)
    return Band(min(lo) / scale, statistics.median(mid) / scale, max(hi) / scale)


def _dense(points: list[dict]) -> list[dict]:
    return [p for p in points if not p.get("quantized")]


def _memory_bound_decode(points: list[dict]) -> list[dict]:
    """Dense decode points at the smallest batch of each (model, context): the memory-bound ones."""
    groups: dict[tuple, dict] = {}
    for p in _dense(points):
        key = ((p.get("model") or {}).get("name"), p["params"].get("context_len"))
        if key not in groups or p["params"].get("batch", 1) < groups[key]["params"].get("batch", 1):
            groups[key] = p
    return list(groups.values())


def int8_speedup(points: list[dict]) -> Band | None:
    """int8-weight-only over dense decode tokens/s, pairing points of the same model, batch and context."""
    def key(p):
        return (p.get("model") or {}).get("name"), p["params"].get("batch"), p["params"].get("context_len")
    dense = {key(p): p for p in _dense(points)}
    ratios = [p["tokens_per_s"] / dense[key(p)]["tokens_per_s"] for p in points
              if quant_format(p) == INT8_WEIGHT_ONLY and key(p) in dense]
    return Band(min(ratios), statistics.median(ratios), max(ratios)) if ratios else None


@dataclass(frozen=True)
class CalibrationProfile:
    """What one benchmark run measured, as rates (FLOP/s, bytes/s) and fractions of peak."""

    device_name: str
    gpu: str | None  # catalog GPU name; None for a CPU or a GPU the catalog lacks
    device: str  # "cpu" or "cuda"
    dtype: str  # compute dtype of the model points
    results_file: str
    date_utc: str
    peak_flops_per_s: float | None  # denominator of the fractions below
    peak_bytes_per_s: float | None
    peak_source: str
    gemm_flops_per_s: dict[str, Band]  # dtype -> achieved GEMM FLOP/s over the measured sizes
    copy_bytes_per_s: Band | None
    train_mfu: Band | None
    prefill: Band | None
    decode_mbu: Band | None
    int8_decode_speedup: Band | None
    memory_bytes: float | None = None
    env: dict = field(default_factory=dict)
    fitted: Efficiencies | None = None  # the performance model's rates fitted to the run (estimate/calibrated.py)

    @property
    def source(self) -> str:
        return f"calibration: {self.device_name} ({Path(self.results_file).name}, {self.date_utc[:10]})"

    def efficiencies(self) -> Efficiencies:
        """The performance model's rates fitted to this run (estimate/calibrated.py); the literature
        defaults, saying so, when the run was summarised but not fitted."""
        if self.fitted is not None:
            return self.fitted
        return replace(DEFAULTS, source=f"literature defaults ({Path(self.results_file).name} not fitted)")

    @A.checked(usd_per_hour=V.Real(0.0, L.MAX_USD_PER_GPU_HOUR, lo_open=True, unit="$/GPU-hour"))
    def gpu_spec(self, usd_per_hour: float = 1.0) -> GPUSpec:
        """This hardware as a GPUSpec with the peaks its efficiencies are fractions of (for a CPU: the
        best GEMM and copy measured), at the run's compute dtype.

        The price is a placeholder (GPUSpec requires one); no interconnect (one device).
        """
        if not (self.peak_flops_per_s and self.peak_bytes_per_s) or self.dtype not in PEAK_KEY:
            raise PlannerError(f"{self.results_file}: needs GEMM and bandwidth points to describe the hardware")
        return GPUSpec(name=self.device_name, peak_flops={PEAK_KEY[self.dtype]: self.peak_flops_per_s},
                       memory_bytes=self.memory_bytes or 1.0,
                       memory_bytes_per_s=self.peak_bytes_per_s, interconnect_bytes_per_s=0.0,
                       tdp_watts=0.0, usd_per_gpu_hour=usd_per_hour, vendor="measured")

    def to_dict(self) -> dict:
        return asdict(self)


def _peaks(doc: dict, gpu_name: str | None, dtype: str) -> tuple[float | None, float | None, str]:
    """Denominators: the catalog's dense datasheet peaks on a catalog GPU, else the best measured."""
    if gpu_name is not None:
        from ..catalog.lookup import gpu
        g = gpu(gpu_name)
        return g.peak_flops.get(PEAK_KEY.get(dtype, "")), g.memory_bytes_per_s, f"catalog {g.name} dense peaks"
    gemm = [_fastest(p, "flops_per_s") for p in measured_points(doc, "gemm") if p["dtype"] == dtype]
    copy = [_fastest(p, "bytes_per_s") for p in measured_points(doc, "bandwidth")]
    return (max(gemm) if gemm else None, max(copy) if copy else None,
            "the best GEMM and copy measured in the same run (fastest repeat)")


def _fastest(p: dict, key: str) -> float:
    """A point's rate at its fastest repeat (rates are recorded at the median): the device's own best
    speed, the same statistic the fit times points by (estimate/calibrated.py)."""
    return p[key] * p["median_s"] / p["min_s"] if p.get("min_s") else p[key]


def profile_from_results(doc: dict, results_file: str = "<memory>") -> CalibrationProfile:
    """A profile from a validated results document (see calibrate)."""
    env = doc["env"]
    name = str(env.get("device_name") or env["device"])
    gpu_name = catalog_gpu_name(name)
    dtype = str(env.get("dtype", "float32"))
    peak_f, peak_b, peak_src = _peaks(doc, gpu_name, dtype)
    pts = {k: calibration_points(doc, k) for k in ("gemm", "bandwidth", "train", "prefill", "decode")}
    gemm = {d: rate_band([p for p in pts["gemm"] if p["dtype"] == d], "flops_per_s")
            for d in dict.fromkeys(p["dtype"] for p in pts["gemm"])}
    frac = (lambda ps, key, peak: rate_band(ps, key, peak) if peak else None)
    return CalibrationProfile(
        device_name=name, gpu=gpu_name, device=str(env["device"]), dtype=dtype, results_file=str(results_file),
        date_utc=str(env.get("date_utc", "")), peak_flops_per_s=peak_f, peak_bytes_per_s=peak_b,
        peak_source=peak_src, gemm_flops_per_s=gemm, copy_bytes_per_s=rate_band(pts["bandwidth"], "bytes_per_s"),
        train_mfu=frac(_dense(pts["train"]), "flops_per_s", peak_f),
        prefill=frac(_dense(pts["prefill"]), "flops_per_s", peak_f),
        decode_mbu=frac(_memory_bound_decode(pts["decode"]), "bytes_per_s", peak_b),
        int8_decode_speedup=int8_speedup(pts["decode"]), memory_bytes=env.get("memory_bytes"), env=dict(env))
