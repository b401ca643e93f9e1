"""When two options' cumulative costs cross, over Monte Carlo samples (split from montecarlo.py)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..core.band import Band
from ..core.results import ResultMixin


@dataclass(frozen=True)
class BreakEvenMonths(ResultMixin):
    """When cumulative costs of `reference` and `other` cross, over the samples."""

    reference: str
    other: str
    month: Band | None  # p10/p50/p90 over the samples that cross; None when none does
    never_fraction: float  # samples whose curves do not cross within the horizon


def crossing_months(cum_a: np.ndarray, cum_b: np.ndarray) -> np.ndarray:
    """costmodel.crossing_month for each row (samples x months+1): A falling to B, else B to A; NaN: never."""
    d = np.subtract(cum_a, cum_b)
    above, below = d > 0, d < 0
    down = above[:, :-1] & ~above[:, 1:]  # above, then at or below (d is never NaN: its inputs are checked)
    up = below[:, :-1] & ~below[:, 1:]
    rows = np.arange(d.shape[0])
    j_down, j_up = down.argmax(axis=1), up.argmax(axis=1)  # argmax of a row with no True: 0, so check it
    any_down = down[rows, j_down]
    j = np.where(any_down, j_down, j_up)
    d0, d1 = d[rows, j], d[rows, j + 1]
    crossed = any_down | up[rows, j_up]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(crossed, j + d0 / (d0 - d1), np.nan)


def break_even_months(ref: str, other: str, pairs: dict) -> BreakEvenMonths:
    months = pairs.get((ref, other), pairs.get((other, ref)))
    crossed = months[~np.isnan(months)]
    return BreakEvenMonths(reference=ref, other=other, month=Band.from_samples(crossed) if crossed.size else None,
                           never_fraction=float(1.0 - crossed.size / months.size))
