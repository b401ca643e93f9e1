"""Hardware generations over the horizon: a rented fleet's move to the successor, owned hardware's resale value.

The plan starts in the month [trends] start names (none: catalog/data/generations.toml's as_of). The self-host
GPU's successor and its launch come from the catalog (gpus.toml) unless [trends] successor / successor_launch
name others; a successor that shipped before the plan starts is already in today's prices and moves nothing.

Rented: with [trends] migrate = true the fleet moves to the successor in its launch month (a reservation at its
first renewal from then on; JUDGEMENT: no lag for validation and cut-over, so the move is an optimistic bound; set
successor_launch later for one). From then the rent is re-priced at the successor's cost per unit of throughput:
the successor's serving plan is sized by the same performance model (estimate/serving.py) for the same model and
targets, and the rent is multiplied by (successor $/GPU-hour x GPUs per replica / requests/s per replica) over the
same for today's GPU. A fleet moves only where that ratio is below 1. Staff, power and energy stay today's GPU's.
Default false (JUDGEMENT): the GPU rent trend (decide/trends.py) already carries much of the market's move to
newer GPUs (an older GPU's rent falls as its successor arrives), so moving as well would count part of it twice.

Owned: the fleet's capital is charged as the market value it loses each month (economic depreciation), not the
straight line over `depreciation_years`: the value falls `residual_loss_per_year`, compounded monthly, and steps
down by `successor_step` in the successor's launch month (catalog/generations.py derives both from used-price
reports). Every GPU held in a month is charged that month's loss, whenever it was bought (JUDGEMENT: a GPU bought
later is bought at the generation's then market value; the curve starts at the new price, with no drop on leaving
the shop, so the first months are optimistic). [trends] residual = "straight-line" (or prices = "none") keeps the
old rule; the formulas are in decide/residual.py.
Training on owned GPUs keeps the straight line (its GPU-hours are one-time; the curve applies to the fleet).
"""
from __future__ import annotations

import math
from dataclasses import replace

from ..catalog import generations as gen
from ..catalog.lookup import gpu as lookup_gpu
from ..core.errors import DoesNotFitError, InfeasibleError, PlannerError
from ..core.provenance import Assumption
from ..core.units import HOURS_PER_MONTH
from .estimates import require_serving_dtype, serving_plan
from .options import OPTIONS
from .residual import resale_break_even_months
from .sourcing import TERM_YEARS, gpu_rate, is_owned
from .trends import Trends, check_successor, gpu_trend  # noqa: F401  (check_successor: re-exported)

MONTHS_PER_YEAR = 12.0
PREFIX = "generation: "  # the comparison's assumptions on the hardware generation (costs_text shows them)


def plan_start(t: Trends) -> str:
    """The month the plan starts ("YYYY-MM")."""
    return t.start or gen.as_of()


def successor(t: Trends, gpu_name: str) -> tuple[str, str]:
    """(the successor's catalog name, its launch month) for `gpu_name`: [trends] overrides, else the catalog's;
    ("", "") where none is known."""
    g = lookup_gpu(gpu_name)
    name = t.successor or g.successor
    if not name:
        return "", ""
    nxt = lookup_gpu(name)
    launch = t.successor_launch or nxt.launched
    return nxt.name, launch


def successor_month(t: Trends, gpu_name: str) -> float | None:
    """Months from the plan's start to the successor's launch; None: no successor, no launch date, or it shipped
    before the plan starts (already in today's prices)."""
    name, launch = successor(t, gpu_name)
    if not name or not launch:
        return None
    m = gen.months_between(plan_start(t), launch)
    return float(m) if m > 0 else None


def migrate_month(month: float | None, sourcing: str) -> float:
    """When a rented fleet moves: the launch month (on demand, spot), a reservation's first renewal from then on;
    owned fleets and no successor: never (inf)."""
    if month is None or is_owned(sourcing):
        return math.inf
    term = TERM_YEARS.get(sourcing, 0.0) * MONTHS_PER_YEAR
    return math.ceil(month / term) * term if term else month


