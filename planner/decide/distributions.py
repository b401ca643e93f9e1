"""Uncertain inputs: a point, a range or a distribution, read from a scenario's `[uncertainty]` table.

    [uncertainty]
    "workload.requests_per_day" = {dist = "lognormal", sigma = 0.5}          # median: the scenario's value
    "self_host.usd_per_gpu_hour" = {dist = "triangular", low = 0.7, mode = 1.0, high = 2.0}
    "api.price_scale" = {dist = "uniform", low = 0.5, high = 1.0}
    "self_host.ops_engineers" = {dist = "uniform", low = 1, high = 3, relative = false}  # absolute FTE

Entries are relative by default: their numbers multiply the input's value in the scenario
(requests_per_day, the GPU price the scenario uses, ...), so editing the scenario moves the
distribution with it, and a relative lognormal without a median is centred on that value.
`relative = false` makes an entry absolute. The fractions (efficiencies, the utilisation
ceiling) are absolute by default: a multiplicative spread around a value near 1 would pass 1.
A relative entry must include x1 (the scenario's value) within its bounds (a lognormal: p0.5-p99.5): a spread
*around* the value, and an old absolute entry (median = 40000) read as multipliers is refused
instead of silently scaled.

Keys are input paths (see `INPUTS`); unquoted dotted keys, which TOML nests, are
accepted too. Every problem is an InputError naming the input.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np
from scipy.optimize import least_squares
from scipy.special import ndtri

from ..core import limits as L
from ..core import arguments as A
from ..core import validate as V
from ..core.band import Band
from ..core.errors import InputError, close_matches, show
from ..core.results import ResultMixin

Z90 = float(ndtri(0.9))  # 1.2816: a normal's p90 in standard deviations


@dataclass(frozen=True)
class InputSpec:
    """One input the Monte Carlo can vary: its domain, unit and what varying it changes."""

    path: str
    domain: str  # "positive" (> 0), "nonneg" (>= 0), "fraction" (0 < x <= 1) or "decline" (-1 < x < 1)
    unit: str
    effect: str

    @property
    def relative(self) -> bool:
        """Whether an entry without `relative = ...` multiplies the scenario's value (all but the fractions)."""
        return self.domain not in ("fraction", "decline")


