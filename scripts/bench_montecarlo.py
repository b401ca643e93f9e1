"""Monte Carlo samples per second: planner.uncertainty.montecarlo.monte_carlo end to end (CPU, numpy; no torch).

Each timed run samples every uncertain input, costs every option per sample, and
reduces to percentiles, P(cheapest) and break-even months; compare() inside it is
included (it runs once per call, a few ms). Median of several repeats after a warm-up.
Both modes (issue 23's two budgets): physics=True, the default, re-times the pretraining
run by the step-time model for every sample ("re-running the physics", 100k samples/s);
physics=False holds the estimates fixed: the run's time is read off that model evaluated
once on a small grid of efficiencies ("fixed estimates", 1M samples/s).

    python scripts/bench_montecarlo.py [--n 100000] [--repeats 5] [--scenario examples/customer_support.toml]
"""
from __future__ import annotations

import argparse
import os
import time

from bench_scenarios import DEFAULT_SCENARIO, machine, report, timed  # scripts/bench_scenarios.py, beside this file
from planner.decide.compare import compare
from planner.decide.scenario import load_scenario
from planner.uncertainty.montecarlo import Engine, monte_carlo

# Every option's main cost drivers uncertain at once, on top of the default efficiency distributions
# (absolute values: [uncertainty] entries are relative to the scenario's unless relative = false).
UNCERTAINTY = {
    "workload.requests_per_day": {"dist": "lognormal", "p10": 20_000, "p90": 80_000, "relative": False},
    "workload.monthly_growth": {"dist": "uniform", "low": 0.0, "high": 0.08, "relative": False},
    "api.price_scale": {"dist": "triangular", "low": 0.4, "mode": 0.8, "high": 1.2, "relative": False},
    "self_host.usd_per_gpu_hour": {"dist": "triangular", "low": 1.8, "mode": 2.5, "high": 4.5, "relative": False},
    "costs.usd_per_engineer_year": {"dist": "uniform", "low": 250_000, "high": 450_000, "relative": False},
}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--scenario", default=str(DEFAULT_SCENARIO))
    a = p.parse_args(argv)
    s = load_scenario(a.scenario)
    s = s.replace(uncertainty={**UNCERTAINTY, **s.uncertainty})
    print(f"machine: {machine()}; load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"scenario: {s.name}; {len(Engine(s).uncertain)} uncertain inputs; {a.repeats} repeats")
    for label, physics in (("fixed estimates (physics=False)", False),
                           ("re-running the physics (physics=True, the default)", True)):
        for clock, what in ((time.perf_counter, "wall"), (time.process_time, "CPU")):  # CPU: less moved by load
            report(f"monte_carlo, {label}, {what} time", a.n, "samples",
                   timed(lambda: monte_carlo(s, n=a.n, physics=physics), a.repeats, clock))
    # The dashboard and the Markdown report pass the comparison they have already made (app.monte_carlo_cached,
    # present/report.py), so the run does not repeat compare() (about 7-9 ms here): its sampling alone.
    c = compare(s)
    report("monte_carlo, fixed estimates, comparison given (as the dashboard and the report call it), CPU time",
           a.n, "samples", timed(lambda: monte_carlo(s, n=a.n, physics=False, comparison=c), a.repeats,
                                 time.process_time))
    r = monte_carlo(s, n=a.n)
    print(r.summary_frame()[["total_usd_p10", "total_usd_p50", "total_usd_p90", "prob_cheapest"]].to_string())


if __name__ == "__main__":
    main()
