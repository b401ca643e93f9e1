"""A scenario's hardware costs and energy besides the performance model: each self-hosted use's GPU-hour under
its sourcing, owning against renting the self-host GPU, a self-hosted option's energy, and their assumptions.

compare() calls these for every option; the figures and formulas are sourcing.py's and energy.py's.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..catalog.lookup import gpu as lookup_gpu
from ..core.errors import PlannerError
from ..core.provenance import Assumption
from .assembly import GPUS_PER_OPS_ENGINEER, OPS_MIN_ENGINEERS
from ..core.units import HOURS_PER_MONTH
from ..estimate.pretraining import USD_PER_ENGINEER_YEAR
from .costmodel import FleetCostModel
from .energy import ApiFootprint, EnergyUse, fleet_energy_use, fleet_mwh, grid, power_draw, training_mwh
from .generations import assumptions as generation_assumptions
from .generations import resold
from .scratch import ScratchCosts
from .sourcing import GpuRate, RentOrOwn, gpu_rate, rent_or_own


def priced_gpu(name: str, usd: float):
    """The catalog GPU at another price per GPU-hour."""
    return lookup_gpu(name).with_price(usd)


def _quoted_gpu(s):
    h = s.self_host
    return lookup_gpu(h.gpu) if h.usd_per_gpu_hour is None else priced_gpu(h.gpu, h.usd_per_gpu_hour)


def separate_training_gpu(h) -> bool:
    """The fine-tune runs on a GPU other than the serving fleet's."""
    return h.finetune_gpu is not None and lookup_gpu(h.finetune_gpu).name != lookup_gpu(h.gpu).name


def self_host_rate(s, use: str) -> GpuRate:
    """A self-host GPU-hour ("serving" or "training") under [self_host] sourcing, at the catalog's on-demand
    price or the scenario's quote. A reserved fine-tune runs on the reserved fleet's GPUs: no term of its own.
    A fine-tune on another GPU (finetune_gpu) rents it on demand at the catalog's price (judgement: a job of
    days is not worth reserving or buying a second kind of GPU for)."""
    h = s.self_host
    if use == "training" and separate_training_gpu(h):
        return gpu_rate(lookup_gpu(h.finetune_gpu), "on-demand", s.hardware,
                        usd_per_engineer_year=s.costs.usd_per_engineer_year, use=use, where="self_host.finetune_gpu")
    r = gpu_rate(_quoted_gpu(s), h.sourcing, s.hardware, usd_per_engineer_year=s.costs.usd_per_engineer_year,
                 use=use, where="self_host.sourcing")
    return dataclasses.replace(r, term_hours=0.0, assumptions=tuple(a for a in r.assumptions if "term" not in a.name))


def rates(s, opts: dict, sc: ScratchCosts | None) -> dict[str, GpuRate]:
    """The GPU-hour of each self-hosted use whose option is available."""
    out = {}
    if opts["self_host"].available or opts["scratch"].available:
        out = {"self_host": self_host_rate(s, "serving"), "self_host_training": self_host_rate(s, "training")}
    if sc is not None:
        out["scratch_training"] = sc.rate
    return out


def scenario_rent_or_own(s) -> RentOrOwn | None:
    """When owning the self-host GPU beats renting it on demand; None where the catalog has no server price
    for it (and [hardware] gives none)."""
    try:
        return resold(s, rent_or_own(_quoted_gpu(s), s.hardware, usd_per_engineer_year=s.costs.usd_per_engineer_year))
    except PlannerError:
        return None


