"""Hardware sourcing: what a GPU-hour costs rented on demand, reserved, on spot or owned, and when owning pays.

Rented, a GPU-hour costs the on-demand price x (1 - the discount); a spot fleet runs 1/availability
of the replicas it needs, and spot training takes longer by its interruption overhead. A reservation
bills its whole term. Owned, a GPU-hour held costs its share of the server and the rack's network
spread over the depreciation years, the colocation of the server's maximum power, the hardware
staff, and the electricity of the idle GPU and its host; the work above idle costs its own
electricity on top. Owned and sunk ("owned-sunk": hardware already bought, whatever this decision)
drops the two depreciation parts: a GPU-hour costs the colocation, the hardware staff and the
electricity. Colocation stays, a recurring bill for housing and powering the servers that only
leaving the site would end (set [hardware] colocation_usd_per_kw_month = 0 for a building of one's
own). Figures come from data/sourcing.toml; a scenario's [hardware] table overrides them.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from ..catalog import costs as facts
from ..catalog.specs import GPUSpec
from ..core import limits as L
from ..core import arguments as A
from ..core import validate as V
from ..core.errors import InputError, PlannerError
from ..core.provenance import Assumption
from ..core.results import ResultMixin
from ..core.units import HOURS_PER_MONTH
from .assembly import MONTHS_PER_YEAR, held_usd_per_gpu_hour

SOURCINGS = ("on-demand", "reserved-1y", "reserved-3y", "spot", "owned", "owned-sunk")
OWNED = ("owned", "owned-sunk")  # the servers are ours: priced by their parts, not a rent
HOURS_PER_YEAR = HOURS_PER_MONTH * MONTHS_PER_YEAR
TERM_YEARS = {"reserved-1y": 1.0, "reserved-3y": 3.0}
_DISCOUNT = {"reserved-1y": "reserved_1y_discount", "reserved-3y": "reserved_3y_discount", "spot": "spot_discount"}
_FACT = {"reserved_1y_discount": "rental.reserved-1y", "reserved_3y_discount": "rental.reserved-3y",
         "spot_discount": "rental.spot", "spot_training_overhead": "rental.spot_training_overhead",
         "spot_serving_availability": "rental.spot_serving_availability",
         "depreciation_years": "owned.depreciation_years", "usd_per_kwh": "owned.usd_per_kwh",
         "colocation_usd_per_kw_month": "owned.colocation_usd_per_kw_month",
         "hardware_ops_fte_per_server": "owned.hardware_ops_fte_per_server"}


def _real(lo: float, hi: float, unit: str, *, lo_open: bool = False) -> V.Real:
    return V.Real(lo, hi, lo_open=lo_open, unit=unit, optional=True)


_DISCOUNT_RANGE = _real(0.0, 0.99, "fraction off on-demand")  # judgement: a 100% discount is no price at all


@dataclass(frozen=True)
class Hardware:
    """[hardware]: where the GPUs run and what they cost to rent or own; None takes data/sourcing.toml's figure."""

    region: str = V.knob("us", V.Text(L.MAX_NAME_CHARS, empty=False), "grid carbon intensity (data/grid.toml)")
    grid_gco2e_per_kwh: float | None = V.knob(None, _real(0, 5000, "gCO2e/kWh"), "overrides the region's "
                                              "(e.g. a market-based contract)")
    pue: float | None = V.knob(None, _real(1, 5, "x"), "none: 1.42 owned (colocation), 1.2 rented")
    usd_per_kwh: float | None = V.knob(None, _real(0, 10, "$/kWh"), "electricity price")
    usd_per_server: float | None = V.knob(None, _real(0, 1e8, "$", lo_open=True),
                                          "owned: applies to every owned GPU in the scenario")
    gpus_per_server: int | None = V.knob(None, V.Whole(1, 1024, unit="GPUs", optional=True), "GPUs in one server")
    server_watts: float | None = V.knob(None, _real(0, 1e6, "W", lo_open=True), "maximum input power")
    servers_per_rack: float | None = V.knob(None, _real(0, 1000, "servers", lo_open=True), "servers in one rack")
    network_usd_per_rack: float | None = V.knob(None, _real(0, 1e8, "$"), "network per rack")
    depreciation_years: float | None = V.knob(None, _real(0, 50, "years", lo_open=True), "owned hardware's life")
    colocation_usd_per_kw_month: float | None = V.knob(None, _real(0, 1e5, "$/kW-month"), "colocation price")
    hardware_ops_fte_per_server: float | None = V.knob(None, _real(0, 100, "FTE"), "people per owned server")
    reserved_1y_discount: float | None = V.knob(None, _DISCOUNT_RANGE, "off the on-demand price")
    reserved_3y_discount: float | None = V.knob(None, _DISCOUNT_RANGE, "off the on-demand price")
    spot_discount: float | None = V.knob(None, _DISCOUNT_RANGE, "off the on-demand price")
    spot_training_overhead: float | None = V.knob(None, _real(1, 10, "x"), "training time lost to preemption")
    spot_serving_availability: float | None = V.knob(None, _real(0, 1, "fraction", lo_open=True),
                                                     "share of spot capacity available")

    def __post_init__(self):
        V.check_fields(self, "hardware")
        if self.grid_gco2e_per_kwh is None:
            facts.grid_intensity(self.region)  # an unknown region is refused at load, with close matches

    @A.checked(name=V.Choice(tuple(_FACT)))
    def fact(self, name: str) -> tuple[float, str]:
        """The figure for `name` and where it came from: the scenario's, else sourcing.toml's."""
        given = getattr(self, name)
        if given is not None:
            return float(given), "scenario [hardware]"
        f = facts.sourcing_facts()[_FACT[name]]
        return f.value.p50, str(f.source)


