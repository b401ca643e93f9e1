"""Which model each option delivers and how comparable they are, as text: shared by the CLI, the report and
the dashboard, so each says the same. The facts are the Comparison's ModelMatch (decide/likeforlike.py)."""
from __future__ import annotations

import pandas as pd

from ..decide.options import OPTIONS
from . import formatting as fmt


def like_for_like_line(c) -> str:
    """One line for the headline: like for like, or how the options' models differ."""
    m = c.model_match
    if m is None or not m.models:
        return ""
    if m.like_for_like:
        names = ", ".join(f"{OPTIONS[k]} {d.model} ({m.metric} {d.capability:g})" for k, d in m.models.items())
        return f"Like for like: the options deliver models of the same class ({names})."
    if not m.known_to_differ:  # only capabilities nobody published: say so, without claiming a difference
        return "Like for like? Not known: " + " ".join(m.differences)
    return "Not like for like: " + " ".join(m.differences)


def floor_line(c) -> str:
    """The capability floor and which options meet it, or "" without a floor."""
    m = c.model_match
    if m is None or m.floor is None:
        return ""
    meets = [OPTIONS[k] for k, d in m.models.items() if not d.shortfall]
    return (f"Capability floor {m.metric} >= {m.floor:g}: "
            + (f"met by {', '.join(meets)}." if meets else "no available option meets it."))


def models_frame(c) -> pd.DataFrame:
    """One row per available option: its model, size, published capability and where the figure comes from."""
    m = c.model_match
    cols = ["Option", "Model", "Parameters", "Capability", "Basis", "Capability floor"]
    if m is None:
        return pd.DataFrame(columns=cols)
    rows = [{"Option": OPTIONS[k], "Model": d.model,
             "Parameters": fmt.count(d.params) if d.params else "not published",
             "Capability": f"{m.metric} {d.capability:g}" if d.capability is not None else "unknown",
             "Basis": d.basis,
             "Capability floor": "" if m.floor is None else ("meets it" if not d.shortfall else f"falls short: {d.shortfall}")}
            for k, d in m.models.items()]
    return pd.DataFrame(rows, columns=cols)


def models_markdown(c) -> str:
    """The report's 'Models compared' section: each option's model and capability, with the metric's source."""
    m = c.model_match
    if m is None or not m.models:
        return "No option is available."
    return "\n".join([fmt.markdown_table(models_frame(c)), "",
                      f"Capability: {m.metric}, {m.metric_unit}, as published (planner/catalog/data/capability.toml: "
                      "each figure with its source and the date checked); unknown where nothing is published."])
