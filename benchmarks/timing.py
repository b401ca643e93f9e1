"""Timing with torch.utils.benchmark.Timer: warm-up excluded, synchronized, median and spread.

Timer synchronizes CUDA before reading the clock (its default timer calls
torch.cuda.synchronize when CUDA is available), so GPU work is counted in full.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

import torch
from torch.utils.benchmark import Timer


@dataclass(frozen=True)
class Timing:
    median_s: float
    iqr_s: float  # interquartile range of the repeats
    min_s: float
    max_s: float
    repeats: int  # timed blocks; each block's time is divided by calls_per_repeat
    calls_per_repeat: int

    def to_dict(self) -> dict:
        return asdict(self)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def measure(fn: Callable[[], object], *, device: str, min_run_s: float = 1.0, min_repeats: int = 5,
            warmup: int = 2) -> Timing:
    """Time `fn()`: `warmup` untimed calls, then Timer.blocked_autorange over at least
    `min_run_s` seconds, long enough for `min_repeats` blocks of a slow call."""
    for _ in range(warmup):
        fn()
    sync(device)
    timer = Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    one_call_s = timer.timeit(number=1).median  # the threads setting matters: Timer's default is 1
    m = timer.blocked_autorange(min_run_time=max(min_run_s, min_repeats * one_call_s * 1.05))
    times = sorted(m.times)
    return Timing(median_s=m.median, iqr_s=m.iqr, min_s=times[0], max_s=times[-1], repeats=len(times),
                  calls_per_repeat=m.number_per_run)