def migration_factor(s, model_name: str, load, plan) -> tuple[float, str]:
    """(successor $/unit of throughput over today's GPU's, capped at 1; why) for serving `model_name` as
    [self_host] says. 1 where the successor cannot serve it (does not fit, too slow, lacks the precision)."""
    h = s.self_host
    name, _ = successor(s.trends, h.gpu)
    rate = gpu_rate(lookup_gpu(name), h.sourcing, s.hardware, usd_per_engineer_year=s.costs.usd_per_engineer_year,
                    use="serving", where="trends.successor")
    nh = replace(h, gpu=name, usd_per_gpu_hour=None)
    try:
        require_serving_dtype(replace(s, self_host=nh))
        nxt = serving_plan(nh, model_name, load, rate.usd_per_gpu_hour, peak_latency=False)  # costed only
    except (DoesNotFitError, InfeasibleError) as e:
        return 1.0, f"stays on {h.gpu}: {name} cannot serve {model_name} ({e})"
    per_rps = lambda p: p.usd_per_gpu_hour * p.tensor_parallel / p.requests_per_s_per_replica.p50  # noqa: E731
    ratio = per_rps(nxt) / per_rps(plan)
    if ratio >= 1.0:
        return 1.0, f"stays on {h.gpu}: {name} costs {ratio:.2f}x as much per request/s"
    return ratio, (f"moves to {name}: ${nxt.usd_per_gpu_hour:.3g}/GPU-hour x {nxt.tensor_parallel} GPU(s) for "
                   f"{nxt.requests_per_s_per_replica.p50:.3g} requests/s a replica, {ratio:.2f}x today's cost per "
                   "request/s")


def fleet_fields(s, model_name: str, load, plan, rate) -> dict:
    """The FleetCostModel fields of the horizon: the rent trend, the move to the successor, the owned curve."""
    h, t = s.self_host, s.trends
    out = dict(zip(("gpu_decline_per_year", "gpu_term_months"), gpu_trend(t, h.sourcing)))
    month = successor_month(t, h.gpu)
    if t.migrate and not is_owned(h.sourcing) and month is not None:
        factor = migration_factor(s, model_name, load, plan)[0]
        if factor < 1.0:  # a fleet moves only to cheaper capacity
            out.update(migrate_month=migrate_month(month, h.sourcing), migrate_factor=factor)
    if on_curve(t, h.sourcing):
        capital = sum(v for k, v in rate.parts.items() if "depreciation" in k)
        out.update(capital_usd_per_gpu_hour=capital, capital_years=s.hardware.fact("depreciation_years")[0],
                   residual_loss_per_year=residual_loss(t, h.gpu), successor_step=step(t),
                   successor_month=month)
    return out


def on_curve(t: Trends, sourcing: str) -> bool:
    """Owned (not sunk) hardware on the market curve: [trends] residual = "generation" and prices not frozen
    (prices = "none" keeps the straight line, the planner's behaviour before trends)."""
    return sourcing == "owned" and t.residual == "generation" and not t.frozen


FLEET_FIELDS = ("migrate_month", "migrate_factor", "capital_usd_per_gpu_hour", "capital_years",
                "residual_loss_per_year", "successor_step", "successor_month")


def horizon_fields(fleet, values: dict) -> dict:
    """A compared fleet's generation fields for the Monte Carlo: the owned curve at the sampled yearly loss and
    step (values: input path -> array), the rest as compared (the move's ratio is not re-sized per sample)."""
    out = {k: getattr(fleet, k) for k in FLEET_FIELDS}
    if fleet.residual_loss_per_year is not None:
        out.update(residual_loss_per_year=values["trends.residual_loss_per_year"],
                   successor_step=values["trends.successor_step"])
    return out


def resale_band(t: Trends, path: str, gpu_name: str):
    """(the sourced band, its source) the Monte Carlo samples for 'trends.residual_loss_per_year' or
    'trends.successor_step'; None where the scenario sets the value."""
    field = path.removeprefix("trends.")
    if field not in ("residual_loss_per_year", "successor_step") or getattr(t, field) is not None:
        return None
    if field == "successor_step":
        f = gen.successor_step()
        return f.value, f"{f.source.url} (checked {f.source.checked})"
    f = gen.residual_after(lookup_gpu(gpu_name).name)
    return gen.yearly_loss_band(lookup_gpu(gpu_name).name), (
        f"{f.source.url} (checked {f.source.checked}); with {gen.successor_step().source.url}: "
        "(1 - loss) ** 3 x (1 - step) = the value left after three years")


