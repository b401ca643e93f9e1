"""Price trends with sources (data/trends.toml): the yearly decline of hosted-API $/token and of GPU $/hour.

Each is a `Fact` (catalog/costs.py): a p10/p50/p90 band of the fraction of the price lost per year,
its unit and its citation. decide/trends.py turns them into monthly price factors.
"""
from __future__ import annotations

import functools

from ..core.errors import PlannerError
from .costs import Fact, _fact
from .lookup import _read

# The GPU sourcing modes the file prices; decide/sourcing.py's modes map onto them (owned hardware has no rent).
GPU_MODES = ("on-demand", "reserved", "spot")


@functools.cache
def trend_facts() -> dict[str, Fact]:
    """'api', 'api.provider.<id>', 'api.model.<id>' (lower case) and 'gpu.<mode>' -> the yearly decline band
    (checked to lie in (-1, 1)). A provider's or a model's own band ([api.provider.<id>], [api.model.<id>])
    overrides every API's for it."""
    data = _read("trends.toml")
    out = {"api": _fact("api.decline_per_year", data["api"]["decline_per_year"], "trends.toml")}
    for kind in ("provider", "model"):
        for key, d in data["api"].get(kind, {}).items():
            out[f"api.{kind}.{key.lower()}"] = _fact(f"api.{kind}.{key}", d, "trends.toml")
    out.update({f"gpu.{m}": _fact(f"gpu.{m}", data["gpu"][m], "trends.toml") for m in GPU_MODES})
    for k, f in out.items():
        if not all(-1.0 < v < 1.0 for v in (f.value.p10, f.value.p50, f.value.p90)):
            raise PlannerError(f"trends.toml: {k} declines must lie in (-1, 1) a year, got {f.value}")
    return out
