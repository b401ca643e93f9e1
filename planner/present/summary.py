"""Several scenarios in one table: what each recommends (with its P(cheapest)), at what cost, and against what.

The README's examples table is this table of `examples/*.toml` (scripts/readme_figures.py
writes it; tests/test_readme.py checks it against compare()), so its figures cannot go stale.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..core.units import NA, usd
from ..decide.compare import Comparison
from . import formatting as fmt

COLUMNS = ["scenario", "what it is", "recommended", "its total over the horizon, p50 (p10-p90)",
           "the others, p50", "months to production", "API prices", "with prices frozen (no trends), p50"]


def _total(o) -> str:
    t = o.total_usd
    band = f" ({usd(t.p10)}-{usd(t.p90)})" if usd(t.p10) != usd(t.p90) else ""
    return f"{usd(t.p50)}{band} over {{horizon}} months"


def _frozen(c: Comparison) -> str:
    """What compare() picks with every price at today's, and its total then (decide/leaning.py)."""
    lean = c.trend_lean
    if lean is None or not lean.frozen_choice:
        return NA
    same = "the same pick" if lean.frozen_choice == c.recommendation.choice else "a different pick"
    return f"{c.options[lean.frozen_choice].label}: {usd(lean.frozen_total_usd[lean.frozen_choice])} ({same})"


def summary_row(label: str, c: Comparison, headline: str | None = None) -> dict:
    """One scenario's line: the recommended option (with `headline`, the risk-aware one, where given) and the
    totals of the others (p50)."""
    rec = c.options.get(c.recommendation.choice)
    headline = headline or c.recommendation.headline
    others = [f"{o.label}: {usd(o.total_usd.p50)}" if o.available else f"{o.label}: ruled out"
              for k, o in c.options.items() if k != c.recommendation.choice]
    price = c.api_price
    return {"scenario": label, "what it is": c.scenario,
            "recommended": headline.removeprefix("Recommended: ").rstrip("."),
            "its total over the horizon, p50 (p10-p90)":
                _total(rec).format(horizon=c.horizon_months) if rec else NA,
            "the others, p50": "; ".join(others) or NA,
            "months to production": fmt.months(rec.months_to_production) if rec else NA,
            "API prices": f"{price.model_name} ({price.provider_name}), data of {price.price_data_date}" if price else NA,
            "with prices frozen (no trends), p50": _frozen(c)}


def summary_frame(comparisons: dict[str, Comparison], headlines: dict[str, str] | None = None) -> pd.DataFrame:
    """label -> comparison, as one row each; `headlines`: label -> the risk-aware headline (planner.recommendation)."""
    headlines = headlines or {}
    return pd.DataFrame([summary_row(k, c, headlines.get(k)) for k, c in comparisons.items()], columns=COLUMNS)


def examples_markdown(folder: Path, prices_as_of: str | None = None) -> str:
    """The bundled examples' table, as the README shows it; API prices read for `prices_as_of` (ISO date). The
    recommendation is at the scenarios' price trends (the sourced medians); a column and a line per example say
    what it is with prices frozen and where the cumulative costs cross on each path."""
    import dataclasses

    from ..decide.compare import compare
    from ..decide.scenario import load_scenario
    from ..uncertainty.risk import recommendation

    comparisons, headlines = {}, {}
    for path in sorted(Path(folder).glob("*.toml")):
        s = load_scenario(path)
        s = dataclasses.replace(s, api=dataclasses.replace(s.api, prices_as_of=prices_as_of))
        key = f"`{path.name}`"
        comparisons[key] = compare(s)
        headlines[key] = recommendation(s, comparison=comparisons[key])[0].headline  # with P(cheapest), seeded
    leans = [f"- {k}: {c.trend_lean.sentence}" for k, c in comparisons.items() if c.trend_lean and c.trend_lean.sentence]
    return fmt.markdown_table(summary_frame(comparisons, headlines)) + ("\n\n" + "\n".join(leans) if leans else "")
