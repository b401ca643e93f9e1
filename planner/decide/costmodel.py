"""Vectorized cost of each option as a function of traffic: the engine under `compare`.

Every function takes numpy arrays (traffic levels, months, sampled inputs) and broadcasts, so a sweep over 100k
traffic levels or scenario variants is one array computation. Break-evens are solved on these functions with scipy.

Spend over time: `spend_schedule` is the one function that lays an option's spend out by month: its one-time costs
as they are paid (each a `Spend` over the months of its phase, from assembly.py) plus its running cost
(`monthly_costs`: the API bridge before production, the fleet after). The cumulative curve, the months at which two
curves cross (compare() and the Monte Carlo engine) and the charts all come from it. One-time spend that would fall
after the horizon is counted in the horizon's last month, so a curve always ends at the option's total (the one-time
cost is committed when the programme starts; the totals do not depend on when it is paid).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from ..core import arguments as A
from ..core import limits as L
from ..core import npfast as nf
from ..core import validate as V
from ..core.series import month_powers
from ..core.units import DAYS_PER_MONTH, HOURS_PER_MONTH, SECONDS_PER_DAY

SECONDS_PER_MONTH = DAYS_PER_MONTH * SECONDS_PER_DAY
from .phases import spend_phases
from .residual import capital_factor


# The public methods check their arguments (numbers, or numpy arrays of samples x months); the engine below calls
# the unchecked `_` twins, whose inputs compare() and monte_carlo() have already checked.
_REQUESTS = A.Many(V.Real(0.0, L.MAX_FINAL_REQUESTS_PER_DAY * DAYS_PER_MONTH, unit="requests/month"),
                   max_size=L.MAX_SAMPLE_MONTHS)
_PEAK_TO_MEAN = A.Many(V.Real(1.0, L.MAX_PEAK_TO_MEAN, unit="x"), max_size=L.MAX_SAMPLE_MONTHS)
_PEAK_RPS = A.Many(V.Real(0.0, L.MAX_FINAL_REQUESTS_PER_DAY / SECONDS_PER_DAY * L.MAX_PEAK_TO_MEAN, unit="requests/s"),
                   max_size=L.MAX_SAMPLE_MONTHS)


@dataclass(frozen=True)
class ApiCostModel:
    """Pay per token: the cost of one request at the provider's prices."""

    usd_per_request: float
    one_time_usd: float
    months_to_production: float
    spends: tuple = ()  # the one-time cost by phase (Spend); empty: all of it at month 0
    decline_per_year: float = 0.0  # the $/token price trend (decide/trends.py); 0: prices frozen at today's

    @A.checked(requests_per_month=_REQUESTS)
    def monthly_usd(self, requests_per_month):
        """At today's prices (months=None in `_monthly`: no trend)."""
        return self._monthly(requests_per_month)

    def _monthly(self, requests_per_month, peak_to_mean=None, months=None, rates=None):
        """rates: self._month_rates(months) when the caller has it (totals.py: once per break-even search)."""
        cost = np.asarray(requests_per_month, dtype=float) * self.usd_per_request
        return cost if months is None else _times(cost, self._month_rates(months) if rates is None else rates)

    def _month_rates(self, months):
        return price_factor(self.decline_per_year, months)


