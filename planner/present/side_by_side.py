"""Several scenarios side by side (`planner compare a.toml b.toml ...`, the report's side-by-side section, the
dashboard's pinned scenario): which inputs differ, and each option's total in each scenario with its difference
to the first. Only differing inputs are listed, so the table is the highlight of what changed.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..core.units import NA, usd
from ..decide.compare import Comparison
from ..decide.scenario import Scenario, scenario_to_dict

SAME = "(same)"


def _flat(d, prefix: str = "") -> dict[str, object]:
    """A scenario's TOML tables as dotted keys: workload.requests_per_day -> 20000."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def _shown(v) -> str:
    return NA if v is None else f"{v:g}" if isinstance(v, float) else str(v)


def inputs_that_differ(scenarios: Mapping[str, Scenario]) -> pd.DataFrame:
    """One row per input whose value is not the same in every scenario (absent: the documented default);
    columns: input, then one per scenario label."""
    flats = {k: _flat(scenario_to_dict(s)) for k, s in scenarios.items()}
    defaults = _flat(scenario_to_dict(Scenario()))
    keys = sorted(set().union(*flats.values()))
    rows = []
    for key in keys:
        values = [f.get(key, defaults.get(key)) for f in flats.values()]
        if any(v != values[0] for v in values[1:]):
            rows.append({"input": key, **{label: _shown(v) for label, v in zip(flats, values)}})
    return pd.DataFrame(rows, columns=["input", *scenarios])


def _delta(x: float, base: float) -> str:
    if x == base:
        return SAME
    pct = f", {(x - base) / base:+.0%}" if base else ""
    return f"{'+' if x > base else '-'}{usd(abs(x - base))}{pct}"


def totals_side_by_side(comparisons: Mapping[str, Comparison]) -> pd.DataFrame:
    """Each option's total over its scenario's horizon (p50) in each scenario; after the first scenario each
    column gives the difference to the first; the recommended option is marked with '*'."""
    labels = list(comparisons)
    first = comparisons[labels[0]]
    keys = list(dict.fromkeys(k for c in comparisons.values() for k in c.options))
    rows = [{"option": "horizon, months", **{lb: str(c.horizon_months) for lb, c in comparisons.items()}}]
    for key in keys:
        row = {"option": next(c.options[key].label for c in comparisons.values() if key in c.options)}
        for lb, c in comparisons.items():
            o = c.options.get(key)
            if o is None or not o.available:
                row[lb] = "ruled out" if o is not None else NA
                continue
            mark = " *" if c.recommendation.choice == key else ""
            base = first.options.get(key)
            vs = f" ({_delta(o.total_usd.p50, base.total_usd.p50)})" if lb != labels[0] and base and base.available else ""
            row[lb] = f"{usd(o.total_usd.p50)}{mark}{vs}"
        rows.append(row)
    return pd.DataFrame(rows, columns=["option", *labels])


def labels_for(paths) -> list[str]:
    """Short, distinct labels for scenario files: the file name, or the whole path where names repeat."""
    names = [Path(p).name for p in paths]
    return [n if names.count(n) == 1 else str(p) for n, p in zip(names, paths)]


def summary(comparisons: Mapping[str, Comparison], headlines: Mapping[str, str] | None = None) -> pd.DataFrame:
    """The several-scenario table of planner.present.summary (what each recommends, at what cost)."""
    from .summary import summary_frame
    return summary_frame(dict(comparisons), dict(headlines or {}))


__all__ = ["inputs_that_differ", "totals_side_by_side", "labels_for", "summary", "SAME"]
