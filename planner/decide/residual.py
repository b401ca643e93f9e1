"""Owned hardware's market value over the horizon: the formulas decide/generations.py applies (no imports from the
rest of decide, so costmodel.py can use them). Arrays broadcast: the Monte Carlo passes one row per sample."""
from __future__ import annotations

import math

import numpy as np

MONTHS_PER_YEAR = 12.0


def residual_fraction(months, loss_per_year, step, step_month):
    """Market value at month m (0: the plan's start) as a share of today's: (1 - loss) ** (m / 12), times
    (1 - step) once the successor has shipped (m > step_month; None: never). Arrays broadcast."""
    m = np.asarray(months, dtype=float)
    stepped = np.where(m > (math.inf if step_month is None else step_month), 1.0 - np.asarray(step, dtype=float), 1.0)
    return (1.0 - np.asarray(loss_per_year, dtype=float)) ** (m / MONTHS_PER_YEAR) * stepped


def capital_factor(months, loss_per_year, step, step_month, years):
    """Month m's loss of market value over straight-line's monthly share of the price (1 / (12 x years)): the
    multiplier on the straight-line capital cost of a GPU-hour held in month m."""
    m = np.asarray(months, dtype=float)
    lost = residual_fraction(m, loss_per_year, step, step_month) - residual_fraction(m + 1, loss_per_year, step,
                                                                                      step_month)
    return MONTHS_PER_YEAR * np.asarray(years, dtype=float) * lost


def resale_break_even_months(purchase_usd, rent_usd_per_month, running_usd_per_month, loss_per_year, step,
                             step_month, max_months: int = 120) -> float | None:
    """Months of holding after which owning, then selling at the market value, costs less than renting:
    purchase x (1 - value(t)) + running x t <= rent x t from then on (within max_months, linear within a month);
    None when renting stays cheaper at max_months. 0: owning is cheaper from the first month."""
    t = np.arange(max_months + 1, dtype=float)
    gap = purchase_usd * (1.0 - residual_fraction(t, loss_per_year, step, step_month)) \
        + (running_usd_per_month - rent_usd_per_month) * t
    dearer = np.flatnonzero(gap[1:] > 0)  # holding periods (months 1..) where owning still costs more
    if dearer.size == 0:
        return 0.0
    k = int(dearer[-1]) + 1  # the last such month
    if k == max_months:
        return None
    return float(k + gap[k] / (gap[k] - gap[k + 1]))
