"""The recommendation with its odds: compare() picks on the median; the Monte Carlo says how often that pick wins.

compare() sits in decide/, below the Monte Carlo, so it cannot sample; running 20,000 samples inside every
compare() would also slow each of its callers (the frontier, the tornado, the fuzz tests) for a sentence.
Instead every edge that shows the headline (`planner compare`, the report, the dashboard) asks
`recommendation()`, which runs the Monte Carlo of HEADLINE_SAMPLES at the scenario's seed (deterministic) and
words the result with decide.recommend.with_risk. The report's "How sure" section and the dashboard's
Uncertainty tab at its default use this very run, so the headline's P(cheapest) is theirs, digit for digit.
"""
from __future__ import annotations

from dataclasses import replace

from ..core.errors import PlannerError
from ..decide.compare import Comparison, compare
from ..decide.options import OPTIONS
from ..decide.recommend import Recommendation, with_risk
from ..decide.scenario import as_scenario
from .montecarlo import MonteCarloResult, monte_carlo

HEADLINE_SAMPLES = 20_000  # P(cheapest) standard error <= 0.35 points (binomial, p = 0.5); ~0.1-0.3 s


def risk_aware(comparison: Comparison, mc: MonteCarloResult | None, why_not: str = "") -> Recommendation:
    """comparison.recommendation worded with `mc`'s P(cheapest) and p90s; without `mc`, `why_not` says why."""
    rec = comparison.recommendation
    if mc is None:
        note = f"How sure: the Monte Carlo could not run ({why_not})." if why_not else ""
        return replace(rec, reasons=(*rec.reasons, note)) if note else rec
    return with_risk(rec, prob_cheapest=mc.prob_cheapest, median_usd={k: b.p50 for k, b in mc.total_usd.items()},
                     p90_usd={k: b.p90 for k, b in mc.total_usd.items()}, labels=OPTIONS, samples=mc.n, seed=mc.seed)


def recommendation(scenario, *, comparison: Comparison | None = None,
                   n: int = HEADLINE_SAMPLES) -> tuple[Recommendation, MonteCarloResult | None]:
    """The headline every edge shows, and the Monte Carlo behind it (None when the scenario cannot be sampled)."""
    s = as_scenario(scenario)
    c = compare(s) if comparison is None else comparison
    try:
        mc = monte_carlo(s, n=n, comparison=c)
    except PlannerError as e:
        return risk_aware(c, None, str(e)), None
    return risk_aware(c, mc), mc


def with_headline(comparison: Comparison, scenario) -> Comparison:
    """The comparison with the headline recommendation in place of compare()'s (for the CLI's tables and JSON)."""
    rec, _ = recommendation(scenario, comparison=comparison)
    return replace(comparison, recommendation=rec)
