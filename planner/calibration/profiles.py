"""Calibration: benchmark results (benchmarks/SCHEMA.md) -> efficiencies for that hardware.

`calibrate(path)` reads one results file (torch-free, planner.results_file) into a
CalibrationProfile: achieved GEMM FLOP/s per dtype and copy bandwidth, training MFU,
prefill efficiency, decode MBU and the int8-over-dense decode speed-up, each a Band.
`profile.efficiencies()` is what the estimates use on that GPU once a caller registers it
(planner.calibration.store.use_results); nothing here is loaded or applied implicitly.
"""
from __future__ import annotations

import os
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..catalog.devices import PEAK_KEY, catalog_gpu_name
from ..catalog.specs import GPUSpec
from ..core.band import Band
from ..core.errors import PlannerError
from .efficiency import DEFAULTS, Efficiencies
from .results_file import ResultsFileError, load_results, measured_points

DEFAULT_RESULTS_DIR = Path(__file__).resolve().parent.parent / "benchmarks" / "results"
ENV_VAR = "PLANNER_RESULTS"  # a results file or folder; empty: use no calibration at all

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
    """int8 over dense decode tokens/s, pairing points of the same model, batch and context."""
    def key(p):
        return (p.get("model") or {}).get("name"), p["params"].get("batch"), p["params"].get("context_len")
    dense = {key(p): p for p in _dense(points)}
    ratios = [p["tokens_per_s"] / dense[key(p)]["tokens_per_s"] for p in points
              if p.get("quantized") == "int8" and key(p) in dense]
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

    @property
    def source(self) -> str:
        return f"calibration: {self.device_name} ({Path(self.results_file).name}, {self.date_utc[:10]})"

    def efficiencies(self) -> Efficiencies:
        """Measured fractions where the run measured them, the literature defaults elsewhere."""
        measured = {"train_mfu": self.train_mfu, "prefill": self.prefill, "decode_mbu": self.decode_mbu}
        values = {k: v if v is not None else getattr(DEFAULTS, k) for k, v in measured.items()}
        cites = {k: (f"{self.source}; over {self.peak_source}" if v is not None else
                     f"literature default (not measured in {Path(self.results_file).name})")
                 for k, v in measured.items()}
        cites["decode_compute"] = "literature default (the suite does not isolate compute-bound decode)"
        return Efficiencies(**values, decode_compute=DEFAULTS.decode_compute, source=self.source, citations=cites)

    def gpu_spec(self, usd_per_hour: float = 1.0) -> GPUSpec:
        """This hardware as a GPUSpec with the measured peaks (best GEMM, best copy), e.g. for a CPU.

        The price is a placeholder (GPUSpec requires one); no interconnect (one device).
        """
        peaks = {PEAK_KEY[d]: b.p90 for d, b in self.gemm_flops_per_s.items() if d in PEAK_KEY}
        if not peaks or self.copy_bytes_per_s is None:
            raise PlannerError(f"{self.results_file}: needs GEMM and bandwidth points to describe the hardware")
        return GPUSpec(name=self.device_name, peak_flops=peaks, memory_bytes=self.memory_bytes or 1.0,
                       memory_bytes_per_s=self.copy_bytes_per_s.p90, interconnect_bytes_per_s=0.0,
                       tdp_watts=0.0, usd_per_gpu_hour=usd_per_hour, vendor="measured")

    def to_dict(self) -> dict:
        return asdict(self)


def _peaks(doc: dict, gpu_name: str | None, dtype: str) -> tuple[float | None, float | None, str]:
    """Denominators: the catalog's dense datasheet peaks on a catalog GPU, else the best measured."""
    if gpu_name is not None:
        from ..catalog.lookup import gpu
        g = gpu(gpu_name)
        return g.peak_flops.get(PEAK_KEY.get(dtype, "")), g.memory_bytes_per_s, f"catalog {g.name} dense peaks"
    gemm = [p["flops_per_s"] for p in measured_points(doc, "gemm") if p["dtype"] == dtype]
    copy = [p["bytes_per_s"] for p in measured_points(doc, "bandwidth")]
    return (max(gemm) if gemm else None, max(copy) if copy else None,
            "the best GEMM and copy measured in the same run")


def profile_from_results(doc: dict, results_file: str = "<memory>") -> CalibrationProfile:
    """A profile from a validated results document (see calibrate)."""
    env = doc["env"]
    name = str(env.get("device_name") or env["device"])
    gpu_name = catalog_gpu_name(name)
    dtype = str(env.get("dtype", "float32"))
    peak_f, peak_b, peak_src = _peaks(doc, gpu_name, dtype)
    pts = {k: measured_points(doc, k) for k in ("gemm", "bandwidth", "train", "prefill", "decode")}
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


def calibrate(results_file: str | os.PathLike) -> CalibrationProfile:
    """Read a benchmark results file into a CalibrationProfile.

    Refused (PlannerError naming the file): an unknown schema_version, a truncated or
    corrupt file, or no point this profile can use.
    """
    doc = load_results(results_file)
    profile = profile_from_results(doc, str(results_file))
    if not profile.gemm_flops_per_s and not any(
            (profile.copy_bytes_per_s, profile.train_mfu, profile.prefill, profile.decode_mbu)):
        raise ResultsFileError(f"{results_file}: no usable points for a calibration profile")
    return profile
