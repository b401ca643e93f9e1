"""Calibration of the performance model: a benchmark run -> the rates the estimates use on that device.

`calibrate(path)` reads a results file (calibration.results_file), summarises it
(calibration.profiles) and fits the performance model's rates to its points with the robust
fitter (calibration.fit): every GEMM, decode step, prefill and training step is predicted by
the same perf.py functions the estimates call, so a profile describes exactly the model that
makes the decisions. `use_results(path)` registers the profiles for every later estimate
(calibration.store); nothing is applied unless a caller asks.
"""
from __future__ import annotations

import math
import os
from dataclasses import replace

from ..calibration import store
from ..calibration.collectives import collective_fits
from ..calibration.efficiency import DEFAULTS, Efficiencies
from ..calibration.fit import FitError, Param, robust_fit
from ..calibration.profiles import CalibrationProfile, profile_from_results
from ..calibration.results_file import ResultsFileError, calibration_points, load_results
from ..catalog.specs import ModelSpec
from ..core import files
from ..core import validate as V
from ..core.errors import PlannerError
from . import perf
from .arithmetic import total_params

# The reference model's optimizer: torch AdamW (foreach) reads or writes ~21 values per parameter
# per step (lerp, mul, addcmul, sqrt, div, add, addcdiv, weight decay), counted on its source.
REFERENCE_ADAMW_PASSES = 21
PRIOR_WEIGHT = 0.02  # pull of the in-model GEMM efficiency towards the micro-benchmarks' (log)
BYTES = {"float32": 4.0, "bfloat16": 2.0, "float16": 2.0}


def model_spec(arch: dict) -> ModelSpec:
    """The planner's view of a results record's reference model (untied head, dense, SwiGLU)."""
    return ModelSpec(name=f"bench-{arch['name']}", n_layers=int(arch["n_layers"]), dim=int(arch["dim"]),
                     n_heads=int(arch["n_heads"]), n_kv_heads=int(arch["n_kv_heads"]), ffn_dim=int(arch["ffn_dim"]),
                     vocab_size=int(arch["vocab_size"]), context_length=int(arch.get("max_seq_len") or 2048),
                     head_dim=int(arch.get("head_dim") or 0))


def predict_point(p: dict, kern: perf.Kernels, num: perf.Numerics) -> float:
    """The time the performance model gives one measured point of the suite (its kind and sizes)."""
    q = p["params"]
    if p["kind"] == "gemm":
        return float(perf.gemm_s(q["m"], q["n"], q["k"], kern, num))
    m = model_spec(p["model"])
    if p["kind"] == "decode":  # the new token sees context_len cached keys and itself
        return float(perf.decode_step_s(m, kern, num, batch=q["batch"], context_tokens=q["context_len"] + 1))
    if p["kind"] == "prefill":
        return float(perf.prefill_s(m, kern, num, batch=q["batch"], prompt_tokens=q["prompt_len"],
                                    all_logits=bool(q.get("all_logits", True))))
    step = perf.micro_step_s(m, kern, num, perf.StepWork(micro_batch=q["batch"], seq_len=q["seq_len"], recompute="none"))
    optimizer = perf.optimizer_step_s(float(total_params(m)), REFERENCE_ADAMW_PASSES * num.weight_bytes, kern)
    return float(step + optimizer)


def fit_points(profile: CalibrationProfile, doc: dict) -> list[dict]:
    """Dense points of the run's compute dtype: no quantised models, no fp8 GEMMs, and none that
    results_file.calibration_points leaves out (an eager prefill or decode on a GPU: framework overhead a
    compiled engine does not pay; on a CPU every point is eager, and that is how a CPU runs it)."""
    return [p for p in calibration_points(doc) if p["kind"] in ("gemm", "decode", "prefill", "train")
            and not p.get("quantized") and p.get("dtype") == profile.dtype]


# Upper bounds of an efficiency: 1 of a datasheet peak. Over a peak that is itself the best figure
# measured in the run (a CPU), a little above it: a GEMM's rate at infinite rows exceeds the best
# finite one (x1.25, judgement); a read-only weight stream can beat a copy counted as read + write,
# because with write-allocate caches the copy also reads its destination: 3 transfers counted as 2
# (x1.5; Intel 64 and IA-32 Optimization Reference Manual, "streaming stores", on write-allocate).
MEASURED_PEAK_HEADROOM = 1.25
MEASURED_STREAM_HEADROOM = 1.5


