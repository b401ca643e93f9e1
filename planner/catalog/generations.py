"""Hardware generations with sources (data/generations.toml; launch dates and successors in gpus.toml).

A launch is a month, "YYYY-MM" (first shipments to customers). Owned hardware's resale value is quoted
as the share of the new price left after three years and the step down when the successor ships; the
yearly loss between launches is derived from the two (`yearly_loss`). decide/generations.py applies them.
"""
from __future__ import annotations

import functools

from ..core.band import Band
from ..core.errors import PlannerError
from .costs import Fact, _fact
from .lookup import _read
from .months import month_text, months_between  # noqa: F401  (re-exported)

YEARS_QUOTED = 3.0  # the residual figures are the value left after three years


@functools.cache
def _data() -> dict:
    return _read("generations.toml")


def as_of() -> str:
    """The month a plan starts when the scenario names none (generations.toml, judgement)."""
    return month_text("generations.toml as_of", _data()["as_of"])


@functools.cache
def successor_step() -> Fact:
    """The fraction of the market value lost when the successor ships (a band)."""
    return _checked(_fact("successor_step", _data()["successor_step"], "generations.toml"))


@functools.cache
def residual_after(gpu_name: str) -> Fact:
    """The share of the new price left after three years for `gpu_name` (its own figure, else the default)."""
    table = _data()["residual"]
    key = gpu_name if gpu_name in table else "default"
    return _checked(_fact(f"residual.{key}", table[key], "generations.toml"))


def _checked(f: Fact) -> Fact:
    if not 0.0 <= f.value.p10 <= f.value.p50 <= f.value.p90 < 1.0:
        raise PlannerError(f"generations.toml: {f.name} must be ordered fractions in [0, 1), got {f.value}")
    return f


def yearly_loss(residual_3y: float, step: float) -> float:
    """The yearly loss of market value between launches: (1 - loss) ** 3 x (1 - step) = the value left after three
    years (one successor launch among them, see generations.toml)."""
    return 1.0 - (residual_3y / (1.0 - step)) ** (1.0 / YEARS_QUOTED)


def yearly_loss_band(gpu_name: str) -> Band:
    """The yearly loss as a band: slow (p10) from the highest residual and the smallest step, fast (p90) from the
    lowest residual and the largest step."""
    r, s = residual_after(gpu_name).value, successor_step().value
    return Band(yearly_loss(r.p90, s.p10), yearly_loss(r.p50, s.p50), yearly_loss(r.p10, s.p90))
