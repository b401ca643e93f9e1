"""The benchmark suite: what to measure on which device, and a runner that never loses a point.

A point that runs out of memory or hits an unsupported dtype becomes a `skipped` record
with the reason; Ctrl-C stops the run and keeps what was measured (`interrupted: true`).
"""
from __future__ import annotations

import copy
import datetime as dt
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Callable

import torch
from tqdm import tqdm

from . import micro, workloads
from .env import cpu_jiffies, environment, other_cpu_fraction
from .model import build, config
from .quantize import check_quality, quantize_int8
from .schema import SCHEMA_VERSION

MIB = 2**20


@dataclass(frozen=True)
class Plan:
    """Sizes per kind. Tuples: gemm (m, n, k, dtype); train (config, batch, seq_len);
    prefill (config, batch, prompt_len); decode (config, batch, context_len)."""

    compute_dtype: str  # the dtype of models; fp32 on CPU, which has slow or no bf16 GEMM
    gemm: tuple = ()
    bandwidth_bytes: tuple = ()
    train: tuple = ()
    prefill: tuple = ()
    decode: tuple = ()
    int8_configs: tuple = ()  # configs whose prefill and decode points are repeated with int8 weights
    min_run_s: float = 1.0  # per point, after warm-up


PLANS = {
    ("cpu", True): Plan("float32", min_run_s=0.2,
                        gemm=((256, 256, 256, "float32"), (512, 512, 512, "float32"), (256, 256, 256, "bfloat16"),
                              (256, 256, 256, "float8_e4m3fn")),
                        bandwidth_bytes=(16 * MIB,), train=(("tiny", 4, 64),),
                        prefill=(("tiny", 1, 64), ("tiny", 2, 64)), decode=(("tiny", 1, 128), ("tiny", 4, 128)),
                        int8_configs=("tiny",)),
    ("cpu", False): Plan("float32", min_run_s=1.5,
                         gemm=tuple((n, n, n, "float32") for n in (256, 512, 1024, 2048))
                         + ((8, 4096, 4096, "float32"), (256, 256, 256, "bfloat16"), (1024, 1024, 1024, "bfloat16"),
                            (1024, 1024, 1024, "float8_e4m3fn")),
                         bandwidth_bytes=(64 * MIB, 256 * MIB),
                         train=(("tiny", 8, 128), ("small", 4, 256)),
                         prefill=(("small", 1, 32), ("small", 1, 128), ("small", 1, 512), ("small", 4, 128),
                                  ("mid", 1, 128)),
                         decode=(("small", 1, 256), ("small", 4, 256), ("small", 16, 256),
                                 ("mid", 1, 512), ("mid", 8, 512)),
                         int8_configs=("small", "mid")),
    ("cuda", True): Plan("bfloat16", min_run_s=0.3,
                         gemm=((1024, 1024, 1024, "bfloat16"), (4096, 4096, 4096, "bfloat16"),
                               (4096, 4096, 4096, "float8_e4m3fn")),
                         bandwidth_bytes=(256 * MIB,), train=(("small", 8, 512),),
                         prefill=(("small", 1, 512),), decode=(("small", 1, 512), ("small", 16, 512)),
                         int8_configs=("small",)),
    ("cuda", False): Plan("bfloat16", min_run_s=0.5,
                          gemm=tuple((n, n, n, "bfloat16") for n in (1024, 2048, 4096, 8192, 16384))
                          + ((8192, 8192, 8192, "float16"), (8192, 8192, 8192, "float32"),
                             (16, 8192, 8192, "bfloat16"), (4096, 4096, 4096, "float8_e4m3fn"),
                             (8192, 8192, 8192, "float8_e4m3fn")),
                          bandwidth_bytes=(256 * MIB, 1024 * MIB, 4096 * MIB),
                          train=(("mid", 8, 2048), ("1b", 4, 2048), ("1b", 8, 2048)),
                          prefill=tuple(("1b", 1, p) for p in (128, 512, 2048, 8192))
                          + (("1b", 8, 512), ("1b", 32, 512)),
                          decode=tuple(("1b", b, 1024) for b in (1, 8, 32, 128)) + (("1b", 8, 4096),),
                          int8_configs=("1b",)),
}


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def check_device(device: str) -> str | None:
    """Why `device` cannot run here, or None."""
    if device not in ("cpu", "cuda"):
        return f"unknown device {device!r}; use cpu or cuda"
    if device == "cuda" and not torch.cuda.is_available():
        return "--device cuda asked for, but torch sees no CUDA GPU (torch " + torch.__version__ + ")"
    return None