def _caps(measured_peaks: bool) -> tuple[float, float]:
    """Upper bounds of (GEMM efficiency, streaming efficiency) over the device's peaks."""
    return (MEASURED_PEAK_HEADROOM, MEASURED_STREAM_HEADROOM) if measured_peaks else (1.0, 1.0)


def _params(measured_peaks: bool, has_models: bool, has_gemms: bool) -> list[Param]:
    high, stream_high = _caps(measured_peaks)
    out = [Param("memory", 1e-3, stream_high, 0.3, True)]
    if has_gemms:
        out += [Param("gemm_micro", 1e-3, high, 0.7, True), Param("gemm_half_rows", 0.0, 4096.0, 16.0, True, 16.0),
                Param("gemm_overhead_s", 0.0, 1e-3, 1e-6, False, 1e-6),
                Param("gemm_row_overhead_s", 0.0, 1e-5, 1e-8, False, 1e-8)]
    if has_models:
        out += [Param("gemm", 1e-3, high, 0.6, True), Param("layer_overhead_s", 0.0, 0.1, 1e-4, False, 1e-4),
                Param("train_layer_overhead_s", 0.0, 0.5, 1e-4, False, 1e-4)]
    return out


def _kernels(v: dict, peaks: tuple[float, float], elementwise: float, *, micro: bool) -> perf.Kernels:
    gemm = v.get("gemm_micro", v.get("gemm")) if micro else v.get("gemm", v.get("gemm_micro"))
    return perf.Kernels(peak_flops_per_s=peaks[0], peak_bytes_per_s=peaks[1], gemm_efficiency=gemm,
                        memory_efficiency=v["memory"], attention_efficiency=gemm, elementwise_efficiency=elementwise,
                        gemm_half_rows=v.get("gemm_half_rows", 0.0), gemm_overhead_s=v.get("gemm_overhead_s", 0.0),
                        gemm_row_overhead_s=v.get("gemm_row_overhead_s", 0.0), layer_overhead_s=v.get("layer_overhead_s", 0.0),
                        train_layer_overhead_s=v.get("train_layer_overhead_s", 0.0), fused=False)


def label(p: dict) -> str:
    name = (p.get("model") or {}).get("name", "")
    return " ".join(x for x in (p["kind"], name, *(f"{k}={v}" for k, v in p["params"].items())) if x)


def fit_efficiencies(profile: CalibrationProfile, doc: dict, *, time_key: str = "min_s") -> Efficiencies:
    """Efficiencies fitted to the run's dense points; FitError when they cannot be trusted."""
    points = fit_points(profile, doc)
    if not points:
        raise FitError(f"{profile.results_file}: no dense GEMM or model points of {profile.dtype} to fit")
    if not (profile.peak_flops_per_s and profile.peak_bytes_per_s):
        raise FitError(f"{profile.results_file}: no peak FLOP/s or bandwidth to measure efficiencies against")
    peaks = (profile.peak_flops_per_s, profile.peak_bytes_per_s)
    elementwise = min(1.0, profile.copy_bytes_per_s.p90 / peaks[1]) if profile.copy_bytes_per_s else DEFAULTS.elementwise
    has_models = any(p["kind"] != "gemm" for p in points)
    params = _params(profile.gpu is None, has_models, any(p["kind"] == "gemm" for p in points))
    b = BYTES.get(profile.dtype, 2.0)
    num = perf.Numerics(weight_bytes=b, activation_bytes=b, kv_bytes=b)
    measured = [math.log(p[time_key]) for p in points]

    def residual(x):
        v = {pr.name: float(xi) for pr, xi in zip(params, x)}
        micro, model = _kernels(v, peaks, elementwise, micro=True), _kernels(v, peaks, elementwise, micro=False)
        r = [math.log(predict_point(p, micro if p["kind"] == "gemm" else model, num)) - t
             for p, t in zip(points, measured)]
        if "gemm" in v and "gemm_micro" in v:
            r.append(PRIOR_WEIGHT * math.log(v["gemm"] / v["gemm_micro"]))
        return r

    rates = robust_fit(residual, params, [label(p) for p in points])
    return _efficiencies(profile, rates, elementwise, has_models)


