"""Predict, then measure: how far the planner's analytic model is from this hardware.

1. Calibrate on micro-benchmarks (GEMMs of several shapes, copy bandwidth) and ONE
   reference-model size: its decode step, prefill and training step fix three scalars
   (planner.estimate.roofline.fit_in_model): the framework cost per layer of a forward and of a
   train step, and the fraction of the micro-benchmark GEMM rate reached inside a model.
2. Predict the reference transformer's training step, prefill and decode at OTHER sizes,
   batches and prompt lengths with planner.estimate.roofline (GEMM time as a function of shape,
   attention and element-wise traffic from planner.estimate.arithmetic), the hardware being a
   planner GPUSpec built from the measured peaks (planner.calibration.profiles).
3. Measure them with the suite's own timing (workloads.py) and report each relative error,
   next to the flat roofline of planner.estimate.inference (FLOPs or bytes at the measured peaks).
No per-point correction: every prediction uses the same handful of fitted rates.

Timing statistic: the fastest repeat (min_s), best of `rounds` passes over the plan, on BOTH
sides (calibration inputs and measured points). On a shared VM the disturbance is slow: a
neighbour slows whole points for tens of seconds, so one point's repeats share it and its
median moved ~20% between three identical runs (median over points; up to 96%), min_s ~16%.
The best of three passes, each point's passes ~1 minute apart, put the same three runs within
a 7.4% median error where single runs read 10-34%. The fastest repeat is the machine's own
speed, the one a model of its peaks can predict; the disturbance is not the model's to explain.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import statistics
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from planner.estimate import arithmetic
from planner.estimate import inference
from planner.estimate import roofline
from planner.calibration.profiles import profile_from_results

from . import micro, workloads
from .env import environment
from .model import CONFIGS, ModelArgs, build, to_model_spec
from .schema import SCHEMA_VERSION
from .suite import _cores
from .timing import measure

VALIDATE_SCHEMA = "validate-1"
STREAM_BYTES = 256 * 2**20  # weights a skinny GEMM cycles through: beyond CPU caches and a GPU's L2 (50 MB on H100)
BYTES_PER_ELEMENT = {"float32": 4.0, "bfloat16": 2.0, "float16": 2.0}
PRECISION = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}
# Sizes not in model.CONFIGS, to predict shapes the calibration never saw.
EXTRA_CONFIGS = {c.name: c for c in [
    ModelArgs("micro", dim=64, n_layers=2, n_heads=2, n_kv_heads=1, ffn_dim=176, vocab_size=512, max_seq_len=128),
    ModelArgs("micro-wide", dim=128, n_layers=1, n_heads=4, n_kv_heads=2, ffn_dim=352, vocab_size=512,
              max_seq_len=128),
    ModelArgs("narrow-deep", dim=384, n_layers=10, n_heads=6, n_kv_heads=2, ffn_dim=1024, vocab_size=8192,
              max_seq_len=1024),
]}


@dataclass(frozen=True)
class ValidatePlan:
    """Calibration inputs, then the points to predict: (config, batch, seq_len/prompt_len/context_len)."""

    dtype: str
    gemm: tuple  # (m, n, k) shapes for the GEMM fit
    bandwidth_bytes: tuple
    calibration: str  # the one model size used for calibration
    calibration_decode: tuple  # (batch, context_len): fits the forward overhead per layer
    calibration_prefill: tuple  # (batch, prompt_len): fits the in-model compute efficiency
    calibration_train: tuple  # (batch, seq_len): fits the train-step overhead per layer
    train: tuple = ()
    prefill: tuple = ()
    decode: tuple = ()
    min_run_s: float = 0.3
    rounds: int = 1  # passes over calibration and targets; each point keeps its fastest (module docstring)


TIME_STAT = "min_s"  # the timing statistic both sides use (module docstring)


def _cpu_gemms(quick: bool) -> tuple:
    """Squares for the peak; skinny shapes of the models' widths for the overhead, m_half and bandwidth."""
    square = (128, 512) if quick else (128, 256, 512, 1024)
    skinny = ((1, 1376, 512), (16, 1024, 512), (64, 1024, 512)) if quick else (
        (1, 1376, 512), (1, 8192, 512), (8, 1024, 1024), (16, 2048, 1024), (64, 1376, 512), (128, 2048, 1024),
        (256, 512, 1376))
    return tuple((n, n, n) for n in square) + skinny