_SPECS = [
    InputSpec("workload.requests_per_day", "positive", "requests/day", "traffic in month 0 (all options)"),
    InputSpec("workload.monthly_growth", "nonneg", "fraction/month", "compounding traffic growth"),
    InputSpec("workload.peak_to_mean", "positive", "x", "peak over mean traffic: replicas needed"),
    InputSpec("api.price_scale", "positive", "x", "multiplier on API token prices (also the bridge before production)"),
    InputSpec("api.integration_usd", "nonneg", "$", "API one-time cost"),
    InputSpec("self_host.usd_per_gpu_hour", "positive", "$/GPU-hour",
              "on-demand price of the self-host GPU: serving rent of both fleets and the fine-tuning compute under "
              "[self_host] sourcing (discounted when reserved or spot; no effect when owned)"),
    InputSpec("self_host.finetune_epochs", "positive", "epochs", "fine-tuning compute and time, linearly"),
    InputSpec("self_host.finetune_tokens", "positive", "tokens", "fine-tuning compute and time, linearly"),
    InputSpec("self_host.utilization_ceiling", "fraction", "fraction", "replica headroom at peak"),
    InputSpec("self_host.ops_engineers", "nonneg", "FTE", "monthly operations staff and setup staff"),
    InputSpec("self_host.setup_months", "nonneg", "months", "time to production and setup staff"),
    InputSpec("self_host.evaluation_usd", "nonneg", "$", "self-host one-time evaluation"),
    InputSpec("scratch.tokens", "positive", "tokens", "pretraining compute and time and the data pipeline, linearly"),
    InputSpec("scratch.compute_price_scale", "positive", "x", "multiplier on the pretraining GPU price"),
    InputSpec("scratch.researchers", "nonneg", "people", "research staff cost"),
    InputSpec("scratch.months", "nonneg", "months", "research staff cost"),
    InputSpec("scratch.prep_months", "nonneg", "months", "time to production"),
    InputSpec("scratch.evaluation_usd", "nonneg", "$", "scratch one-time evaluation"),
    InputSpec("costs.usd_per_engineer_year", "positive", "$/year", "every staff cost"),
    InputSpec("efficiency.gemm", "fraction", "fraction of dense peak",
              "compute-bound work: fine-tuning and pretraining time and cost (as p50 / value), "
              "the prefill share of replica capacity"),
    InputSpec("efficiency.memory", "fraction", "fraction of bandwidth", "the decode share of replica capacity"),
    InputSpec("trends.api_decline_per_year", "decline", "fraction/year",
              "API $/token lost per year, compounded monthly (also the bridge before production)"),
    InputSpec("trends.gpu_decline_per_year", "decline", "fraction/year",
              "rented serving GPU $/hour lost per year (a reservation moves at renewal; no effect when owned)"),
    InputSpec("trends.residual_loss_per_year", "decline", "fraction/year",
              "owned serving GPUs' market value lost per year (decide/generations.py; no effect when rented)"),
    InputSpec("trends.successor_step", "decline", "fraction",
              "owned serving GPUs' market value lost when the successor ships within the horizon"),
]
INPUTS: dict[str, InputSpec] = {s.path: s for s in _SPECS}
EFFICIENCY_INPUTS = {"efficiency.gemm": "gemm", "efficiency.memory": "memory"}  # input -> Efficiencies field
# Inputs of earlier versions: the performance model now predicts training MFU from the GEMM rate.
RENAMED = {"efficiency.train_mfu": "efficiency.gemm", "efficiency.prefill": "efficiency.gemm",
           "efficiency.decode_mbu": "efficiency.memory"}
DISTS = ("point", "range", "uniform", "triangular", "lognormal")


@dataclass(frozen=True)
class Distribution(ResultMixin):
    """One uncertain input. `kind`: point, uniform, triangular or lognormal ("range" is read as uniform).

    Bounded kinds use low/mode/high; lognormal uses median and sigma (of log x); a parameter
    the kind does not use is None (null in JSON).
    """

    kind: str
    low: float | None = None
    mode: float | None = None
    high: float | None = None
    median: float | None = None
    sigma: float | None = None
    source: str = "scenario [uncertainty]"
    relative: bool = False  # the parameters are multipliers of the input's scenario value (see `at`)
    around: float | None = None  # the scenario value a relative entry was scaled to (None: given absolute)

    @classmethod
    @A.checked(value=V.Real(), source=V.Text(L.MAX_DESCRIPTION_CHARS))
    def point(cls, value: float, source: str = "scenario") -> Distribution:
        return fixed(value, source)

    @A.checked(value=V.Real())
    def at(self, value: float) -> Distribution:
        """A relative distribution scaled to the input's scenario value `value` (an absolute one as it is).

        A value of 0 (no growth, no evaluation budget) leaves nothing to spread: a point at 0."""
        return self._at(value)

    def _at(self, value: float) -> Distribution:  # unchecked: the engine's values (NaN where one does not apply)
        if not self.relative:
            return self
        if value == 0 or not math.isfinite(value):
            return replace(fixed(float(value), self.source), around=float(value))
        x = lambda p: None if p is None else p * value  # noqa: E731
        return replace(self, low=x(self.low), mode=x(self.mode), high=x(self.high), median=x(self.median),
                       relative=False, around=float(value))

    @A.checked(rng=A.Kind(np.random.Generator, "a numpy Generator (np.random.default_rng(seed))"),
               n=V.Whole(0, L.MAX_SAMPLES, unit="samples"))
    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        if self.kind == "point":
            return np.full(n, self.low)
        if self.kind == "uniform":
            return rng.uniform(self.low, self.high, n)
        if self.kind == "triangular":
            return rng.triangular(self.low, self.mode, self.high, n)
        z = rng.standard_normal(n)
        z *= self.sigma  # in place: median x exp(sigma z), one array instead of three
        return np.multiply(self.median, np.exp(z, out=z), out=z)

    @A.checked(q=A.Many(V.Real(0.0, 1.0, unit="probability")))
    def ppf(self, q):
        """Quantile function (inverse CDF) at `q` in [0, 1] (a number or a numpy array), elementwise; a lognormal's
        quantile at 1 is infinite, so it takes q < 1."""
        if self.kind == "lognormal" and np.any(np.asarray(q) == 1.0):
            raise InputError("q", "must be below 1 for a lognormal (its quantile at 1 is infinite)", value=q)
        return self._ppf(q)

    def _ppf(self, q):
        q = np.asarray(q, dtype=float)
        if self.kind == "point":
            return np.full(q.shape, self.low)
        if self.kind == "uniform":
            return self.low + q * (self.high - self.low)
        if self.kind == "triangular":
            a, c, b = self.low, self.mode, self.high
            split = (c - a) / (b - a)
            left = a + np.sqrt(np.minimum(q, split) * (b - a) * (c - a))
            right = b - np.sqrt((1 - np.maximum(q, split)) * (b - a) * (b - c))
            return np.where(q <= split, left, right)
        return self.median * np.exp(self.sigma * ndtri(q))

    def band(self) -> Band:
        p10, p50, p90 = (float(v) for v in self._ppf([0.1, 0.5, 0.9]))
        return Band(p10, p50, p90)

    @property
    def mean(self) -> float:
        if self.kind == "point":
            return self.low
        if self.kind == "uniform":
            return (self.low + self.high) / 2
        if self.kind == "triangular":
            return (self.low + self.mode + self.high) / 3
        return self.median * math.exp(self.sigma ** 2 / 2)

    @property
    def support(self) -> tuple[float, float]:
        return (0.0, math.inf) if self.kind == "lognormal" else (self.low, self.high)


