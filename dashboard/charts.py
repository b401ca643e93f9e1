"""Altair charts of a Comparison. Data comes from the Comparison's own frames; nothing is recomputed."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from planner.compare import Comparison

OPTION_COLORS = {"Hosted API": "#1f77b4", "Open weights + fine-tune + self-host": "#2ca02c",
                 "Train from scratch + self-host": "#d62728"}
_color = alt.Color("option:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=320),
                   scale=alt.Scale(domain=list(OPTION_COLORS), range=list(OPTION_COLORS.values())))


def _long(df: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    return df.rename_axis(x).reset_index().melt(id_vars=x, var_name="option", value_name=y)


def cumulative_cost(c: Comparison, log_y: bool = True) -> alt.Chart:
    """Cumulative cost per option by month, each crossing of two curves marked."""
    curves = c.cost_curves()
    months = curves.index.to_numpy(dtype=float)
    scale = alt.Scale(type="log") if log_y else alt.Scale()
    lines = alt.Chart(_long(curves, "month", "usd")).mark_line(point=alt.OverlayMarkDef(size=18)).encode(
        x=alt.X("month:Q", title="month"), y=alt.Y("usd:Q", title="cumulative cost (USD)", scale=scale,
                                                    axis=alt.Axis(format="$.3~s")),
        color=_color, tooltip=["option", "month", alt.Tooltip("usd:Q", format="$,.0f")])
    marks = []
    for be in c.break_evens:
        if be.crossing_month is not None:
            y = float(np.interp(be.crossing_month, months, c.options[be.a].cumulative_usd))
            marks.append({"month": be.crossing_month, "usd": y,
                          "label": f"{_short(be.a)} = {_short(be.b)} at month {be.crossing_month:.1f}"})
    return _with_marks(lines, pd.DataFrame(marks, columns=["month", "usd", "label"]), "month")


def cost_vs_traffic(c: Comparison) -> alt.Chart:
    """Total cost over the horizon against traffic (log-log), break-evens and this scenario marked."""
    df = c.cost_vs_traffic()
    levels = df.index.to_numpy()
    lines = alt.Chart(_long(df, "requests_per_day", "usd")).mark_line().encode(
        x=alt.X("requests_per_day:Q", title="requests per day (first month)", scale=alt.Scale(type="log", nice=False),
                axis=alt.Axis(format="~s")),
        y=alt.Y("usd:Q", title=f"total cost over {c.horizon_months} months (USD)", scale=alt.Scale(type="log", nice=False),
                axis=alt.Axis(format="$.3~s")),
        color=_color, tooltip=["option", alt.Tooltip("requests_per_day:Q", format=",.0f"),
                               alt.Tooltip("usd:Q", format="$,.0f")])
    marks = []
    for be in c.break_evens:
        col = c.options[be.a].label
        for t in be.requests_per_day:
            if levels[0] <= t <= levels[-1]:
                y = float(np.exp(np.interp(np.log(t), np.log(levels), np.log(df[col].to_numpy()))))
                marks.append({"requests_per_day": t, "usd": y, "label": f"{_short(be.a)} = {_short(be.b)}: {t:,.0f}/day"})
    here = pd.DataFrame({"requests_per_day": [c.workload.requests_per_day], "label": ["this scenario"]})
    rule = alt.Chart(here).mark_rule(strokeDash=[4, 4], color="gray").encode(x="requests_per_day:Q")
    rule_text = alt.Chart(here).mark_text(align="left", dx=4, dy=-6, color="gray", baseline="top").encode(
        x="requests_per_day:Q", y=alt.value(0), text="label:N")
    return _with_marks(lines + rule + rule_text, pd.DataFrame(marks, columns=["requests_per_day", "usd", "label"]),
                       "requests_per_day")


def _with_marks(base, marks: pd.DataFrame, x: str) -> alt.Chart:
    if marks.empty:
        return base.properties(height=380)
    pts = alt.Chart(marks).mark_point(shape="diamond", size=110, filled=True, color="black").encode(
        x=f"{x}:Q", y="usd:Q", tooltip=["label:N"])
    text = alt.Chart(marks).mark_text(align="left", dx=8, dy=-8, fontSize=11).encode(x=f"{x}:Q", y="usd:Q", text="label:N")
    return (base + pts + text).properties(height=380)


def breakdown(c: Comparison) -> alt.Chart:
    """Stacked bar of each available option's cost over the horizon, by component."""
    rows = [{"option": o.label, "component": k, "usd": v} for o in c.options.values() if o.available
            for k, v in o.breakdown.items() if v > 0]
    return alt.Chart(pd.DataFrame(rows)).mark_bar().encode(
        y=alt.Y("option:N", title=None, sort=list(OPTION_COLORS), axis=alt.Axis(labelLimit=260)),
        x=alt.X("usd:Q", title=f"cost over {c.horizon_months} months (USD)", axis=alt.Axis(format="$.3~s")),
        color=alt.Color("component:N", legend=alt.Legend(orient="bottom", columns=3, labelLimit=240)),
        tooltip=["option", "component", alt.Tooltip("usd:Q", format="$,.0f")]).properties(height=alt.Step(36))


def batch_latency(table: pd.DataFrame, tpot_target_s: float | None) -> alt.Chart:
    """Time per output token against batch size, the target as a dashed line."""
    df = table.assign(tpot_ms=table["tpot_s"] * 1e3)
    line = alt.Chart(df).mark_line(point=True).encode(
        x=alt.X("batch:Q", scale=alt.Scale(type="log", base=2), title="concurrent sequences per replica"),
        y=alt.Y("tpot_ms:Q", title="time per output token (ms)"),
        tooltip=["batch", alt.Tooltip("tpot_ms:Q", format=".1f"), "meets_targets"])
    if tpot_target_s is None:
        return line.properties(height=260)
    target = alt.Chart(pd.DataFrame({"y": [tpot_target_s * 1e3]})).mark_rule(strokeDash=[4, 4], color="red").encode(y="y:Q")
    return (line + target).properties(height=260)


def _short(key: str) -> str:
    return {"api": "API", "self_host": "self-host", "scratch": "scratch"}[key]
