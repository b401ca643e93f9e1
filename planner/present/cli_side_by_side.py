"""`planner compare a.toml b.toml ...`: several scenarios side by side (planner.present.side_by_side)."""
from __future__ import annotations

import pandas as pd

from . import formatting as fmt
from . import side_by_side as sbs
from .cli_common import out as _out


def cmd_compare_several(a, comparison) -> int:
    """Several scenarios together: what each recommends, the inputs that differ, each option's totals."""
    from ..uncertainty.risk import with_headline
    labels = sbs.labels_for(a.scenario)
    pairs = dict(zip(labels, (comparison(p) for p in a.scenario)))
    scenarios = {k: s for k, (s, _) in pairs.items()}
    if a.format == "csv":
        frames = {k: c.table() for k, (_, c) in pairs.items()}  # full precision, as one scenario's CSV
        _out(pd.concat(frames, names=["scenario"]).to_csv().rstrip("\n"))
        return 0
    comparisons = {k: with_headline(c, pairs[k][0]) for k, (_, c) in pairs.items()}
    inputs = sbs.inputs_that_differ(scenarios)
    if a.format == "json":
        _out(fmt.dumps_json({"scenarios": {k: c.to_dict() for k, c in comparisons.items()},
                             "inputs_that_differ": inputs.to_dict(orient="records")}))
        return 0
    table = fmt.markdown_table if a.format == "markdown" else fmt.text_table
    head = (lambda t: f"## {t}") if a.format == "markdown" else (lambda t: f"{t}\n{'=' * len(t)}")
    first = labels[0]
    _out("\n\n".join([
        head(f"{len(labels)} scenarios side by side"), table(sbs.summary(comparisons)),
        head(f"Inputs that differ ({len(inputs)})"),
        table(inputs) if len(inputs) else "none: the scenarios' inputs are the same",
        head(f"Totals over the horizon, p50 (in brackets: the difference to {first}; * recommended)"),
        table(sbs.totals_side_by_side(comparisons))]))
    return 0
