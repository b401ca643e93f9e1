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
