"""Scenarios per second of the vectorized comparison core (CPU, numpy; no torch).

Two figures, each the median of several timed repeats after one warm-up:
- traffic sweep: every option's total cost at 100k traffic levels, Comparison.cost_vs_traffic;
- scenario variants: 100k variants with every uncertain input changed at once, uncertainty.Engine.totals
  (the array pass under monte_carlo, tornado and frontier, without sampling).
compare() itself (the scalar catalog lookups and serving plan) runs once, outside the clock.

    python scripts/bench_scenarios.py [--n 100000] [--repeats 7] [--scenario examples/customer_support.toml]
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from planner.decide.compare import compare
from planner.decide.scenario import load_scenario
from planner.uncertainty.montecarlo import Engine

DEFAULT_SCENARIO = Path(__file__).resolve().parents[1] / "examples" / "customer_support.toml"


def machine() -> str:
    """CPU model, cores, numpy and Python versions: printed next to every figure."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores available, numpy {np.__version__}, Python {platform.python_version()}"


def timed(fn, repeats: int, clock=time.perf_counter) -> tuple[float, float, float]:
    """(median, min, max) seconds of `fn()` over `repeats` runs after one warm-up run, by `clock`
    (wall time by default; time.process_time for CPU time on a shared machine)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = clock()
        fn()
        times.append(clock() - t0)
    return statistics.median(times), min(times), max(times)


def report(label: str, n: int, unit: str, t: tuple[float, float, float]) -> float:
    med, lo, hi = t
    rate = n / med
    print(f"{label}: {rate:,.0f} {unit}/s  (n={n:,}; median {med * 1e3:.1f} ms, min {lo * 1e3:.1f}, max {hi * 1e3:.1f})")
    return rate


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--scenario", default=str(DEFAULT_SCENARIO))
    a = p.parse_args(argv)
    s = load_scenario(a.scenario)
    c = compare(s)
    engine = Engine(s, c)
    levels = np.geomspace(s.workload.requests_per_day / 100, s.workload.requests_per_day * 100, a.n)
    variants = engine.sample(a.n, s.seed)  # inputs drawn outside the clock
    print(f"machine: {machine()}")
    print(f"scenario: {s.name} ({len(engine.keys)} options, {s.workload.horizon_months} months, "
          f"{len(variants)} uncertain inputs); {a.repeats} repeats")
    report("traffic sweep (cost_vs_traffic)", a.n, "scenarios", timed(lambda: c.cost_vs_traffic(levels), a.repeats))
    report("scenario variants (Engine.totals)", a.n, "scenarios", timed(lambda: engine.totals(variants, a.n), a.repeats))


if __name__ == "__main__":
    main()
