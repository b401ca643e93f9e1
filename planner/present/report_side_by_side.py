"""The report's "Side by side" section: the report's scenario beside others (`write_report([a, b, ...])`,
`planner report a.toml b.toml -o DIR`): what each recommends, the inputs that differ, each option's totals.

Names and values in it are the user's: Markdown in them is escaped (tables escape HTML and cell breaks), so a
scenario name holding an image or a link shows as text.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd

from ..core import validate as V
from ..decide.compare import Comparison, compare
from ..decide.scenario import Scenario, as_scenario
from . import formatting as fmt
from . import side_by_side as sbs

_MARKUP = str.maketrans({c: "\\" + c for c in "\\`*_[]!"})  # HTML and "|" are the table's (md_cell)


def _text(df: pd.DataFrame) -> pd.DataFrame:
    return df.rename(columns=lambda c: str(c).translate(_MARKUP)).map(lambda x: str(x).translate(_MARKUP))


def others(scenarios: Sequence[Scenario | str | os.PathLike]) -> dict[str, tuple[Scenario, Comparison]]:
    """label -> (scenario, its comparison) for the scenarios beside the report's; labels: file names, or the
    scenario's name (numbered) for a Scenario object. Compared before anything is written."""
    V.instance("compare_with", scenarios, (list, tuple), "a list of Scenarios or scenario file paths")
    paths = [s if isinstance(s, (str, os.PathLike)) else f"{i + 2}. {s.name}" if isinstance(s, Scenario) else s
             for i, s in enumerate(scenarios)]
    loaded = [as_scenario(s, f"compare_with[{i}]") for i, s in enumerate(scenarios)]
    return {label: (s, compare(s)) for label, s in zip(sbs.labels_for(paths), loaded)}


def section(label: str, scenario: Scenario, c: Comparison, beside: dict[str, tuple[Scenario, Comparison]]) -> str:
    """The section's Markdown: `label` is the report's own scenario, first in every table."""
    scenarios = {label: scenario, **{k: s for k, (s, _) in beside.items()}}
    comparisons = {label: c, **{k: cc for k, (_, cc) in beside.items()}}
    inputs = sbs.inputs_that_differ(scenarios)
    return "\n\n".join([
        fmt.markdown_table(_text(sbs.summary(comparisons))),
        f"**Inputs that differ** ({len(inputs)})",
        fmt.markdown_table(_text(inputs)) if len(inputs) else "None: the scenarios' inputs are the same.",
        "**Totals over the horizon, p50** (in brackets: the difference to this report's scenario; * recommended)",
        fmt.markdown_table(_text(sbs.totals_side_by_side(comparisons)))])
