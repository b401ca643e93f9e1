"""Energy and carbon of each option: the training runs, each month of serving, the hosted API.

A GPU-hour at the meter is (GPU watts + its host's watts) x PUE. A training GPU draws its TDP
x the training utilisation (Meta's model-card convention: the peak; Meta counts no host, so its
figures per GPU-hour are lower than these); a serving GPU draws its
idle power all the time it is held and up to its TDP while it works, so a fleet's month is
GPUs held x (idle + host) + GPUs' worth of work x (TDP - idle), over 730 hours, x PUE.
Carbon = energy x the grid's intensity (data/grid.toml, or the scenario's own figure).
The hosted API uses its provider's published figure, or is unknown (None): never a guess.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..catalog import costs as facts
from ..catalog.specs import GPUSpec
from ..core.band import Band
from ..core.provenance import Assumption
from ..core.results import ResultMixin
from ..core.units import HOURS_PER_MONTH
from .costmodel import FleetCostModel
from .sourcing import Hardware, facility_pue, host_watts_per_gpu

KWH_PER_MWH = 1000.0


@dataclass(frozen=True)
class PowerDraw:
    """What one GPU and its share of the host draw, and the facility's overhead on top."""

    gpu: str
    tdp_watts: float
    idle_watts: float
    host_watts: float
    training_watts: float  # the GPU while training
    pue: float


@dataclass(frozen=True)
class EnergyUse(ResultMixin):
    """An option's energy and carbon over the horizon; None where unknown (a hosted API with no published figure)."""

    one_time_mwh: Band | None  # training runs (fine-tuning, or the whole pretraining programme)
    serving_mwh: tuple[float, ...] | None  # per month (p50), own fleet or the API
    bridge_mwh: float | None  # requests served by the API before production (None: the API's is unknown)
    total_mwh: Band | None
    co2e_t: Band | None
    grid_gco2e_per_kwh: float | None  # of the option's own GPUs; None for a hosted API (its provider's figure)
    note: str  # what is counted and what is not


def kwh_per_gpu_hour(gpu_watts, *, host_watts: float, pue: float):
    """(GPU + host) watts x PUE, for one hour, in kWh."""
    return (gpu_watts + host_watts) * pue / 1000.0


def co2e_tonnes(mwh, gco2e_per_kwh: float):
    """MWh x g/kWh: 1 MWh at 1 g/kWh is 1 kg, so tonnes = MWh x g/kWh / 1000."""
    return mwh * gco2e_per_kwh / 1000.0


def power_draw(gpu: GPUSpec, sourcing: str, hw: Hardware) -> PowerDraw:
    """The GPU's draw: idle and training fractions of its TDP and its host's share (data/sourcing.toml [power]),
    and the facility's PUE (owned or rented)."""
    f = facts.sourcing_facts()
    return PowerDraw(gpu=gpu.name, tdp_watts=gpu.tdp_watts, idle_watts=gpu.tdp_watts * f["power.idle_fraction"].value.p50,
                     host_watts=host_watts_per_gpu(gpu.tdp_watts),
                     training_watts=gpu.tdp_watts * f["power.training_utilisation"].value.p50,
                     pue=facility_pue(sourcing, hw)[0])


def training_mwh(gpu_hours, draw: PowerDraw):
    """GPU-hours of training at the training draw (a float, Band or array)."""
    return gpu_hours * (kwh_per_gpu_hour(draw.training_watts, host_watts=draw.host_watts, pue=draw.pue) / KWH_PER_MWH)


def fleet_mwh(model: FleetCostModel, requests_per_month, months, peak_to_mean: float, draw: PowerDraw,
              fleet_factor: float = 1.0):
    """MWh of a self-hosted fleet in each month; nothing before it goes live (the API bridge serves then).

    fleet_factor: extra GPUs held beyond the model's (a spot fleet holds 1/availability)."""
    held = model.gpus(requests_per_month, peak_to_mean) * fleet_factor
    busy = model.busy_gpus(requests_per_month)
    kwh = HOURS_PER_MONTH * draw.pue / 1000.0 * (held * (draw.idle_watts + draw.host_watts)
                                                 + busy * (draw.tdp_watts - draw.idle_watts))
    live = 1.0 - np.clip(model.months_to_production - np.asarray(months, dtype=float), 0.0, 1.0)
    return kwh * live / KWH_PER_MWH