@dataclass
class Context:
    """State shared by the points of one run: models built once, peaks found on the way."""

    device: str
    plan: Plan
    peaks: dict = field(default_factory=dict)
    quality: dict = field(default_factory=dict)  # config name -> QualityReport as dict
    points: list = field(default_factory=list)  # records measured so far
    _models: dict = field(default_factory=dict)

    @property
    def torch_dtype(self) -> torch.dtype:
        return micro.DTYPES[self.plan.compute_dtype]

    def model(self, name: str, quantized: bool):
        """The reference model, or its int8 copy; None (reason in self.quality) if int8 fails the gate."""
        key = (name, quantized)
        if key not in self._models:
            ref = self._models.get((name, False)) or build(config(name), device=self.device, dtype=self.torch_dtype)
            self._models[(name, False)] = ref
            if quantized:
                q = quantize_int8(copy.deepcopy(ref))
                report = check_quality(ref, q, vocab_size=ref.cfg.vocab_size, device=self.device)
                self.quality[name] = report.to_dict()
                self._models[key] = q if report.passed else None
        return self._models[key]


Task = tuple[str, dict, Callable[[Context], dict]]  # kind, params, run


def tasks(plan: Plan) -> list[Task]:
    """Every point of the plan in order: kernels first (they set the peaks), then models."""
    out: list[Task] = []
    for m, n, k, dtype in plan.gemm:
        out.append(("gemm", {"m": m, "n": n, "k": k, "dtype": dtype},
                    lambda c, m=m, n=n, k=k, d=dtype: micro.gemm(m=m, n=n, k=k, dtype=d, **kw(c))))
    for nb in plan.bandwidth_bytes:
        out.append(("bandwidth", {"n_bytes": nb}, lambda c, nb=nb: micro.bandwidth(n_bytes=nb, **kw(c))))
    out.append(("peaks", {}, set_peaks))
    for name, b, t in plan.train:
        out.append(("train", {"config": name, "batch": b, "seq_len": t}, lambda c, a=(name, b, t): _train(c, *a)))
    for quantized in (False, True):  # int8 points after all reference points
        for name, b, p in plan.prefill:
            if not quantized or name in plan.int8_configs:
                out.append(("prefill", {"config": name, "batch": b, "prompt_len": p, "quantized": quantized},
                            lambda c, a=(name, quantized, b, p): _prefill(c, *a)))
        for name, b, ctx in plan.decode:
            if not quantized or name in plan.int8_configs:
                out.append(("decode", {"config": name, "batch": b, "context_len": ctx, "quantized": quantized},
                            lambda c, a=(name, quantized, b, ctx): _decode(c, *a)))
    return out


def kw(c: Context) -> dict:
    return {"device": c.device, "min_run_s": c.plan.min_run_s}


def set_peaks(c: Context) -> None:
    """Peaks for MFU and MBU: the catalog's on a known GPU, else the best measured here."""
    from .peaks import find_peaks
    c.peaks.update(find_peaks(c))