PLANS = {
    ("cpu", True): ValidatePlan(
        "float32", _cpu_gemms(True), (64 * 2**20,), "tiny", (1, 64), (1, 64), (2, 32), min_run_s=0.1,
        train=(("tiny-mha", 2, 64), ("small", 1, 64)),
        prefill=(("tiny-mha", 1, 64), ("small", 1, 32), ("small", 2, 128)),
        decode=(("tiny-mha", 1, 128), ("small", 1, 128), ("small", 8, 128))),
    ("cpu", False): ValidatePlan(
        "float32", _cpu_gemms(False), (64 * 2**20,), "tiny", (1, 128), (2, 128), (4, 64), min_run_s=0.3, rounds=3,
        train=(("tiny-mha", 4, 128), ("small", 1, 128), ("small", 4, 64), ("narrow-deep", 2, 64)),
        prefill=(("tiny-mha", 4, 128), ("small", 1, 32), ("small", 1, 128), ("small", 1, 512), ("small", 4, 128),
                 ("narrow-deep", 1, 256), ("mid", 1, 128), ("mid", 2, 256)),
        decode=(("tiny-mha", 4, 256), ("small", 1, 256), ("small", 4, 256), ("small", 16, 256),
                ("narrow-deep", 1, 512), ("narrow-deep", 8, 512), ("mid", 1, 512), ("mid", 8, 512))),
    ("cuda", True): ValidatePlan(
        "bfloat16", tuple((n, n, n) for n in (1024, 4096)) + ((1, 4096, 4096), (16, 8192, 2048)),
        (256 * 2**20,), "small", (1, 512), (1, 512), (4, 512), min_run_s=0.2,
        train=(("mid", 4, 512),), prefill=(("mid", 1, 512), ("mid", 4, 1024)), decode=(("mid", 1, 1024),)),
    ("cuda", False): ValidatePlan(
        "bfloat16", tuple((n, n, n) for n in (512, 1024, 2048, 4096, 8192))
        + ((1, 8192, 8192), (16, 8192, 2048), (128, 8192, 2048), (1024, 2048, 8192)),
        (1024 * 2**20,), "mid", (1, 1024), (4, 512), (8, 1024), min_run_s=0.3,
        train=(("small", 8, 512), ("1b", 4, 1024), ("1b", 8, 2048)),
        prefill=(("small", 1, 512), ("1b", 1, 128), ("1b", 1, 2048), ("1b", 8, 512), ("1b", 1, 8192)),
        decode=(("small", 8, 512), ("1b", 1, 1024), ("1b", 32, 1024), ("1b", 128, 1024), ("1b", 8, 4096))),
}


def model_config(name: str) -> ModelArgs:
    return EXTRA_CONFIGS.get(name) or CONFIGS[name]


