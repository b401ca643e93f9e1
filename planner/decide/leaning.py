"""How much the answer leans on the price trends: the comparison redone with the other price path.

compare() costs the options at the scenario's trends (by default the sourced medians, decide/trends.py).
This module recosts the same cost models with prices frozen (or, when the scenario freezes them, at the
sourced medians), picks again with the same rules (recommend.py), and says in one sentence what each path
recommends and where the cumulative costs cross: "With prices frozen, Self-host is cheaper than the API from
month 14; at the median trends (...), the API stays cheaper over the 36 months."
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from ..core.results import ResultMixin
from .costmodel import ApiCostModel, crossing_month, cumulative, monthly_costs, one_time_spends
from .recommend import recommend
from .trends import Trends, api_decline, gpu_trend


@dataclass(frozen=True)
class TrendLean(ResultMixin):
    """The pick with prices frozen and at the median trends, and the sentence that compares them."""

    frozen_choice: str  # option key recommended with every price at today's ("" when none is feasible)
    trend_choice: str  # option key recommended at the median trends
    frozen_total_usd: dict[str, float]  # option key -> p50 total over the horizon, prices frozen
    trend_total_usd: dict[str, float]  # option key -> p50 total at the median trends
    api_decline_per_year: float  # the median trends the sentence names
    gpu_decline_per_year: float
    sentence: str


def _repriced(model, api: float, gpu: float, term: float):
    if isinstance(model, ApiCostModel):
        return replace(model, decline_per_year=api)
    return replace(model, gpu_decline_per_year=gpu, gpu_term_months=term)


def _recost(opts: dict, models: dict, bridge, s, months, requests, api: float, gpu: float, term: float) -> dict:
    """The available options' results with their running costs at these declines (one-time costs unchanged)."""
    ptm = s.workload.peak_rps / s.workload.mean_rps
    b = _repriced(bridge, api, gpu, term) if bridge is not None else None
    out = dict(opts)
    n = float(np.sum(requests))
    for k, m in models.items():
        monthly = monthly_costs(_repriced(m, api, gpu, term), requests, months, ptm, b)
        cum = cumulative(one_time_spends(m), monthly)
        o = opts[k]
        shift = float(cum[-1]) - o.cumulative_usd[-1]
        total = o.total_usd.map(lambda v: v + shift)
        out[k] = replace(o, monthly_usd=tuple(map(float, monthly)), cumulative_usd=tuple(map(float, cum)),
                         total_usd=total, all_in_usd_per_request=total.p50 / n)
    return out


def _crossing(opts: dict, a: str, b: str, horizon: int) -> str:
    """`a` (the one paying more up front) against `b`, in words."""
    la, lb = opts[a].label, opts[b].label
    m = crossing_month(opts[a].cumulative_usd, opts[b].cumulative_usd)
    if m is not None:
        return f"{la} is cheaper than {lb} from month {math.ceil(m)}"
    if opts[a].cumulative_usd[-1] < opts[b].cumulative_usd[-1]:
        return f"{la} is cheaper than {lb} over all {horizon} months"
    return f"{lb} stays cheaper than {la} over the {horizon} months"


def _pair(frozen: dict, trend: dict) -> tuple[str, str] | None:
    """The two options the sentence sets against each other: the cheapest with prices frozen and at the trends,
    else the cheapest and its runner-up; the one paying more by the end of month 1 first."""
    live = [k for k, o in trend.items() if o.available and math.isfinite(o.total_usd.p50)]
    if len(live) < 2:
        return None
    first = min(live, key=lambda k: frozen[k].total_usd.p50)
    second = min(live, key=lambda k: trend[k].total_usd.p50)
    if second == first:
        second = min((k for k in live if k != first), key=lambda k: trend[k].total_usd.p50)
    a, b = sorted((first, second), key=lambda k: -trend[k].cumulative_usd[1])
    return a, b


def trend_lean(opts: dict, models: dict, bridge, s, months, requests, break_evens, match, price=None) -> TrendLean:
    """The comparison at the other price path (frozen if the scenario has trends, the medians if it freezes them)."""
    t: Trends = s.trends
    median = replace(t, prices="sourced")
    api = api_decline(median, *((price.provider_id, price.model_id) if price else ()))
    gpu, term = gpu_trend(median, s.self_host.sourcing)
    live = {k: m for k, m in models.items() if opts[k].available}
    frozen = _recost(opts, live, bridge, s, months, requests, 0.0, 0.0, 0.0)
    trend = _recost(opts, live, bridge, s, months, requests, api, gpu, term) if t.frozen else opts
    fc = recommend(frozen, break_evens, s.flags, s.workload, match).choice
    tc = recommend(trend, break_evens, s.flags, s.workload, match).choice
    path = f"at the median trends (API prices {-api:+.0%} a year, GPU rent {-gpu:+.0%} a year)"
    pair = _pair(frozen, trend)
    h = s.workload.horizon_months
    if pair is None:
        sentence = ""
    else:
        name = lambda k: trend[k].label if k else "no option"  # noqa: E731 (none meets a capability floor)
        sentence = (f"With prices frozen, {_crossing(frozen, *pair, h)}; {path}, {_crossing(trend, *pair, h)}."
                    + ("" if fc == tc == "" else f" Either way {name(tc)} is recommended." if fc == tc else
                       f" The pick moves with the trends: {name(fc)} with prices frozen, {name(tc)} at the median "
                       "trends."))
    return TrendLean(frozen_choice=fc, trend_choice=tc,
                     frozen_total_usd={k: frozen[k].total_usd.p50 for k in live},
                     trend_total_usd={k: trend[k].total_usd.p50 for k in live},
                     api_decline_per_year=api, gpu_decline_per_year=gpu, sentence=sentence)


def with_lean(rec, lean: TrendLean):
    """The recommendation with the sentence on the trends among its reasons (after the costs)."""
    if not lean.sentence:
        return rec
    return replace(rec, reasons=(*rec.reasons[:1], lean.sentence, *rec.reasons[1:]))