def fixed(value: float, source: str = "scenario") -> Distribution:
    """Distribution.point unchecked: the Monte Carlo engine's own inputs (NaN where an input does not apply)."""
    return Distribution("point", low=value, mode=value, high=value, median=value, sigma=0.0, source=source)


def _number(path: str, table: dict, key: str) -> float:
    if key not in table:
        raise InputError(path, f"{show(table.get('dist'))} distribution needs {key!r}; got keys {sorted(map(show, table))}")
    v = table[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise InputError(path, f"{key} must be a finite number, got {show(v)}")
    return float(v)


def _allowed(path: str, table: dict, keys: set[str]) -> None:
    extra = set(table) - keys - {"dist", "relative"}
    if extra:
        raise InputError(path, f"unexpected key(s) {sorted(map(show, extra))} for dist={show(table['dist'])}; "
                               f"expected {sorted(keys)}")


def parse_distribution(path: str, table) -> Distribution:
    """One `[uncertainty]` entry -> Distribution; impossible parameters raise InputError(path, why).

    Relative unless the entry says `relative = false` (or `path` is a fraction or not an input)."""
    if not isinstance(table, dict) or "dist" not in table:
        raise InputError(path, f"must be an inline table with a 'dist' key (one of {', '.join(DISTS)}), got {show(table)}")
    kind = table["dist"]
    if kind not in DISTS:
        near = close_matches(kind, DISTS)
        raise InputError(path, f"unknown dist {show(kind)}" + (f"; did you mean {', '.join(near)}?" if near else
                                                             f"; known: {', '.join(DISTS)}"))
    relative = table.get("relative", INPUTS[path].relative if path in INPUTS else False)
    if not isinstance(relative, bool):
        raise InputError(path, f"relative must be true or false, got {show(relative)}")
    d = replace(_parse(path, table, kind, relative), relative=relative)
    if relative:
        _around_one(path, d)
    return d


def _around_one(path: str, d: Distribution) -> None:
    """A relative entry is a spread around the scenario's value: x1 lies within its bounds (a lognormal's
    p0.5 and p99.5)."""
    lo, hi = (float(v) for v in d._ppf([0.005, 0.995])) if d.kind == "lognormal" else (d.low, d.high)
    if not lo <= 1.0 <= hi:
        raise InputError(path, f"is relative (its numbers multiply the scenario's value), but it spans "
                               f"x{lo:.3g} to x{hi:.3g}, which leaves out x1, the scenario's own value; write "
                               "multipliers around 1 (e.g. low = 0.5, high = 2, or a lognormal with only a sigma), "
                               "or add relative = false for absolute values")


def _parse(path: str, table: dict, kind: str, relative: bool) -> Distribution:
    num = lambda k: _number(path, table, k)  # noqa: E731
    if kind == "point":
        _allowed(path, table, {"value"})
        return Distribution.point(num("value"), source="scenario [uncertainty]")
    if kind in ("uniform", "range"):
        _allowed(path, table, {"low", "high"})
        low, high = num("low"), num("high")
        if low > high:
            raise InputError(path, f"low ({low:g}) is above high ({high:g})")
        return Distribution.point(low) if low == high else Distribution("uniform", low=low, high=high,
                                                                          mode=(low + high) / 2)
    if kind == "triangular":
        _allowed(path, table, {"low", "mode", "high"})
        low, mode, high = num("low"), num("mode"), num("high")
        if low > high:
            raise InputError(path, f"low ({low:g}) is above high ({high:g})")
        if not low <= mode <= high:
            raise InputError(path, f"mode ({mode:g}) is outside [low, high] = [{low:g}, {high:g}]")
        return Distribution.point(low) if low == high else Distribution("triangular", low=low, mode=mode, high=high)
    return _lognormal(path, table, num, relative)


def _lognormal(path: str, table: dict, num, relative: bool) -> Distribution:
    """median + sigma, or p10 + p90 (median = sqrt(p10 p90), sigma = ln(p90 / p10) / (2 z90)).

    A relative lognormal may leave the median out: x1, the scenario's value."""
    if "p10" in table or "p90" in table:
        _allowed(path, table, {"p10", "p90"})
        p10, p90 = num("p10"), num("p90")
        if p10 <= 0 or p90 <= 0:
            raise InputError(path, f"lognormal p10 and p90 must be > 0, got p10={p10:g}, p90={p90:g}")
        if p10 > p90:
            raise InputError(path, f"lognormal p10 ({p10:g}) is above p90 ({p90:g})")
        median, sigma = math.sqrt(p10 * p90), math.log(p90 / p10) / (2 * Z90)
    else:
        _allowed(path, table, {"median", "sigma"})
        median = num("median") if "median" in table or not relative else 1.0
        sigma = num("sigma")
        if median <= 0:
            raise InputError(path, f"lognormal median must be > 0, got {median:g}")
        if sigma < 0:
            raise InputError(path, f"lognormal sigma must be >= 0, got {sigma:g}")
    return Distribution.point(median) if sigma == 0 else Distribution("lognormal", median=median, sigma=sigma)


def check_domain(path: str, d: Distribution) -> None:
    """The sampled values must be possible for the input: positive traffic, a fraction <= 1, ...

    A relative entry's multipliers keep the sign rules; its upper bound is checked once scaled (`resolve`)."""
    domain = INPUTS[path].domain
    lo, hi = d.support
    if domain == "fraction" and d.kind == "lognormal":
        raise InputError(path, "a fraction cannot be lognormal (its tail passes 1); use triangular or uniform")
    if domain in ("positive", "fraction") and lo <= 0 and d.kind != "lognormal":  # lognormal: always > 0
        raise InputError(path, f"must be > 0 everywhere, but the distribution reaches {lo:g}")
    if domain == "decline" and not d.relative and not -1 < lo <= hi < 1:  # relative: checked once scaled
        raise InputError(path, f"a yearly decline must stay strictly between -1 and 1, but the distribution reaches "
                               f"{lo:g} to {hi:g}")
    if domain == "nonneg" and lo < 0:
        raise InputError(path, f"must be >= 0 everywhere, but the distribution reaches {lo:g}")
    if domain == "fraction" and hi > 1 and not d.relative:
        around = f" (x{hi / d.around:.3g} of this scenario's {d.around:.3g})" if d.around else ""
        raise InputError(path, f"is a fraction, but the distribution reaches {hi:g}{around} (> 1)")


def _flatten(table: dict, prefix: str = "") -> dict:
    """TOML turns unquoted `workload.requests_per_day = {...}` into nested tables: flatten them back."""
    out = {}
    for key, value in table.items():
        path = f"{prefix}{key if isinstance(key, str) else show(key)}"
        if isinstance(value, dict) and "dist" not in value and value:
            out.update(_flatten(value, f"{path}."))
        else:
            out[path] = value
    return out


def entries(table: dict) -> dict[str, dict]:
    """A scenario's `[uncertainty]` table as {input path: entry}, nested dotted keys flattened (not validated)."""
    return _flatten(table or {})


def parse_uncertainty(table: dict) -> dict[str, Distribution]:
    """A scenario's `[uncertainty]` table -> {input path: Distribution}, validated."""
    out = {}
    for path, entry in _flatten(table or {}).items():
        if path in RENAMED:
            raise InputError(path, f"was replaced by {RENAMED[path]!r} (an efficiency of the layer-wise performance "
                                   "model; see planner/calibration/efficiency.py for its default band)")
        if path not in INPUTS:
            near = close_matches(path, INPUTS)
            raise InputError(path, "unknown uncertain input" + (f"; did you mean {', '.join(near)}?" if near else
                                                                 f"; known: {', '.join(INPUTS)}"))
        d = parse_distribution(path, entry)
        check_domain(path, d)
        out[path] = d
    return out


def resolve_relative(dists: dict[str, Distribution], values: dict[str, float]) -> dict[str, Distribution]:
    """Relative entries scaled to the inputs' scenario `values` (those without a value stay relative), checked."""
    out = {}
    for path, d in dists.items():
        if d.relative and path in values:
            d = d._at(values[path])
            check_domain(path, d)
        out[path] = d
    return out


@functools.lru_cache(maxsize=256)  # a least-squares fit per call; Bands and Distributions are frozen
def triangular_from_band(band: Band, source: str) -> Distribution:
    """The triangular distribution whose p10/p50/p90 equal the Band's (solved numerically).

    Triangular, not lognormal: three parameters match all three percentiles, and its
    bounded support keeps an efficiency below 1. A point Band gives a point. Fits are kept by (p10, p50, p90,
    source), misses too (each Monte Carlo call asks again for the same few bands; a fit is ~5-9 ms).
    """
    d = _triangular_fit(float(band.p10), float(band.p50), float(band.p90), source)
    if d is None:
        raise InputError("efficiency", f"no triangular distribution matches {band} ({source})")
    return d


@functools.lru_cache(maxsize=256)
def _triangular_fit(p10: float, p50: float, p90: float, source: str) -> Distribution | None:
    band = Band(p10, p50, p90)
    p = np.array([band.p10, band.p50, band.p90])
    if band.p90 - band.p10 <= 1e-12 * max(abs(band.p50), 1.0):
        return Distribution.point(band.p50, source=source)
    width = band.p90 - band.p10

    def resid(x):
        a, c, b = x[0], x[0] + x[1], x[0] + x[1] + x[2]  # low, low + gap1, ...: ordered by construction
        return Distribution("triangular", low=a, mode=c, high=b)._ppf([0.1, 0.5, 0.9]) - p

    fit = least_squares(resid, [band.p10 - width / 2, width, width], bounds=([-np.inf, 0, 0], np.inf),
                        xtol=1e-15, ftol=1e-15, gtol=1e-15)
    a, c = fit.x[0], fit.x[0] + fit.x[1]
    d = Distribution("triangular", low=a, mode=c, high=c + fit.x[2], source=source)
    return None if np.max(np.abs(resid(fit.x))) > 1e-6 * width else d
