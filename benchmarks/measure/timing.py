"""Timing: warm-up excluded, synchronized, at least 10 timed repetitions, median and IQR kept.

On a GPU every repetition is one call between two CUDA events, after a read of a buffer of
4x the L2 cache that evicts it, so no repetition reads what the previous one left in cache;
the flush kernel also keeps the GPU busy while the host queues the call, so a fast kernel is
not timed as its launch. The flush reads, not writes (triton.testing.do_bench zeroes its
buffer): a write leaves the L2 full of dirty lines, and the timed call then pays for writing
them back as it evicts them, which could read small memory-bound points up to ~1.4x slow (an
estimate from a read-through, not measured: no GPU has run this). A read
leaves clean lines, and the previous call's dirty lines are written back during the flush,
before the start event. On a CPU, perf_counter around blocks of calls, each block long enough
to read the clock meaningfully.
"""
from __future__ import annotations

import math
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Callable

import torch

from .accel import Accel, as_accel

MIN_REPEATS = 10
MAX_REPEATS = 2000


@dataclass(frozen=True)
class Timing:
    median_s: float  # per call
    iqr_s: float  # interquartile range of the repetitions
    min_s: float
    max_s: float
    repeats: int  # timed repetitions (blocks on a CPU)
    calls_per_repeat: int
    timer: str = "perf_counter"  # or "cuda_events"
    l2_flush_bytes: int = 0  # bytes read between repetitions to evict the L2 (0: no flush)
    l2_flush: str = "none"  # "read" on a GPU (a file without the key flushed by a write, zero_())

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(per_call_s: list[float], *, calls_per_repeat: int, timer: str, l2_flush_bytes: int = 0,
              l2_flush: str = "none") -> Timing:
    """Median, IQR, min and max of per-call times (one per repetition)."""
    xs = sorted(per_call_s)
    q1, _, q3 = statistics.quantiles(xs, n=4, method="inclusive") if len(xs) > 1 else (xs[0],) * 3
    return Timing(median_s=statistics.median(xs), iqr_s=q3 - q1, min_s=xs[0], max_s=xs[-1], repeats=len(xs),
                  calls_per_repeat=calls_per_repeat, timer=timer, l2_flush_bytes=l2_flush_bytes,
                  l2_flush=l2_flush)


def sync(device: str | Accel) -> None:
    as_accel(device).sync()


def measure(fn: Callable[[], object], *, device: str | Accel, min_run_s: float = 1.0,
            min_repeats: int = MIN_REPEATS, warmup: int = 2) -> Timing:
    """Time `fn()` after `warmup` untimed calls: at least `min_repeats` repetitions and about
    `min_run_s` seconds of timed calls in all."""
    accel = as_accel(device)
    for _ in range(warmup):
        fn()
    accel.sync()
    if accel.is_cuda:
        return _cuda_events(fn, accel, min_run_s, max(min_repeats, MIN_REPEATS))
    return _perf_counter(fn, min_run_s, max(min_repeats, MIN_REPEATS))


def _perf_counter(fn: Callable, min_run_s: float, min_repeats: int) -> Timing:
    t0 = time.perf_counter()
    fn()
    one_s = max(time.perf_counter() - t0, 1e-9)
    # Blocks of >= 1 ms (the clock and loop cost well under 1%), about 2 x min_repeats of them.
    calls = max(1, math.ceil(max(1e-3, min_run_s / (2 * min_repeats)) / one_s))
    per_call, started = [], time.perf_counter()
    while len(per_call) < min_repeats or (time.perf_counter() - started < min_run_s
                                          and len(per_call) < MAX_REPEATS):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        per_call.append((time.perf_counter() - t0) / calls)
    return summarize(per_call, calls_per_repeat=calls, timer="perf_counter")


def _cuda_events(fn: Callable, accel: Accel, min_run_s: float, min_repeats: int) -> Timing:
    flush = torch.zeros(accel.min_buffer_bytes() // 4, dtype=torch.float32, device=accel.tensor_device)
    one_s = _event_times(fn, accel, flush, 1)[0]
    n = min(MAX_REPEATS, max(min_repeats, math.ceil(min_run_s / max(one_s, 1e-7))))
    return summarize(_event_times(fn, accel, flush, n), calls_per_repeat=1, timer="cuda_events",
                     l2_flush_bytes=flush.nbytes, l2_flush="read" if flush.numel() else "none")


def flush_l2(buf: torch.Tensor) -> None:
    """Evict the L2 by reading `buf` (a reduction: reads every byte, writes one number)."""
    buf.sum()


def _event_times(fn: Callable, accel: Accel, flush: torch.Tensor, n: int) -> list[float]:
    """Seconds per call for `n` calls, each after an L2 flush (a read), each between its own two events."""
    starts = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
    ends = [torch.cuda.Event(enable_timing=True) for _ in range(n)]
    for start, end in zip(starts, ends):
        flush_l2(flush)
        start.record()
        fn()
        end.record()
    accel.sync()
    return [s.elapsed_time(e) / 1e3 for s, e in zip(starts, ends)]  # elapsed_time is in ms
