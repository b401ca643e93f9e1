"""The three-way comparison: hosted API vs open weights + fine-tune + self-host vs train from scratch."""
from __future__ import annotations

import os
from datetime import date
from dataclasses import dataclass, field, replace
from itertools import combinations

import numpy as np
import pandas as pd

from ..catalog.api_prices import ApiPrice, api_price
from ..core import limits as L
from ..core import arguments as A
from ..core import validate as V
from ..core.band import Band
from ..core.errors import DoesNotFitError, InfeasibleError, InputError, PlannerError
from ..core.provenance import Assumption
from ..core.results import ResultMixin
from ..catalog.costs import grid_intensity
from ..estimate.finetuning import FinetuningEstimate
from ..estimate.pretraining import PretrainingEstimate
from ..estimate.serving import ServingPlan
from ..estimate.workload import Workload, check_final_traffic
from .assembly import (api_spends, fleet_model, ops_rule, self_host_months_to_production, self_host_one_time_usd,
                       self_host_spends)
from .costing import cost_assumptions, rates, scenario_assumptions, scenario_rent_or_own, self_host_rate, self_hosted_energy
from .energy import ApiFootprint, EnergyUse, api_energy_use, api_footprint
from .costmodel import (ApiCostModel, FleetCostModel, break_even_traffic, crossing_month, cumulative, monthly_costs,
                        one_time_spends, traffic_grid)
from .totals import TotalCost, total_cost_for_traffic
from .leaning import TrendLean, trend_lean, with_lean
from .generations import fleet_fields
from .trends import api_decline
from .estimates import finetune_estimate, require_dtype, require_serving_dtype, serving_plan
from .likeforlike import ModelMatch, model_match
from .options import OPTIONS
from .recommend import Recommendation, recommend
from .scenario import Scenario, as_scenario
from .scratch import ScratchCosts, TokenBudget, scratch_costs
from .shortlist import Shortlist, is_shortlist, search
from .sourcing import GpuRate, RentOrOwn, is_owned
from .trades import PromptTrade, prompt_trades


@dataclass(frozen=True)
class OptionResult(ResultMixin):
    key: str
    label: str
    available: bool
    reason_unavailable: str
    one_time_usd: Band
    monthly_usd: tuple[float, ...]  # p50 per month, bridge months included
    cumulative_usd: tuple[float, ...]  # index 0: paid at the start; k: end of month k (one-time costs as paid)
    total_usd: Band  # over the horizon
    usd_per_request: float  # running cost only, averaged over the horizon
    all_in_usd_per_request: float  # total over the horizon / requests
    gpus: int  # at the final month's peak (0 for the API)
    months_to_production: Band
    breakdown: dict[str, float]  # component -> $ over the horizon (p50)
    detail: str  # one line: model, GPU, price
    energy_mwh: Band | None = None  # over the horizon, training included; None: unknown (an API without a figure)
    co2e_t: Band | None = None  # tonnes CO2e over the horizon; None: unknown
    energy: EnergyUse | None = None  # the parts: training, each month of serving, the API bridge


@dataclass(frozen=True)
class BreakEven(ResultMixin):
    a: str
    b: str
    requests_per_day: tuple[float, ...]  # traffic levels where the totals are equal
    crossing_month: float | None  # month at which a's cumulative cost falls to b's (at this scenario's traffic)
    cheaper_below: str  # which option is cheaper at low traffic


