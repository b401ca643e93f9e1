"""Benchmark results files (benchmarks/SCHEMA.md): read and validate, standard library only.

The planner reads calibration files with this module and never imports torch or the
benchmarks package; `benchmarks.measure.schema` re-exports these names, so the suite that writes
a file and the planner that reads it check the same rules. Every refusal is a
ResultsFileError (a PlannerError, so a ValueError) naming the file, the point and the reason.

What is refused, before and after parsing: paths that are not regular files, files over
MAX_FILE_BYTES, binary or non-UTF-8 text, JSON nested deeper than MAX_DEPTH, numbers that
are not finite, negative times, a rate that disagrees with its own time and sizes, and
physics no device has: MFU or MBU above 1 (against the catalog's dense datasheet peaks on a
catalog GPU, else against the run's own best, which its `mfu`/`mbu` fields record).
Schema v1 files (before collectives, CUDA-graph decode and format names) are still read.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from ..catalog.collectives import COLLECTIVE_OPS, bus_factor
from ..core.errors import PlannerError

SCHEMA_VERSION = 2
SUPPORTED_VERSIONS = (1, 2)
KINDS = ("gemm", "bandwidth", "train", "prefill", "decode", "collective")
KINDS_V1 = KINDS[:5]
# The derived figure every measured point of a kind must carry.
RATE_KEY = {"gemm": "flops_per_s", "bandwidth": "bytes_per_s", "train": "tokens_per_s",
            "prefill": "tokens_per_s", "decode": "tokens_per_s", "collective": "algbw_bytes_per_s"}
TOP_KEYS = ("schema_version", "env", "settings", "points")
TIMING_KEYS = ("median_s", "min_s", "max_s", "iqr_s")
INT8_WEIGHT_ONLY = "int8-weight-only"  # int8 weights, floating-point activations (W8A16)
QUANTIZED = {1: (None, "int8"), 2: (None, INT8_WEIGHT_ONLY)}  # v1 "int8" meant int8 weight-only
MODES = ("eager", "cuda-graph")

MAX_FILE_BYTES = 64 * 2**20  # a full GPU run is ~100 kB; 64 MB is far beyond any real file
MAX_DEPTH = 32  # the format nests 4 deep; a deeper file is not a results file
REL_TOL = 1e-3  # the suite derives rates exactly; this allows only rounding
# Judgement, beyond any device in 2026: B200 dense FP4 is ~1e16 FLOP/s, HBM3e ~8e12 B/s.
ABSOLUTE_MAX = {"flops_per_s": 1e17, "bytes_per_s": 1e15, "algbw_bytes_per_s": 1e15, "busbw_bytes_per_s": 1e15}


class ResultsFileError(PlannerError):
    """A results file this reader cannot use: unreadable, corrupt, impossible or no usable points."""


def busbw_factor(op: str, nproc: int) -> float:
    """nccl-tests' bus-bandwidth factor (planner/catalog/collectives.py), refusing unknown ops as a results error."""
    try:
        return bus_factor(op, nproc)
    except ValueError as e:
        raise ResultsFileError(str(e)) from None


def quant_format(p: dict) -> str | None:
    """The precise format name of a point's quantisation (v1 "int8" was int8 weight-only)."""
    q = p.get("quantized")
    return INT8_WEIGHT_ONLY if q == "int8" else q


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _positive(v) -> bool:
    return _number(v) and v > 0


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= REL_TOL * max(abs(a), abs(b))


# ---- reading a file ----

def load_results(path: str | os.PathLike) -> dict:
    """Read and validate a results file; every refusal is a ResultsFileError naming the file."""
    text = _read_text(path)
    try:
        d = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise ResultsFileError(f"{path}: nested too deep (more than {MAX_DEPTH} levels)") from None
    except json.JSONDecodeError as e:
        raise ResultsFileError(f"{path}: not valid JSON (truncated or corrupt?): {e}") from None
    except ValueError as e:  # NaN/Infinity literals, integers beyond Python's digit limit
        raise ResultsFileError(f"{path}: not valid JSON: {e}") from None
    try:
        return validate_results(d)
    except ResultsFileError as e:
        raise ResultsFileError(f"{path}: {e}") from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number a results file may hold")


