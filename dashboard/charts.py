"""Altair charts of a Comparison. Data comes from the Comparison's own frames; nothing is recomputed."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from planner.decide.compare import Comparison
from planner.decide.options import OPTIONS
from planner.present import labels

OPTION_COLORS = {OPTIONS[k]: labels.colour(k) for k in OPTIONS}  # long name -> colour, the names the frames carry
_option_scale = alt.Scale(domain=list(OPTION_COLORS), range=list(OPTION_COLORS.values()))
_color = alt.Color("option:N", title=None, legend=alt.Legend(orient="bottom", labelLimit=320), scale=_option_scale)


def _long(df: pd.DataFrame, x: str, y: str) -> pd.DataFrame:
    return df.rename_axis(x).reset_index().melt(id_vars=x, var_name="option", value_name=y)


def cumulative_cost(c: Comparison, log_y: bool = True) -> alt.Chart:
    """Cumulative cost per option by month, each crossing of two curves marked."""
    curves = c.cost_curves()
    months = curves.index.to_numpy(dtype=float)
    scale = alt.Scale(type="log") if log_y else alt.Scale()
    data = _long(curves, "month", "usd")
    data = data[data["usd"] > 0] if log_y else data  # nothing paid yet at month 0 has no place on a log axis
    lines = alt.Chart(data).mark_line(point=alt.OverlayMarkDef(size=18)).encode(
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


def latency_vs_load(curve: pd.DataFrame, ttft_target_s: float | None, tpot_target_s: float | None) -> alt.Chart:
    """TTFT and TPOT percentiles of one replica against its request rate (planner.estimate.serving.latency_curve),
    the targets as dashed lines; one panel each."""
    panels = []
    for what, target, title in (("ttft", ttft_target_s, "time to first token (ms)"),
                                ("tpot", tpot_target_s, "time per output token (ms)")):
        cols = {f"{what}_{q}_s": q for q in ("p50", "p90", "p99")}
        df = curve[["requests_per_s", *cols]].rename(columns=cols).melt(
            id_vars="requests_per_s", var_name="percentile", value_name="s").assign(ms=lambda d: d["s"] * 1e3)
        line = alt.Chart(df).mark_line(point=True).encode(
            x=alt.X("requests_per_s:Q", title="requests/s per replica"), y=alt.Y("ms:Q", title=title),
            color=alt.Color("percentile:N", legend=alt.Legend(orient="bottom")),
            tooltip=["percentile", alt.Tooltip("requests_per_s:Q", format=".2f"), alt.Tooltip("ms:Q", format=".1f")])
        if target is not None:
            rule = alt.Chart(pd.DataFrame({"y": [target * 1e3]})).mark_rule(strokeDash=[4, 4], color="red").encode(y="y:Q")
            line = line + rule
        panels.append(line.properties(height=220))
    return alt.hconcat(*panels)


def _short(key: str) -> str:
    return labels.short(key)


# ---- uncertainty: MonteCarloResult, tornado, frontier ----

def _labels(keys) -> list[str]:
    return [OPTIONS[k] for k in keys]


def prob_cheapest(mc) -> alt.Chart:
    """P(cheapest) of each option, as horizontal bars."""
    df = pd.DataFrame({"option": _labels(mc.prob_cheapest), "p": list(mc.prob_cheapest.values())})
    return alt.Chart(df).mark_bar().encode(
        y=alt.Y("option:N", title=None, sort=list(OPTION_COLORS), axis=alt.Axis(labelLimit=260)),
        x=alt.X("p:Q", title="probability of being the cheapest", scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%")),
        color=alt.Color("option:N", legend=None, scale=_option_scale),
        tooltip=["option", alt.Tooltip("p:Q", format=".2%")]).properties(height=alt.Step(36))


def cost_histogram(mc, bins: int = 60) -> alt.Chart:
    """Share of samples by total cost, one step-area per option, on log-spaced bins.

    Binned here over every sample (a few hundred rows reach the browser), so nothing is
    dropped to stay under altair's 5,000-row limit.
    """
    totals = mc.samples_usd[np.isfinite(mc.samples_usd) & (mc.samples_usd > 0)]
    if totals.size == 0:
        return alt.Chart(pd.DataFrame()).mark_text()
    edges = np.geomspace(totals.min(), totals.max() * (1 + 1e-9), bins + 1)
    rows = []
    for label, col in zip(_labels(mc.options), mc.samples_usd.T):
        counts, _ = np.histogram(col, edges)
        rows += [{"option": label, "usd": float(np.sqrt(lo * hi)), "share": c / col.size}
                 for lo, hi, c in zip(edges[:-1], edges[1:], counts)]
    return alt.Chart(pd.DataFrame(rows)).mark_area(opacity=0.45, interpolate="step").encode(
        x=alt.X("usd:Q", title=f"total cost over {mc.horizon_months} months (USD)", scale=alt.Scale(type="log"),
                axis=alt.Axis(format="$.3~s")),
        y=alt.Y("share:Q", title="share of samples", axis=alt.Axis(format="%"), stack=None),
        color=_color, tooltip=["option", alt.Tooltip("usd:Q", format="$,.0f"), alt.Tooltip("share:Q", format=".1%")]
    ).properties(height=300)


def tornado(df: pd.DataFrame) -> alt.Chart:
    """Change in the cost gap (runner-up minus cheapest) as each input moves to its P10 and to its P90."""
    order = list(df.index)
    long = pd.concat([pd.DataFrame({"input": order, "end": end, "change": df[col].to_numpy(),
                                    "value": df[val].to_numpy()})
                      for end, col, val in (("input at P10", "change_at_p10_usd", "p10_value"),
                                            ("input at P90", "change_at_p90_usd", "p90_value"))])
    bars = alt.Chart(long).mark_bar().encode(
        y=alt.Y("input:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)), yOffset="end:N",
        x=alt.X("change:Q", title="change in the cost gap, runner-up minus cheapest (USD)",
                axis=alt.Axis(format="$.3~s")),
        color=alt.Color("end:N", title=None, legend=alt.Legend(orient="bottom"),
                        scale=alt.Scale(range=["#9ecae1", "#3182bd"])),
        tooltip=["input", "end", alt.Tooltip("value:Q", format=".4~g"), alt.Tooltip("change:Q", format="$,.0f")])
    gap, reach = df.attrs.get("base_gap_usd", 0.0), float(long["change"].abs().max()) if len(long) else 0.0
    if not df.attrs.get("runner_up") or gap > 1.5 * reach:
        return bars.properties(height=alt.Step(16))
    flip = alt.Chart(pd.DataFrame({"x": [-gap], "label": ["cheapest option changes"]})).mark_rule(
        color="#d62728", strokeDash=[4, 4]).encode(x="x:Q", tooltip=["label:N"])
    return (bars + flip).properties(height=alt.Step(16))


def _cell_edges(values, log: bool) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edge of each grid cell: halfway (in log space on a log axis) to the neighbours."""
    v = np.log(values) if log else np.asarray(values, dtype=float)
    half = np.diff(v) / 2 if v.size > 1 else np.array([abs(v[0]) * 0.05 or 0.5])
    lo = v - np.concatenate([half[:1], half])
    hi = v + np.concatenate([half, half[-1:]])
    return (np.exp(lo), np.exp(hi)) if log else (lo, hi)