def _efficiencies(profile: CalibrationProfile, rates, elementwise: float, has_models: bool) -> Efficiencies:
    v, (cap, stream_cap) = rates.values, _caps(profile.gpu is None)
    gemm = rates.band("gemm" if has_models else "gemm_micro", cap)
    source = f"calibration: {profile.device_name} ({os.path.basename(profile.results_file)}, {profile.date_utc[:10]})"
    fitted = f"{source}; fitted over {profile.peak_source}, spread {rates.spread:.1%}"
    return Efficiencies(
        gemm=gemm, memory=rates.band("memory", stream_cap), attention=gemm, elementwise=elementwise,
        gemm_half_rows=v.get("gemm_half_rows", DEFAULTS.gemm_half_rows), gemm_overhead_s=v.get("gemm_overhead_s", 0.0),
        gemm_row_overhead_s=v.get("gemm_row_overhead_s", 0.0),
        layer_overhead_s=v.get("layer_overhead_s", 0.0), train_layer_overhead_s=v.get("train_layer_overhead_s", 0.0),
        pass_overhead_s=0.0, fused=False, source=source,
        citations={k: fitted for k in ("gemm", "memory", "attention", "gemm_half_rows", "gemm_overhead_s", "gemm_row_overhead_s",
                                       "layer_overhead_s", "train_layer_overhead_s")}
        | {"elementwise": f"{source}; best copy over the peak bandwidth", "pass_overhead_s": "not measured: 0"})


def calibrate(results_file: str | os.PathLike) -> CalibrationProfile:
    """Read a benchmark results file and fit the performance model to it.

    Refused (PlannerError naming the file): an unknown schema, a truncated or corrupt file,
    no usable point, or a fit the measurements cannot support (FitError names the points).
    """
    _check_results_path(results_file)
    doc = load_results(results_file)
    profile = profile_from_results(doc, str(results_file))
    if not fit_points(profile, doc) and not profile.copy_bytes_per_s:
        raise ResultsFileError(f"{results_file}: no usable points for a calibration profile")
    try:
        return replace(profile, fitted=fit_efficiencies(profile, doc))
    except FitError as e:
        raise FitError(f"{results_file}: {e}") from None


def _check_results_path(results_file) -> None:
    """A results file's path, before reading: text or PathLike, no NUL, a regular file (never a folder, a device
    such as /dev/zero or a pipe). The contents are results_file.py's to check."""
    if V.path("results_file", results_file).is_dir():
        raise PlannerError(f"{results_file} is a folder; give one results file (planner.use_results takes folders)")
    files.regular_file(results_file, "results file", 64 * 2**20)


def use_results(path: str | os.PathLike | None, *, strict: bool = True) -> list[CalibrationProfile]:
    """Use the results in `path` (file or folder) for every later estimate, replacing any in use.

    `strict`: a bad file raises PlannerError; otherwise it is skipped and listed by
    `store.load_report()`. None: no calibration (the literature defaults everywhere). Files
    measured on hardware with no catalog GPU (a CPU) are skipped either way.
    """
    if path is not None:
        V.path("path", path)
    V.flag("strict", strict)
    store.reset(silicon=False)  # silicon tables (planner.use_silicon) stay; a GPU's own results win over them
    for f in store.results_files(path) if path is not None else []:
        try:
            profile = calibrate(f)
        except (PlannerError, OSError) as e:
            if _collectives_only(f):  # a collectives run: no kernels to fit, its measured links still apply
                continue
            if strict:
                raise
            store.skip(str(f), str(e))
            continue
        if profile.gpu is None:
            store.skip(str(f), f"no catalog GPU for {profile.device_name!r}")
        else:
            store.register(profile)
            _register_collectives(f, profile)
    return list(store.loaded_profiles().values())


def _register_collectives(path, profile: CalibrationProfile) -> None:
    """A collectives run's fitted latency and bandwidth replace the catalog link for its GPU."""
    fits = collective_fits(load_results(path), source=f"measured: {os.path.basename(str(path))}")
    if fits:
        store.register_collectives(profile.gpu, fits)


def _collectives_only(path) -> bool:
    """Register the collective fits of a file that has nothing else to calibrate; True if it had some."""
    try:
        doc = load_results(path)
        profile = profile_from_results(doc, str(path))
        fits = collective_fits(doc, source=f"measured: {os.path.basename(str(path))}")
    except (PlannerError, OSError):
        return False
    if profile.gpu is None or not fits:
        return False
    store.register_collectives(profile.gpu, fits)
    return True


def use_results_from_env() -> list[CalibrationProfile]:
    """For the edges (CLI, dashboard): calibrate from $PLANNER_RESULTS when it is set and not empty."""
    path = os.environ.get(store.ENV_VAR)
    return use_results(path) if path else []