@dataclass(frozen=True)
class Comparison(ResultMixin):
    scenario: str
    horizon_months: int
    requests_per_month: tuple[float, ...]
    options: dict[str, OptionResult]
    break_evens: tuple[BreakEven, ...]
    prompt_trades: tuple[PromptTrade, ...]
    recommendation: Recommendation
    api_price: ApiPrice | None
    serving_plan: ServingPlan | None
    scratch_serving_plan: ServingPlan | None
    finetune: FinetuningEstimate | None
    pretrain: PretrainingEstimate | None
    assumptions: tuple[Assumption, ...]
    token_budget: TokenBudget | None = None  # the scratch option's training tokens and the policy behind them
    model_match: ModelMatch | None = None  # the model each option delivers, its capability, how they differ
    rates: dict[str, GpuRate] = field(default_factory=dict)  # self_host, self_host_training, scratch_training
    rent_or_own: RentOrOwn | None = None  # the self-host GPU: when owning beats renting it on demand
    shortlist: Shortlist | None = None  # [self_host] models x GPUs searched: every candidate (decide/shortlist.py)
    trend_lean: TrendLean | None = None  # the pick with prices frozen and at the median trends (leaning.py)
    scratch_costs: ScratchCosts | None = field(default=None, repr=False, compare=False)
    cost_models: dict = field(default_factory=dict, repr=False, compare=False)  # option key -> vectorized cost model
    bridge: ApiCostModel | None = field(default=None, repr=False, compare=False)  # serves traffic before production
    workload: Workload | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        d = super().to_dict()
        for k in ("cost_models", "bridge", "workload", "scratch_costs"):
            d.pop(k, None)
        if d.get("shortlist"):
            d["shortlist"].pop("scenario", None)
        return d

    @A.checked(requests_per_day=A.Many(V.Real(L.MIN_REQUESTS_PER_DAY, L.MAX_REQUESTS_PER_DAY, unit="requests/day"),
                                       optional=True, max_ndim=1))
    def cost_vs_traffic(self, requests_per_day=None) -> pd.DataFrame:
        """Total cost over the horizon of each available option at each traffic level (one array sweep).

        requests_per_day: one level or a 1-D numpy array of them; None: 200 levels from 1/100 to 100x the scenario's.
        """
        w = self.workload
        levels = np.geomspace(w.requests_per_day / 100, w.requests_per_day * 100, 200) if requests_per_day is None \
            else np.atleast_1d(requests_per_day)
        if requests_per_day is not None:  # growth compounds over the horizon; the sweep's arrays are levels x months
            check_final_traffic(float(levels.max()), w.monthly_growth, w.horizon_months, field="requests_per_day")
            if levels.size * w.horizon_months > L.MAX_SWEEP_POINTS:
                raise InputError("requests_per_day", f"{levels.size:,} levels x {w.horizon_months} months is past "
                                                     f"{L.MAX_SWEEP_POINTS:,} points; sweep fewer levels")
        totals = {OPTIONS[k]: total_cost_for_traffic(m, levels, growth=w.monthly_growth, horizon_months=w.horizon_months,
                                                     peak_to_mean=w.peak_rps / w.mean_rps, bridge=self.bridge)
                  for k, m in self.cost_models.items() if self.options[k].available}
        return pd.DataFrame(totals, index=pd.Index(levels, name="requests_per_day"))

    def table(self) -> pd.DataFrame:
        """One row per option: the numbers a planning doc quotes."""
        rows = []
        for o in self.options.values():
            rows.append({"option": o.label, "available": o.available, "one_time_usd": o.one_time_usd.p50,
                         "monthly_usd_first": o.monthly_usd[0] if o.monthly_usd else np.nan,
                         "monthly_usd_last": o.monthly_usd[-1] if o.monthly_usd else np.nan,
                         "total_usd": o.total_usd.p50, "total_usd_p10": o.total_usd.p10, "total_usd_p90": o.total_usd.p90,
                         "usd_per_request": o.usd_per_request, "all_in_usd_per_request": o.all_in_usd_per_request,
                         "gpus": o.gpus, "months_to_production": o.months_to_production.p50,
                         "energy_mwh": o.energy_mwh.p50 if o.energy_mwh is not None else np.nan,
                         "co2e_t": o.co2e_t.p50 if o.co2e_t is not None else np.nan})
        return pd.DataFrame(rows).set_index("option")

    def cost_curves(self) -> pd.DataFrame:
        """Cumulative cost (p50) per option, one row per month end (0 = start)."""
        return pd.DataFrame({o.label: o.cumulative_usd for o in self.options.values() if o.available})


