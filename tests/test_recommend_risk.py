"""The headline's odds (decide.recommend.with_risk): P(cheapest) always, 'not a safe bet' when it is low or the
pick's p90 is above the runner-up's; worded for a pick a scenario flag made."""
import pytest

import planner
from planner.decide.recommend import SURE_P_CHEAPEST, Recommendation, with_risk
from planner.uncertainty.risk import risk_aware

LABELS = {"api": "API", "self_host": "Self-host", "scratch": "Scratch"}
REC = Recommendation("api", "API", "Recommended: API (lowest median total cost over the horizon).",
                     ("Over 24 months, API costs $1.00M.", "Self-host would cost $1.10M."))


def risk(rec=REC, p_api=0.95, p90_api=1.5e6, p90_self=2.0e6):
    return with_risk(rec, prob_cheapest={"api": p_api, "self_host": 1 - p_api, "scratch": 0.0},
                     median_usd={"api": 1.0e6, "self_host": 1.1e6, "scratch": 9e6},
                     p90_usd={"api": p90_api, "self_host": p90_self, "scratch": 1e7}, labels=LABELS, samples=1000, seed=3)


def test_a_sure_pick_gives_its_odds():
    r = risk()
    assert r.headline == ("Recommended: API (lowest median total cost over the horizon); it is the cheapest in 95.0% "
                          "of 1,000 Monte Carlo samples.")
    assert r.safe and r.prob_cheapest == 0.95 and r.samples == 1000
    assert r.reasons[0] == REC.reasons[0] and r.reasons[1].startswith("Monte Carlo over 1,000 samples (seed 3)")


def test_a_pick_that_often_loses_is_not_a_safe_bet():
    r = risk(p_api=0.6)
    assert "but not a safe bet: it is the cheapest in only 60.0% of 1,000 Monte Carlo samples (Self-host in 40.0%)" \
        in r.headline
    assert not r.safe


def test_a_pick_with_the_worse_tail_is_not_a_safe_bet():
    r = risk(p_api=0.9, p90_api=2.5e6)
    assert r.headline.endswith("but not a safe bet: it is the cheapest in 90.0% of 1,000 Monte Carlo samples, and its "
                               "p90 total ($2.50M) is above Self-host's ($2.00M).")
    assert not r.safe


@pytest.mark.parametrize("p, safe", [(SURE_P_CHEAPEST, True), (SURE_P_CHEAPEST - 1e-6, False)])
def test_the_threshold(p, safe):
    assert risk(p_api=p).safe is safe


def test_a_flagged_pick_gives_its_odds_on_cost_alone():
    rec = Recommendation("self_host", "Self-host", "Recommended: Self-host (the scenario's flags favour it).", (),
                         by_cost=False)
    r = risk(rec, p_api=0.7)
    assert "not a safe bet" not in r.headline
    assert "; on cost alone, it is the cheapest in only 30.0% of 1,000 Monte Carlo samples (API in 70.0%)" in r.headline


def test_nothing_to_say_without_the_choice_or_the_monte_carlo():
    gone = Recommendation("", "", "No option is feasible for this scenario.", ())
    assert risk(gone) == gone
    c = planner.compare(planner.Scenario())
    r = risk_aware(c, None, "no option varies")
    assert r.headline == c.recommendation.headline and r.samples == 0 and r.safe is None
    assert r.reasons[-1] == "How sure: the Monte Carlo could not run (no option varies)."
