"""Units: the time conversions every stage uses, and the one money and probability format.

Compute in SI (seconds, bytes, FLOP, $); these constants turn traffic and rent into
months. Two month lengths are in use on purpose: traffic over a calendar-average month
(365.25 / 12 days) and GPU rent over the cloud-billing month (8760 h / 12 = 730 h).
"""
from __future__ import annotations

import math

SECONDS_PER_HOUR = 3600.0
HOURS_PER_DAY = 24.0
SECONDS_PER_DAY = 86_400.0
DAYS_PER_MONTH = 30.4375  # 365.25 / 12: a calendar-average month, for traffic and calendar time
HOURS_PER_MONTH = 730.0  # 8760 h / 12: how clouds bill a month of an always-on GPU

NA = "n/a"
_MONEY_UNITS = (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3))


def finite(x) -> bool:
    """A real, finite number (not None, bool or text)."""
    return x is not None and isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def three_figures(m: float) -> str:
    """1 <= |m| < 1000 with three significant figures, trailing zeros kept (4.50, 12.3, 123)."""
    decimals = max(0, 2 - int(math.floor(math.log10(abs(m)))))
    return f"{m:.{decimals}f}"


def scaled(x: float, units) -> tuple[float, str]:
    """x divided by the largest unit it reaches once rounded to three figures (999.96k -> 1.00M)."""
    r = float(f"{x:.3g}")
    for suffix, div in units:
        if abs(r) >= div:
            return r / div, suffix
    return r, ""


def usd(x) -> str:
    """Money with three significant figures: $12.3k, $4.56M, $1.23; below $1 $0.00108."""
    if not finite(x):
        return NA
    if x == 0:
        return "$0"
    sign = "-" if x < 0 else ""
    x = abs(float(x))
    if x < 1:
        return f"{sign}${x:.3g}"
    m, suffix = scaled(x, _MONEY_UNITS)
    return f"{sign}${three_figures(m)}{suffix}"


def percent(p) -> str:
    """A probability: 99.9%, never rounded to a certainty it is not (>99.9%, <0.1%)."""
    if not finite(p):
        return NA
    if 0 < p < 0.001:
        return "<0.1%"
    if 0.999 < p < 1:
        return ">99.9%"
    return f"{p:.1%}"