@dataclass(frozen=True)
class GpuRate(ResultMixin):
    """What a GPU-hour of `gpu` costs under `sourcing`, for serving or for training.

    Per GPU-hour held: on-demand price x multiplier + owned_usd_per_gpu_hour (held_usd_per_gpu_hour).
    Owned serving adds usd_per_busy_gpu_hour for each GPU-hour of work (its electricity above idle);
    owned training folds it in (the GPUs work throughout).
    """

    gpu: str
    sourcing: str
    use: str  # "serving" or "training"
    on_demand_usd_per_gpu_hour: float
    multiplier: float  # rented: (1 - discount), / availability for spot serving; owned: 0
    owned_usd_per_gpu_hour: float  # owned: every part below per GPU-hour held; rented: 0
    usd_per_busy_gpu_hour: float  # owned serving: electricity above idle; otherwise 0
    time_factor: float  # spot training: extra GPU-hours and days for interruptions; otherwise 1
    term_hours: float  # reserved: the hours a reserved GPU is billed for; otherwise 0
    fleet_factor: float = 1.0  # spot serving: GPUs held per GPU needed (1 / availability)
    parts: dict[str, float] = field(default_factory=dict)  # owned: $ per GPU-hour held by part
    assumptions: tuple[Assumption, ...] = ()

    @property
    def usd_per_gpu_hour(self) -> float:
        return float(held_usd_per_gpu_hour(self.on_demand_usd_per_gpu_hour, multiplier=self.multiplier,
                                           owned_usd=self.owned_usd_per_gpu_hour))


def check_sourcing(value, where: str) -> str:
    if value not in SOURCINGS:
        raise InputError(where, f"must be one of {', '.join(repr(s) for s in SOURCINGS)}, got {value!r}")
    return value


def is_owned(sourcing: str) -> bool:
    return sourcing in OWNED


