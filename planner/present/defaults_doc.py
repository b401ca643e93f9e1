"""The defaults table (docs/defaults.md): every scenario field's default, bounds and reason, read from the
dataclasses themselves, so the page cannot drift from the code (`python scripts/defaults_table.py` writes it;
tests/test_readme.py checks it is current). The dashboard's "New scenario", `planner estimate serve` and a
Python caller's `planner.Scenario()` all start from these values: one copy."""
from __future__ import annotations

import dataclasses

from ..decide.scenario import _SECTIONS, Scenario
from ..estimate.workload import Workload

HEADER = ("# Defaults\n\nGenerated from the code by `python scripts/defaults_table.py`; do not edit by hand.\n"
          "Every field of a scenario, its default (what `planner.Scenario()`, the dashboard's \"New scenario\" and "
          "`planner estimate serve` use when a value is not given), what it may be, and why the default is what it is: "
          "a source, or \"judgement\"/\"assumption\" where it is ours. A scenario file states its own values and "
          "overrides any of them.\n")


def _default(f: dataclasses.Field, obj) -> str:
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
        return "required"
    v = getattr(obj, f.name)
    if v is None:
        return "none"
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, str):
        return f'"{v}"'
    return f"{v:g}" if isinstance(v, float) else str(v)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _rows(section: str, cls, obj) -> list[str]:
    out = []
    for f in dataclasses.fields(cls):
        check = f.metadata.get("check")
        if check is None or not f.init:
            continue
        allowed = check.allowed() if hasattr(check, "allowed") else ""
        out.append(f"| `{section}.{f.name}` | {_cell(_default(f, obj))} | {_cell(allowed)} | {_cell(f.metadata['doc'])} |")
    return out


def defaults_markdown() -> str:
    """The Markdown page: one table per section, in the order a scenario file has them."""
    s = Scenario()
    parts = [HEADER, "## Scenario\n", "| field | default | allowed | meaning and source |", "|---|---|---|---|",
             *_rows("", Scenario, s)]
    parts[-3:] = [r.replace("`.", "`") for r in parts[-3:]]
    for key, cls in _SECTIONS.items():
        obj = getattr(s, key)
        parts += [f"\n## [{key}]\n", "| field | default | allowed | meaning and source |", "|---|---|---|---|",
                  *_rows(key, cls, obj)]
        if cls is Workload:
            parts.append("\nA new scenario's traffic (required in a `[workload]` table): "
                         f"{obj.requests_per_day:g} requests/day, {obj.input_tokens:g} input and "
                         f"{obj.output_tokens:g} output tokens per request (judgement: a small assistant).")
    return "\n".join(parts) + "\n"
