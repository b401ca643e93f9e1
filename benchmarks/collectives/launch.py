"""Collective communication on torch.distributed (`python -m benchmarks collectives --nproc N`).

N processes (torch.multiprocessing spawn + init_process_group: gloo on CPUs, NCCL on GPUs,
one GPU per rank) run ops.run_rank; this process turns rank 0's times into
`collective` points with algorithm and bus bandwidth (nccl-tests' convention, busbw_factor in
planner/calibration/results_file.py) and fits t = alpha + n_bytes / beta per op.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import socket
import tempfile
import time
from pathlib import Path

import numpy as np

from ..measure.schema import SCHEMA_VERSION, busbw_factor
from ..measure.timing import summarize

OPS = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all")
KIB, MIB, GIB = 2**10, 2**20, 2**30
# CPU default stops at 16 MiB: gloo over loopback moved 0.1-0.7 GB/s on the shared 2-core VM,
# so 64 MiB calls take 0.1-0.4 s each and a default run to 64 MiB took 57 s; to 16 MiB it stays
# well under a minute and is still far past the latency regime (~1 ms). GPUs go to 1 GiB.
DEFAULT_MAX_BYTES = {"gloo": 16 * MIB, "nccl": 1 * GIB}


def sizes_between(lo: int, hi: int, factor: int = 4) -> list[int]:
    """lo, lo*factor, ... up to hi (and hi itself)."""
    out = [lo]
    while out[-1] * factor <= hi:
        out.append(out[-1] * factor)
    if hi > out[-1]:
        out.append(hi)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, n: int, backend: str, sizes: list[int], ops: tuple, min_run_s: float, result: str,
            timeout_s: float, port: int) -> None:
    import torch
    import torch.distributed as dist

    from .ops import run_rank
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))  # this rank's own environment
    if backend == "nccl":
        torch.cuda.set_device(rank)
    dist.init_process_group(backend, rank=rank, world_size=n, timeout=dt.timedelta(seconds=timeout_s))
    try:
        rows = run_rank(rank, n, backend, sizes, ops, min_run_s)
        if rank == 0:
            Path(result).write_text(json.dumps(rows), encoding="utf-8")
    finally:
        dist.destroy_process_group()


def launch(*, nproc: int, backend: str, sizes: list[int], ops: tuple = OPS, min_run_s: float = 0.1,
           timeout_s: float = 300.0) -> list[dict]:
    """Spawn `nproc` ranks on this machine; rank 0's rows (op, n_bytes, max_abs_error, times_s)."""
    import torch.multiprocessing as mp
    with tempfile.TemporaryDirectory(prefix="collectives-") as tmp:
        result = os.path.join(tmp, "rank0.json")
        mp.start_processes(_worker, args=(nproc, backend, sizes, ops, min_run_s, result, timeout_s, _free_port()),
                           nprocs=nproc, start_method="spawn", join=True)
        return json.loads(Path(result).read_text(encoding="utf-8"))


def to_point(row: dict, nproc: int, backend: str) -> dict:
    """A `collective` record (SCHEMA.md) from one rank-0 row."""
    params = {"op": row["op"], "n_bytes": row["n_bytes"], "nproc": nproc}
    if row["max_abs_error"] != 0.0:
        return {"kind": "collective", "params": params, "backend": backend,
                "skipped": f"wrong result: max abs error {row['max_abs_error']:.3g} against the known answer"}
    t = summarize(row["times_s"], calls_per_repeat=1, timer="cuda_events" if backend == "nccl" else "perf_counter")
    algbw = row["n_bytes"] / t.median_s
    factor = busbw_factor(row["op"], nproc)
    return {"kind": "collective", "dtype": "float32", "params": params, "backend": backend, **t.to_dict(),
            "algbw_bytes_per_s": algbw, "busbw_bytes_per_s": algbw * factor, "busbw_factor": factor,
            "correct": True, "model": None, "quantized": None}


def fit_alpha_beta(n_bytes: list[float], seconds: list[float]) -> dict:
    """t = alpha + n_bytes / beta by least squares on relative error (rows divided by t), so the
    microsecond sizes weigh as much as the second-long ones (Hockney's latency-bandwidth model).
    A negative alpha (latency below resolution) is refitted as 0."""
    x, t = np.asarray(n_bytes, dtype=float), np.asarray(seconds, dtype=float)
    a = np.stack([np.ones_like(x), x], axis=1) / t[:, None]
    (alpha, inv_beta), *_ = np.linalg.lstsq(a, np.ones_like(t), rcond=None)
    if alpha < 0:
        alpha, inv_beta = 0.0, float(np.sum(x / t) / np.sum((x / t) ** 2))
    if inv_beta <= 0:
        raise ValueError("no bandwidth term: time does not grow with size over these sizes")
    pred = alpha + x * inv_beta
    return {"alpha_s": float(alpha), "beta_bytes_per_s": float(1.0 / inv_beta),
            "max_rel_residual": float(np.max(np.abs(pred - t) / t)), "n_sizes": int(len(x)),
            "method": "least squares on relative error: t = alpha + n_bytes / beta"}


def fits(points: list[dict]) -> tuple[dict, dict]:
    """Per op: the alpha-beta fit, or (second dict) why there is none."""
    out, why = {}, {}
    for op in dict.fromkeys(p["params"]["op"] for p in points):
        pts = [p for p in points if p["params"]["op"] == op and "skipped" not in p]
        if len(pts) < 2:
            why[op] = f"{len(pts)} measured size(s); a fit needs 2"
            continue
        try:
            out[op] = fit_alpha_beta([p["params"]["n_bytes"] for p in pts], [p["median_s"] for p in pts])
        except ValueError as e:
            why[op] = str(e)
    return out, why


def run_collectives(*, nproc: int, device: str, min_bytes: int = KIB, max_bytes: int | None = None,
                    min_run_s: float = 0.1, ops: tuple = OPS) -> dict:
    """The results document (SCHEMA.md) of one collectives run."""
    import torch

    from ..measure.env import environment
    backend = "nccl" if device.startswith("cuda") else "gloo"
    max_bytes = max_bytes or DEFAULT_MAX_BYTES[backend]
    if backend == "nccl":
        free = min(torch.cuda.mem_get_info(i)[0] for i in range(nproc))
        max_bytes = min(max_bytes, 2 ** int(math.log2(free // 4)))  # out, inp and the check's copies fit
    sizes = sizes_between(min_bytes, max_bytes)
    started = time.monotonic()
    rows = launch(nproc=nproc, backend=backend, sizes=sizes, ops=ops, min_run_s=min_run_s)
    points = [to_point(r, nproc, backend) for r in rows]
    fit, no_fit = fits(points)
    env = environment("cuda:0" if backend == "nccl" else "cpu", torch.float32)
    return {"schema_version": SCHEMA_VERSION, "env": env | {"nproc": nproc, "backend": backend},
            "settings": {"nproc": nproc, "backend": backend, "ops": list(ops), "sizes_bytes": sizes,
                         "min_run_s": min_run_s, "launcher": "torch.multiprocessing spawn + init_process_group"},
            "peaks": {}, "quality": {}, "points": points, "collective_fit": fit, "collective_fit_skipped": no_fit,
            "interrupted": False,
            "wall_s": time.monotonic() - started}