def owned_server(gpu: GPUSpec, hw: Hardware, *, sunk: bool = False) -> facts.Server:
    """The server to buy for `gpu`: the catalog's, with the scenario's overrides. Sunk, its prices are not
    needed (they are not counted): only the GPUs per server and the server's power."""
    srv = facts.server(gpu.name)
    over = {k: getattr(hw, k) for k in ("usd_per_server", "gpus_per_server", "server_watts", "servers_per_rack",
                                        "network_usd_per_rack") if getattr(hw, k) is not None}
    if srv is None:
        need = {"gpus_per_server", "server_watts"} if sunk else \
            {"usd_per_server", "gpus_per_server", "server_watts", "servers_per_rack", "network_usd_per_rack"}
        if need - set(over):
            listed = ", ".join(s.gpu for s in facts.servers())
            what = "server power" if sunk else "server price"
            raise PlannerError(f"sourcing = '{'owned-sunk' if sunk else 'owned'}': no {what} for {gpu.name} in the "
                               f"catalog (listed: {listed}); give [hardware] {', '.join(sorted(need - set(over)))}")
        unpriced = {"usd_per_server": 0.0, "servers_per_rack": 1.0, "network_usd_per_rack": 0.0}  # sunk: not counted
        return facts.Server(gpu=gpu.name, sources={}, **{**unpriced, **over})
    return dataclasses.replace(srv, **over)


def host_watts_per_gpu(tdp_watts: float) -> float:
    """The host's CPUs, memory and NICs per GPU, as a share of the GPU's TDP (Google's measured serving split;
    data/sourcing.toml power.host_fraction). The server's maximum power sizes the colocation, not this."""
    return tdp_watts * facts.sourcing_facts()["power.host_fraction"].value.p50


def electricity_usd_per_gpu_hour(watts: float, *, pue: float, usd_per_kwh: float) -> float:
    """Energy at the meter: watts x PUE, priced per kWh."""
    return watts / 1000.0 * pue * usd_per_kwh


def owned_parts(gpu: GPUSpec, hw: Hardware, *, usd_per_engineer_year: float, pue: float,
                sunk: bool = False) -> dict[str, float]:
    """$ per GPU-hour held of an owned GPU, by part (formulas in the module docstring); sunk: no depreciation."""
    srv = owned_server(gpu, hw, sunk=sunk)
    n, years = srv.gpus_per_server, hw.fact("depreciation_years")[0]
    kwh_price = hw.fact("usd_per_kwh")[0]
    idle_watts = gpu.tdp_watts * facts.sourcing_facts()["power.idle_fraction"].value.p50
    capital = {} if sunk else {
        "servers (depreciation)": srv.usd_per_server / n / (years * HOURS_PER_YEAR),
        "network (depreciation)": srv.network_usd_per_rack / srv.servers_per_rack / n / (years * HOURS_PER_YEAR)}
    return {
        **capital,
        "colocation": srv.server_watts / 1000.0 * hw.fact("colocation_usd_per_kw_month")[0] / n / HOURS_PER_MONTH,
        "hardware staff": hw.fact("hardware_ops_fte_per_server")[0] * usd_per_engineer_year / n / HOURS_PER_YEAR,
        "electricity (idle GPU and host)": electricity_usd_per_gpu_hour(
            idle_watts + host_watts_per_gpu(gpu.tdp_watts), pue=pue, usd_per_kwh=kwh_price),
    }


def facility_pue(sourcing: str, hw: Hardware) -> tuple[float, str]:
    if hw.pue is not None:
        return float(hw.pue), "scenario [hardware]"
    f = facts.sourcing_facts()["owned.pue" if is_owned(sourcing) else "owned.cloud_pue"]
    return f.value.p50, str(f.source)


