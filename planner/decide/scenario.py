"""Scenario: one workload and the three options to compare, read from and written to TOML.

Every field is validated when a Scenario is built (sections.py, Workload), so a
Scenario that exists is a possible one. Loading is strict too: an unknown key, a
missing required key or a wrong type is refused naming the key. TOML has no null:
a field set to None whose default is not None (a latency target turned off) is written
as the string "none", which loads back as None; load(save(s)) == s for every scenario.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from ..catalog.custom_gpu import SECTION, custom_gpu
from ..catalog.lookup import register_gpu
from ..core import files
from ..core import limits as L
from ..core import validate as V
from ..core.errors import InputError, PlannerError, PlannerTypeError, close_matches, show
from ..estimate.recipe import DEFAULT_RECIPE, TrainingRecipe
from ..estimate.workload import Workload, check_final_traffic
from .assembly import ops_rule
from .distributions import Distribution, parse_uncertainty, resolve_relative
from .scratch import Programme
from .sections import ApiOption, Costs, Flags, ScratchOption, SelfHostOption
from .sourcing import Hardware
from .trends import Trends, api_decline, check_successor, gpu_trend

__all__ = ["ApiOption", "Costs", "Flags", "Hardware", "Programme", "Scenario", "ScratchOption", "SelfHostOption", "as_scenario", "check_uncertain", "input_check", "point_values",
           "dumps_scenario", "load_scenario", "loads_scenario", "save_scenario", "scenario_from_dict",
           "scenario_to_dict"]

_SECTIONS = {"workload": Workload, "api": ApiOption, "self_host": SelfHostOption, "scratch": ScratchOption,
             "costs": Costs, "flags": Flags, "hardware": Hardware, "programme": Programme, "trends": Trends}
_SCALES = V.Real(0.0, 1e3, lo_open=True, unit="x")  # price multipliers sampled by the Monte Carlo


def _default_workload() -> Workload:
    return Workload(requests_per_day=10_000, input_tokens=500, output_tokens=300)


@dataclass(frozen=True)
class Scenario:
    name: str = V.knob("New scenario", V.Text(L.MAX_NAME_CHARS, empty=False), "shown as the report's title")
    description: str = V.knob("", V.Text(L.MAX_DESCRIPTION_CHARS, multiline=True), "quoted in the report")
    seed: int = V.knob(0, V.Whole(0, L.MAX_SEED), "Monte Carlo seed: the same seed gives the same numbers")
    capability_floor: float | None = V.knob(
        None, V.Real(0.0, 100.0, unit="% MMLU-Pro", optional=True),
        "recommend only options whose model's published capability is known and at least this; none: no floor")
    workload: Workload = field(default_factory=_default_workload)
    api: ApiOption = field(default_factory=ApiOption)
    self_host: SelfHostOption = field(default_factory=SelfHostOption)
    scratch: ScratchOption = field(default_factory=ScratchOption)
    costs: Costs = field(default_factory=Costs)
    flags: Flags = field(default_factory=Flags)
    hardware: Hardware = field(default_factory=Hardware)  # sourcing, energy and carbon figures (sourcing.py)
    programme: Programme = field(default_factory=Programme)  # what pretraining pays besides the run (scratch.py)
    trends: Trends = field(default_factory=Trends)  # how API and GPU prices move over the horizon (trends.py)
    uncertainty: dict = field(default_factory=dict)  # input path -> distribution (see distributions.py)
    custom_gpu: tuple[dict, ...] = ()  # [[custom_gpu]]: GPUs not in the catalog (catalog/custom_gpu.py)

    def __post_init__(self):
        V.check_fields(self, "")
        for key, cls in _SECTIONS.items():
            V.instance(key, getattr(self, key), cls, f"a {cls.__name__}")
        V.instance("uncertainty", self.uncertainty, dict, "a table of input path -> distribution")
        object.__setattr__(self, "custom_gpu", _custom_gpus(self.custom_gpu))
        check_successor(self.trends)  # after the custom GPUs: one of them may be the successor
        _check_uncertainty(self)

    def register_gpus(self) -> None:
        """Make this scenario's custom GPUs the ones its names find (another scenario may have replaced them)."""
        for i, table in enumerate(self.custom_gpu):
            register_gpu(custom_gpu(table, f"custom_gpu[{i}]"))

    def replace(self, **changes) -> Scenario:
        """A copy with some fields changed (validated again)."""
        return V.replace(self, changes, "scenario")


# ---- the [uncertainty] table against the fields' own bounds ----

