"""Fitting rates to measurements: bounded, robust least squares, and when to refuse the result.

The caller (planner/estimate/calibrated.py) predicts every measured point with the
performance model the estimates use and hands the log residuals here; the rates are fitted
with `scipy.optimize.least_squares` under a soft-L1 loss, so one disturbed point cannot drag
the fit. The caller sets:

- physical bounds: efficiencies in (0, 1] of the datasheet peaks on a catalog GPU; on a CPU,
  where the peaks are the best GEMM and copy measured, GEMM efficiency <= 1 and streaming
  bandwidth <= 1.25 x the measured copy (a read-only stream can beat a copy's read + write);
- weak priors: the in-model GEMM efficiency is pulled gently towards the micro-benchmarks';
- a fit that ends on an upper bound, or leaves a large residual, is refused (FitError) with
  the points that disagree most named.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

from ..core.band import Band
from ..core.errors import PlannerError

Z90 = 1.2816  # a normal's p90 in standard deviations: residual spread -> p10/p90 of a rate
MAX_MEDIAN_RESIDUAL = 0.15  # refuse a fit whose typical point is off by more than ~16%
MAX_RESIDUAL = 0.60  # ... or any point by more than ~80% (log scale)
# The model is piecewise (the slower of a compute and a memory term per kernel), so the Jacobian is
# taken by finite differences 1% wide, across the kinks; with scipy's default step (~1e-8) the
# solver stopped at a kink with points 2-4x off (measured on a 2-core VM's calibration points).
DIFF_STEP = 1e-2
STARTS = (1.0, 0.3, 3.0)  # the starting rates times each factor; the fit with the lowest cost wins


class FitError(PlannerError):
    """The measurements do not pin the rates down: noisy points, or rates past physics."""


@dataclass(frozen=True)
class Param:
    name: str
    low: float
    high: float
    start: float
    physical_upper: bool  # ending on `high` means the data wants the impossible: refuse
    scale: float = 1.0  # typical magnitude: the optimiser works on value / scale, all of order one


@dataclass(frozen=True)
class FittedRates:
    """The fitted rates of one device (fractions of its peaks, seconds), with their spread."""

    values: dict[str, float]
    spread: float  # robust standard deviation of the log residuals
    residuals: dict[str, float] = field(default_factory=dict)  # point label -> log(predicted / measured)

    def band(self, name: str, high: float = 1.0) -> Band:
        """The rate as p10/p50/p90: the fitted value times exp(-/+ z90 x spread), capped at `high`."""
        v = self.values[name]
        lo, hi = v * math.exp(-Z90 * self.spread), min(v * math.exp(Z90 * self.spread), high)
        return Band(min(lo, v), v, max(hi, v))


def robust_fit(residual, params: list[Param], labels: list[str]) -> FittedRates:
    """Fit `params` so that residual(x) (log predicted / measured per point, then any prior terms)
    is small: bounded least squares with a soft-L1 loss, from a few starts (the lowest cost wins).
    FitError past physics or far off."""
    scale = np.array([pr.scale for pr in params])
    low, high = np.array([pr.low for pr in params]) / scale, np.array([pr.high for pr in params]) / scale
    start = np.clip([pr.start / pr.scale for pr in params], low, high)
    fits = [least_squares(lambda u: residual(u * scale), np.clip(start * f, low, high), bounds=(low, high),
                          loss="soft_l1", f_scale=0.05, diff_step=DIFF_STEP, ftol=1e-10, xtol=1e-10, gtol=1e-10)
            for f in STARTS]
    x = min(fits, key=lambda f: f.cost).x * scale
    x = _release_unpinned(residual, params, x)
    resid = np.asarray(residual(x))[: len(labels)]
    spread = float(1.4826 * np.median(np.abs(resid - np.median(resid))))
    rates = FittedRates(values={pr.name: float(xi) for pr, xi in zip(params, x)}, spread=spread,
                        residuals={lab: float(r) for lab, r in zip(labels, resid)})
    _check(rates, params, x)
    return rates


def _cost(residual, x) -> float:
    r = np.asarray(residual(x))
    return float(np.sum(2 * (np.sqrt(1 + (r / 0.05) ** 2) - 1)))  # the soft-L1 cost least_squares minimises


def _release_unpinned(residual, params: list[Param], x):
    """A rate that ended on its physical bound without the data asking for it (the cost does not
    rise when it moves 20% down: no point depends on it, e.g. streaming when every one-row GEMM
    is compute-bound) is not evidence of the impossible: it goes back to its starting value."""
    x = np.array(x, dtype=float)
    base = _cost(residual, x)
    for i, pr in enumerate(params):
        if pr.physical_upper and x[i] >= pr.high * (1 - 1e-6):
            trial = x.copy()
            trial[i] = pr.high * 0.8
            if _cost(residual, trial) <= base * (1 + 1e-3) + 1e-9:
                x[i] = min(max(pr.start, pr.low), pr.high)
    return x


def _check(rates: FittedRates, params: list[Param], x) -> None:
    """Refuse rates past physics or a fit that leaves points far off."""
    worst = sorted(rates.residuals.items(), key=lambda kv: -abs(kv[1]))[:3]
    named = "; ".join(f"{k} ({math.exp(v) - 1:+.0%})" for k, v in worst)
    for pr, xi in zip(params, x):
        if pr.physical_upper and xi >= pr.high * (1 - 1e-6):
            raise FitError(f"the fitted {pr.name} hit its physical bound ({pr.high:g}): the measurements imply a rate "
                           f"past the device's peak. Points that disagree most: {named}. Re-measure them on a quiet "
                           "machine.")
    errs = np.abs(list(rates.residuals.values()))
    if np.median(errs) > MAX_MEDIAN_RESIDUAL or errs.max() > MAX_RESIDUAL:
        raise FitError(f"the performance model does not fit these measurements (median residual "
                       f"{math.exp(np.median(errs)) - 1:.0%}, max {math.exp(errs.max()) - 1:.0%}). Points that disagree "
                       f"most: {named}. Re-measure them on a quiet machine.")