def self_hosted_energy(s, fleet: FleetCostModel, requests, months, *, bridged: bool, footprint: ApiFootprint,
                       training_gpu_hours, training_gpu: str, training_sourcing: str) -> EnergyUse:
    """A self-hosted option's energy: its training runs, its fleet's months on the self-host GPU, and the API
    bridge before production (where the API serves then)."""
    h = s.self_host
    serve = power_draw(lookup_gpu(h.gpu), h.sourcing, s.hardware)
    train = power_draw(lookup_gpu(training_gpu), training_sourcing, s.hardware)
    ratio = s.workload.peak_rps / s.workload.mean_rps
    monthly = fleet_mwh(fleet, requests, months, ratio, serve, self_host_rate(s, "serving").fleet_factor)
    before = np.clip(fleet.months_to_production - months, 0.0, 1.0) if bridged else 0.0
    return fleet_energy_use(one_time_mwh=training_mwh(training_gpu_hours, train), serving_mwh=monthly,
                            bridge_requests=float(np.sum(requests * before)), fp=footprint,
                            grid_gco2e_per_kwh=grid(s.hardware)[0])


def _ops_staff(ops_engineers) -> Assumption:
    if ops_engineers is not None:
        return Assumption("operations staff", ops_engineers, "FTE", "scenario ([self_host] ops_engineers, fixed)")
    return Assumption("operations staff", f"max({OPS_MIN_ENGINEERS:g}, GPUs held / {GPUS_PER_OPS_ENGINEER:g})", "FTE",
                      "one FTE per ~250 processors at HPC sites (Roskies & Zacharia, CTWatch Quarterly, May 2006); "
                      "applied to GPUs: judgement; a floor of 1 (judgement); setup months paid at the floor")


def cost_assumptions(s, gpu_rates: dict, sc: ScratchCosts | None, fp: ApiFootprint,
                     fleets: dict | None = None) -> tuple[Assumption, ...]:
    """Sourcing, the scratch programme, power and carbon, the hardware generation (generations.py): one row per
    figure, with its source."""
    g, g_src = grid(s.hardware)
    out = [Assumption("grid carbon intensity", g, "gCO2e/kWh", g_src), _ops_staff(s.self_host.ops_engineers)]
    for key in ("self_host", "self_host_training", "scratch_training"):
        if key in gpu_rates:
            r = gpu_rates[key]
            d = power_draw(lookup_gpu(r.gpu), r.sourcing, s.hardware)
            out.append(Assumption(f"{r.gpu} power ({r.sourcing})", f"TDP {d.tdp_watts:g} W, idle {d.idle_watts:g} W, "
                                  f"host {d.host_watts:.0f} W, PUE {d.pue:g}", "",
                                  "planner/catalog/data/sourcing.toml [power] and [[server]]; [hardware] overrides"))
    for r in gpu_rates.values():
        out += list(r.assumptions)
    out += list(fp.assumptions) + (list(sc.assumptions) if sc else [])
    if gpu_rates:  # a self-hosted option is available
        out += list(generation_assumptions(s, fleets or {}))
    seen, unique = set(), []
    for a in out:
        if a.name not in seen:
            seen.add(a.name)
            unique.append(a)
    return tuple(unique)


def scenario_assumptions(s, price, plan, ft, pre) -> tuple[Assumption, ...]:
    """The workload, staff cost, API prices and each estimate's own assumptions (one row per name)."""
    w = s.workload
    out = [Assumption(f"workload.{k}", v, "", "scenario") for k, v in w.to_dict().items()]
    out.append(Assumption("usd_per_engineer_year", s.costs.usd_per_engineer_year, "$/year",
                          "scenario" if s.costs.usd_per_engineer_year != USD_PER_ENGINEER_YEAR else "assumption: fully loaded US ML engineer"))
    if price is not None:
        out += [Assumption("api input price", price.input_usd_per_mtok, "$/1M tokens", price.source),
                Assumption("api output price", price.output_usd_per_mtok, "$/1M tokens", price.source),
                Assumption("api cached-input price", price.cached_input_usd_per_mtok, "$/1M tokens", price.source)]
    out.append(Assumption("hours per month", HOURS_PER_MONTH, "h", "8760 h / 12: cloud monthly billing"))
    for est in (plan, ft, pre):
        if est is not None:
            seen = {a.name for a in out}
            out += [a for a in est.assumptions if a.name not in seen]
    return tuple(out)