def _api_model(s: Scenario) -> tuple[ApiPrice, ApiCostModel]:
    a, w = s.api, s.workload
    price = api_price(a.model, a.provider, input_usd_per_mtok=a.input_usd_per_mtok,
                      output_usd_per_mtok=a.output_usd_per_mtok, cached_input_usd_per_mtok=a.cached_input_usd_per_mtok,
                      as_of=date.fromisoformat(a.prices_as_of) if a.prices_as_of else None)
    cached = w.prompt_overhead_tokens if (a.cached_prompt and price.cached_input_usd_per_mtok is not None) else 0.0
    per_request = float(price.cost_usd(w.prompt_tokens, w.output_tokens, cached, a.batch, w.reasoning_tokens))
    return price, ApiCostModel(usd_per_request=per_request, one_time_usd=a.integration_usd,
                               months_to_production=a.months_to_production, decline_per_year=api_decline(s.trends, price.provider_id, price.model_id),
                               spends=api_spends(integration_usd=a.integration_usd,
                                                 months_to_production=a.months_to_production))


def _fleet(s: Scenario, model_name: str, *, drops_overhead: bool, one_time: float, months_to_production: float,
           spends=(), peak_latency: bool = True):
    h, w = s.self_host, s.workload
    load = w.with_(prompt_overhead_tokens=0.0) if drops_overhead else w
    rate = self_host_rate(s, "serving")
    plan = serving_plan(h, model_name, load, rate.usd_per_gpu_hour, peak_latency=peak_latency)
    ops, per_engineer = ops_rule(h.ops_engineers)
    fleet = fleet_model(
        capacity_rps_per_replica=plan.requests_per_s_per_replica.p50, gpus_per_replica=plan.tensor_parallel,
        usd_per_gpu_hour=plan.usd_per_gpu_hour, utilization_ceiling=plan.utilization_ceiling,
        min_replicas=h.min_replicas, ops_engineers=ops, usd_per_engineer_year=s.costs.usd_per_engineer_year,
        one_time_usd=one_time, months_to_production=months_to_production, usd_per_busy_gpu_hour=rate.usd_per_busy_gpu_hour,
        gpus_per_ops_engineer=per_engineer, spends=spends, **fleet_fields(s, model_name, load, plan, rate))
    return plan, fleet


def _finetune(s: Scenario) -> FinetuningEstimate | None:
    h = s.self_host
    if h.finetune_method == "none":
        return None
    return finetune_estimate(h, self_host_rate(s, "training").usd_per_gpu_hour)


def _fleet_totals(fleet: FleetCostModel, cap: Band, s: Scenario, bridge):
    """Total cost over the horizon at the p10/p50/p90 serving capacity (higher capacity, lower cost)."""
    w = s.workload  # the rent's trend and the traffic's growth do not depend on the capacity: computed once
    cost = TotalCost(fleet, growth=w.monthly_growth, horizon_months=w.horizon_months, peak_to_mean=_peak_to_mean(w), bridge=bridge)
    out = [float(cost.at(replace(fleet, capacity_rps_per_replica=c, one_time_usd=0.0))(w.requests_per_day))
           for c in (cap.p90, cap.p50, cap.p10)]
    return Band(*out)


def _peak_to_mean(w) -> float:
    return w.peak_rps / w.mean_rps


def _option(key, model, one_time: Band, ttp: Band, s: Scenario, bridge, requests, months, detail, extra=None):
    w = s.workload
    monthly = monthly_costs(model, requests, months, _peak_to_mean(w), bridge)
    cum = cumulative(one_time_spends(model), monthly)  # one-time costs in the months they are paid
    if isinstance(model, FleetCostModel):
        running = _fleet_totals(model, extra["capacity"], s, bridge)
        before = np.clip(model.months_to_production - months, 0.0, 1.0)
        # rent alone (own cost less staff), never a difference of totals: it cannot round below zero
        staff = (1 - before) * model._staff(requests, _peak_to_mean(w))  # requests: from the checked workload
        own_gpu = (1 - before) * model._monthly(requests, _peak_to_mean(w), months) - staff  # at the trend
        peak = w.peak_rps_for(months[-1])
        gpus = int(np.ceil(model._replicas(peak) - 1e-9) * model.gpus_per_replica)
        breakdown = {"GPU rent" if extra.get("rented", True) else "GPUs owned": float(own_gpu.sum()), "operations staff": float(staff.sum()),
                     "API bridge until production": float((bridge._monthly(requests, None, months) * before).sum()) if bridge else 0.0,
                     **extra["one_time_parts"]}
    else:
        running, gpus = Band.point(float(monthly.sum())), 0
        breakdown = {"API tokens": float(monthly.sum()), "integration": one_time.p50}
    total = one_time + running
    n = float(np.sum(requests))
    e = (extra or {}).get("energy")
    return OptionResult(key=key, label=OPTIONS[key], available=True, reason_unavailable="", one_time_usd=one_time,
                        monthly_usd=tuple(map(float, monthly)), cumulative_usd=tuple(map(float, cum)), total_usd=total,
                        usd_per_request=running.p50 / n, all_in_usd_per_request=total.p50 / n, gpus=gpus,
                        months_to_production=ttp, breakdown=breakdown, detail=detail,
                        energy_mwh=e.total_mwh if e else None, co2e_t=e.co2e_t if e else None, energy=e)


