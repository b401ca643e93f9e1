"""Report charts as matplotlib Figures: cumulative cost by month, total cost against traffic,
the tornado of the cost gap and the heatmap of the cheapest option over two inputs.

Figures are built with the object-oriented API (`matplotlib.figure.Figure`), never
pyplot, so no GUI backend or global figure state is involved: `fig.savefig(path)`
renders with Agg, and the dashboard can hand the same Figure to its own display.
"""
from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from ..decide.compare import Comparison
from ..decide.options import OPTIONS
from .formatting import count, usd
from .labels import ANNOTATION_COLOUR, COLOURS, colour

_SIZE_IN = (8.0, 4.8)


def _money_axis(axis) -> None:
    axis.set_major_formatter(FuncFormatter(lambda v, _: usd(v)))


def _colour(label: str) -> str:
    """The colour of the option a chart column is labelled with."""
    return colour(next((k for k, v in OPTIONS.items() if v == label), ""))


def _crossings(c: Comparison) -> list[tuple[float, float, str]]:
    """(month, cumulative $, text) where two options' cumulative costs cross in the horizon."""
    out = []
    for be in c.break_evens:
        if be.crossing_month is None:
            continue
        curve = np.asarray(c.options[be.a].cumulative_usd)
        y = float(np.interp(be.crossing_month, np.arange(len(curve)), curve))
        out.append((be.crossing_month, y, f"{c.options[be.a].label} = {c.options[be.b].label}"))
    return out


def cumulative_cost_figure(c: Comparison) -> Figure:
    """Cumulative cost (p50) of each available option, month 0 to the horizon; crossings marked."""
    fig = Figure(figsize=_SIZE_IN, layout="constrained")
    ax = fig.add_subplot()
    curves = c.cost_curves()
    for label in curves.columns:
        ax.plot(curves.index, curves[label], label=label, color=_colour(label), linewidth=2)
    for month, y, text in _crossings(c):
        ax.plot([month], [y], "ko", markersize=6)
        ax.annotate(f"{text}\nmonth {month:.1f}, {usd(y)}", (month, y), textcoords="offset points",
                    xytext=(8, 10), fontsize=8)
    if not _crossings(c) and len(curves.columns) > 1:
        ax.text(0.01, 0.98, "cumulative costs do not cross within the horizon", transform=ax.transAxes,
                va="top", fontsize=8, color=ANNOTATION_COLOUR)
    if curves.columns.empty:
        ax.text(0.5, 0.5, "no option is available", transform=ax.transAxes, ha="center")
    ax.set_xlabel("month")
    ax.set_ylabel("cumulative cost (p50)")
    ax.set_title(f"{c.scenario}: cumulative cost over {c.horizon_months} months")
    _money_axis(ax.yaxis)
    ax.grid(True, alpha=0.3)
    if not curves.columns.empty:
        ax.legend(loc="center right", fontsize=8)
    return fig


def _break_even_points(c: Comparison, sweep) -> list[tuple[float, float, str]]:
    """(requests/day, total $, text) for each break-even inside the swept traffic range."""
    lo, hi = float(sweep.index.min()), float(sweep.index.max())
    out = []
    for be in c.break_evens:
        for t in be.requests_per_day:
            if lo <= t <= hi:
                y = float(c.cost_vs_traffic(t).iloc[0][c.options[be.a].label])
                out.append((t, y, f"{c.options[be.a].label} = {c.options[be.b].label}"))
    return out


def cost_vs_traffic_figure(c: Comparison) -> Figure:
    """Total cost over the horizon against month-0 traffic (log-log); crossovers and this scenario marked."""
    fig = Figure(figsize=_SIZE_IN, layout="constrained")
    ax = fig.add_subplot()
    if not c.cost_models:
        ax.text(0.5, 0.5, "no option is available", transform=ax.transAxes, ha="center")
        return fig
    sweep = c.cost_vs_traffic()
    for label in sweep.columns:
        ax.plot(sweep.index, sweep[label], label=label, color=_colour(label), linewidth=2)
    middle = float(np.sqrt(sweep.index.min() * sweep.index.max()))
    for t, y, text in _break_even_points(c, sweep):
        ax.plot([t], [y], "ko", markersize=6)
        left = t > middle  # keep the label inside the axes
        ax.annotate(f"{text}\n{count(t)} req/day", (t, y), textcoords="offset points", xytext=(-6 if left else 6, 8),
                    ha="right" if left else "left", fontsize=8)
    ax.axvline(c.workload.requests_per_day, color=ANNOTATION_COLOUR, linestyle="--", linewidth=1)
    ax.annotate(f"this scenario: {count(c.workload.requests_per_day)} req/day",
                (c.workload.requests_per_day, 0.02), xycoords=("data", "axes fraction"),
                xytext=(4, 0), textcoords="offset points", fontsize=8, color=ANNOTATION_COLOUR)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("requests per day in month 0")
    ax.set_ylabel(f"total cost over {c.horizon_months} months (p50)")
    ax.set_title(f"{c.scenario}: total cost against traffic")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: count(v)))
    _money_axis(ax.yaxis)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def tornado_figure(df) -> Figure:
    """sensitivity.tornado() as horizontal bars: the change in the cost gap as each input moves P10 -> P90.

    The gap is the runner-up's total minus the cheapest option's at P50; a bar reaching the
    dashed line (minus the P50 gap) changes the cheapest option.
    """
    df = df.iloc[::-1]  # the largest swing on top
    fig = Figure(figsize=(_SIZE_IN[0], 1.2 + 0.42 * max(len(df), 1)), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(df))
    for col, colour, label in (("change_at_p10_usd", "#9ecae1", "input at P10"),
                               ("change_at_p90_usd", "#3182bd", "input at P90")):
        ax.barh(y, df[col], height=0.6, color=colour, label=label)
    ax.axvline(0, color="black", linewidth=1)
    gap = df.attrs.get("base_gap_usd", 0.0)
    reach = float(np.nanmax(np.abs(df[["change_at_p10_usd", "change_at_p90_usd"]].to_numpy()), initial=0.0))
    far = bool(df.attrs.get("runner_up")) and gap > 1.5 * reach  # a line so far out would squash every bar
    if df.attrs.get("runner_up") and not far:  # (a far one is named in the axis label instead)
        ax.axvline(-gap, color="#d62728", linestyle="--", linewidth=1,
                   label=f"cheapest option changes ({usd(gap)} gap at P50)")
    ax.set_yticks(y, [f"{p} ({u})" for p, u in zip(df.index, df["unit"])], fontsize=8)
    _money_axis(ax.xaxis)
    ax.set_xlabel("change in the cost gap: runner-up minus cheapest, total over the horizon"
                  + (f"\n(no input alone closes the {usd(gap)} gap at P50)" if far else ""))
    ax.set_title("Each input from its P10 to its P90, the others at P50")
    ax.grid(True, axis="x", alpha=0.3)
    fig.legend(loc="outside lower center", ncols=3, fontsize=8)
    return fig


