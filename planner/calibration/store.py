"""Which calibration profiles the estimates use: the one store of calibration state.

Empty until a caller asks: `planner.use_results(path)` from Python (estimate/calibrated.py fits
each file and registers it here), `--results` or PLANNER_RESULTS at the command line and in the
dashboard (the edges read the variable; nothing below them does); `planner.use_silicon(gpu,
engine=...)` (calibration/silicon.py) registers aiconfigurator-core's measured tables for one GPU
and engine. `resolve(gpu_name)` then gives that GPU's fitted efficiencies, else the literature
defaults. A user's own benchmark results for a GPU win over silicon tables for it.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..core.errors import PlannerError
from .efficiency import DEFAULTS, Efficiencies
from .profiles import CalibrationProfile

ENV_VAR = "PLANNER_RESULTS"  # a results file or folder the command line and dashboard calibrate from


@dataclass
class _Store:
    profiles: dict[str, CalibrationProfile] = field(default_factory=dict)  # catalog GPU name (lower) -> profile
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why it is not used)
    collectives: dict[str, dict] = field(default_factory=dict)  # catalog GPU name (lower) -> op -> CollectiveFit
    silicon: dict[tuple[str, str], CalibrationProfile] = field(default_factory=dict)  # (GPU lower, engine) -> profile
    silicon_collectives: dict[str, dict] = field(default_factory=dict)  # GPU lower -> op -> CollectiveFit


_STORE = _Store()


def results_files(path: str | os.PathLike) -> list[Path]:
    """A file, or a folder's *.json less validate-*.json (fidelity reports, not calibrations)."""
    p = Path(path)
    if p.is_dir():
        return sorted(f for f in p.glob("*.json") if not f.name.startswith("validate-"))
    if not p.exists():
        raise PlannerError(f"{p}: no such results file or folder")
    return [p]


def register(profile: CalibrationProfile) -> None:
    """Register for its catalog GPU; of two measurements of one GPU the newer is used."""
    key = profile.gpu.lower()
    held = _STORE.profiles.get(key)
    if held is not None and held.date_utc > profile.date_utc:
        _STORE.skipped.append((profile.results_file, f"older than {Path(held.results_file).name}"))
        return
    if held is not None:
        _STORE.skipped.append((held.results_file, f"older than {Path(profile.results_file).name}"))
    _STORE.profiles[key] = profile


def skip(results_file: str, why: str) -> None:
    """Record a results file that was named but not used, and why."""
    _STORE.skipped.append((results_file, why))


def register_silicon(profile: CalibrationProfile, engine: str) -> None:
    """Use a silicon-table profile for its GPU on `engine` (a benchmark profile of the GPU still wins)."""
    _STORE.silicon[(profile.gpu.lower(), engine)] = profile
    if profile.env.get("collectives"):
        _STORE.silicon_collectives[profile.gpu.lower()] = dict(profile.env["collectives"])


def _profile(gpu_name: str, engine: str | None) -> CalibrationProfile | None:
    key = str(gpu_name).lower()
    own = _STORE.profiles.get(key)
    if own is not None or engine is None:
        return own
    return _STORE.silicon.get((key, engine))


def resolve(gpu_name: str, override: Efficiencies | None = None, engine: str | None = None) -> Efficiencies:
    """Efficiencies for an estimate on `gpu_name`: an explicit override, a registered profile (the
    user's results, else silicon tables for `engine`), or the defaults."""
    if override is not None:
        return override
    profile = _profile(gpu_name, engine)
    return profile.efficiencies() if profile is not None else DEFAULTS


def calibrated(gpu_name: str, engine: str | None = None) -> Efficiencies | None:
    """The fitted efficiencies of the profile registered for `gpu_name` (the user's results, else
    silicon tables for `engine`), else None."""
    profile = _profile(gpu_name, engine)
    return profile.efficiencies() if profile is not None else None


def register_collectives(gpu_name: str, fits: dict) -> None:
    """Use measured collective fits (op -> calibration.collectives.CollectiveFit) for `gpu_name`."""
    _STORE.collectives[str(gpu_name).lower()] = dict(fits)


def collective_fit(gpu_name: str, op: str):
    """The measured fit of collective `op` on `gpu_name` (the user's results, else silicon tables),
    else None (the catalog's link is used)."""
    key = str(gpu_name).lower()
    return _STORE.collectives.get(key, {}).get(op) or _STORE.silicon_collectives.get(key, {}).get(op)


def silicon_profiles() -> dict[tuple[str, str], CalibrationProfile]:
    """(catalog GPU name, engine) -> the silicon profile registered for it."""
    return {(p.gpu, engine): p for (_, engine), p in _STORE.silicon.items()}


def loaded_profiles() -> dict[str, CalibrationProfile]:
    """Catalog GPU name -> the profile its estimates use."""
    return {p.gpu: p for p in _STORE.profiles.values()}


def load_report() -> list[tuple[str, str]]:
    """(file, reason) for every results file named but not used."""
    return list(_STORE.skipped)


def reset_silicon() -> None:
    """Forget the silicon-table profiles (planner.use_silicon(None))."""
    _STORE.silicon.clear()
    _STORE.silicon_collectives.clear()


def reset(silicon: bool = True) -> None:
    """Forget every profile: estimates use the literature defaults again. `silicon=False`: forget
    the benchmark results only (planner.use_results replaces those and keeps use_silicon's)."""
    _STORE.profiles.clear()
    _STORE.skipped.clear()
    _STORE.collectives.clear()
    if silicon:
        reset_silicon()