def _unavailable(key: str, reason: str) -> OptionResult:
    nan, inf = float("nan"), float("inf")  # an unavailable option costs "infinitely much": never the cheapest
    return OptionResult(key=key, label=OPTIONS[key], available=False, reason_unavailable=reason,
                        one_time_usd=Band.point(0.0), monthly_usd=(), cumulative_usd=(), total_usd=Band.point(inf),
                        usd_per_request=nan, all_in_usd_per_request=nan, gpus=0, months_to_production=Band.point(inf),
                        breakdown={}, detail="")


@dataclass(frozen=True)
class _Ctx:
    """What every option's builder needs: the scenario, its months and traffic, and the bridge."""

    s: Scenario
    months: np.ndarray
    requests: np.ndarray
    bridge: ApiCostModel | None
    footprint: ApiFootprint  # the API's published energy per request (the bridge's, before production)

    def energy(self, fleet: FleetCostModel, training_gpu_hours, training_gpu: str, training_sourcing: str) -> EnergyUse:
        """A self-hosted option's energy: its training runs, its fleet's months, the API bridge before production."""
        return self_hosted_energy(self.s, fleet, self.requests, self.months, bridged=self.bridge is not None,
                                  footprint=self.footprint, training_gpu_hours=training_gpu_hours,
                                  training_gpu=training_gpu, training_sourcing=training_sourcing)


def _guarded(key: str, build):
    """Run an option's builder; a genuinely infeasible option (does not fit, latency floor, a precision the
    GPU lacks) becomes unavailable with the reason.

    Any other error (a misspelt name, an impossible value) stays an error: it is the user's to fix, not a
    property of the option, and hiding it would turn an input mistake into a business conclusion.
    """
    try:
        return build()
    except (DoesNotFitError, InfeasibleError) as e:
        return _unavailable(key, str(e)), None, None, None


def _api_side(s: Scenario):
    """The API's price and cost model; under regulatory isolation a failed lookup is not fatal."""
    try:
        price, model = _api_model(s)
    except PlannerError as e:
        if not s.flags.regulatory_isolation:
            raise
        return None, None, _unavailable("api", f"regulatory isolation; price lookup also failed: {e}")
    if s.flags.regulatory_isolation:
        return price, model, _unavailable("api", "regulatory isolation: inputs may not be sent to a third-party API")
    return price, model, None