@dataclass(frozen=True)
class ApiFootprint:
    """Per request, what the provider published (None: not published)."""

    wh_per_request: float | None
    gco2e_per_request: float | None
    assumptions: tuple[Assumption, ...]


def api_footprint(provider_id: str, output_tokens: float, world_gco2e_per_kwh: float) -> ApiFootprint:
    """The provider's published energy and carbon per request of `output_tokens`, or None for each unknown.

    Carbon the provider did not publish is its energy at the world-average grid (the data centres are not named)."""
    pub = facts.api_energy(provider_id)
    if pub is None:
        return ApiFootprint(None, None, (Assumption("api energy per request", None, "Wh",
                                                    f"unknown: {provider_id} publishes no inference energy figure"),))
    wh = pub.wh_per_request if pub.wh_per_request is not None else (
        pub.wh_per_output_token * output_tokens if pub.wh_per_output_token is not None else None)
    g = pub.gco2e_per_request if pub.gco2e_per_request is not None else (
        pub.gco2e_per_output_token * output_tokens if pub.gco2e_per_output_token is not None else None)
    g_src = f"{pub.basis} ({pub.source})"
    if g is None and wh is not None:
        g, g_src = wh * world_gco2e_per_kwh / 1000.0, f"the published energy at the world-average grid, {world_gco2e_per_kwh:g} g/kWh"
    return ApiFootprint(wh, g, (Assumption("api energy per request", wh, "Wh", f"{pub.basis} ({pub.source})"
                                           if wh is not None else f"unknown: {pub.provider} publishes carbon, not energy"),
                                Assumption("api carbon per request", g, "gCO2e", g_src)))


def api_energy_use(fp: ApiFootprint, requests_per_month) -> EnergyUse:
    """The hosted API's energy and carbon: the provider's figure per request x requests; None where unknown."""
    r = np.asarray(requests_per_month, dtype=float)
    monthly = None if fp.wh_per_request is None else tuple(map(float, r * fp.wh_per_request / 1e6))
    total = None if monthly is None else Band.point(float(sum(monthly)))
    co2 = None if fp.gco2e_per_request is None else Band.point(float(r.sum() * fp.gco2e_per_request / 1e6))
    return EnergyUse(one_time_mwh=Band.point(0.0), serving_mwh=monthly, bridge_mwh=None, total_mwh=total, co2e_t=co2,
                     grid_gco2e_per_kwh=None, note="the provider's published figure per request"
                     if total is not None or co2 is not None else "unknown: the provider publishes no figure")


def fleet_energy_use(*, one_time_mwh: Band, serving_mwh, bridge_requests: float, fp: ApiFootprint,
                     grid_gco2e_per_kwh: float) -> EnergyUse:
    """A self-hosted option's energy: its training runs + its own fleet's months + the API bridge before production
    (counted where the API's figure is published, and said where it is not)."""
    own = one_time_mwh + float(np.sum(serving_mwh))
    bridge = None if fp.wh_per_request is None else bridge_requests * fp.wh_per_request / 1e6
    bridge_t = None if fp.gco2e_per_request is None else bridge_requests * fp.gco2e_per_request / 1e6
    note = "training runs and the self-hosted fleet's months"
    if bridge_requests > 0:
        note += ("; the API bridge before production is included" if bridge is not None else
                 f"; excludes the {bridge_requests:,.0f} requests the API serves before production (its energy "
                 "is not published)")
    return EnergyUse(one_time_mwh=one_time_mwh, serving_mwh=tuple(map(float, serving_mwh)), bridge_mwh=bridge,
                     total_mwh=own + (bridge or 0.0), co2e_t=co2e_tonnes(own, grid_gco2e_per_kwh) + (bridge_t or 0.0),
                     grid_gco2e_per_kwh=grid_gco2e_per_kwh, note=note)


def grid(hw: Hardware) -> tuple[float, str]:
    """The grid intensity of the scenario's GPUs (g CO2e/kWh) and where it came from."""
    if hw.grid_gco2e_per_kwh is not None:
        return float(hw.grid_gco2e_per_kwh), "scenario [hardware] grid_gco2e_per_kwh"
    g = facts.grid_intensity(hw.region)
    return g.gco2e_per_kwh, f"{g.name}: {g.source}"
