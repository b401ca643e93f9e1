"""Price trends (decide/trends.py, catalog/data/trends.toml): monthly compounding, reservations that move at
renewal, the [trends] section's checks, and that a faster decline never makes an option dearer."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import planner
from fuzzing import fuzz_settings
from planner.catalog.trends import GPU_MODES, trend_facts
from planner.core.errors import PlannerError
from planner.decide.costmodel import ApiCostModel, monthly_costs, price_factor
from planner.decide.assembly import fleet_model
from planner.decide.scenario import loads_scenario
from planner.decide.trends import Trends, api_decline, gpu_trend

ROOT = Path(__file__).resolve().parent.parent
MONTHS = np.arange(36, dtype=float)


def _with(path: str, **trends) -> planner.Scenario:
    s = planner.load_scenario(ROOT / "examples" / path)
    return s.replace(trends=dataclasses.replace(s.trends, **trends))


def test_monthly_compounding_by_hand():
    # 50% a year: half at month 12, a quarter at month 24, 1/sqrt(2) at month 6; a 20% rise: 1.2 at month 12
    f = price_factor(0.5, [0, 6, 12, 24])
    assert f == pytest.approx([1.0, 0.5 ** 0.5, 0.5, 0.25], rel=1e-12)
    assert price_factor(-0.2, 12) == pytest.approx(1.2)
    assert price_factor(0.0, MONTHS) == pytest.approx(np.ones(36))


def test_a_reservation_moves_only_at_renewal():
    f = price_factor(0.3, [0, 11, 12, 23, 24, 35], term_months=12)
    assert f == pytest.approx([1, 1, 0.7, 0.7, 0.49, 0.49], rel=1e-12)
    assert price_factor(0.3, [0, 35, 36], term_months=36) == pytest.approx([1, 1, 0.343])  # three years at once


def test_sourced_bands_are_ordered_and_cited():
    facts = trend_facts()
    assert set(facts) == {"api", *(f"gpu.{m}" for m in GPU_MODES)}
    for f in facts.values():
        assert -1 < f.value.p10 <= f.value.p50 <= f.value.p90 < 1 and f.source.url.startswith("https://")
        assert f.source.checked == "2026-12-07"


def test_defaults_are_the_sourced_medians_and_none_freezes():
    t = Trends()
    assert api_decline(t) == trend_facts()["api"].value.p50
    assert gpu_trend(t, "on-demand") == (trend_facts()["gpu.on-demand"].value.p50, 0.0)
    assert gpu_trend(t, "reserved-3y") == (trend_facts()["gpu.reserved"].value.p50, 36.0)
    assert gpu_trend(t, "owned") == (0.0, 0.0) and gpu_trend(t, "owned-sunk") == (0.0, 0.0)  # no rent to fall
    off = Trends(prices="none", api_decline_per_year=0.4, gpu_decline_per_year=0.4)
    assert api_decline(off) == 0.0 and gpu_trend(off, "spot") == (0.0, 0.0)
    assert api_decline(Trends(api_decline_per_year=-0.1)) == -0.1


def test_compare_applies_the_api_decline_month_by_month():
    frozen = planner.compare(_with("customer_support.toml", prices="none")).options["api"].monthly_usd
    falling = planner.compare(_with("customer_support.toml", api_decline_per_year=0.5)).options["api"].monthly_usd
    months = np.arange(len(frozen))
    assert np.asarray(falling) == pytest.approx(np.asarray(frozen) * 0.5 ** (months / 12), rel=1e-12)


def test_compare_applies_the_gpu_decline_to_the_rent_only():
    s = _with("customer_support.toml", api_decline_per_year=0.0)
    frozen = planner.compare(s.replace(trends=Trends(prices="none")))
    falling = planner.compare(s.replace(trends=Trends(gpu_decline_per_year=0.4)))
    a, b = frozen.options["self_host"], falling.options["self_host"]
    assert b.breakdown["operations staff"] == pytest.approx(a.breakdown["operations staff"])
    assert b.breakdown["GPU rent"] < a.breakdown["GPU rent"]
    fleet = falling.cost_models["self_host"]
    assert fleet.gpu_decline_per_year == 0.4
    req, ptm = np.asarray(frozen.requests_per_month), s.workload.peak_rps / s.workload.mean_rps
    m = np.arange(len(req), dtype=float)
    rent = fleet._gpus(req, ptm) * fleet.usd_per_gpu_hour * 730.0 * 0.6 ** (m / 12)
    after = m >= np.ceil(fleet.months_to_production)  # whole months in production
    own = fleet._monthly(req, ptm, m)[after]
    assert own - fleet._staff(req, ptm)[after] - fleet._busy_gpus(req)[after] * fleet.usd_per_busy_gpu_hour * 730.0 \
        == pytest.approx(rent[after], rel=1e-9)


@fuzz_settings(60)
@given(d1=st.floats(-0.99, 0.99), d2=st.floats(-0.99, 0.99), rpd=st.floats(1.0, 1e7), growth=st.floats(0.0, 0.2),
       ttp=st.floats(0.0, 30.0), term=st.sampled_from([0.0, 12.0, 36.0]))
def test_a_faster_decline_never_costs_more(d1, d2, rpd, growth, ttp, term):
    slow, fast = sorted((d1, d2))
    req = rpd * 30.4 * (1 + growth) ** MONTHS
    api = ApiCostModel(usd_per_request=0.002, one_time_usd=1e4, months_to_production=0.5)
    def fleet(d, bridge_d):
        f = fleet_model(capacity_rps_per_replica=3.0, gpus_per_replica=2, usd_per_gpu_hour=2.5, utilization_ceiling=0.7,
                        min_replicas=1, ops_engineers=1, usd_per_engineer_year=2e5, one_time_usd=1e5,
                        months_to_production=ttp, gpu_decline_per_year=d, gpu_term_months=term)
        return monthly_costs(f, req, MONTHS, 2.0, dataclasses.replace(api, decline_per_year=bridge_d)).sum()
    api_total = {d: monthly_costs(dataclasses.replace(api, decline_per_year=d), req, MONTHS, 2.0, None).sum()
                 for d in (slow, fast)}
    assert api_total[fast] <= api_total[slow] * (1 + 1e-12)
    assert fleet(fast, 0.3) <= fleet(slow, 0.3) * (1 + 1e-12)  # faster GPU decline: self-hosting no dearer
    assert fleet(0.3, fast) <= fleet(0.3, slow) * (1 + 1e-12)  # the API bridge before production too


@pytest.mark.parametrize("example", ["customer_support.toml", "frontier_lab.toml"])
def test_compare_totals_fall_with_faster_declines(example):
    totals = [planner.compare(_with(example, api_decline_per_year=d, gpu_decline_per_year=d)).options
              for d in (-0.3, 0.0, 0.3, 0.8)]
    for key in ("api", "self_host"):
        t = [o[key].total_usd.p50 for o in totals]
        assert t == sorted(t, reverse=True) and t[0] > t[-1]


@pytest.mark.parametrize("field, value", [("api_decline_per_year", 1.0), ("api_decline_per_year", -1.0),
                                          ("gpu_decline_per_year", 1.5), ("gpu_decline_per_year", -2.0),
                                          ("api_decline_per_year", "fast"), ("gpu_decline_per_year", float("nan")),
                                          ("prices", "sometimes")])
def test_bad_trends_are_refused_naming_the_field(field, value):
    toml = f'name = "x"\n[trends]\n{field} = {value!r}\n'.replace("'", '"').replace("nan", "nan")
    with pytest.raises(PlannerError, match=f"trends.{field}"):
        loads_scenario(toml)


def test_unknown_trends_field_is_refused():
    with pytest.raises(PlannerError, match="api_decline"):
        loads_scenario('name = "x"\n[trends]\napi_decline_per_yr = 0.2\n')


def test_trends_round_trip_through_toml():
    s = _with("customer_support.toml", prices="none", api_decline_per_year=0.25)
    assert loads_scenario(planner.dumps_scenario(s)).trends == s.trends


def test_the_recommendation_says_how_much_it_leans_on_the_trends():
    c = planner.compare(_with("frontier_lab.toml"))
    lean = c.trend_lean
    assert lean.frozen_total_usd["api"] > lean.trend_total_usd["api"]  # falling API prices
    assert lean.trend_total_usd["api"] == pytest.approx(c.options["api"].total_usd.p50)
    assert lean.sentence in c.recommendation.reasons
    assert lean.sentence.startswith("With prices frozen, ") and "at the median trends" in lean.sentence
    # prices frozen in the scenario: the other path is the median trends, and the sentence names the same totals
    frozen = planner.compare(_with("frontier_lab.toml", prices="none")).trend_lean
    assert frozen.frozen_total_usd == pytest.approx(lean.frozen_total_usd, rel=1e-9)
    assert frozen.trend_total_usd == pytest.approx(lean.trend_total_usd, rel=1e-9)
    assert frozen.sentence == lean.sentence


def test_crossing_moves_by_hand():
    """A scenario built to cross with prices frozen and not at a steep API decline: the sentence says both."""
    s = _with("frontier_lab.toml", api_decline_per_year=0.8, gpu_decline_per_year=0.0)
    lean = planner.compare(s).trend_lean
    assert "is cheaper than Hosted API from month" in lean.sentence.split(";")[0]
    assert "Hosted API stays cheaper" in lean.sentence.split(";")[1]


def test_monte_carlo_samples_the_sourced_declines():
    from planner.uncertainty.montecarlo import Engine
    s = _with("frontier_lab.toml")
    e = Engine(s)
    for path in ("trends.api_decline_per_year", "trends.gpu_decline_per_year"):
        d = e.distributions[path]
        assert d.kind == "triangular" and -1 < d.low < d.high < 1
    # a value of the scenario's own, or frozen prices: no trend sampled, the point compare() used
    assert Engine(_with("frontier_lab.toml", prices="none")).distributions["trends.api_decline_per_year"].kind == "point"
    owned = s.replace(self_host=dataclasses.replace(s.self_host, sourcing="owned"))
    assert Engine(owned).distributions["trends.gpu_decline_per_year"].kind == "point"


def test_monte_carlo_decline_outside_the_bounds_is_refused():
    s = _with("customer_support.toml")
    with pytest.raises(PlannerError, match="trends.api_decline_per_year"):  # refused when the scenario is built
        s.replace(uncertainty={"trends.api_decline_per_year": {"dist": "uniform", "low": 0.2, "high": 1.0}})
    with pytest.raises(PlannerError, match="trends.gpu_decline_per_year"):  # relative: x1.5 of 0.25 is fine, x5 not
        s.replace(uncertainty={"trends.gpu_decline_per_year": {"dist": "uniform", "low": 0.5, "high": 5.0,
                                                                "relative": True}})


@fuzz_settings(60)
@given(d1=st.floats(-0.99, 0.99), d2=st.floats(-0.99, 0.99), rpd=st.floats(1.0, 1e7), ttp=st.floats(0.0, 30.0),
       term=st.sampled_from([0.0, 12.0, 36.0]), move=st.floats(0.0, 40.0), factor=st.floats(0.05, 1.0))
def test_a_faster_gpu_decline_never_costs_more_with_a_move_to_the_successor(d1, d2, rpd, ttp, term, move, factor):
    """The move to the successor (decide/generations.py) multiplies the trended rent: the order holds."""
    slow, fast = sorted((d1, d2))
    req = rpd * 30.4 * 1.05 ** MONTHS
    def total(d):
        f = fleet_model(capacity_rps_per_replica=3.0, gpus_per_replica=2, usd_per_gpu_hour=2.5, utilization_ceiling=0.7,
                        min_replicas=1, ops_engineers=1, usd_per_engineer_year=2e5, one_time_usd=1e5,
                        months_to_production=ttp, gpu_decline_per_year=d, gpu_term_months=term, migrate_month=move,
                        migrate_factor=factor)
        return monthly_costs(f, req, MONTHS, 2.0, None).sum()
    assert total(fast) <= total(slow) * (1 + 1e-12)


@pytest.mark.parametrize("field", ["api_declines", "api_decline_per_year"])
def test_a_faster_provider_decline_never_makes_the_api_dearer(field):
    s = _with("customer_support.toml")
    totals = []
    for d in (-0.5, 0.0, 0.4, 0.9):
        value = {"openai": d} if field == "api_declines" else d
        totals.append(planner.compare(s.replace(trends=dataclasses.replace(s.trends, **{field: value})))
                      .options["api"].total_usd.p50)
    assert totals == sorted(totals, reverse=True) and totals[0] > totals[-1]


def test_a_provider_band_in_the_trends_data_overrides_every_apis(monkeypatch):
    """trends.toml [api.provider.<id>] / [api.model.<id>]: the model's band first, then the provider's."""
    from planner.catalog import trends as catalog_trends
    from planner.catalog.costs import Fact
    from planner.core.band import Band
    from planner.decide.trends import api_fact, trend_band
    base = trend_facts()
    src = base["api"].source
    extra = {"api.provider.openai": Fact("api.provider.openai", Band(0.1, 0.2, 0.3), "", src),
             "api.model.gpt-4o-mini": Fact("api.model.gpt-4o-mini", Band(0.6, 0.7, 0.8), "", src)}
    monkeypatch.setattr(catalog_trends, "trend_facts", lambda: {**base, **extra})
    monkeypatch.setattr("planner.decide.trends.trend_facts", lambda: {**base, **extra})
    assert api_decline(Trends(), "openai", "gpt-4o") == 0.2
    assert api_decline(Trends(), "openai", "gpt-4o-mini") == 0.7
    assert api_decline(Trends(), "anthropic", "claude") == base["api"].value.p50
    assert api_fact("openai", "gpt-4o").value.p50 == 0.2
    assert trend_band(Trends(), "trends.api_decline_per_year", "on-demand", "openai", "x").value.p50 == 0.2
    assert trend_band(Trends(api_declines={"openai": 0.3}), "trends.api_decline_per_year", "on-demand",
                      "openai", "x") is None  # the scenario's own value: not sampled
