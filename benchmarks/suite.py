"""The benchmark suite: the points of a plan, and a runner that never loses a point.

Any error in a point (out of memory, an unsupported dtype, a failed quality gate, a kernel
that does not run, a bug) becomes a `skipped` record with the reason, and the run goes on;
Ctrl-C stops the run and keeps what was measured (`interrupted: true`); past the run's
deadline no point starts, and each one left is recorded as skipped with `deadline: true`
(a GPU is lent for minutes: the run must end with a file, not be killed). `on_point(doc)` is
called after every point, so the caller can write the file each time (a killed run keeps
its points). A point the results validator would refuse (impossible physics) is recorded
as skipped with the validator's reason instead of spoiling the file.
"""
from __future__ import annotations

import copy
import math
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch

from .measure import micro
from .measure.accel import Accel, as_accel, check_device, cores, default_device  # noqa: F401 (re-exported)
from .measure.env import cpu_jiffies, environment, other_cpu_fraction
from .measure.peaks import update_peaks
from .measure.progress import Progress
from .measure.schema import SCHEMA_VERSION, ResultsFileError, check_point, limits_for
from .measure.telemetry import Sampler
from .model import workloads
from .model.transformer import build, config
from .plans import PLANS, Plan  # noqa: F401 (re-exported)

_cores = cores  # validate.py's name for it


class GateFailed(Exception):
    """A quantised format that failed its perplexity gate is not benchmarked."""


@dataclass
class Context:
    """State shared by the points of one run: models built once, gates and kernel choices made once."""

    accel: Accel
    plan: Plan
    peaks: dict = field(default_factory=dict)
    quality: dict = field(default_factory=dict)  # format -> GateReport as dict
    kernels: dict = field(default_factory=dict)  # "<config> rows=<n>" -> KernelChoice as dict
    points: list = field(default_factory=list)  # records measured so far
    _models: dict = field(default_factory=dict)

    @property
    def torch_dtype(self) -> torch.dtype:
        return micro.DTYPES[self.plan.compute_dtype]

    def model(self, name: str, fmt: str | None = None):
        """The reference model, or its copy quantised to `fmt` (GateFailed if the format failed its gate)."""
        if (name, None) not in self._models:
            self._models[(name, None)] = build(config(name), device=self.accel.tensor_device, dtype=self.torch_dtype)
        if fmt is None:
            return self._models[(name, None)]
        gate = self.gate(fmt)
        if not gate["passed"]:
            raise GateFailed(f"{fmt} failed the perplexity gate: {gate['reason']}")
        if (name, fmt) not in self._models:
            from .model.quality import QUANTIZERS
            self._models[(name, fmt)] = QUANTIZERS[fmt](copy.deepcopy(self._models[(name, None)]))
        return self._models[(name, fmt)]

    def gate(self, fmt: str) -> dict:
        if fmt not in self.quality:
            from .model.quality import run_gate
            try:
                self.quality[fmt] = run_gate(fmt, accel=self.accel, dtype=self.torch_dtype,
                                             n_windows=self.plan.gate_windows).to_dict()
            except Exception as e:  # no checkpoint, no corpus: the format is not measured, and we say why
                self.quality[fmt] = {"format": fmt, "passed": False, "reason": f"the gate could not run: "
                                     f"{type(e).__name__}: {_first_line(e)}"}
        return self.quality[fmt]

    def kernel_choice(self, name: str, rows: int) -> dict:
        """The int8 candidates timed at this many rows on the model's w1 shape (once per run)."""
        from .model.kernels import choose_int8_kernel
        key = f"{name} rows={rows}"
        if key not in self.kernels:
            cfg = config(name)
            self.kernels[key] = choose_int8_kernel(
                rows=rows, out_features=cfg.ffn_dim, in_features=cfg.dim, dtype=self.torch_dtype,
                accel=self.accel, min_run_s=self.plan.min_run_s / 4).to_dict()
        return self.kernels[key]


Task = tuple[str, dict, Callable[[Context], dict]]  # kind, params, run


def tasks(plan: Plan) -> list[Task]:
    """Every point of the plan in order: kernels first (they set measured peaks), then models."""
    out: list[Task] = []
    for m, n, k, dtype in plan.gemm:
        out.append(("gemm", {"m": m, "n": n, "k": k, "dtype": dtype},
                    lambda c, m=m, n=n, k=k, d=dtype: micro.gemm(m=m, n=n, k=k, dtype=d, **kw(c))))
    for nb in plan.bandwidth_bytes:
        out.append(("bandwidth", {"n_bytes": nb}, lambda c, nb=nb: micro.bandwidth(n_bytes=nb, **kw(c))))
    for name, b, t in plan.train:
        out.append(("train", {"config": name, "batch": b, "seq_len": t}, lambda c, a=(name, b, t): _train(c, *a)))
    for fmt in (None, *plan.formats):  # quantised points after all reference points
        if fmt is None or plan.quantized_prefill:
            out += [("prefill", {"config": name, "batch": b, "prompt_len": p, "quantized": fmt},
                     lambda c, a=(name, fmt, b, p): _prefill(c, *a))
                    for name, b, p in plan.prefill if fmt is None or name in plan.quantized_configs]
        out += [("decode", {"config": name, "batch": b, "context_len": ctx, "quantized": fmt},
                 lambda c, a=(name, fmt, b, ctx): _decode(c, *a))
                for name, b, ctx in plan.decode if fmt is None or name in plan.quantized_configs]
        if fmt is None:  # the framework-overhead figures before the quantised points (which compile kernels)
            out += [("prefill", {"config": name, "batch": b, "prompt_len": p, "mode": workloads.EAGER},
                     lambda c, a=(name, None, b, p, workloads.EAGER): _prefill(c, *a))
                    for name, b, p in plan.eager_prefill]
            out += [("decode", {"config": name, "batch": b, "context_len": ctx, "mode": workloads.EAGER},
                     lambda c, a=(name, None, b, ctx, workloads.EAGER): _decode(c, *a))
                    for name, b, ctx in plan.eager_decode]
    return out