def _custom_gpus(tables) -> tuple[dict, ...]:
    """[[custom_gpu]] tables, each checked as a GPUSpec and registered under its name."""
    V.instance("custom_gpu", tables, (list, tuple), "a list of GPU tables ([[custom_gpu]])")
    if len(tables) > L.MAX_CUSTOM_GPUS:
        raise InputError("custom_gpu", f"at most {L.MAX_CUSTOM_GPUS} custom GPUs, got {len(tables)}")
    names = [register_gpu(custom_gpu(t, f"custom_gpu[{i}]")).name.lower() for i, t in enumerate(tables)]
    if len(set(names)) < len(names):
        raise InputError("custom_gpu", "two custom GPUs have the same name")
    return tuple(tables)


def input_check(path: str):
    """The check of the scenario field an uncertain input (distributions.INPUTS) varies; a price scale
    or an efficiency has its own."""
    section, _, name = path.partition(".")
    if section == "efficiency":
        return V.Real(L.MIN_EFFICIENCY, 1.0, unit="fraction of peak")
    cls = _SECTIONS.get(section)
    f = next((f for f in dataclasses.fields(cls) if f.name == name), None) if cls else None
    return f.metadata["check"] if f is not None else _SCALES


def _extremes(d: Distribution) -> tuple[float, float]:
    """The range samples practically reach: the bounds, or a lognormal's +-6 sigma (p 1e-9)."""
    lo, hi = (float(d.ppf(1e-9)), float(d.ppf(1 - 1e-9))) if d.kind == "lognormal" else d.support
    return lo, hi


def point_values(s: Scenario) -> dict[str, float]:
    """Each uncertain input's value at the scenario's point, where the scenario alone fixes it: what a
    relative [uncertainty] entry multiplies. The rest (a catalog GPU price, the serving plan's utilisation,
    the efficiencies, pretraining tokens by policy) are known once compared (uncertainty.montecarlo.Engine)."""
    w, h, r = s.workload, s.self_host, s.scratch
    out = {"workload.requests_per_day": w.requests_per_day, "workload.monthly_growth": w.monthly_growth,
           "workload.peak_to_mean": w.peak_rps / w.mean_rps, "api.price_scale": 1.0, "scratch.compute_price_scale": 1.0,
           "api.integration_usd": s.api.integration_usd, "costs.usd_per_engineer_year": s.costs.usd_per_engineer_year}
    for name in ("finetune_epochs", "finetune_tokens", "setup_months", "evaluation_usd"):
        out[f"self_host.{name}"] = float(getattr(h, name))
    out["self_host.ops_engineers"] = float(ops_rule(h.ops_engineers)[0])  # scaled with the fleet: its floor
    out["trends.api_decline_per_year"] = api_decline(s.trends)
    out["trends.gpu_decline_per_year"] = gpu_trend(s.trends, h.sourcing)[0]
    for name in ("residual_loss_per_year", "successor_step"):  # else the GPU's sourced figure: known once compared
        if getattr(s.trends, name) is not None:
            out[f"trends.{name}"] = getattr(s.trends, name)
    for name in ("researchers", "months", "prep_months", "evaluation_usd"):
        out[f"scratch.{name}"] = float(getattr(r, name))
    return out


def check_uncertain(path: str, d: Distribution) -> None:
    """An absolute (or scaled) distribution stays inside its field's bounds, else InputError naming the entry."""
    check = input_check(path)
    around = f"x{{:.3g}} of this scenario's {d.around:.4g}, " if d.around else ""
    for v in _extremes(d):
        check(f"uncertainty.{path} ({around.format(v / d.around) if around else ''}reaches {v:.3g})", v)


def _check_uncertainty(s: Scenario) -> None:
    """Each distribution stays inside its field's bounds, and sampled growth cannot overflow the traffic."""
    if files.data_depth(s.uncertainty) > L.MAX_NESTING:
        raise InputError("uncertainty", f"nested more than {L.MAX_NESTING} levels deep")
    try:
        dists = resolve_relative(parse_uncertainty(s.uncertainty), point_values(s))
    except (AttributeError, TypeError):  # a non-dict entry deep inside: say so instead of a traceback
        raise PlannerTypeError("uncertainty", "must be a table of input path -> {dist = ..., ...}") from None
    for path, d in dists.items():
        if not d.relative:  # still relative: its value comes from the comparison, checked there
            check_uncertain(path, d)
    rpd = dists.get("workload.requests_per_day")
    growth = dists.get("workload.monthly_growth")
    if rpd or growth:
        w = s.workload
        top = (_extremes(rpd)[1] if rpd else w.requests_per_day, _extremes(growth)[1] if growth else w.monthly_growth)
        check_final_traffic(*top, w.horizon_months, field="uncertainty.workload (highest traffic and growth)")


def as_scenario(scenario, what: str = "scenario") -> Scenario:
    """A Scenario as given, or loaded from a path to a scenario TOML file; anything else is a PlannerTypeError."""
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, (str, os.PathLike)):
        return load_scenario(scenario)
    return V.instance(what, scenario, Scenario, "a Scenario or the path of a scenario TOML file")