def residual_loss(t: Trends, gpu_name: str) -> float:
    """The yearly loss of market value: the scenario's, else the sourced p50 for this GPU."""
    if t.residual_loss_per_year is not None:
        return t.residual_loss_per_year
    return gen.yearly_loss_band(lookup_gpu(gpu_name).name).p50


def step(t: Trends) -> float:
    return t.successor_step if t.successor_step is not None else gen.successor_step().value.p50


def assumptions(s, fleets: dict) -> tuple[Assumption, ...]:
    """One row per generation figure the comparison used (the successor, the move, the resale curve)."""
    h, t = s.self_host, s.trends
    try:
        name, launch = successor(t, h.gpu)
    except PlannerError:  # a shortlist with no candidate chosen: no one GPU to speak of
        return ()
    src = "planner/catalog/data/gpus.toml (launched, successor); [trends] overrides"
    month = successor_month(t, h.gpu)
    out = [Assumption(f"{PREFIX}plan start", plan_start(t), "month", "[trends] start" if t.start else
                      "planner/catalog/data/generations.toml as_of (judgement)"),
           Assumption(f"{PREFIX}{lookup_gpu(h.gpu).name} successor",
                      f"{name} from {launch or 'an unknown month'}" if name else "none listed", "", src)]
    if name and month is None:
        out.append(Assumption(f"{PREFIX}successor in the horizon", "no: it shipped before the plan starts (in "
                              "today's prices)" if launch else "no launch month", "", src))
    moves = t.migrate and month is not None and not is_owned(h.sourcing)
    for key, f in fleets.items():
        if not moves or key == "api":
            continue
        what = (f"month {f.migrate_month:g}, rent x {f.migrate_factor:.3g}" if f.migrate_month < math.inf else
                f"none: {name} is no cheaper per unit of throughput, or cannot serve the model")
        out.append(Assumption(f"{PREFIX}{OPTIONS[key]}: move to {name}", what, "",
                              "decide/generations.py: the successor's serving plan, same performance model"))
    if h.sourcing == "owned" and on_curve(t, h.sourcing):
        own = gen.residual_after(lookup_gpu(h.gpu).name).source
        out += [Assumption(f"{PREFIX}owned resale value lost per year", residual_loss(t, h.gpu), "fraction/year",
                           "[trends]" if t.residual_loss_per_year is not None else str(own)),
                Assumption(f"{PREFIX}owned resale step at the successor's launch", step(t), "fraction",
                           "[trends]" if t.successor_step is not None else str(gen.successor_step().source))]
    elif h.sourcing == "owned":
        out.append(Assumption(f"{PREFIX}owned resale value", "straight-line", "", "[trends] residual" if not t.frozen
                              else "[trends] prices = none (the planner's rule before generations)"))
    return tuple(out)


def resold(s, r):
    """The rent-or-own comparison with the resale view added: own, then sell at the market value (the curve above,
    at the sourced p50 or the scenario's figures; the step where the successor ships within ten years)."""
    if r is None:
        return None
    t, name = s.trends, lookup_gpu(s.self_host.gpu).name
    loss, cut = residual_loss(t, name), step(t)
    rent = r.rent_usd_per_gpu_hour * (r.utilisation if r.rental in ("on-demand", "spot") else 1.0) * HOURS_PER_MONTH
    months = resale_break_even_months(r.purchase_usd_per_gpu, rent, r.owned_running_usd_per_month, loss, cut,
                                      successor_month(t, name))
    return replace(r, months_to_break_even_resold=months, resale_note=(
        f"sold at its market value: {loss:.0%} of it lost a year"
        + (f" and {cut:.0%} when the successor ships (month {successor_month(t, name):g})"
           if successor_month(t, name) is not None else "")))