def log_axis(values) -> bool:
    """Plot these grid values on a log axis: all positive and spanning more than a factor 20."""
    v = np.asarray(values, dtype=float)
    return bool(np.all(v > 0) and v.max() / v.min() > 20)


def frontier_figure(f, point: tuple[float, float] | None = None) -> Figure:
    """sensitivity.frontier()'s winner grid as a heatmap, one colour per option; `point`: this scenario."""
    keys = [k for k in OPTIONS if k in set(f.winner.ravel())]
    index = {k: i for i, k in enumerate(keys)}
    fig = Figure(figsize=_SIZE_IN, layout="constrained")
    ax = fig.add_subplot()
    grid = np.vectorize(index.get)(f.winner).astype(float)
    ax.pcolormesh(f.x_values, f.y_values, grid, shading="nearest", vmin=-0.5, vmax=len(keys) - 0.5,
                  cmap=ListedColormap([COLOURS[k] for k in keys]))
    if point is not None:
        ax.plot([point[0]], [point[1]], "k*", markersize=12, label="this scenario (P50)")
    for axis, values, scale in ((ax.xaxis, f.x_values, ax.set_xscale), (ax.yaxis, f.y_values, ax.set_yscale)):
        if log_axis(values):
            scale("log")
        axis.set_major_formatter(FuncFormatter(lambda v, _: count(v) if abs(v) >= 1000 else f"{v:.3g}"))
    ax.set_xlabel(f.x)
    ax.set_ylabel(f.y)
    ax.set_title("Cheapest option over two inputs (every other input at its P50)")
    handles = [Patch(color=COLOURS[k], label=OPTIONS[k]) for k in keys]
    if point is not None:
        handles += ax.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper left", fontsize=8, framealpha=0.9)
    return fig


def memory_figure(mem, title: str) -> Figure:
    """A MemoryBreakdown as one stacked bar against the GPU's usable memory."""
    fig = Figure(figsize=(_SIZE_IN[0], 2.2), layout="constrained")
    ax = fig.add_subplot()
    left = 0.0
    colours = ("#3182bd", "#6baed6", "#9ecae1", "#fd8d3c", "#bdbdbd", "#969696", "#737373", "#525252")
    for (name, value), colour in zip(mem.components().items(), colours, strict=True):
        ax.barh([0], [value / 1e9], left=left, color=colour, label=f"{name} {value / 1e9:.1f} GB")
        left += value / 1e9
    ax.axvline(mem.usable / 1e9, color="#d62728", linestyle="--", linewidth=1, label=f"usable {mem.usable / 1e9:.0f} GB")
    ax.set_yticks([])
    ax.set_xlabel("GB per GPU")
    ax.set_title(title)
    fig.legend(loc="outside lower center", ncols=3, fontsize=8)
    return fig


def scaling_figure(df, title: str) -> Figure:
    """GPU-hours (p50, p10-p90 shaded) and wall-clock days against the number of GPUs."""
    fig = Figure(figsize=_SIZE_IN, layout="constrained")
    ax = fig.add_subplot()
    n = df.index.to_numpy(dtype=float)
    ax.fill_between(n, df["gpu_hours_p10"], df["gpu_hours_p90"], color="#9ecae1", alpha=0.5, label="GPU-hours p10-p90")
    ax.plot(n, df["gpu_hours_p50"], "o-", color="#3182bd", label="GPU-hours p50")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("GPUs")
    ax.set_ylabel("GPU-hours")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: count(v)))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: count(v)))
    days = ax.twinx()
    days.plot(n, df["wall_days_p50"], "s--", color="#e6550d", label="wall-clock days p50")
    days.set_yscale("log")
    days.set_ylabel("days")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    handles = ax.get_legend_handles_labels()[0] + days.get_legend_handles_labels()[0]
    ax.legend(handles=handles, loc="upper center", fontsize=8)
    return fig
