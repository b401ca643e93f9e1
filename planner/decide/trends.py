"""Price trends over the horizon: the scenario's [trends] section and the declines compare() applies.

Hosted-API $/token and rented GPU $/hour fall (or rise) a fraction a year, compounded month by month
(costmodel.price_factor). The default is the p50 of the sourced bands in catalog/data/trends.toml;
`prices = "none"` freezes every price at today's (the planner's behaviour before trends). A reservation's
price moves only at each renewal of its term; owned GPUs pay no rent, so no rent trend applies to them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..catalog.trends import trend_facts
from ..core import validate as V
from ..core.errors import InputError, PlannerError, show
from .distributions import Distribution, triangular_from_band
from .sections import _Section

TREND_MODES = ("sourced", "none")
# decide/sourcing.py's modes -> (the trends.toml GPU band, the months a price holds before it moves; 0: monthly)
_GPU_MODE = {"on-demand": ("on-demand", 0.0), "reserved-1y": ("reserved", 12.0), "reserved-3y": ("reserved", 36.0),
             "spot": ("spot", 0.0)}


@dataclass(frozen=True)
class Decline:
    """A yearly decline, a fraction strictly between -1 and 1: at 1 (-100%) the price falls to nothing in a year, at
    -1 it doubles (both refused as implausible); optionally None."""

    optional: bool = True

    def allowed(self) -> str:
        return "a fraction of the price lost per year, strictly between -1 and 1 (-100% and +100%)" + \
            (" or none" if self.optional else "")

    def __call__(self, name: str, value):
        if value is None and self.optional:
            return None
        x = V.Real(unit="fraction per year")(name, value)
        if not -1.0 < x < 1.0:
            raise InputError(name, f"must be {self.allowed()}, got {show(value)}", value=value, allowed=self.allowed())
        return x


@dataclass(frozen=True)
class Trends(_Section):
    """How prices move over the horizon (catalog/data/trends.toml has the sourced bands)."""

    section: ClassVar[str] = "trends"
    prices: str = V.knob("sourced", V.Choice(TREND_MODES),
                         "sourced: the p50 of the sourced yearly declines; none: every price frozen at today's")
    api_decline_per_year: float | None = V.knob(None, Decline(),
                                                "hosted-API $/token lost per year (this model and provider); "
                                                "none: the sourced p50")
    gpu_decline_per_year: float | None = V.knob(None, Decline(),
                                                "rented GPU $/hour lost per year; none: the sourced p50 of the "
                                                "self-host sourcing mode (a reservation moves at each renewal)")

    @property
    def frozen(self) -> bool:
        return self.prices == "none"


def api_decline(t: Trends) -> float:
    """The yearly $/token decline compare() applies (0 when prices are frozen)."""
    if t.frozen:
        return 0.0
    return t.api_decline_per_year if t.api_decline_per_year is not None else trend_facts()["api"].value.p50


def gpu_trend(t: Trends, sourcing: str) -> tuple[float, float]:
    """(the yearly decline of the GPU rent, the months its price holds) for a sourcing mode; owned: (0, 0)."""
    mode = _GPU_MODE.get(sourcing)
    if t.frozen or mode is None:
        return 0.0, 0.0
    band, term = mode
    decline = t.gpu_decline_per_year if t.gpu_decline_per_year is not None else trend_facts()[f"gpu.{band}"].value.p50
    return decline, term


def trend_band(t: Trends, path: str, sourcing: str):
    """The sourced band (a catalog Fact) the Monte Carlo samples for 'trends.api_decline_per_year' or
    'trends.gpu_decline_per_year'; None where the scenario fixes it (frozen prices, a value of its own, owned GPUs)."""
    field = path.removeprefix("trends.")
    if t.frozen or getattr(t, field) is not None:
        return None
    if field == "api_decline_per_year":
        return trend_facts()["api"]
    mode = _GPU_MODE.get(sourcing)
    return trend_facts()[f"gpu.{mode[0]}"] if mode else None


def decline_distribution(band, source: str) -> Distribution:
    """The triangular distribution with the band's p10/p50/p90 where one exists inside (-1, 1); else (a skewed
    band) the triangle from p10 through p50 to p90, a narrower spread than the band's (judgement: it keeps every
    sample a possible decline)."""
    try:
        d = triangular_from_band(band, source)
    except PlannerError:
        d = None
    if d is None or d.kind == "triangular" and not -1 < d.low <= d.high < 1:
        return Distribution("triangular", low=band.p10, mode=band.p50, high=band.p90, source=source + "; the band's "
                            "p10-p90 as the triangle's ends (judgement: no triangle with its percentiles fits)")
    return d