def frontier(f, point: tuple[float, float] | None = None) -> alt.Chart:
    """The cheapest option over a grid of two inputs, as coloured cells; `point`: this scenario (P50s)."""
    from planner.present.charts import log_axis
    logs = log_axis(f.x_values), log_axis(f.y_values)
    (x0, x1), (y0, y1) = _cell_edges(f.x_values, logs[0]), _cell_edges(f.y_values, logs[1])
    xx0, yy0 = np.meshgrid(x0, y0)
    xx1, yy1 = np.meshgrid(x1, y1)
    xx, yy = np.meshgrid(f.x_values, f.y_values)
    df = pd.DataFrame({"x0": xx0.ravel(), "x1": xx1.ravel(), "y0": yy0.ravel(), "y1": yy1.ravel(),
                       f.x: xx.ravel(), f.y: yy.ravel(), "option": [OPTIONS[k] for k in f.winner.ravel()]})
    scale = [alt.Scale(type="log", nice=False) if lg else alt.Scale(nice=False, zero=False) for lg in logs]
    form = [".3~s" if max(v) >= 1000 else ".3~g" for v in (f.x_values, f.y_values)]  # 300k, but 0.325 not 325m
    cells = alt.Chart(df).mark_rect().encode(
        x=alt.X("x0:Q", title=f.x, scale=scale[0], axis=alt.Axis(format=form[0])), x2="x1:Q",
        y=alt.Y("y0:Q", title=f.y, scale=scale[1], axis=alt.Axis(format=form[1])), y2="y1:Q",
        color=_color, tooltip=["option", *(alt.Tooltip(f"{p}:Q", format=fm) for p, fm in zip((f.x, f.y), form))])
    if point is None:
        return cells.properties(height=380)
    here = alt.Chart(pd.DataFrame({"x": [point[0]], "y": [point[1]], "label": ["this scenario (P50)"]})).mark_point(
        shape="diamond", size=140, filled=True, color="black").encode(x="x:Q", y="y:Q", tooltip=["label:N"])
    return (cells + here).properties(height=380)


