"""Cost facts with sources: hardware sourcing, servers to own, grid carbon, API energy, pretraining programmes.

Loaded from data/sourcing.toml, grid.toml, api_energy.toml and programme.toml. Every value is
a `Fact`: a Band (a point where the data gives one number), its unit and its citation; a note
that starts with JUDGEMENT marks a figure we set between published ones.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field

from ..core import validate as V
from ..core.band import Band
from ..core.errors import PlannerError, UnknownNameError
from ..core.provenance import Source
from .lookup import _read, _source


@dataclass(frozen=True)
class Fact:
    name: str
    value: Band
    unit: str
    source: Source

    @property
    def judgement(self) -> bool:
        return self.source.note.startswith("JUDGEMENT")


@dataclass(frozen=True)
class Server:
    """One server to buy: its price, GPUs, maximum input power, racking and network."""

    gpu: str
    gpus_per_server: int
    usd_per_server: float
    server_watts: float  # maximum input power (colocation is provisioned for it)
    servers_per_rack: float
    network_usd_per_rack: float
    sources: dict[str, Source] = field(default_factory=dict)


@dataclass(frozen=True)
class GridIntensity:
    region: str
    name: str
    gco2e_per_kwh: float
    source: Source


@dataclass(frozen=True)
class ApiEnergy:
    """A provider's published inference figure; None where it published none."""

    provider: str
    basis: str
    source: Source
    wh_per_request: float | None = None
    gco2e_per_request: float | None = None
    wh_per_output_token: float | None = None
    gco2e_per_output_token: float | None = None


def _fact(name: str, d: dict, where: str) -> Fact:
    if "value" in d:
        value = Band.point(float(d["value"]))
    else:
        try:
            value = Band(float(d["p10"]), float(d["p50"]), float(d["p90"]))
        except KeyError:
            raise PlannerError(f"{where}: {name} needs 'value' or 'p10', 'p50' and 'p90'") from None
    return Fact(name=name, value=value, unit=d.get("unit", ""), source=_source(d, f"{where}: {name}"))


@functools.cache
def sourcing_facts() -> dict[str, Fact]:
    """Discounts and rental terms (rental.*), owning terms (owned.*) and power (power.*), by dotted name."""
    data = _read("sourcing.toml")
    return {f"{group}.{name}": _fact(name, d, "sourcing.toml")
            for group in ("rental", "owned", "power") for name, d in data[group].items()}


@functools.cache
def _servers() -> dict[str, Server]:
    out = {}
    for d in _read("sourcing.toml")["server"]:
        where = f"sourcing.toml server {d.get('gpu')!r}"
        out[d["gpu"]] = Server(gpu=d["gpu"], gpus_per_server=int(d["gpus_per_server"]),
                               usd_per_server=float(d["usd_per_server"]), server_watts=float(d["server_watts"]),
                               servers_per_rack=float(d["servers_per_rack"]),
                               network_usd_per_rack=float(d["network_usd_per_rack"]),
                               sources={k: _source(v, where) for k, v in d.get("sources", {}).items()})
    return out


def server(gpu_name: str) -> Server | None:
    """The catalog's server for a GPU (by its catalog name), or None when none is listed."""
    return _servers().get(gpu_name)


def servers() -> list[Server]:
    return list(_servers().values())


@functools.cache
def _grid() -> dict[str, GridIntensity]:
    return {k: GridIntensity(region=k, name=d["name"], gco2e_per_kwh=float(d["gco2e_per_kwh"]),
                             source=_source(d, f"grid.toml region {k!r}"))
            for k, d in _read("grid.toml")["region"].items()}


def regions() -> list[str]:
    return list(_grid())


def grid_intensity(region: str) -> GridIntensity:
    """The grid carbon intensity of `region` (see data/grid.toml); an unknown region lists the known ones."""
    V.name_text("region", region)
    try:
        return _grid()[str(region).lower()]
    except KeyError:
        raise UnknownNameError("region", str(region), _grid()) from None


@functools.cache
def _api_energy() -> dict[str, ApiEnergy]:
    out = {}
    for d in _read("api_energy.toml")["provider"]:
        nums = {k: float(d[k]) for k in ("wh_per_request", "gco2e_per_request", "wh_per_output_token",
                                          "gco2e_per_output_token") if k in d}
        out[d["provider"]] = ApiEnergy(provider=d["provider"], basis=d["basis"],
                                       source=_source(d, f"api_energy.toml {d['provider']!r}"), **nums)
    return out


def api_energy(provider_id: str) -> ApiEnergy | None:
    """The published inference energy of a provider (genai-prices provider id), or None: unknown."""
    return _api_energy().get(str(provider_id).lower())


@functools.cache
def programme_facts() -> dict[str, Fact]:
    """The pretraining programme's costs besides the final run (data/programme.toml), by name."""
    return {name: _fact(name, d, "programme.toml") for name, d in _read("programme.toml").items()}