# ---- TOML ----

_TOP = ("name", "description", "seed", "capability_floor")  # the scenario's own keys, above the sections
_TOP_FIELDS = {f.name: f for f in dataclasses.fields(Scenario) if f.name in _TOP}

def _from_toml(value, f: dataclasses.Field):
    """TOML's stand-in for None ("none") becomes None where the field allows None."""
    check = f.metadata.get("check")
    return None if (isinstance(value, str) and value == V.NONE and getattr(check, "optional", False)) else value


def _build(cls, table, where: str):
    if not isinstance(table, dict):
        raise PlannerTypeError(where, f"[{where}] must be a table, got {type(table).__name__}")
    known = {f.name: f for f in dataclasses.fields(cls)}
    for key in table:
        if key not in known:
            near = close_matches(key, known)
            hint = f"; did you mean {', '.join(near)}?" if near else f"; known keys: {', '.join(known)}"
            raise PlannerError(f"[{where}] unknown key {show(key)}{hint}")
    missing = [n for n, f in known.items() if f.default is dataclasses.MISSING and n not in table]
    if missing:
        raise InputError(where, f"[{where}] needs {', '.join(missing)} (no default)")
    return cls(**{k: _from_toml(v, known[k]) for k, v in table.items()})


def scenario_from_dict(data) -> Scenario:
    """Build a Scenario from parsed TOML; unknown keys, missing keys and wrong types are errors naming the key."""
    if not isinstance(data, dict):
        raise PlannerTypeError("scenario", f"must be a table, got {type(data).__name__}")
    top = {}
    for key, value in data.items():
        if key in _SECTIONS:
            top[key] = _build(_SECTIONS[key], value, key)
        elif key == "uncertainty":
            top[key] = V.instance("uncertainty", value, dict, "a table of input path -> distribution")
        elif key == SECTION:
            top[key] = value
        elif key in _TOP:
            top[key] = _from_toml(value, _TOP_FIELDS[key])
        else:
            near = close_matches(key, [*_SECTIONS, *_TOP, "uncertainty", SECTION])
            raise PlannerError(f"unknown key {show(key)}" + (f"; did you mean {', '.join(near)}?" if near else ""))
    return Scenario(**top)


def load_scenario(path: str | os.PathLike) -> Scenario:
    """Read a scenario TOML file; any problem is a PlannerError naming the file and the key."""
    return loads_scenario(files.read_text(path, "scenario file"), where=str(path))


def loads_scenario(text: str, where: str = "scenario") -> Scenario:
    """A Scenario from TOML text (size, nesting and encoding checked before parsing)."""
    data = files.loads_toml(text, where)
    try:
        return scenario_from_dict(data)
    except PlannerError as e:  # keep the class (InputError, PlannerTypeError) and its fields; name the file
        e.args = (f"{where}: {e}",)
        raise e from None


def _section_dict(obj) -> dict:
    """A section as TOML data: None is left out where it is the default, else written as "none"."""
    out = {}
    for f in dataclasses.fields(obj):
        v = getattr(obj, f.name)
        if v is None:
            if f.default is not None:
                out[f.name] = V.NONE
            continue
        if isinstance(v, TrainingRecipe):  # a table, written only where it differs from the defaults
            if not v.is_default():
                out[f.name] = {k: x for k, x in v.to_dict().items() if getattr(DEFAULT_RECIPE, k) != x}
            continue
        out[f.name] = v
    return out


def scenario_to_dict(s: Scenario) -> dict:
    """Plain data for TOML (see _section_dict for None)."""
    out = {k: getattr(s, k) for k in _TOP if getattr(s, k) is not None}
    for key in _SECTIONS:
        out[key] = _section_dict(getattr(s, key))
    if s.uncertainty:
        out["uncertainty"] = s.uncertainty
    if s.custom_gpu:
        out[SECTION] = list(s.custom_gpu)
    return out


def dumps_scenario(s: Scenario) -> str:
    V.instance("scenario", s, Scenario, "a Scenario")
    return tomli_w.dumps(scenario_to_dict(s))


def save_scenario(s: Scenario, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write atomically with the usual permissions; refuse to replace an existing file unless overwrite=True."""
    text = dumps_scenario(s)
    p = V.path("path", path)
    V.flag("overwrite", overwrite)
    if p.is_dir():
        raise PlannerError(f"{p} is a folder; give a file name to save the scenario to")
    if p.exists() and not overwrite:
        raise PlannerError(f"{p} exists; pass overwrite=True (or --force) to replace it")
    try:
        fd, tmp = tempfile.mkstemp(dir=p.parent if str(p.parent) else ".", prefix=f".{p.name}.", suffix=".tmp")
    except OSError as e:
        raise PlannerError(f"cannot write {p}: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; a scenario is not
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