def gpu_rate(gpu: GPUSpec, sourcing: str, hw: Hardware, *, usd_per_engineer_year: float, use: str,
             where: str) -> GpuRate:
    """The cost of a GPU-hour of `gpu` (at its catalog or quoted on-demand price) under `sourcing`."""
    check_sourcing(sourcing, where)
    od, label = gpu.usd_per_gpu_hour, f"{where} = {sourcing!r}"
    out = []
    if is_owned(sourcing):
        pue = facility_pue(sourcing, hw)[0]
        sunk = sourcing == "owned-sunk"
        parts = owned_parts(gpu, hw, usd_per_engineer_year=usd_per_engineer_year, pue=pue, sunk=sunk)
        busy_watts = gpu.tdp_watts * (1.0 - facts.sourcing_facts()["power.idle_fraction"].value.p50)
        busy = electricity_usd_per_gpu_hour(busy_watts, pue=pue, usd_per_kwh=hw.fact("usd_per_kwh")[0])
        if use == "training":  # the GPUs work throughout, at the training power
            u = facts.sourcing_facts()["power.training_utilisation"].value.p50
            parts["electricity (work)"] = busy * u
            busy = 0.0
        out = [Assumption(f"{label}: {k}", v, "$/GPU-hour", "planner/catalog/data/sourcing.toml; [hardware] overrides")
               for k, v in parts.items()]
        out.append(Assumption(f"{label}: accounting", "sunk" if sunk else "straight-line", "", (
            "the servers are already bought: no purchase or depreciation is charged, only colocation, hardware staff "
            "and electricity") if sunk else ("each GPU-hour carries its share of the purchase over the depreciation "
            "years: the servers are assumed used (or sold at book value) for the rest of their life; the "
            "rent-or-own break-even shows the cash view")))
        figures = [("depreciation_years", "years")] if not sunk else []
        figures += [("usd_per_kwh", "$/kWh"), ("colocation_usd_per_kw_month", "$/kW-month"),
                    ("hardware_ops_fte_per_server", "FTE/server")]
        for k, unit in figures:
            value, src = hw.fact(k)
            out.append(Assumption(f"{label}: {k}", value, unit, src))
        return GpuRate(gpu=gpu.name, sourcing=sourcing, use=use, on_demand_usd_per_gpu_hour=od, multiplier=0.0,
                       owned_usd_per_gpu_hour=sum(parts.values()), usd_per_busy_gpu_hour=busy, time_factor=1.0,
                       term_hours=0.0, parts=parts, assumptions=tuple(out))
    multiplier, time_factor = 1.0, 1.0
    if sourcing in _DISCOUNT:
        d, src = hw.fact(_DISCOUNT[sourcing])
        multiplier = 1.0 - d
        out.append(Assumption(f"{label}: discount", d, "fraction off on-demand", src))
    fleet_factor = 1.0
    if sourcing == "spot" and use == "serving":
        a, src = hw.fact("spot_serving_availability")
        fleet_factor = 1.0 / a
        multiplier *= fleet_factor
        out.append(Assumption(f"{label}: availability", a, "replicas held = needed / availability", src))
    if sourcing == "spot" and use == "training":
        time_factor, src = hw.fact("spot_training_overhead")
        out.append(Assumption(f"{label}: interruption overhead", time_factor, "x GPU-hours and days", src))
    term = TERM_YEARS.get(sourcing, 0.0) * HOURS_PER_YEAR if use == "training" else 0.0
    if term:
        out.append(Assumption(f"{label}: term billed", term, "hours per reserved GPU",
                              "a reservation bills its whole term, used or not"))
    return GpuRate(gpu=gpu.name, sourcing=sourcing, use=use, on_demand_usd_per_gpu_hour=od, multiplier=multiplier,
                   owned_usd_per_gpu_hour=0.0, usd_per_busy_gpu_hour=0.0, time_factor=time_factor, term_hours=term,
                   fleet_factor=fleet_factor, assumptions=tuple(out))


@dataclass(frozen=True)
class RentOrOwn(ResultMixin):
    """Owning one GPU against renting it (cash view: the purchase is paid on day one, nothing is resold)."""

    gpu: str
    rental: str  # the sourcing compared with owning
    rent_usd_per_gpu_hour: float
    purchase_usd_per_gpu: float  # its share of the server and of the rack's network
    owned_running_usd_per_month: float  # at `utilisation`: colocation, hardware staff, electricity
    utilisation: float  # share of the hours the GPU works (a pay-per-use rental bills only those)
    months_to_break_even: float | None  # owning is cheaper after this many months; None: never at this use
    break_even_utilisation: float | None  # over the depreciation life, owning wins above this use; None: never
    depreciation_years: float
    # Owning, then selling at the market value (decide/generations.py): cheaper than renting from this many months
    # of holding on; None: renting stays cheaper (or not computed: resale_note says why)
    months_to_break_even_resold: float | None = None
    resale_note: str = ""