def _read_text(path) -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise ResultsFileError(f"results path must be a file path, got {type(path).__name__}")
    p = Path(path)
    try:
        st = p.stat()
        if p.is_dir():
            raise ResultsFileError(f"{path}: is a directory, not a results file")
        if not p.is_file():
            raise ResultsFileError(f"{path}: not a regular file")
        if st.st_size > MAX_FILE_BYTES:
            raise ResultsFileError(f"{path}: {st.st_size:,} bytes is larger than the {MAX_FILE_BYTES:,}-byte limit")
        with p.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ResultsFileError(f"{path}: no such file") from None
    except (OSError, ValueError) as e:  # permissions, an embedded NUL byte in the path, ...
        raise ResultsFileError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ResultsFileError(f"{path}: larger than the {MAX_FILE_BYTES:,}-byte limit")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ResultsFileError(f"{path}: binary data (a NUL byte at offset {nul}), not JSON text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ResultsFileError(f"{path}: not UTF-8 text (byte {e.start}: {data[e.start:e.start + 1]!r})") from None


def _check_tree(d) -> None:
    """Depth and finiteness of every value, without recursion (a deep document cannot crash this)."""
    stack = [(d, 1, "")]
    while stack:
        v, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            raise ResultsFileError(f"nested too deep (more than {MAX_DEPTH} levels) at {where or 'the top'}")
        if isinstance(v, float) and not math.isfinite(v):
            raise ResultsFileError(f"{where}: {v} is not a finite number")
        if isinstance(v, dict):
            stack += [(x, depth + 1, f"{where}.{k}" if where else str(k)) for k, x in v.items()]
        elif isinstance(v, list):
            stack += [(x, depth + 1, f"{where}[{i}]") for i, x in enumerate(v)]


# ---- the document ----

def validate_results(d) -> dict:
    """Return `d` if it is a valid results document, else raise ResultsFileError saying why."""
    if not isinstance(d, dict):
        raise ResultsFileError(f"results must be a JSON object, got {type(d).__name__}")
    _check_tree(d)
    version = d.get("schema_version")
    if isinstance(version, bool) or version not in SUPPORTED_VERSIONS:
        raise ResultsFileError(f"schema_version {version!r} is not supported (this reader: "
                               f"{', '.join(map(str, SUPPORTED_VERSIONS))}); re-run `python -m benchmarks` "
                               "or upgrade the planner")
    missing = [k for k in TOP_KEYS if k not in d]
    if missing:
        raise ResultsFileError(f"missing top-level key(s) {missing}")
    if not isinstance(d["points"], list):
        raise ResultsFileError("'points' must be a list")
    env = d["env"]
    if not isinstance(env, dict) or env.get("device") not in ("cpu", "cuda"):
        raise ResultsFileError(f"'env' must be an object whose 'device' is 'cpu' or 'cuda', got "
                               f"{env.get('device') if isinstance(env, dict) else env!r}")
    for key in ("settings", "peaks", "quality"):
        if key in d and not isinstance(d[key], dict):
            raise ResultsFileError(f"'{key}' must be an object, got {type(d[key]).__name__}")
    limits = limits_for(env, d.get("peaks"))
    measured = 0
    for i, p in enumerate(d["points"]):
        try:
            measured += check_point(p, version=version, limits=limits)
        except ResultsFileError as e:
            kind = p.get("kind") if isinstance(p, dict) else None
            raise ResultsFileError(f"points[{i}]{f' ({kind})' if isinstance(kind, str) else ''}: {e}") from None
    if measured == 0:
        raise ResultsFileError(f"no usable points: {len(d['points'])} point(s), all skipped or none at all")
    if version >= 2:
        _check_gate(d)
        _check_fits(d.get("collective_fit", {}))
    return d


class PointLimits:
    """What the points of one document are checked against: the catalog's dense peaks on a
    catalog GPU; elsewhere the run's own best (its `peaks`, in its compute dtype), if recorded."""

    def __init__(self, spec=None, where: str = "", own: dict | None = None, dtype: str | None = None):
        self.spec, self.where, self.own, self.dtype = spec, where, own or {}, dtype

    def peak_flops(self, dtype) -> tuple[float | None, str]:
        if self.spec is None:
            own = self.own.get("flops_per_s") if dtype == self.dtype else None
            return (own, "the run's own best (peaks.flops_per_s)") if _positive(own) else (None, "")
        from ..catalog.devices import PEAK_KEY
        key = PEAK_KEY.get(dtype) if isinstance(dtype, str) else None
        peak = self.spec.peak_flops.get(key) if key else None
        return peak, f"{self.where} dense {key} peak"

    def peak_bytes(self) -> tuple[float | None, str]:
        if self.spec is None:
            own = self.own.get("bytes_per_s")
            return (own, "the run's own best (peaks.bytes_per_s)") if _positive(own) else (None, "")
        return self.spec.memory_bytes_per_s, f"{self.where} memory bandwidth"


def limits_for(env: dict, peaks: dict | None = None) -> PointLimits:
    """The catalog GPU's peaks for a CUDA run on a GPU the catalog lists; otherwise the run's
    own best from `peaks` (a measured peak is the best point of the run, so none exceeds it)."""
    own = (peaks or {}) if isinstance(peaks, dict) else {}
    dtype = env.get("dtype") if isinstance(env.get("dtype"), str) else None
    if env.get("device") != "cuda" or not isinstance(env.get("device_name"), str):
        return PointLimits(own=own, dtype=dtype)
    from ..catalog.devices import catalog_gpu
    spec = catalog_gpu(env["device_name"])
    return PointLimits(spec, f"the catalog {spec.name}", own, dtype) if spec else PointLimits(own=own, dtype=dtype)


def check_point(p, *, version: int = SCHEMA_VERSION, limits: PointLimits | None = None) -> bool:
    """Raise ResultsFileError if point `p` is malformed or impossible; True if it carries a measurement."""
    if not isinstance(p, dict):
        raise ResultsFileError(f"expected an object, got {type(p).__name__}")
    kinds = KINDS_V1 if version == 1 else KINDS
    if p.get("kind") not in kinds:
        raise ResultsFileError(f"kind {p.get('kind')!r} is not one of {kinds}")
    if not isinstance(p.get("params"), dict):
        raise ResultsFileError("'params' must be an object of sizes")
    if "skipped" in p:
        if not isinstance(p["skipped"], str) or not p["skipped"]:
            raise ResultsFileError("'skipped' must be a non-empty reason")
        return False
    _check_timing(p)
    if not isinstance(p.get("dtype"), str):
        raise ResultsFileError("'dtype' must be a string")
    if p.get("quantized") not in QUANTIZED[version]:
        raise ResultsFileError(f"'quantized' must be one of {QUANTIZED[version]}, got {p.get('quantized')!r}")
    if "mode" in p and p["mode"] not in MODES:
        raise ResultsFileError(f"'mode' must be one of {MODES}, got {p['mode']!r}")
    if "calibration" in p and not isinstance(p["calibration"], bool):
        raise ResultsFileError(f"'calibration' must be true or false, got {p['calibration']!r}")
    _check_rates(p)
    _check_physics(p, limits or PointLimits())
    return True


def _check_timing(p: dict) -> None:
    for key in (*TIMING_KEYS[:3], RATE_KEY[p["kind"]]):
        if not _positive(p.get(key)):
            raise ResultsFileError(f"{key!r} must be a positive number, got {p.get(key)!r}")
    if not (_number(p.get("iqr_s")) and p["iqr_s"] >= 0):
        raise ResultsFileError(f"'iqr_s' must be a number >= 0, got {p.get('iqr_s')!r}")
    if not (isinstance(p.get("repeats"), int) and not isinstance(p["repeats"], bool) and p["repeats"] >= 1):
        raise ResultsFileError(f"'repeats' must be an integer >= 1, got {p.get('repeats')!r}")
    if not p["min_s"] <= p["median_s"] <= p["max_s"]:
        raise ResultsFileError(f"median_s {p['median_s']} outside [min_s {p['min_s']}, max_s {p['max_s']}]")


def _size(params: dict, key: str) -> int:
    v = params.get(key)
    if not (isinstance(v, int) and not isinstance(v, bool) and v > 0):
        raise ResultsFileError(f"params.{key} must be a positive integer, got {v!r}")
    return v


def _expected_rates(p: dict) -> dict[str, float]:
    """Each derived rate as the point's own time and sizes imply it (SCHEMA.md, 'Derived figures')."""
    k, par, t = p["kind"], p["params"], p["median_s"]
    if k == "gemm":
        return {"flops_per_s": 2.0 * _size(par, "m") * _size(par, "n") * _size(par, "k") / t}
    if k == "bandwidth":
        return {"bytes_per_s": 2.0 * _size(par, "n_bytes") / t}
    if k == "train":
        return {"tokens_per_s": _size(par, "batch") * _size(par, "seq_len") / t}
    if k == "prefill":
        return {"tokens_per_s": _size(par, "batch") * _size(par, "prompt_len") / t}
    if k == "decode":
        out = {"tokens_per_s": _size(par, "batch") / t}
        return out | ({"bytes_per_s": p["bytes_per_step"] / t} if _positive(p.get("bytes_per_step")) else {})
    if par.get("op") not in COLLECTIVE_OPS:
        raise ResultsFileError(f"params.op must be one of {COLLECTIVE_OPS}, got {par.get('op')!r}")
    nproc = _size(par, "nproc")
    algbw = _size(par, "n_bytes") / t
    return {"algbw_bytes_per_s": algbw, "busbw_bytes_per_s": algbw * busbw_factor(par["op"], nproc)}


def _check_rates(p: dict) -> None:
    for key, want in _expected_rates(p).items():
        got = p.get(key)
        if key != RATE_KEY[p["kind"]] and got is None:
            continue
        if not (_positive(got) and _close(got, want)):
            raise ResultsFileError(f"{key} {got!r} is inconsistent with its time and sizes (expected {want:.4g})")
    for frac, rate, peak in (("mfu", "flops_per_s", "peak_flops_per_s"), ("mbu", "bytes_per_s", "peak_bytes_per_s")):
        if p.get(frac) is None:
            continue
        if not (_positive(p[frac]) and _positive(p.get(rate)) and _positive(p.get(peak))):
            raise ResultsFileError(f"{frac} {p[frac]!r} needs positive {rate} and {peak}")
        if not _close(p[frac], p[rate] / p[peak]):
            raise ResultsFileError(f"{frac} {p[frac]!r} is not {rate} / {peak} = {p[rate] / p[peak]:.4g}")
        if p[frac] > 1.0:
            raise ResultsFileError(f"{frac.upper()} {p[frac]:.4g} > 1: {rate} above the {peak} it divides by")


def _check_physics(p: dict, limits: PointLimits) -> None:
    for key, cap in ABSOLUTE_MAX.items():
        if key in p and p[key] is not None and not (_positive(p[key]) and p[key] <= cap):
            raise ResultsFileError(f"{key} {p[key]!r} is not a positive number below {cap:.0e} (no device reaches it)")
    if p.get("flops_per_s") is not None:
        peak, what = limits.peak_flops(p["dtype"])
        if peak and p["flops_per_s"] > peak * (1 + REL_TOL):
            raise ResultsFileError(f"MFU {p['flops_per_s'] / peak:.3g} > 1: {p['flops_per_s']:.4g} FLOP/s "
                                   f"is above {what} ({peak:.4g} FLOP/s)")
    if p.get("bytes_per_s") is not None:
        peak, what = limits.peak_bytes()
        if peak and p["bytes_per_s"] > peak * (1 + REL_TOL):
            raise ResultsFileError(f"MBU {p['bytes_per_s'] / peak:.3g} > 1: {p['bytes_per_s']:.4g} B/s "
                                   f"is above {what} ({peak:.4g} B/s)")


def _check_gate(d: dict) -> None:
    """v2: a quantised format is measured only if its perplexity gate passed (SCHEMA.md, 'quality')."""
    quality = d.get("quality", {})
    for fmt in {quant_format(p) for p in measured_points(d)} - {None}:
        gate = quality.get(fmt)
        if not isinstance(gate, dict) or gate.get("passed") is not True:
            raise ResultsFileError(f"points measured in {fmt} but quality[{fmt!r}] does not record a passed gate")
        for key in ("perplexity", "reference_perplexity"):
            if not _positive(gate.get(key)):
                raise ResultsFileError(f"quality[{fmt!r}].{key} must be a positive number, got {gate.get(key)!r}")


def _check_fits(fits) -> None:
    if not isinstance(fits, dict):
        raise ResultsFileError("'collective_fit' must be an object of op -> fit")
    for op, f in fits.items():
        if op not in COLLECTIVE_OPS or not isinstance(f, dict):
            raise ResultsFileError(f"collective_fit[{op!r}]: expected an op of {COLLECTIVE_OPS} with a fit object")
        if not (_number(f.get("alpha_s")) and f["alpha_s"] >= 0 and _positive(f.get("beta_bytes_per_s"))):
            raise ResultsFileError(f"collective_fit[{op!r}]: alpha_s must be >= 0 and beta_bytes_per_s > 0")


# ---- what readers use ----

def measured_points(d: dict, kind: str | None = None) -> list[dict]:
    """The points that carry a measurement, optionally of one kind."""
    return [p for p in d["points"] if "skipped" not in p and (kind is None or p["kind"] == kind)]


# Forward passes a GPU must run as a CUDA graph to be timed: eagerly, a decode step or a short
# prompt of a 1B model is ~1,000 kernel launches, and the host's launch rate is what gets timed.
GRAPH_KINDS = ("prefill", "decode")


def calibration_points(d: dict, kind: str | None = None) -> list[dict]:
    """Measured points a calibration may use: never a point marked `calibration: false`, nor an
    eager prefill or decode on CUDA (kernel-launch overhead, not the GPU; v1 files timed decode
    eagerly, v1 and v2 files before prefill graphs timed prefill eagerly and marked it `true`)."""
    cuda = d["env"].get("device") == "cuda"
    return [p for p in measured_points(d, kind) if p.get("calibration", True) is not False
            and not (cuda and p["kind"] in GRAPH_KINDS and p.get("mode", "eager") == "eager")]
