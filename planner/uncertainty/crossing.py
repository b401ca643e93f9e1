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
    d = cum_a - cum_b
    down = (d[:, :-1] > 0) & (d[:, 1:] <= 0)
    up = (d[:, :-1] < 0) & (d[:, 1:] >= 0)
    any_down = down.any(axis=1)
    j = np.where(any_down, down.argmax(axis=1), up.argmax(axis=1))[:, None]
    d0, d1 = np.take_along_axis(d, j, 1)[:, 0], np.take_along_axis(d, j + 1, 1)[:, 0]
    crossed = any_down | up.any(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(crossed, j[:, 0] + d0 / (d0 - d1), np.nan)


def break_even_months(ref: str, other: str, pairs: dict) -> BreakEvenMonths:
    months = pairs.get((ref, other), pairs.get((other, ref)))
    crossed = months[~np.isnan(months)]
    return BreakEvenMonths(reference=ref, other=other, month=Band.from_samples(crossed) if crossed.size else None,
                           never_fraction=float(1.0 - crossed.size / months.size))
