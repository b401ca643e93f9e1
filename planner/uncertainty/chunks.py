"""One Monte Carlo chunk's array pass: each option's cumulative curve, totals, $/request and crossing months
(split from montecarlo.py, whose monte_carlo() runs it over chunks of CHUNK samples)."""
from __future__ import annotations

import numpy as np

from ..core.units import DAYS_PER_MONTH
from ..decide.costmodel import cumulative
from ..estimate.workload import requests_per_month
from .crossing import crossing_months


def chunk_results(engine, values: dict[str, np.ndarray], n: int):
    """Totals, all-in $/request and the pairwise crossing months for one chunk of n samples (engine: montecarlo's
    Engine; values: the chunk's sampled columns).

    Each total is its cumulative curve's last point (one-time spend + the running cost, compare()'s curve);
    requests over the horizon are the growth's geometric series in closed form (total_requests)."""
    costs, _ = engine.evaluate(values)
    cums = {key: np.broadcast_to(cumulative(spends, monthly), (n, len(engine.months) + 1))
            for key, (_, monthly, spends) in costs.items()}
    totals = np.stack([c[:, -1] for c in cums.values()], axis=1)
    v = {p: (np.asarray(values[p], dtype=float) if p in values else engine.base[p])
         for p in ("workload.requests_per_day", "workload.monthly_growth")}
    served = total_requests(v["workload.requests_per_day"], v["workload.monthly_growth"], engine.months)
    per_request = totals / np.broadcast_to(np.reshape(served, (-1, 1)), (n, 1))
    keys = engine.keys
    pairs = {(a, b): crossing_months(cums[a], cums[b]) for i, a in enumerate(keys) for b in keys[i + 1:]}
    return totals, per_request, pairs


def total_requests(requests_per_day, monthly_growth, months):
    """Requests over `months` (workload.requests_per_month summed); months 0 .. T-1: the geometric series in closed
    form, requests_per_day x days x ((1 + g)^T - 1) / g, as expm1(T log1p(g)) / g (exact as g -> 0; T at g = 0)."""
    months = np.asarray(months, dtype=float)
    g = np.asarray(monthly_growth, dtype=float)
    if not np.array_equal(months, np.arange(months.size)) or np.any(g <= -1.0):
        return requests_per_month(np.asarray(requests_per_day)[..., None], g[..., None], months).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        series = np.where(g == 0.0, months.size, np.expm1(months.size * np.log1p(g)) / g)
    return np.multiply(requests_per_day, DAYS_PER_MONTH) * series