def stream_gemm(*, m: int, n: int, k: int, dtype: str, device: str, min_run_s: float) -> dict:
    """x @ W_i^T as nn.Linear computes it (W_i (n, k) row-major), over distinct W_i totalling
    STREAM_BYTES, as a model's weights are each read once per pass: one W repeated stays in
    cache, and on a CPU a batch-1 GEMM then reads 2-4x faster than a model's do.

    Time per GEMM; a `gemm` record (SCHEMA.md) with `n_operands` added to its params. From
    256 rows on, a GEMM reuses each weight 256 times and is compute-bound: one W suffices.
    """
    dt_ = micro.DTYPES[dtype]
    elem = torch.empty((), dtype=dt_).element_size()
    count = 1 if m >= 256 else int(min(64, max(1, STREAM_BYTES // (k * n * elem))))
    x = torch.randn(m, k, device=device, dtype=dt_)
    ws = [torch.randn(n, k, device=device, dtype=dt_) for _ in range(count)]

    def chain():
        for w in ws:
            F.linear(x, w)

    t = measure(chain, device=device, min_run_s=min_run_s)
    per = dataclasses.replace(t, **{f: getattr(t, f) / count for f in ("median_s", "iqr_s", "min_s", "max_s")})
    return micro.point("gemm", dtype, {"m": m, "n": n, "k": k, "n_operands": count, "layout": "linear"}, per,
                       flops_per_s=2.0 * m * n * k / per.median_s)


def calibration_points(plan: ValidatePlan, device: str) -> list[dict]:
    """The micro-benchmarks, then one model size's decode and training step."""
    kw = {"device": device, "min_run_s": plan.min_run_s}
    pts = [stream_gemm(m=m, n=n, k=k, dtype=plan.dtype, **kw) for m, n, k in plan.gemm]
    pts += [micro.bandwidth(n_bytes=nb, **kw) for nb in plan.bandwidth_bytes]
    return pts + [measure_point(kind, plan, device, plan.calibration, *getattr(plan, f"calibration_{kind}"))
                  for kind in ("decode", "prefill", "train")]


def best_of(rounds: list[list[dict]]) -> list[dict]:
    """Per point, the pass with the least disturbed repeat (smallest min_s)."""
    return [min(ps, key=lambda p: p["min_s"]) for ps in zip(*rounds)]


def measure_point(kind: str, plan: ValidatePlan, device: str, name: str, batch: int, length: int) -> dict:
    """One model point, timed by workloads.py exactly as `python -m benchmarks run` does."""
    model = build(model_config(name), device=device, dtype=micro.DTYPES[plan.dtype])
    kw = {"batch": batch, "device": device, "dtype": plan.dtype, "min_run_s": plan.min_run_s}
    if kind == "train":
        return workloads.train_step(model, seq_len=length, peak_flops_per_s=None, **kw)
    if kind == "prefill":
        return workloads.prefill(model, prompt_len=length, peak_flops_per_s=None, **kw)
    return workloads.decode(model, context_len=length, peak_bytes_per_s=None, **kw)


def fit_rates(doc: dict, plan: ValidatePlan) -> tuple[roofline.DeviceRates, object]:
    """DeviceRates from the calibration document: GEMM fit, copy bandwidth, per-layer overheads."""
    profile = profile_from_results(doc, "validate calibration")
    spec = profile.gpu_spec()  # this device as a GPUSpec: measured GEMM peak, copy bandwidth, memory
    gemms = [p for p in doc["points"] if p["kind"] == "gemm"]
    fit = roofline.fit_gemm([(p["params"]["m"], p["params"]["n"], p["params"]["k"]) for p in gemms],
                            [p[TIME_STAT] for p in gemms], BYTES_PER_ELEMENT[plan.dtype])
    copy = next(p for p in doc["points"] if p["kind"] == "bandwidth")  # read + write, as micro.bandwidth counts
    rates = roofline.DeviceRates(name=spec.name, bytes_per_s=2.0 * copy["params"]["n_bytes"] / copy[TIME_STAT],
                                 bytes_per_element=BYTES_PER_ELEMENT[plan.dtype], **fit)
    m = to_model_spec(model_config(plan.calibration))
    dec, pre, train = (next(p for p in doc["points"] if p["kind"] == k) for k in ("decode", "prefill", "train"))
    rates = roofline.fit_in_model(m, rates, decode=(*plan.calibration_decode, dec[TIME_STAT]),
                                  prefill=(*plan.calibration_prefill, pre[TIME_STAT]),
                                  train=(*plan.calibration_train, train[TIME_STAT]))
    return rates, spec


def predict_s(kind: str, m, rates: roofline.DeviceRates, batch: int, length: int) -> float:
    """The layer-wise roofline (planner.estimate.roofline) for one point."""
    if kind == "train":
        return float(roofline.train_step_s(m, rates, batch=batch, seq_len=length))
    if kind == "prefill":
        return float(roofline.prefill_pass_s(m, rates, batch=batch, prompt_tokens=length))
    return float(roofline.decode_pass_s(m, rates, batch=batch, context_tokens=length))


def flat_roofline_s(kind: str, m, spec, precision: str, batch: int, length: int) -> float:
    """planner.estimate.inference's whole-model roofline at 100% of the measured peaks (no calibration)."""
    if kind == "train":
        return batch * length * arithmetic.training_flops_per_token(m, length) / spec.peak(precision)
    if kind == "prefill":
        return float(inference.prefill_s(m, spec, precision, batch, length, 1, 1.0, 1.0))
    return float(inference.decode_step_s(m, spec, precision, batch, length, 1, 1.0, 1.0)[0])


def targets(plan: ValidatePlan) -> list[tuple[str, str, int, int]]:
    return ([("train", *t) for t in plan.train] + [("prefill", *t) for t in plan.prefill]
            + [("decode", *t) for t in plan.decode])


def row(kind: str, name: str, batch: int, length: int, measured: dict, predicted_s: float, flat_s: float) -> dict:
    m_s = measured[TIME_STAT]
    return {"kind": kind, "config": name, "batch": batch, "length": length, "measured_s": m_s,
            "iqr_s": measured["iqr_s"], "predicted_s": predicted_s, "rel_error": (predicted_s - m_s) / m_s,
            "flat_roofline_s": flat_s, "flat_rel_error": (flat_s - m_s) / m_s, "point": measured}


def summary(rows: list[dict], key: str = "rel_error") -> dict:
    errs = [abs(r[key]) for r in rows]
    return {"median_error": statistics.median(errs), "max_error": max(errs), "n_points": len(errs)}


def closing_line(s: dict) -> str:
    return f"median error {s['median_error']:.1%}, max error {s['max_error']:.1%} over {s['n_points']} points"


def run_validation(*, device: str, quick: bool, plan: ValidatePlan | None = None, log=print) -> dict:
    """Calibrate, predict, measure; returns the validation document (table in `rows`)."""
    plan = plan or PLANS[(device, quick)]
    if device == "cpu":
        torch.set_num_threads(_cores())
    started = dt.datetime.now(dt.timezone.utc)
    env = environment(device, micro.DTYPES[plan.dtype])
    doc = {"schema_version": SCHEMA_VERSION, "env": env, "settings": {"quick": quick, "device": device},
           "points": best_of([calibration_points(plan, device) for _ in range(plan.rounds)])}
    rates, spec = fit_rates(doc, plan)
    log(f"calibrated on {plan.calibration}: {rates}")
    points = targets(plan)
    predicted = [predict_s(k, to_model_spec(model_config(n)), rates, b, ln) for k, n, b, ln in points]  # first
    measured = best_of([[measure_point(k, plan, device, n, b, ln) for k, n, b, ln in points]
                        for _ in range(plan.rounds)])
    rows = []
    for (kind, name, batch, length), pred, meas in zip(points, predicted, measured):
        flat = flat_roofline_s(kind, to_model_spec(model_config(name)), spec, PRECISION[plan.dtype], batch, length)
        rows.append(row(kind, name, batch, length, meas, pred, flat))
        log(format_row(rows[-1]))
    env["loadavg_1min_end"] = _loadavg()
    return {"schema": VALIDATE_SCHEMA, "env": env, "settings": {"quick": quick, "device": device,
                                                                  "plan": dataclasses.asdict(plan)},
            "rates": rates.to_dict(), "gpu_spec": spec.to_dict(), "calibration_points": doc["points"],
            "rows": rows, "summary": summary(rows), "flat_roofline_summary": summary(rows, "flat_rel_error"),
            "wall_s": (dt.datetime.now(dt.timezone.utc) - started).total_seconds()}


def _loadavg() -> float | None:
    import os
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


HEADER = f"{'kind':<8} {'config':<12} {'batch':>5} {'len':>5} {'measured ms':>12} {'predicted ms':>13} " \
         f"{'error':>7} {'flat roofline ms':>17} {'error':>7}"


def format_row(r: dict) -> str:
    return (f"{r['kind']:<8} {r['config']:<12} {r['batch']:>5} {r['length']:>5} {r['measured_s'] * 1e3:>12.3f} "
            f"{r['predicted_s'] * 1e3:>13.3f} {r['rel_error']:>+7.1%} {r['flat_roofline_s'] * 1e3:>17.3f} "
            f"{r['flat_rel_error']:>+7.1%}")


def report_text(v: dict) -> str:
    """The table, the fitted rates, and the closing line (last)."""
    r, env = v["rates"], v["env"]
    lines = [HEADER, *map(format_row, v["rows"]), "",
             f"hardware: {env.get('device_name')} ({env.get('device')}, {env.get('dtype')}, {env.get('threads')} "
             f"threads, torch {env.get('torch')}, load {env.get('loadavg_1min_start')}->{env.get('loadavg_1min_end')})",
             f"timing: {TIME_STAT} per call (fastest repeat), best of {v['settings']['plan'].get('rounds', 1)} passes "
             f"of >= {v['settings']['plan']['min_run_s']} s each, calibration and measured alike",
             f"fitted: GEMM {r['gemm_flops_per_s'] / 1e9:.1f} GFLOP/s, half rate at {r['gemm_half_rows']:.0f} rows, "
             f"weights streamed at {r['gemm_bytes_per_s'] / 1e9:.1f} GB/s, {r['gemm_overhead_s'] * 1e6:.1f} us/GEMM; copy {r['bytes_per_s'] / 1e9:.1f} GB/s; "
             f"in-model GEMM efficiency {r['compute_efficiency']:.2f}, framework {r['layer_overhead_s'] * 1e6:.0f} us/layer forward, "
             f"{r['train_layer_overhead_s'] * 1e6:.0f} us/layer train step "
             f"(calibration size: {v['settings']['plan']['calibration']})",
             f"flat roofline (planner.estimate.inference at 100% of measured peaks): {closing_line(v['flat_roofline_summary'])}",
             closing_line(v["summary"])]
    return "\n".join(lines)


def report_markdown(v: dict) -> str:
    """The same report for benchmarks/results/validate-<device>.md."""
    return ("# Predicted vs measured (`python -m benchmarks validate`)\n\n"
            "Calibrated on GEMM and copy micro-benchmarks and one model size; every row below is a size, "
            "batch or length the calibration did not see. Error = (predicted - measured) / measured of the "
            "fastest repeat (min_s) per call, best of the plan's passes, on both the calibration and the "
            "measured side: on this shared VM the disturbance is slow (tens of seconds), so it moves a "
            "point's median as much as its min, and the least disturbed pass is the machine's own speed "
            "(see benchmarks/validate.py). Columns: the planner's layer-wise roofline "
            "(`planner/roofline.py`), and "
            "the flat roofline of `planner/inference.py` at 100% of the measured peaks for comparison.\n\n"
            f"```\n{report_text(v)}\n```\n\n"
            "Each point's median, min and IQR over its repeats are in the JSON. On a shared machine the "
            "run-to-run spread is larger than that: compare two runs before reading an error below that "
            "spread as the model's.\n")