def _build_self_host(ctx: _Ctx):
    s, h = ctx.s, ctx.s.self_host
    require_serving_dtype(s)
    if h.finetune_method != "none":
        require_dtype(h.training_gpu, "bf16", f"{h.finetune_method} fine-tuning")
    ft, train = _finetune(s), self_host_rate(s, "training")
    ft_cost = ft.cost_usd * train.time_factor if ft else Band.point(0.0)
    ft_days = ft.wall_days * train.time_factor if ft else Band.point(0.0)
    usd_year, setup_team = s.costs.usd_per_engineer_year, ops_rule(h.ops_engineers)[0]  # scaled: the floor sets up
    one_time = self_host_one_time_usd(finetune_usd=ft_cost, evaluation_usd=h.evaluation_usd, ops_engineers=setup_team,
                                      setup_months=h.setup_months, usd_per_engineer_year=usd_year)
    ttp = self_host_months_to_production(finetune_wall_days=ft_days, setup_months=h.setup_months)
    spends = self_host_spends(finetune_usd=ft_cost.p50, finetune_wall_days=ft_days.p50, evaluation_usd=h.evaluation_usd,
                              ops_engineers=setup_team, setup_months=h.setup_months, usd_per_engineer_year=usd_year)
    plan, fleet = _fleet(s, h.model, drops_overhead=bool(ft) and h.drops_prompt_overhead,
                         one_time=one_time.p50, months_to_production=ttp.p50, spends=spends)
    parts = {x.what: float(x.usd) for x in spends}
    chosen = f"auto: {plan.precision}, the cheapest format meeting the targets" if h.precision == "auto" else plan.precision
    detail = (f"{h.model} ({chosen}, KV {plan.kv_cache_dtype}) on {plan.gpu} with {plan.engine}, "
              f"{plan.tensor_parallel} GPU(s)/replica, batch {plan.batch_size}, at ${plan.usd_per_gpu_hour:.3g}/GPU-hour "
              f"({h.sourcing})")
    energy = ctx.energy(fleet, ft.gpu_hours * train.time_factor if ft else Band.point(0.0), train.gpu, train.sourcing)
    opt = _option("self_host", fleet, one_time, ttp, s, ctx.bridge, ctx.requests, ctx.months, detail,
                  {"capacity": plan.requests_per_s_per_replica, "one_time_parts": parts, "energy": energy,
                   "rented": not is_owned(h.sourcing)})
    return opt, fleet, plan, ft


def _build_scratch(ctx: _Ctx):
    s, c = ctx.s, ctx.s.scratch
    if not c.enabled:
        return _unavailable("scratch", "disabled in the scenario ([scratch] enabled = false)"), None, None, None
    require_dtype(c.gpu, "bf16", "pretraining")
    require_serving_dtype(s)
    sc = scratch_costs(s)
    plan, fleet = _fleet(s, sc.pretrain.model, drops_overhead=True, one_time=sc.one_time_usd.p50,
                         months_to_production=sc.months_to_production.p50, spends=sc.spends)
    pre, b = sc.pretrain, sc.budget
    detail = (f"{pre.model} pretrained on {b.tokens:.3g} tokens ({b.policy}: {b.tokens_per_param:,.0f} per parameter), "
              f"{pre.n_gpus} x {pre.gpu} ({c.sourcing}), served on {plan.gpu} ({s.self_host.sourcing})")
    hours = sc.run_gpu_hours * (1 + sc.experiments_fraction) + sc.pipeline_gpu_hours
    energy = ctx.energy(fleet, hours, c.gpu, c.sourcing)
    opt = _option("scratch", fleet, sc.one_time_usd, sc.months_to_production, s, ctx.bridge, ctx.requests, ctx.months,
                  detail, {"capacity": plan.requests_per_s_per_replica, "one_time_parts": sc.parts, "energy": energy,
                           "rented": not is_owned(s.self_host.sourcing)})
    return opt, fleet, plan, sc


