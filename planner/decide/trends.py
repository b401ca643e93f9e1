"""Price trends over the horizon: the scenario's [trends] section and the declines compare() applies.

Hosted-API $/token and rented GPU $/hour fall (or rise) a fraction a year, compounded month by month
(costmodel.price_factor). The default is the p50 of the sourced bands in catalog/data/trends.toml;
`prices = "none"` freezes every price at today's (the planner's behaviour before trends). A reservation's
price moves only at each renewal of its term; owned GPUs pay no rent, so no rent trend applies to them.
A provider or a model may have its own API decline (`api_declines`, or trends.toml's [api.provider.<id>] and
[api.model.<id>]). The section also holds the hardware generation over the horizon (the plan's start, the
self-host GPU's successor, a rented fleet's move to it, owned hardware's resale curve): decide/generations.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..catalog.lookup import gpu as lookup_gpu
from ..catalog.months import month_text
from ..catalog.trends import trend_facts
from ..core import limits as L
from ..core import validate as V
from ..core.errors import InputError, PlannerError, UnknownNameError, show
from .distributions import Distribution, triangular_from_band
from .sections import _Section

TREND_MODES = ("sourced", "none")
RESIDUALS = ("generation", "straight-line")  # owned hardware's capital: the market curve (generations.py), or not
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
class Fraction:
    """A share lost, in [0, 1); optionally None."""

    optional: bool = True

    def allowed(self) -> str:
        return "a fraction in [0, 1) or none"

    def __call__(self, name: str, value):
        if value is None:
            return None
        x = V.Real(unit="fraction")(name, value)
        if not 0.0 <= x < 1.0:
            raise InputError(name, f"must be {self.allowed()}, got {show(value)}", value=value, allowed=self.allowed())
        return x


@dataclass(frozen=True)
class Month:
    """A month as "YYYY-MM" (catalog/months.py); optionally None."""

    optional: bool = True

    def allowed(self) -> str:
        return "a month as YYYY-MM" + (" or none" if self.optional else "")

    def __call__(self, name: str, value):
        if value is None and self.optional:
            return None
        return month_text(name, value)


@dataclass(frozen=True)
class Declines:
    """Yearly $/token declines by API provider id or model (a TOML table { openai = 0.3 }); kept as sorted pairs."""

    def allowed(self) -> str:
        return f"a table of provider or model -> {Decline(optional=False).allowed()}"

    def __call__(self, name: str, value):
        pairs = value.items() if isinstance(value, dict) else value
        if not isinstance(pairs, (list, tuple, type({}.items()))) or len(pairs) > L.MAX_SHORTLIST:
            raise InputError(name, f"must be {self.allowed()} (at most {L.MAX_SHORTLIST}), got {show(value)}",
                             value=value, allowed=self.allowed())
        out = {}
        for pair in pairs:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise InputError(name, f"must be {self.allowed()}, got {show(value)}", value=value,
                                 allowed=self.allowed())
            key = V.Text(L.MAX_NAME_CHARS, empty=False)(f"{name} key", pair[0])
            out[key.strip().lower()] = Decline(optional=False)(f"{name}.{key}", pair[1])
        return tuple(sorted(out.items()))


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
    api_declines: tuple = V.knob((), Declines(), "API $/token lost per year by provider id or model, e.g. "
                                 "{ openai = 0.3 } (the model's entry first, then its provider's; "
                                 "api_decline_per_year wins over both); empty: trends.toml's")
    start: str | None = V.knob(None, Month(), "the month the plan starts (YYYY-MM); none: the catalog's as_of "
                               "(catalog/data/generations.toml)")
    migrate: bool = V.knob(False, V.Flag(), "a rented fleet moves to the self-host GPU's successor in its launch "
                           "month, re-priced at the successor's cost per unit of throughput (decide/generations.py); "
                           "default false (judgement: the rent trend already carries much of the market's move to "
                           "newer GPUs)")
    successor: str | None = V.knob(None, V.Text(L.MAX_NAME_CHARS, empty=False, optional=True),
                                   "the self-host GPU's successor (a catalog or custom GPU); none: the catalog's")
    successor_launch: str | None = V.knob(None, Month(), "the successor's launch month (YYYY-MM); none: the "
                                          "catalog's")
    residual: str = V.knob("generation", V.Choice(RESIDUALS), "owned hardware's capital: generation: the market "
                           "value it loses (a yearly loss and a step at the successor's launch); straight-line: "
                           "the price over the depreciation years")
    residual_loss_per_year: float | None = V.knob(None, Fraction(), "owned hardware's market value lost per year "
                                                  "between launches; none: the sourced p50 for its GPU")
    successor_step: float | None = V.knob(None, Fraction(), "owned hardware's market value lost when the "
                                          "successor ships; none: the sourced p50")

    @property
    def frozen(self) -> bool:
        return self.prices == "none"


def check_successor(t: Trends) -> None:
    """[trends] successor must be a GPU one can look up (the catalog's or the scenario's custom GPUs)."""
    if t.successor is not None:
        try:
            lookup_gpu(t.successor)
        except UnknownNameError as e:
            raise InputError("trends.successor", f"names no GPU in the catalog: {e}", value=t.successor,
                             allowed="a catalog GPU or a [[custom_gpu]] name") from None


def api_decline(t: Trends, provider: str = "", model: str = "") -> float:
    """The yearly $/token decline compare() applies (0 when prices are frozen): api_decline_per_year, else the
    scenario's entry for the model, then for the provider, else trends.toml's band for them (p50)."""
    if t.frozen:
        return 0.0
    if t.api_decline_per_year is not None:
        return t.api_decline_per_year
    given = dict(t.api_declines)
    for key in (model.lower(), provider.lower()):
        if key and key in given:
            return given[key]
    return api_fact(provider, model).value.p50


def api_fact(provider: str = "", model: str = ""):
    """trends.toml's API band for this model, else its provider, else every API's."""
    facts = trend_facts()
    return facts.get(f"api.model.{model.lower()}") or facts.get(f"api.provider.{provider.lower()}") or facts["api"]


def gpu_trend(t: Trends, sourcing: str) -> tuple[float, float]:
    """(the yearly decline of the GPU rent, the months its price holds) for a sourcing mode; owned: (0, 0)."""
    mode = _GPU_MODE.get(sourcing)
    if t.frozen or mode is None:
        return 0.0, 0.0
    band, term = mode
    decline = t.gpu_decline_per_year if t.gpu_decline_per_year is not None else trend_facts()[f"gpu.{band}"].value.p50
    return decline, term


def trend_band(t: Trends, path: str, sourcing: str, provider: str = "", model: str = ""):
    """The sourced band (a catalog Fact) the Monte Carlo samples for 'trends.api_decline_per_year' or
    'trends.gpu_decline_per_year'; None where the scenario fixes it (frozen prices, a value of its own, owned GPUs)."""
    field = path.removeprefix("trends.")
    if field not in ("api_decline_per_year", "gpu_decline_per_year") or t.frozen or getattr(t, field) is not None:
        return None
    if field == "api_decline_per_year":
        given = dict(t.api_declines)
        return None if model.lower() in given or provider.lower() in given else api_fact(provider, model)
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