@dataclass(frozen=True)
class FleetCostModel:
    """Pay per GPU-hour: replicas sized for the peak, paid around the clock.

    Replicas are continuous here (capacity bought in fractions of a replica, as an
    autoscaled or shared fleet does), so cost is a continuous function of traffic
    and break-evens are exact; the serving plan reports the whole replicas for the
    peak. The difference is at most one replica.
    """

    capacity_rps_per_replica: float  # requests/s one replica sustains within the latency targets
    gpus_per_replica: int
    usd_per_gpu_hour: float
    utilization_ceiling: float
    min_replicas: float
    fixed_monthly_usd: float  # operations staff (the floor when they scale with the fleet)
    one_time_usd: float
    months_to_production: float
    usd_per_busy_gpu_hour: float = 0.0  # owned GPUs: the electricity of the work above idle (sourcing.py)
    gpus_per_ops_engineer: float | None = None  # None: fixed staff; else one engineer per this many GPUs held
    usd_per_engineer_month: float = 0.0  # the staff's loaded cost, for the scaled team
    spends: tuple = ()  # the one-time cost by phase (Spend, assembly.py); empty: all of it at month 0
    gpu_decline_per_year: float = 0.0  # the rent's price trend (decide/trends.py); 0: frozen (owned GPUs: always)
    gpu_term_months: float = 0.0  # a reservation's term: its price moves only at each renewal; 0: every month
    # Hardware generations (decide/generations.py). A rented fleet's move to the successor: from `migrate_month`
    # (inf: never) the rent is x `migrate_factor` (the successor's cost per unit of throughput over today's GPU's).
    migrate_month: float = float("inf")
    migrate_factor: float = 1.0
    # Owned: the straight-line capital in usd_per_gpu_hour (capital_usd_per_gpu_hour over capital_years) is
    # replaced by the market value lost each month; residual_loss_per_year None: straight-line kept.
    capital_usd_per_gpu_hour: float = 0.0
    capital_years: float = 1.0
    residual_loss_per_year: float | None = None
    successor_step: float = 0.0
    successor_month: float | None = None  # months from the plan's start; None: no successor ships in the horizon

    @A.checked(peak_rps=_PEAK_RPS)
    def replicas(self, peak_rps):
        return self._replicas(peak_rps)

    @A.checked(requests_per_month=_REQUESTS, peak_to_mean=_PEAK_TO_MEAN)
    def gpus(self, requests_per_month, peak_to_mean: float):
        """GPUs held in a month: the replicas its peak needs."""
        return self._gpus(requests_per_month, peak_to_mean)

    @A.checked(requests_per_month=_REQUESTS)
    def busy_gpus(self, requests_per_month):
        """GPUs' worth of work in a month: the mean traffic over one replica's capacity."""
        return self._busy_gpus(requests_per_month)

    @A.checked(requests_per_month=_REQUESTS, peak_to_mean=_PEAK_TO_MEAN)
    def staff_monthly_usd(self, requests_per_month, peak_to_mean: float):
        """The operations team: fixed, or max(the floor, GPUs held / GPUs per engineer) (decide/assembly.py)."""
        return self._staff(requests_per_month, peak_to_mean)

    @A.checked(requests_per_month=_REQUESTS, peak_to_mean=_PEAK_TO_MEAN)
    def monthly_usd(self, requests_per_month, peak_to_mean: float):
        """GPU rent (or ownership) for the replicas the month's peak needs, the work's electricity, the staff."""
        return self._monthly(requests_per_month, peak_to_mean)

    # The per-sample factors ((samples, 1) columns) are combined before they meet the (samples x months) arrays,
    # so each formula is one or two passes over those; the results equal the formulas' to ~1e-16 relative.
    def _replicas(self, peak_rps):
        need = np.asarray(peak_rps, dtype=float) / (self.capacity_rps_per_replica * self.utilization_ceiling)
        return np.maximum(self.min_replicas, need)

    def _gpus(self, requests_per_month, peak_to_mean):
        """The replicas the peak (mean x peak_to_mean) needs, x GPUs per replica."""
        per_request = np.multiply(peak_to_mean, self.gpus_per_replica) \
            / (SECONDS_PER_MONTH * (self.capacity_rps_per_replica * self.utilization_ceiling))
        gpus = np.multiply(requests_per_month, per_request)
        floor = np.multiply(self.min_replicas, self.gpus_per_replica)
        if isinstance(gpus, np.ndarray) and np.broadcast(gpus, floor).shape == gpus.shape:
            return np.maximum(gpus, floor, out=gpus)  # array first: numpy 2.4 takes its faster loop (1.4x)
        return np.maximum(floor, gpus)

    def _busy_gpus(self, requests_per_month):
        return np.multiply(requests_per_month,
                           self.gpus_per_replica / (SECONDS_PER_MONTH * np.asarray(self.capacity_rps_per_replica)))

    def _staff(self, requests_per_month, peak_to_mean, gpus=None):
        if self.gpus_per_ops_engineer is None:
            return self.fixed_monthly_usd + 0.0 * np.asarray(requests_per_month, dtype=float)
        gpus = self._gpus(requests_per_month, peak_to_mean) if gpus is None else gpus
        return np.maximum(self.fixed_monthly_usd, gpus * (self.usd_per_engineer_month / self.gpus_per_ops_engineer))

    def _monthly(self, requests_per_month, peak_to_mean, months=None, rates=None):
        """months=None: at today's prices; else each month's GPU rent at the trend (staff and power do not move).
        rates: self._month_rates(months) when the caller has it (totals.py: once per break-even search)."""
        rate = np.multiply(self.usd_per_gpu_hour, HOURS_PER_MONTH) if months is None else \
            self._month_rates(months) if rates is None else rates
        gpus = self._gpus(requests_per_month, peak_to_mean)
        out = _accumulate(_times(gpus, rate) if self.gpus_per_ops_engineer is None else gpus * rate,  # staff: gpus
                          self._busy_gpus(requests_per_month)
                          * np.multiply(self.usd_per_busy_gpu_hour, HOURS_PER_MONTH)
                          if nf.any_(self.usd_per_busy_gpu_hour) else None)
        if self.gpus_per_ops_engineer is None:
            return _accumulate(out, np.asarray(self.fixed_monthly_usd, dtype=float))  # out: the requests' shape
        return _accumulate(out, self._staff(requests_per_month, peak_to_mean, gpus))

    def _month_rates(self, months):
        return self._rate(months, HOURS_PER_MONTH)  # the month's hours folded into the per-sample rates

    def _rate(self, months, scale=1.0):
        """$ per GPU-hour held in each month (x scale): the rent at its trend, x migrate_factor once moved to the
        successor; owned, the capital re-timed as the market value lost that month (generations.capital_factor)."""
        rate = _times(price_factor(self.gpu_decline_per_year, months, self.gpu_term_months),
                      np.multiply(self.usd_per_gpu_hour, scale))
        if np.isfinite(self.migrate_month):
            rate = rate * np.where(np.asarray(months) >= self.migrate_month, self.migrate_factor, 1.0)
        if self.residual_loss_per_year is not None:
            rate = rate + np.multiply(self.capital_usd_per_gpu_hour, scale) * (capital_factor(
                months, self.residual_loss_per_year, self.successor_step, self.successor_month, self.capital_years)
                - 1.0)
        return rate