def compare(scenario: Scenario | str | os.PathLike) -> Comparison:
    """Compare the three options for `scenario` over its horizon; see Comparison for the fields.

    `scenario`: a Scenario, or the path of a scenario TOML file (loaded with load_scenario).
    An impossible input raises PlannerError; an option that cannot work (the model does not fit,
    a latency target below the hardware's floor) is marked unavailable with the reason.
    """
    s = as_scenario(scenario)
    s.register_gpus()
    w = s.workload
    months = w.months().astype(float)
    requests = w.requests_per_month(months)
    price, api_model, api_gone = _api_side(s)
    fp = api_footprint(price.provider_id if price else "", w.generated_tokens, grid_intensity("world").gco2e_per_kwh)
    ctx = _Ctx(s, months, requests, bridge=None if api_gone else api_model, footprint=fp)
    short = _shortlist(ctx) if is_shortlist(s.self_host) else None
    if short is not None:
        s, ctx = short.scenario, replace(ctx, s=short.scenario)
    opts, models = {}, {}
    if api_gone is None:
        models["api"] = api_model
        detail = f"{price.provider_name} {price.model_name}: ${price.input_usd_per_mtok:g} in / ${price.output_usd_per_mtok:g} out per 1M tokens"
        opts["api"] = _option("api", api_model, Band.point(api_model.one_time_usd), Band.point(s.api.months_to_production),
                              s, ctx.bridge, requests, months, detail, {"energy": api_energy_use(fp, requests)})
    else:
        opts["api"] = api_gone
    opts["self_host"], models["self_host"], plan, ft = _guarded("self_host", lambda: _build_self_host(ctx)) \
        if short is None or short.chosen else (_unavailable("self_host", short.why_none()), None, None, None)
    opts["scratch"], models["scratch"], scratch_plan, sc = _guarded("scratch", lambda: _build_scratch(ctx))
    models = {k: m for k, m in models.items() if m is not None and opts[k].available}
    bes = tuple(_break_evens(models, opts, s, ctx.bridge))
    trades = prompt_trades(s, ft, plan, price, self_host_fleet=lambda drop: _fleet(
        s, s.self_host.model, drops_overhead=drop, one_time=0.0, months_to_production=0.0, peak_latency=drop)[1])
    pre = sc.pretrain if sc else None
    gpu_rates = rates(s, opts, sc)
    match = model_match(s, opts, price, sc.budget if sc else None)
    lean = trend_lean(opts, models, ctx.bridge, s, months, requests, bes, match, price)
    return Comparison(scenario=s.name, horizon_months=w.horizon_months, requests_per_month=tuple(map(float, requests)),
                      options=opts, break_evens=bes, prompt_trades=trades,
                      recommendation=with_lean(recommend(opts, bes, s.flags, w, match), lean), trend_lean=lean,
                      api_price=price, serving_plan=plan, scratch_serving_plan=scratch_plan, finetune=ft, pretrain=pre,
                      assumptions=scenario_assumptions(s, price, plan, ft, pre) + cost_assumptions(s, gpu_rates, sc, fp, models),
                      token_budget=sc.budget if sc else None, model_match=match, rates=gpu_rates, rent_or_own=scenario_rent_or_own(s),
                      scratch_costs=sc, cost_models=models, bridge=ctx.bridge, workload=w, shortlist=short)


def _shortlist(ctx: _Ctx) -> Shortlist:
    """The [self_host] shortlist searched with the option's own builder (an infeasible candidate: unavailable)."""
    def evaluate(model: str, gpu: str, precision: str):
        h = replace(ctx.s.self_host, model=model, gpu=gpu, precision=precision)
        opt, _, plan, _ = _guarded("self_host", lambda: _build_self_host(replace(ctx, s=ctx.s.replace(self_host=h))))
        return opt, plan
    return search(ctx.s, evaluate)


def option_totals_for_traffic(models: dict, s: Scenario, requests_per_day, bridge) -> dict[str, np.ndarray]:
    """Total cost over the horizon of each option at each traffic level (vectorized)."""
    w = s.workload
    return {k: total_cost_for_traffic(m, requests_per_day, growth=w.monthly_growth, horizon_months=w.horizon_months,
                                      peak_to_mean=_peak_to_mean(w), bridge=bridge) for k, m in models.items()}


def _break_evens(models: dict, opts: dict, s: Scenario, bridge):
    live = [k for k in OPTIONS if k in models and opts[k].available]

    cost = {k: TotalCost(models[k], growth=s.workload.monthly_growth, horizon_months=s.workload.horizon_months,
                         peak_to_mean=_peak_to_mean(s.workload), bridge=bridge) for k in live}  # for every brentq step
    on_grid = {k: cost[k](traffic_grid()) for k in live} if len(live) > 1 else {}  # each option once, not per pair
    low = {k: cost[k](np.array([1.0]))[0] for k in on_grid}  # at 1 request/day: each option once too
    for a, b in combinations(live, 2):
        roots = break_even_traffic(cost[a], cost[b], on_grid=(on_grid[a], on_grid[b]))
        cheaper_below = a if low[a] <= low[b] else b
        month = crossing_month(opts[a].cumulative_usd, opts[b].cumulative_usd)
        if month is None:
            month = crossing_month(opts[b].cumulative_usd, opts[a].cumulative_usd)
        yield BreakEven(a=a, b=b, requests_per_day=tuple(roots), crossing_month=month, cheaper_below=cheaper_below)
