"""Report charts as matplotlib Figures: cumulative cost by month, total cost against traffic.

Figures are built with the object-oriented API (`matplotlib.figure.Figure`), never
pyplot, so no GUI backend or global figure state is involved: `fig.savefig(path)`
renders with Agg, and the dashboard can hand the same Figure to its own display.
"""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from .compare import OPTIONS, Comparison
from .formatting import count, usd

_COLOURS = {"api": "#1f77b4", "self_host": "#2ca02c", "scratch": "#d62728"}
_SIZE_IN = (8.0, 4.8)


def _money_axis(axis) -> None:
    axis.set_major_formatter(FuncFormatter(lambda v, _: usd(v)))


def _colour(label: str) -> str:
    key = next((k for k, v in OPTIONS.items() if v == label), "")
    return _COLOURS.get(key, "#7f7f7f")


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
                va="top", fontsize=8, color="#555555")
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
                y = float(c.cost_vs_traffic([t]).iloc[0][c.options[be.a].label])
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
    ax.axvline(c.workload.requests_per_day, color="#555555", linestyle="--", linewidth=1)
    ax.annotate(f"this scenario: {count(c.workload.requests_per_day)} req/day",
                (c.workload.requests_per_day, 0.02), xycoords=("data", "axes fraction"),
                xytext=(4, 0), textcoords="offset points", fontsize=8, color="#555555")
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
