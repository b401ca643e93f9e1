"""The uncertainty layer's results as text: distributions, Monte Carlo summaries, the tornado and the
break-even frontier map; shared by the CLI, the report and the dashboard (split from formatting.py)."""
from __future__ import annotations

import pandas as pd

from .formatting import band, months, percent, quantity, usd
from .labels import LETTERS, SHORT


def distribution(d) -> str:
    """A Distribution's parameters: lognormal(median 40.0k, sigma 0.6), triangular(0.5, 1.00, 1.20), ..."""
    if d.kind == "lognormal":
        return f"lognormal(median {quantity(d.median)}, sigma {d.sigma:.3g})"
    if d.kind == "triangular":
        return f"triangular({quantity(d.low)}, {quantity(d.mode)}, {quantity(d.high)})"
    if d.kind == "uniform":
        return f"uniform({quantity(d.low)}, {quantity(d.high)})"
    return f"point({quantity(d.low)})"


def monte_carlo_frame(mc) -> pd.DataFrame:
    """MonteCarloResult.summary_frame() as text: one row per option."""
    ref = SHORT.get(mc.reference, mc.reference)
    rows = []
    for key, r in mc.summary_frame().iterrows():
        be = mc.break_even_months.get(key)
        if be is None:
            crossing = "(reference)"
        else:
            crossing = f"month {months(be.month)}" if be.month else "never"
            if be.month and be.never_fraction > 0:
                crossing += f"; never in {percent(be.never_fraction)}"
        rows.append({"Option": r["label"], "Total p10": usd(r["total_usd_p10"]), "Total p50": usd(r["total_usd_p50"]),
                     "Total p90": usd(r["total_usd_p90"]),
                     "All-in $/1k req": band(mc.usd_per_request[key] * 1000, usd),
                     "P(cheapest)": percent(r["prob_cheapest"]), f"Costs cross {ref}": crossing})
    return pd.DataFrame(rows)


def centre(d) -> str:
    """Around what an uncertain input varies: this scenario's value (a relative entry), or fixed numbers."""
    if d.around is not None:
        b = d.band()
        return f"this scenario's {quantity(d.around)} (p10-p90 x{b.p10 / d.around:.3g} to x{b.p90 / d.around:.3g})"
    return "fixed values (relative = false)" if d.source == "scenario [uncertainty]" else "literature band"


def uncertain_inputs_frame(mc) -> pd.DataFrame:
    """MonteCarloResult.inputs_frame() as text: distribution, what it is centred on, percentiles, unit, source."""
    rows = [{"Input": p, "Distribution": distribution(d), "Around": centre(d), "p10": quantity(b.p10),
             "p50": quantity(b.p50), "p90": quantity(b.p90), "Unit": r["unit"], "Source": r["source"]}
            for (p, r), d in zip(mc.inputs_frame().iterrows(), mc.inputs.values()) for b in [d.band()]]
    return pd.DataFrame(rows, columns=["Input", "Distribution", "Around", "p10", "p50", "p90", "Unit", "Source"])


def uncertain_inputs_caption(mc) -> str:
    """One sentence: which inputs vary and around what; everything else stays at the scenario's value."""
    given = [f"{p} around {centre(d)}" for p, d in mc.inputs.items() if d.source == "scenario [uncertainty]"]
    bands = [p for p, d in mc.inputs.items() if d.source != "scenario [uncertainty]"]
    parts = (["From the scenario's [uncertainty] table: " + "; ".join(given) + "."] if given
             else ["The scenario's [uncertainty] table varies nothing."])
    if bands:
        parts.append(f"From the literature's efficiency bands: {', '.join(bands)}.")
    return " ".join(parts + ["Every other input stays at the scenario's value."])


def tornado_frame(df: pd.DataFrame) -> pd.DataFrame:
    """sensitivity.tornado()'s frame as text: the cost gap at each end of each input's P10-P90."""
    short = lambda k: SHORT.get(k, k)  # noqa: E731
    rows = [{"Input": p, "P10": quantity(r["p10_value"]), "P90": quantity(r["p90_value"]), "Unit": r["unit"],
             "Gap at P10": usd(r["gap_at_p10_usd"]), "Gap at P90": usd(r["gap_at_p90_usd"]),
             "Swing": usd(r["swing_usd"]), "Cheapest at P10 / P90": f"{short(r['winner_at_p10'])} / "
                                                                       f"{short(r['winner_at_p90'])}",
             "Flips": "yes" if r["flips"] else "no"} for p, r in df.iterrows()]
    return pd.DataFrame(rows, columns=["Input", "P10", "P90", "Unit", "Gap at P10", "Gap at P90", "Swing",
                                       "Cheapest at P10 / P90", "Flips"])


def tornado_caption(df: pd.DataFrame) -> str:
    a = df.attrs
    if not a.get("runner_up"):
        return f"Only {SHORT.get(a['recommended'])} is available: the 'gap' is its total cost."
    return (f"Gap: the runner-up ({SHORT[a['runner_up']]}) minus the cheapest option at P50 "
            f"({SHORT[a['recommended']]}), total over the horizon; {usd(a['base_gap_usd'])} with every input "
            "at its P50. Each input moves alone from its P10 to its P90; a negative gap means the cheapest option "
            "changes.")


def frontier_map(f) -> str:
    """FrontierResult's winner grid as a character map: one letter per cell, y rising up the page."""
    keys = [k for k in LETTERS if k in set(f.winner.ravel())]
    ylab = [quantity(v) for v in f.y_values]
    w = max(map(len, ylab))
    lines = [f"{lab:>{w}} | " + "".join(LETTERS[k] for k in row)
             for lab, row in zip(ylab[::-1], f.winner[::-1])]
    nx = len(f.x_values)
    axis = [" "] * (nx + 12)
    for i, align in ((0, "left"), (nx // 2, "centre"), (nx - 1, "right")):
        text = "^" + quantity(f.x_values[i]) if align != "right" else quantity(f.x_values[i]) + "^"
        start = i if align != "right" else i - len(text) + 1
        axis[max(start, 0):max(start, 0) + len(text)] = text
    legend = ", ".join(f"{LETTERS[k]} = {SHORT[k]}" for k in keys)
    return "\n".join([f"y: {f.y} (rows); x: {f.x} (columns); every other input at its P50",
                      f"cheapest: {legend}", "", *lines, " " * (w + 3) + "".join(axis).rstrip()])