def memory(mem, title: str) -> alt.Chart:
    """A training run's memory per GPU by component, as one stacked bar with its p10-p90 band (black), against the
    usable memory (dashed red) and the card's whole memory (solid red)."""
    df = pd.DataFrame([{"component": k, "GB": v / 1e9} for k, v in mem.components().items()])
    bar = alt.Chart(df).mark_bar().encode(x=alt.X("sum(GB):Q", title="GB per GPU"), color=alt.Color("component:N"),
                                          order=alt.Order("component:N"), tooltip=["component", alt.Tooltip("GB:Q", format=".1f")])
    line = alt.Chart(pd.DataFrame({"x": [mem.usable / 1e9]})).mark_rule(color="#d62728", strokeDash=[4, 4]).encode(x="x:Q")
    card = alt.Chart(pd.DataFrame({"x": [mem.capacity / 1e9]})).mark_rule(color="#d62728").encode(x="x:Q")
    band = alt.Chart(pd.DataFrame({"lo": [mem.band.p10 / 1e9], "hi": [mem.band.p90 / 1e9]})).mark_rule(
        color="black", strokeWidth=2).encode(x="lo:Q", x2="hi:Q")
    return (bar + line + card + band).properties(title=title, height=80)


def scaling(df: pd.DataFrame, title: str) -> alt.Chart:
    """Pretraining GPU-hours (p50 with its p10-p90 band) against GPUs; wall-clock days in the tooltip."""
    d = df.reset_index()
    base = alt.Chart(d).encode(x=alt.X("n_gpus:Q", title="GPUs", scale=alt.Scale(type="log", base=2)))
    band = base.mark_area(opacity=0.3).encode(y=alt.Y("gpu_hours_p10:Q", title="GPU-hours", scale=alt.Scale(type="log")),
                                              y2="gpu_hours_p90:Q")
    line = base.mark_line(point=True).encode(
        y="gpu_hours_p50:Q", tooltip=["n_gpus", "layout", alt.Tooltip("mfu_p50:Q", format=".0%"),
                                      alt.Tooltip("gpu_hours_p50:Q", format=",.0f"),
                                      alt.Tooltip("wall_days_p50:Q", format=".1f", title="days")])
    return (band + line).properties(title=title)
