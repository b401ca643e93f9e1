"""Published capability figures of open-weights and hosted API models (data/capability.toml).

One metric for both kinds (MMLU-Pro, 5-shot chain-of-thought, in percent), each figure with the
checkpoint it is for and its source. A model without a published figure has none: `capability`
returns None and callers say "unknown"; nothing is estimated.
"""
from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources

from ..core.errors import PlannerError
from ..core.provenance import Source

_KEYS = {"model", "aliases", "variant", "score", "source"}


@dataclass(frozen=True)
class Capability:
    model: str  # catalog model name or API model id
    variant: str  # the checkpoint the figure is for (instruct, chat or base)
    score: float  # METRIC, in percent
    source: Source


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    source: Source


def _source(d, where: str) -> Source:
    try:
        return Source(url=d["url"], checked=str(d["checked"]), note=d.get("note", ""))
    except (KeyError, TypeError):
        raise PlannerError(f"capability.toml {where}: a source needs 'url' and 'checked', got {d!r}") from None


@functools.cache
def _data() -> tuple[Metric, dict[str, Capability]]:
    text = resources.files("planner.catalog").joinpath("data", "capability.toml").read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    metric = Metric(raw["metric"], raw["metric_unit"], _source(raw["metric_source"], "metric_source"))
    out = {}
    for d in raw["model"]:
        where = f"model {d.get('model', '?')!r}"
        if set(d) - _KEYS or not {"model", "variant", "score", "source"} <= set(d):
            raise PlannerError(f"capability.toml {where}: fields must be {sorted(_KEYS)} (aliases optional)")
        score = float(d["score"])
        if not 0.0 <= score <= 100.0:
            raise PlannerError(f"capability.toml {where}: score {score} is not a percentage")
        cap = Capability(d["model"], d["variant"], score, _source(d["source"], where))
        for key in (d["model"], *d.get("aliases", ())):
            out[key.strip().lower()] = cap
    return metric, out


def metric() -> Metric:
    """The one capability metric every figure uses."""
    return _data()[0]


def capability(*names: str | None) -> Capability | None:
    """The published figure of the first of `names` (catalog name, API model id or alias, any case) that has
    one; None when none has: unknown, not zero."""
    table = _data()[1]
    for name in names:
        if name and str(name).strip().lower() in table:
            return table[str(name).strip().lower()]
    return None


def capabilities() -> tuple[Capability, ...]:
    """Every figure in the data file, once each."""
    return tuple({id(c): c for c in _data()[1].values()}.values())