def kw(c: Context) -> dict:
    return {"device": c.accel, "min_run_s": c.plan.min_run_s}


def _train(c: Context, name: str, batch: int, seq_len: int) -> dict:
    model = build(config(name), device=c.accel.tensor_device, dtype=c.torch_dtype)
    try:
        return workloads.train_step(model, batch=batch, seq_len=seq_len, dtype=c.plan.compute_dtype,
                                    peak_flops_per_s=c.peaks.get("flops_per_s"), **kw(c))
    finally:
        del model
        c.accel.free()


def _prefill(c: Context, name: str, fmt: str | None, batch: int, prompt_len: int, mode: str | None = None) -> dict:
    model = c.model(name, fmt)
    run = (lambda mode=mode: workloads.prefill(model, batch=batch, prompt_len=prompt_len, dtype=c.plan.compute_dtype,
                                               peak_flops_per_s=c.peaks.get("flops_per_s"), mode=mode, **kw(c)))
    return _fastest_kernel(c, model, name, batch * prompt_len, run) if fmt else _graph_or_eager(c, run, mode)


def _decode(c: Context, name: str, fmt: str | None, batch: int, context_len: int, mode: str | None = None) -> dict:
    model = c.model(name, fmt)
    run = (lambda mode=mode: workloads.decode(model, batch=batch, context_len=context_len, dtype=c.plan.compute_dtype,
                                              peak_bytes_per_s=c.peaks.get("bytes_per_s"), mode=mode, **kw(c)))
    return _fastest_kernel(c, model, name, batch, run) if fmt else _graph_or_eager(c, run, mode)


def _graph_or_eager(c: Context, run: Callable[..., dict], mode: str | None) -> dict:
    """A dense GPU point as a CUDA graph; if the graph cannot be captured or replays something
    else, the eager figure with the reason (`graph_failure`), marked `calibration: false` like
    every eager GPU point: a labelled figure rather than none from a rare GPU run."""
    if mode is not None or not c.accel.is_cuda:
        return run()
    try:
        return run()
    except torch.OutOfMemoryError:
        raise  # eager needs the same memory, less the graph's pool: not worth the time
    except Exception as e:
        reason = f"{type(e).__name__}: {_first_line(e)}"
        c.accel.free()
    return run(workloads.EAGER) | {"graph_failure": reason}


def _fastest_kernel(c: Context, model, name: str, rows: int, run: Callable[[], dict]) -> dict:
    """`run()` with the fastest correct int8 kernel at these rows; if the point fails with it
    (say, it does not capture in a CUDA graph), with the next fastest; every failure recorded."""
    from .model.quantize import set_kernel
    choice = c.kernel_choice(name, rows)
    timed = {k: r["median_s"] for k, r in choice["candidates"].items() if "median_s" in r}
    failures = []
    for kernel in sorted(timed, key=timed.get):
        set_kernel(model, kernel)
        try:
            rec = run()
        except Exception as e:
            failures.append(f"{kernel}: {type(e).__name__}: {_first_line(e)}")
            c.accel.free()
            continue
        return rec | {"kernel_choice": f"{name} rows={rows}"} | ({"kernel_failures": failures} if failures else {})
    raise RuntimeError(f"every int8 kernel failed: {'; '.join(failures)}")


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [""])[0][:300]


def run_point(c: Context, kind: str, params: dict, fn) -> dict:
    """Run one task; any error becomes a skipped record with the reason (the run goes on)."""
    extra = {"quantized": params.get("quantized")}
    try:
        return fn(c)
    except GateFailed as e:
        return micro.skipped(kind, params, str(e), **extra)
    except Exception as e:  # torch.OutOfMemoryError is a RuntimeError; a bug in one point must not end the run
        c.accel.free()
        return micro.skipped(kind, params, f"{type(e).__name__}: {_first_line(e)}", **extra)


def _admit(rec: dict, env: dict, peaks: dict) -> dict:
    """The record, or a skipped one if the results validator refuses it (so the file stays readable)."""
    try:
        check_point(rec, limits=limits_for(env, peaks))
    except ResultsFileError as e:
        return micro.skipped(rec["kind"], rec["params"], f"refused by the results validator: {e}",
                             quantized=rec.get("quantized"))
    return rec


