"""One rank of the collectives benchmark: torch.distributed's own all-reduce, all-gather,
reduce-scatter and all-to-all, each checked for the right answer and then timed.

Sizes follow nccl-tests (github.com/NVIDIA/nccl-tests, doc/PERFORMANCE.md): `n_bytes` is the
all-reduce buffer, the all-gather output, the reduce-scatter input and the all-to-all send
buffer. Timing: on a GPU, CUDA events around each call on the current stream; on a CPU,
perf_counter around each call, every call starting after a barrier. A call's time is the
slowest rank's (the collective is done when the last rank is), the median over repetitions.
"""
from __future__ import annotations

import math
import time

import torch
import torch.distributed as dist

MIN_REPEATS = 10
MAX_REPEATS = 200


def _op_fn(op: str):
    gather = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor
    scatter = getattr(dist, "reduce_scatter_single", None) or dist.reduce_scatter_tensor
    return {"all_reduce": lambda out, inp: dist.all_reduce(inp),
            "all_gather": gather,
            "reduce_scatter": scatter,
            "all_to_all": dist.all_to_all_single}[op]


def buffers(op: str, numel: int, n: int, rank: int, device: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(out, inp, expected out) for a correctness call; `numel` is the nccl-tests size in elements."""
    f = dict(device=device, dtype=torch.float32)
    chunk = numel // n
    if op == "all_reduce":  # in place: the answer lands in inp
        inp = torch.full((numel,), rank + 1.0, **f)
        return inp, inp, torch.full((numel,), n * (n + 1) / 2, **f)
    if op == "all_gather":
        return (torch.empty(numel, **f), torch.full((chunk,), rank + 1.0, **f),
                torch.arange(1, n + 1, **f).repeat_interleave(chunk))
    if op == "reduce_scatter":
        return torch.empty(chunk, **f), torch.full((numel,), rank + 1.0, **f), torch.full((chunk,), n * (n + 1) / 2, **f)
    # all_to_all: chunk j of rank r holds r * n + j; rank r receives chunk r of every rank j: j * n + r
    inp = (rank * n + torch.arange(n, **f)).repeat_interleave(chunk)
    return torch.empty(numel, **f), inp, (torch.arange(n, **f) * n + rank).repeat_interleave(chunk)


def check(op: str, numel: int, n: int, rank: int, device: str) -> float:
    """Largest absolute error of one call against the known answer (0.0: exact)."""
    out, inp, want = buffers(op, numel, n, rank, device)
    _op_fn(op)(out, inp)
    got = inp if op == "all_reduce" else out
    return (got - want).abs().max().item()


def _timed_calls(fn, count: int, is_cuda: bool) -> list[float]:
    if is_cuda:
        pairs = [(torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)) for _ in range(count)]
        for start, end in pairs:
            start.record()
            fn()
            end.record()
        torch.cuda.synchronize()
        return [s.elapsed_time(e) / 1e3 for s, e in pairs]
    times = []
    for _ in range(count):
        dist.barrier()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def _slowest_rank(times: list[float], device: str) -> list[float]:
    t = torch.tensor(times, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return t.cpu().tolist()


def time_op(op: str, numel: int, n: int, rank: int, device: str, min_run_s: float) -> list[float]:
    """Per-call seconds (slowest rank) for at least MIN_REPEATS calls, about `min_run_s` in all."""
    out, inp, _ = buffers(op, numel, n, rank, device)
    inp.zero_()  # sums of zeros stay zero: repeated in-place all-reduces cannot overflow
    fn = (lambda: _op_fn(op)(out, inp))
    is_cuda = device.startswith("cuda")
    _timed_calls(fn, 2, is_cuda)  # warm-up
    one = _slowest_rank(_timed_calls(fn, 1, is_cuda), device)[0]
    count = min(MAX_REPEATS, max(MIN_REPEATS, math.ceil(min_run_s / max(one, 1e-7))))  # the same on every rank
    return _slowest_rank(_timed_calls(fn, count, is_cuda), device)


def run_rank(rank: int, n: int, backend: str, sizes: list[int], ops: tuple[str, ...], min_run_s: float) -> list[dict]:
    """Every (op, size) on this rank; rank 0's list is the result (times are already the slowest rank's)."""
    device = f"cuda:{rank}" if backend == "nccl" else "cpu"
    rows = []
    for op in ops:
        for n_bytes in sizes:
            numel = n_bytes // 4 // n * n  # float32, divisible into n chunks
            if numel == 0:
                continue
            err = check(op, numel, n, rank, device)
            errs = _slowest_rank([err], device)[0]
            times = time_op(op, numel, n, rank, device, min_run_s) if errs == 0.0 else []
            rows.append({"op": op, "n_bytes": numel * 4, "max_abs_error": errs, "times_s": times})
    return rows