def purchase_usd_per_gpu(srv: facts.Server) -> float:
    return (srv.usd_per_server + srv.network_usd_per_rack / srv.servers_per_rack) / srv.gpus_per_server


def owned_running_usd_per_hour(owned: GpuRate, utilisation: float) -> float:
    """An owned GPU-hour's cost besides the purchase: colocation, staff, idle electricity, and the work's."""
    running = sum(v for k, v in owned.parts.items() if "depreciation" not in k)
    return running + owned.usd_per_busy_gpu_hour * utilisation


def break_even_months(purchase_usd: float, rent_usd_per_month: float, running_usd_per_month: float) -> float | None:
    """Months after which purchase + running x months < rent x months; None when renting stays cheaper."""
    saving = rent_usd_per_month - running_usd_per_month
    return purchase_usd / saving if saving > 0 else None


def break_even_utilisation(owned: GpuRate, rent_usd_per_gpu_hour: float) -> float | None:
    """Over the depreciation life: owning (held + work x u per hour) costs less than renting u of the hours
    (rent x u) once u > held / (rent - work). None when that is above 1: owning never wins."""
    margin = rent_usd_per_gpu_hour - owned.usd_per_busy_gpu_hour
    u = owned.usd_per_gpu_hour / margin if margin > 0 else math.inf
    return u if u <= 1.0 else None


@A.checked(gpu=A.Kind(GPUSpec, "a GPUSpec (planner.gpu(name))"), hw=A.Kind(Hardware, "a planner.Hardware"),
           usd_per_engineer_year=V.Real(0.0, L.MAX_USD_PER_ENGINEER_YEAR, unit="$/year"),
           utilisation=V.Real(0.0, 1.0, lo_open=True, unit="fraction"), rental=V.Text(empty=False))
def rent_or_own(gpu: GPUSpec, hw: Hardware, *, usd_per_engineer_year: float, utilisation: float = 1.0,
                rental: str = "on-demand") -> RentOrOwn:
    """When owning `gpu` beats renting it under `rental` (on-demand unless given), per GPU.

    A pay-per-use rental (on-demand, spot) bills utilisation x the hours; a reservation bills them all.
    """
    check_sourcing(rental, "rental")
    if is_owned(rental):
        raise InputError("rental", "compare owning with a rental: on-demand, reserved-1y, reserved-3y or spot")
    if not 0.0 < utilisation <= 1.0:
        raise InputError("utilisation", f"must be in (0, 1], got {utilisation!r}")
    owned = gpu_rate(gpu, "owned", hw, usd_per_engineer_year=usd_per_engineer_year, use="serving", where="owned")
    rent = gpu_rate(gpu, rental, hw, usd_per_engineer_year=usd_per_engineer_year, use="serving",
                    where="rental").usd_per_gpu_hour
    billed = utilisation if rental in ("on-demand", "spot") else 1.0
    running = owned_running_usd_per_hour(owned, utilisation) * HOURS_PER_MONTH
    purchase = purchase_usd_per_gpu(owned_server(gpu, hw))
    return RentOrOwn(gpu=gpu.name, rental=rental, rent_usd_per_gpu_hour=rent, purchase_usd_per_gpu=purchase,
                     owned_running_usd_per_month=running, utilisation=utilisation,
                     months_to_break_even=break_even_months(purchase, rent * billed * HOURS_PER_MONTH, running),
                     break_even_utilisation=break_even_utilisation(owned, rent) if rental in ("on-demand", "spot")
                     else None,
                     depreciation_years=hw.fact("depreciation_years")[0])