def _update_peaks(c: Context, env: dict) -> None:
    update_peaks(c.peaks, c.points, device_name=env["device_name"], is_cuda=c.accel.is_cuda,
                 dtype=c.plan.compute_dtype)


def run_suite(*, device: str | Accel, quick: bool, plan: Plan | None = None, progress: bool = True,
              wait_quiet_s: float = 0.0, on_point: Callable[[dict], None] | None = None,
              deadline_s: float | None = None) -> dict:
    """Run every point of the plan; returns the results document (see SCHEMA.md).

    `wait_quiet_s` > 0: before each point, wait up to that long for other processes to leave
    the CPUs (for shared machines); each point records the CPU share others used meanwhile.
    `deadline_s`: seconds after the start past which no point starts; the points left are
    recorded as skipped (`deadline: true`) and listed in the document's `deadline`. A point
    that started before it runs to its end, so leave a point's worth of time after it.
    fp32 matmuls run in full fp32 (no TF32) for the run, and `env` records the setting.
    """
    if deadline_s is not None and not (isinstance(deadline_s, (int, float)) and 0 < deadline_s < math.inf):
        raise ValueError(f"deadline_s must be a positive number of seconds or None, got {deadline_s!r}")
    accel = as_accel(device)
    if accel.is_cuda:
        torch.cuda.set_device(accel.index)  # events, streams and graphs then belong to this GPU
    torch.set_num_threads(torch.get_num_threads() if accel.is_cuda else cores())
    precision = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision(FP32_MATMUL_PRECISION)
    try:
        return _run(accel, plan or PLANS[(accel.kind, quick)], quick, progress, wait_quiet_s, on_point, deadline_s)
    finally:
        torch.set_float32_matmul_precision(precision)  # the caller's setting, as it was


# A float32 GEMM must be a float32 GEMM: under "high" cuBLAS may use TF32 (10-bit mantissa),
# ~7x the fp32 datasheet peak on an H100, which the physics check refuses (the point is lost).
FP32_MATMUL_PRECISION = "highest"


def _run(accel: Accel, plan: Plan, quick: bool, progress: bool, wait_quiet_s: float,
         on_point: Callable[[dict], None] | None, deadline_s: float | None) -> dict:
    c = Context(accel=accel, plan=plan)
    doc = {"schema_version": SCHEMA_VERSION, "env": environment(accel, c.torch_dtype),
           "settings": {"quick": quick, "device": accel.kind, "wait_quiet_s": wait_quiet_s, "deadline_s": deadline_s,
                        "plan": asdict(c.plan)},
           "peaks": c.peaks, "quality": c.quality, "kernels": c.kernels, "points": c.points, "interrupted": False,
           "deadline": {"deadline_s": deadline_s, "points_not_run": []}}
    started, sampler = time.monotonic(), Sampler(accel).start()
    todo = tasks(c.plan)
    bar = Progress(len(todo), f"benchmarks ({accel.kind})", enabled=progress)
    try:
        for kind, params, fn in todo:
            bar.show(f"{kind} {params}"[:60])
            if deadline_s is not None and time.monotonic() - started >= deadline_s:
                doc["deadline"]["points_not_run"].append(len(c.points))
                c.points.append(micro.skipped(kind, params, f"not run: the suite's deadline of {deadline_s:g} s had "
                                              "passed", quantized=params.get("quantized")) | {"deadline": True})
                _step(doc, started, on_point, bar)
                continue
            wait_for_quiet(wait_quiet_s)
            before, t0 = cpu_jiffies(), time.monotonic()
            rec = run_point(c, kind, params, fn)
            rec["other_cpu_fraction"] = other_cpu_fraction(before, cpu_jiffies())
            if "skipped" not in rec:
                rec["telemetry"] = sampler.window(t0, time.monotonic())
            c.points.append(rec)
            _update_peaks(c, doc["env"])
            c.points[-1] = _admit(rec, doc["env"], c.peaks)
            if "skipped" in c.points[-1]:
                _update_peaks(c, doc["env"])  # without the refused point
            _step(doc, started, on_point, bar)
    except KeyboardInterrupt:
        doc["interrupted"] = True
    finally:
        bar.close()
        doc["env"]["telemetry"] = sampler.stop()
    doc["wall_s"] = time.monotonic() - started
    doc["env"]["loadavg_1min_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return doc


def _step(doc: dict, started: float, on_point: Callable[[dict], None] | None, bar: Progress) -> None:
    doc["wall_s"] = time.monotonic() - started
    if on_point is not None:
        on_point(doc)
    bar.step()


def wait_for_quiet(max_s: float, *, busy_below: float = 0.1, sample_s: float = 1.0) -> bool:
    """Sleep until other processes use under `busy_below` of the CPUs for one sample, or `max_s` passes."""
    waited = 0.0
    while waited < max_s:
        before = cpu_jiffies()
        time.sleep(sample_s)
        waited += sample_s
        share = other_cpu_fraction(before, cpu_jiffies())
        if share is None or share < busy_below:
            return True
    return False
