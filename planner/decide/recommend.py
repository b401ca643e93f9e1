"""A plain-language recommendation with its reasons, from costs, break-evens and scenario flags.

The non-cost reasons follow shared/background/what-are-foundation-models.txt:
training from scratch is almost never worth it, except for highly proprietary
data, regulatory isolation or frontier research; fine-tuning beats prompting with
more than 1000 good labels or when the latency budget rules out long prompts.

compare() picks on the median (p50) total. How often that pick is really the cheapest needs
the Monte Carlo, one layer above (planner.uncertainty.risk runs it and calls `with_risk`);
the words of that warning live here, beside the pick.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..core.results import ResultMixin
from ..core.units import percent, usd

# Within this factor of the cheapest, a non-cost reason may decide.
NEAR_TIE = 1.25
# Judgement: a pick that loses in more than one sample in five is called out as not a safe bet.
SURE_P_CHEAPEST = 0.8
COST_REASON = "lowest median total cost over the horizon"


@dataclass(frozen=True)
class Recommendation(ResultMixin):
    choice: str  # option key, or "" when nothing is available
    label: str
    headline: str
    reasons: tuple[str, ...]
    by_cost: bool = True  # picked as the cheapest at the median; False: a scenario flag decided
    prob_cheapest: float | None = None  # P(the choice is the cheapest) over `samples` Monte Carlo samples (with_risk)
    samples: int = 0  # 0: compare() alone, no Monte Carlo behind the headline
    safe: bool | None = None  # P(cheapest) >= SURE_P_CHEAPEST and p90 not above the runner-up's; None: not sampled


def _cost_reasons(live: list, horizon: int) -> list[str]:
    ranked = sorted(live, key=lambda o: o.total_usd.p50)
    best = ranked[0]
    t = best.total_usd
    band = f" (p10-p90 {usd(t.p10)}-{usd(t.p90)})" if t.p90 > t.p10 else ""
    out = [f"Over {horizon} months, {best.label} costs {usd(t.p50)}{band}, "
           f"{usd(best.all_in_usd_per_request * 1000)} per 1000 requests all-in."]
    for o in ranked[1:]:
        out.append(f"{o.label} would cost {usd(o.total_usd.p50)}, {o.total_usd.p50 / best.total_usd.p50:.1f}x as much.")
    return out


def _break_even_reasons(break_evens, opts, workload) -> list[str]:
    out = []
    for be in break_evens:
        other = be.b if be.cheaper_below == be.a else be.a
        lo, hi = opts[be.cheaper_below].label, opts[other].label
        if be.requests_per_day:
            t = be.requests_per_day[0]
            side = "above" if workload.requests_per_day > t else "below"
            out.append(f"{hi} becomes cheaper than {lo} above {t:,.0f} requests/day "
                       f"(this scenario: {workload.requests_per_day:,.0f}, {side} it).")
        if be.crossing_month is not None:
            out.append(f"Cumulative costs of {opts[be.a].label} and {opts[be.b].label} cross in month {be.crossing_month:.1f}.")
    return out


def _flag_reasons(flags) -> list[str]:
    out = []
    if flags.regulatory_isolation:
        out.append("Regulatory isolation: inputs may not leave your infrastructure, so the hosted API is ruled out.")
    if flags.proprietary_data:
        out.append("Proprietary data favours keeping weights and data in-house (self-hosting or training).")
    if flags.labels_over_1000:
        out.append("With more than 1000 good labels, a fine-tune typically beats prompting on a narrow task.")
    if flags.latency_critical:
        out.append("A tight latency budget penalises long few-shot prompts; a fine-tune removes them.")
    if flags.frontier_research:
        out.append("Frontier research: the model itself is the goal, one of the few reasons to pretrain.")
    return out


def _pick(live: list, flags) -> tuple:
    by_cost = sorted(live, key=lambda o: o.total_usd.p50)
    best = by_cost[0]
    keys = {o.key: o for o in live}
    if flags.frontier_research and "scratch" in keys:
        return keys["scratch"], "the scenario marks frontier research"
    prefer_inhouse = flags.proprietary_data or flags.labels_over_1000 or flags.latency_critical
    if best.key == "api" and prefer_inhouse and "self_host" in keys:
        sh = keys["self_host"]
        if sh.total_usd.p50 <= NEAR_TIE * best.total_usd.p50:
            return sh, f"within {NEAR_TIE:.2f}x of the cheapest, and the scenario's flags favour in-house weights"
    return best, COST_REASON


def _floor(live: list, match) -> tuple[list, list[str], str]:
    """The options at or above the capability floor, why the others fall short, and the floor in words."""
    if match is None or match.floor is None:
        return live, [], ""
    floor = f"the capability floor ({match.metric} >= {match.floor:g})"
    short = [f"{o.label}: below {floor}: {match.falls_short(o.key)}." for o in live if match.falls_short(o.key)]
    return [o for o in live if not match.falls_short(o.key)], short, floor


def recommend(opts: dict, break_evens, flags, workload, match=None) -> "Recommendation":
    """`match`: the comparison's ModelMatch (likeforlike.py); with a capability floor, only the options at or
    above it are recommended, and each one below says why."""
    live = [o for o in opts.values() if o.available and math.isfinite(o.total_usd.p50)]
    gone = [f"{o.label}: not possible here: {o.reason_unavailable}" for o in opts.values() if not o.available]
    if not live:
        return Recommendation("", "", "No option is feasible for this scenario.", tuple(gone))
    live, short, floor = _floor(live, match)
    if not live:
        each = "; ".join(f"{o.label}: {match.falls_short(o.key)}" for o in opts.values() if match.falls_short(o.key))
        return Recommendation("", "", f"No option meets {floor}. {each}.", tuple(short + gone))
    choice, why = _pick(live, flags)
    if floor:
        why += f", among the options meeting {floor}"
    reasons = _cost_reasons(live, workload.horizon_months) + _break_even_reasons(break_evens, opts, workload)
    reasons += _flag_reasons(flags) + short + gone
    if choice.months_to_production.p50 > 1:
        reasons.append(f"{choice.label} reaches production in about {choice.months_to_production.p50:.1f} months.")
    return Recommendation(choice.key, choice.label, f"Recommended: {choice.label} ({why}).", tuple(reasons),
                          by_cost=why == COST_REASON)


def with_risk(rec: Recommendation, *, prob_cheapest: dict[str, float], median_usd: dict[str, float],
              p90_usd: dict[str, float], labels: dict[str, str], samples: int, seed: int) -> Recommendation:
    """The recommendation with its odds from a Monte Carlo over the same options (dicts keyed by option).

    The headline gives P(cheapest) of the choice, and says it is not a safe bet when that is below
    SURE_P_CHEAPEST or its p90 total is above the runner-up's (the other option of lowest median)."""
    if rec.choice not in prob_cheapest:
        return rec
    p = prob_cheapest[rec.choice]
    others = [k for k in prob_cheapest if k != rec.choice]
    runner = min(others, key=median_usd.get) if others else None
    likeliest = max(others, key=prob_cheapest.get) if others else None
    unsure = p < SURE_P_CHEAPEST
    wider = runner is not None and p90_usd[rec.choice] > p90_usd[runner]
    odds = f"{percent(p)} of {samples:,} Monte Carlo samples"
    rival = f" ({labels[likeliest]} in {percent(prob_cheapest[likeliest])})" if unsure else ""
    lead = "it is" if rec.by_cost else "on cost alone, it is"
    parts = [f"{lead} the cheapest in {'only ' if unsure else ''}{odds}{rival}"]
    if wider:
        parts.append(f"its p90 total ({usd(p90_usd[rec.choice])}) is above {labels[runner]}'s "
                     f"({usd(p90_usd[runner])})")
    if not (unsure or wider):
        headline = f"{rec.headline.rstrip('.')}; {parts[0]}."
    elif rec.by_cost:
        headline = f"{rec.headline.rstrip('.')}, but not a safe bet: {', and '.join(parts)}."
    else:
        headline = f"{rec.headline.rstrip('.')}; {', and '.join(parts)}."
    odds_line = (f"Monte Carlo over {samples:,} samples (seed {seed}), cheapest: "
                 + ", ".join(f"{labels[k]} {percent(v)}" for k, v in prob_cheapest.items()) + ".")
    reasons = (*rec.reasons[:1], odds_line, *rec.reasons[1:])
    return replace(rec, headline=headline, reasons=reasons, prob_cheapest=float(p), samples=int(samples),
                   safe=not (unsure or wider))