@dataclass(frozen=True)
class Spend:
    """A one-time cost paid evenly from `start_month` to `end_month` (months from the decision; a lump at
    `start_month` when the two are equal). Each number may be a float or an array that broadcasts (the Monte
    Carlo engine passes one row per sample)."""

    what: str
    usd: float
    start_month: float
    end_month: float


def one_time_spends(model) -> tuple[Spend, ...]:
    """A cost model's one-time cost by phase; a model without a calendar pays it all at month 0."""
    return model.spends or (Spend("one-time", model.one_time_usd, 0.0, 0.0),)


def _share_paid(t, start_month, end_month):
    """Share of a spend paid by each month t: evenly over [start, end], a step at start when end <= start."""
    a = np.asarray(start_month, dtype=float)
    width = np.maximum(np.asarray(end_month, dtype=float) - a, 0.0)
    if (width == 0).all():  # the method: no np.all wrapper (~2 us a call; a compare() makes dozens)
        return (t >= a).astype(float)
    share = np.subtract(t, a, out=np.empty(np.broadcast(t, a, width).shape))
    with np.errstate(over="ignore"):  # a phase too short for float resolution: +-inf, clipped to a step
        share /= np.where(width > 0, width, 1.0)
    np.clip(share, 0.0, 1.0, out=share)
    return share if (width > 0).all() else np.where(width > 0, share, t >= a)


def paid_by(spends, horizon_months: int):
    """One-time spend paid by t = 0, 1, ..., horizon_months (shape (..., horizon_months + 1)).

    Within its phase a spend is paid at an even rate; a lump is paid at its month (at t = 0 when it falls
    there, else by the end of the month it falls in). Spend due after the horizon counts at its end.
    Spends over the same phase (equal months, or the same arrays of sampled months) are costed as one, and the
    shares are scaled and summed in place (the Monte Carlo engine's samples x months arrays).
    """
    t = np.arange(horizon_months + 1, dtype=float)
    fixed, sampled = spend_phases(spends)
    paid = _fixed_paid(t, fixed) if fixed else np.zeros_like(t)
    for a, b, usd in sampled:
        share = _share_paid(t, a, b)
        if share.dtype != float:
            share = share.astype(float)
        share[..., -1] = 1.0  # after the horizon: counted at its end
        share = _scaled(share, usd)
        paid = _accumulate(paid, share) if isinstance(paid, np.ndarray) and paid.ndim >= share.ndim else paid + share
    return paid