def _train(c: Context, name: str, batch: int, seq_len: int) -> dict:
    model = build(config(name), device=c.device, dtype=c.torch_dtype)
    try:
        return workloads.train_step(model, batch=batch, seq_len=seq_len, device=c.device, dtype=c.plan.compute_dtype,
                                    peak_flops_per_s=c.peaks.get("flops_per_s"), min_run_s=c.plan.min_run_s)
    finally:
        del model
        _free(c.device)


def _inference_model(c: Context, name: str, quantized: bool):
    model = c.model(name, quantized)
    if model is None:
        raise GateFailed(f"int8 {name} failed the quality gate: {c.quality[name]['reason']}")
    return model


def _prefill(c: Context, name: str, quantized: bool, batch: int, prompt_len: int) -> dict:
    return workloads.prefill(_inference_model(c, name, quantized), batch=batch, prompt_len=prompt_len,
                             device=c.device, dtype=c.plan.compute_dtype,
                             peak_flops_per_s=c.peaks.get("flops_per_s"), min_run_s=c.plan.min_run_s)


def _decode(c: Context, name: str, quantized: bool, batch: int, context_len: int) -> dict:
    return workloads.decode(_inference_model(c, name, quantized), batch=batch, context_len=context_len,
                            device=c.device, dtype=c.plan.compute_dtype,
                            peak_bytes_per_s=c.peaks.get("bytes_per_s"), min_run_s=c.plan.min_run_s)


class GateFailed(Exception):
    """An int8 model that failed check_quality is not benchmarked."""


def _free(device: str) -> None:
    if device == "cuda":
        torch.cuda.empty_cache()


def run_point(c: Context, kind: str, params: dict, fn) -> dict | None:
    """Run one task; out-of-memory, unsupported dtypes and failed gates become skipped records."""
    extra = {"quantized": "int8" if params.get("quantized") else None}
    try:
        return fn(c)
    except GateFailed as e:
        return micro.skipped(kind, params, str(e), **extra)
    except (RuntimeError, NotImplementedError) as e:  # torch.OutOfMemoryError is a RuntimeError
        _free(c.device)
        first_line = (str(e).strip().splitlines() or [""])[0][:300]
        return micro.skipped(kind, params, f"{type(e).__name__}: {first_line}", **extra)


def run_suite(*, device: str, quick: bool, plan: Plan | None = None, progress: bool = True,
              wait_quiet_s: float = 0.0) -> dict:
    """Run every point of the plan; returns the results document (see SCHEMA.md).

    `wait_quiet_s` > 0: before each point, wait up to that long for other processes to leave
    the CPUs (for shared machines); each point records the CPU share others used meanwhile.
    """
    why = check_device(device)
    if why:
        raise ValueError(why)
    torch.set_num_threads(torch.get_num_threads() if device == "cuda" else _cores())
    c = Context(device=device, plan=plan or PLANS[(device, quick)])
    doc = {"schema_version": SCHEMA_VERSION, "env": environment(device, c.torch_dtype),
           "settings": {"quick": quick, "device": device, "wait_quiet_s": wait_quiet_s, "plan": asdict(c.plan)},
           "peaks": c.peaks, "quality": c.quality, "points": c.points, "interrupted": False}
    started = dt.datetime.now(dt.timezone.utc)
    bar = tqdm(tasks(c.plan), desc=f"benchmarks ({device})", unit="pt", disable=not progress)
    try:
        for kind, params, fn in bar:
            bar.set_postfix_str(f"{kind} {params}"[:60])
            wait_for_quiet(wait_quiet_s)
            before = cpu_jiffies()
            rec = run_point(c, kind, params, fn)
            if rec is not None:
                rec["other_cpu_fraction"] = other_cpu_fraction(before, cpu_jiffies())
                c.points.append(rec)
    except KeyboardInterrupt:
        doc["interrupted"] = True
    finally:
        bar.close()
    doc["wall_s"] = (dt.datetime.now(dt.timezone.utc) - started).total_seconds()
    doc["env"]["loadavg_1min_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return doc


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


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
