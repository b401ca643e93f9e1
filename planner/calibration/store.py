"""Which calibration profiles the estimates use: the one store of calibration state.

Empty until a caller asks: `planner.use_results(path)` from Python (estimate/calibrated.py fits
each file and registers it here), `--results` or PLANNER_RESULTS at the command line and in the
dashboard (the edges read the variable; nothing below them does). `resolve(gpu_name)` then
gives that GPU's fitted efficiencies, else the literature defaults.
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


def resolve(gpu_name: str, override: Efficiencies | None = None) -> Efficiencies:
    """Efficiencies for an estimate on `gpu_name`: an explicit override, a registered profile, or the defaults."""
    if override is not None:
        return override
    profile = _STORE.profiles.get(str(gpu_name).lower())
    return profile.efficiencies() if profile is not None else DEFAULTS


def calibrated(gpu_name: str) -> Efficiencies | None:
    """The fitted efficiencies of the profile registered for `gpu_name`, else None."""
    profile = _STORE.profiles.get(str(gpu_name).lower())
    return profile.efficiencies() if profile is not None else None


def register_collectives(gpu_name: str, fits: dict) -> None:
    """Use measured collective fits (op -> calibration.collectives.CollectiveFit) for `gpu_name`."""
    _STORE.collectives[str(gpu_name).lower()] = dict(fits)


def collective_fit(gpu_name: str, op: str):
    """The measured fit of collective `op` on `gpu_name`, else None (the catalog's link is used)."""
    return _STORE.collectives.get(str(gpu_name).lower(), {}).get(op)


def loaded_profiles() -> dict[str, CalibrationProfile]:
    """Catalog GPU name -> the profile its estimates use."""
    return {p.gpu: p for p in _STORE.profiles.values()}


def load_report() -> list[tuple[str, str]]:
    """(file, reason) for every results file named but not used."""
    return list(_STORE.skipped)


def reset() -> None:
    """Forget every profile: estimates use the literature defaults again."""
    _STORE.profiles.clear()
    _STORE.skipped.clear()
    _STORE.collectives.clear()