def _scaled(share, usd):
    """share x usd, in place when the product has share's shape."""
    if np.broadcast(share, usd).shape == share.shape:
        share *= usd
        return share
    return share * usd


def _fixed_paid(t, fixed):
    """paid_by for phases with fixed months: each phase's share of t (a row), weighted by its usd (scalars or
    columns of samples), summed in place."""
    paid = None
    for a, b, usd in fixed:
        share = _share_paid(t, a, b).astype(float)
        share[-1] = 1.0  # after the horizon: counted at its end
        term = usd * share
        if paid is not None and np.broadcast(paid, term).shape == paid.shape:
            paid += term
        else:
            paid = term if paid is None else paid + term
    return paid + np.zeros_like(t) if paid.ndim == 0 else paid


def spend_schedule(spends, monthly):
    """Spend per period: index 0 is paid at the start (t = 0), index k during month k - 1 (one-time as paid,
    plus `monthly`, the running cost of each month). Shape (..., months + 1); it sums to the option's total."""
    monthly = np.asarray(monthly, dtype=float)
    one_time = np.diff(paid_by(spends, monthly.shape[-1]), axis=-1, prepend=0.0)
    return one_time + np.concatenate([np.zeros(monthly.shape[:-1] + (1,)), monthly], axis=-1)


def price_factor(decline_per_year, months, term_months=0.0):
    """A price at month m (0: today) relative to today's, falling `decline_per_year` a year, compounded monthly:
    (1 - decline) ** (m / 12). With a term (a reservation), the price holds for the term and moves at each
    renewal: m is rounded down to a whole number of terms. Arrays broadcast (a sampled decline per row)."""
    m = np.asarray(months, dtype=float)
    if nf.any_above(term_months, 0):  # on numbers (a scenario's inputs) no numpy call: npfast.py
        term = np.where(np.asarray(term_months) > 0, term_months, 1.0)
        m = np.where(np.asarray(term_months) > 0, np.floor(m / term) * term, m)
    d = decline_per_year
    base = 1.0 - (d if type(d) in (int, float) else np.asarray(d, dtype=float))  # np.log: the same float either way
    if nf.all_above(base, 0.0):  # as exp(m / 12 x log(base)): 3x faster on the Monte Carlo's arrays, equal to ~1e-15
        return month_powers(np.log(base), m, 12.0)
    return base ** (m / 12.0)


def _times(out, x):
    """out x x, in place in `out` (a fresh array) when the product has out's shape (one allocation fewer)."""
    if isinstance(out, np.ndarray) and np.broadcast(out, x).shape == out.shape:
        out *= x
        return out
    return out * x


def _accumulate(out, x):
    """out + x, in place in `out` (a fresh array) when the sum has out's shape; x None: out."""
    if x is None:
        return out
    if isinstance(out, np.ndarray) and np.broadcast(out, x).shape == out.shape:
        out += x
        return out
    return out + x


def mean_rps(requests_per_month):
    """Mean requests/s over a calendar-average month."""
    return np.asarray(requests_per_month, dtype=float) / (DAYS_PER_MONTH * SECONDS_PER_DAY)


def bridged(own_monthly, bridge_monthly, months_to_production: float, months):
    """Monthly cost when the option goes live part-way: the bridge (the API) serves until then.

    A fraction f of month m is before production: f = clip(t_prod - m, 0, 1).
    """
    before = np.clip(months_to_production - np.asarray(months, dtype=float), 0.0, 1.0)
    gap = np.subtract(bridge_monthly, own_monthly)
    if not (isinstance(gap, np.ndarray) and np.broadcast(gap, before).shape == gap.shape):
        return own_monthly + before * gap
    gap *= before
    return _accumulate(gap, own_monthly)


def monthly_costs(model, requests_per_month, months, peak_to_mean: float, bridge: ApiCostModel | None,
                  bridge_monthly=None, rates=None):
    """Monthly cost of an option over `months` (arrays broadcast). bridge_monthly: the bridge's own monthly cost
    at these requests and months when already computed (the Monte Carlo engine costs the API once per chunk);
    rates: model._month_rates(months) when already computed."""
    own = model._monthly(requests_per_month, peak_to_mean, months, rates)
    if isinstance(model, ApiCostModel):
        return own  # the API serves from month 0; its integration time is its one-time cost
    return before_production(model, own, requests_per_month, months, bridge, bridge_monthly)


def before_production(model, own, requests_per_month, months, bridge: ApiCostModel | None, bridge_monthly=None):
    """A fleet's monthly cost `own` with the months before production the bridge's (without one: nothing)."""
    if bridge is None:
        before = np.clip(model.months_to_production - np.asarray(months, dtype=float), 0.0, 1.0)
        return (1.0 - before) * own  # no API allowed: nothing is served (or paid) before production
    if bridge_monthly is None:
        bridge_monthly = bridge._monthly(requests_per_month, None, months)
    return bridged(own, bridge_monthly, model.months_to_production, months)


def traffic_grid(lo: float = 1.0, hi: float = 1e10, n_grid: int = 400) -> np.ndarray:
    """The traffic levels (requests/day) break_even_traffic brackets its crossings on (read-only: the default
    grid is made once, not per compare(); np.geomspace costs ~50 us)."""
    return _DEFAULT_GRID if (lo, hi, n_grid) == (1.0, 1e10, 400) else np.geomspace(lo, hi, n_grid)


_DEFAULT_GRID = np.geomspace(1.0, 1e10, 400)
_DEFAULT_GRID.flags.writeable = False


def break_even_traffic(cost_a, cost_b, lo: float = 1.0, hi: float = 1e10, n_grid: int = 400, *,
                       on_grid: tuple | None = None) -> list[float]:
    """Traffic levels (requests/day) where cost_a(t) == cost_b(t), by grid bracketing then brentq.

    `cost_a`, `cost_b` map an array of traffic levels to total costs. Returns every
    crossing in [lo, hi], ascending; empty when one option is cheaper throughout. `on_grid`: the two costs
    on traffic_grid(lo, hi, n_grid) when the caller has them (one evaluation per option, not per pair).
    """
    grid = traffic_grid(lo, hi, n_grid)
    diff = (on_grid[0] - on_grid[1]) if on_grid is not None else cost_a(grid) - cost_b(grid)
    roots = []
    for i in np.flatnonzero(np.sign(diff[:-1]) * np.sign(diff[1:]) < 0):
        f = lambda t: float(cost_a(np.array([t]))[0] - cost_b(np.array([t]))[0])  # noqa: E731
        roots.append(brentq(f, grid[i], grid[i + 1], xtol=1e-9, rtol=1e-12))
    roots += [float(grid[i]) for i in np.flatnonzero(diff == 0)]
    return sorted(roots)


def crossing_month(cum_a, cum_b) -> float | None:
    """First time (in months, fractional) at which cumulative cost A drops to or below B's, having been above.

    `cum_a[k]` is the cumulative cost at the end of month k (k = 0 is the start,
    one-time costs only). Linear interpolation within the month.
    """
    diff = np.asarray(cum_a, dtype=float) - np.asarray(cum_b, dtype=float)
    for k in range(1, len(diff)):
        if diff[k - 1] > 0 >= diff[k]:
            return float(k - 1 + diff[k - 1] / (diff[k - 1] - diff[k]))
    return None


def cumulative(spends, monthly) -> np.ndarray:
    """Cumulative cost at the start (index 0: what is paid at t = 0) and at the end of each month, with the
    one-time `spends` paid over their phases (spend_schedule). Non-decreasing; it ends at the total."""
    monthly = np.asarray(monthly, dtype=float)
    paid = paid_by(spends, monthly.shape[-1])
    out = np.empty(np.broadcast_shapes(monthly.shape[:-1] + (monthly.shape[-1] + 1,), np.shape(paid)))
    out[..., 0] = 0.0
    if monthly.ndim == 2 and out.shape == (monthly.shape[0], monthly.shape[1] + 1):
        for k in range(monthly.shape[1]):  # the running cost paid by the end of each month: a column at a time
            np.add(out[:, k], monthly[:, k], out=out[:, k + 1])  # (np.cumsum along a short last axis: 2x slower)
    else:
        out[..., 1:] = np.cumsum(monthly, axis=-1)
    out += paid
    return out
