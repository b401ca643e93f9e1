"""The three-way comparison: break-evens, properties, recommendation, vectorization, bad input."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import planner
from planner.decide.compare import option_totals_for_traffic
from planner.decide.costmodel import break_even_traffic, crossing_month

EXAMPLES = sorted(Path(__file__).parent.parent.joinpath("examples").glob("*.toml"))
BASE = planner.Scenario(name="t", workload=planner.Workload(requests_per_day=50_000, input_tokens=400, output_tokens=250,
                                                            prompt_overhead_tokens=1500, monthly_growth=0.03))


@pytest.fixture(scope="module", params=EXAMPLES, ids=lambda p: p.stem)
def example(request):
    s = planner.load_scenario(request.param)
    return s, planner.compare(s)


def test_break_even_costs_agree(example):
    s, c = example
    assert c.break_evens, "examples have at least two available options"
    for be in c.break_evens:
        for t in be.requests_per_day:
            totals = option_totals_for_traffic({k: c.cost_models[k] for k in (be.a, be.b)}, s, np.array([t]), c.bridge)
            a, b = totals[be.a][0], totals[be.b][0]
            assert abs(a - b) <= 1e-3 * max(a, b), (be, a, b)


def test_cumulative_curves_and_crossing_month():
    cum_a, cum_b = np.array([100.0, 110, 120, 130]), np.array([0.0, 50, 100, 150])
    assert crossing_month(cum_a, cum_b) == pytest.approx(2.5)
    assert crossing_month(cum_b, cum_a) is None


def test_break_even_solver_on_lines():
    roots = break_even_traffic(lambda t: 1000 + 2 * t, lambda t: 5 * t)
    assert roots == [pytest.approx(1000 / 3)]


def test_table_matches_options(example):
    _, c = example
    t = c.table()
    for o in c.options.values():
        if o.available:
            assert t.loc[o.label, "total_usd"] == o.total_usd.p50
            assert o.cumulative_usd[-1] == pytest.approx(o.one_time_usd.p50 + sum(o.monthly_usd))


def test_vectorized_sweep_equals_pointwise():
    c = planner.compare(BASE)
    levels = np.geomspace(100, 1e8, 100_000)
    sweep = c.cost_vs_traffic(levels)
    for i in (0, 12_345, 99_999):
        one = c.cost_vs_traffic(levels[i:i + 1])
        assert np.allclose(sweep.iloc[i].to_numpy(), one.iloc[0].to_numpy(), rtol=1e-12)


def test_at_scenario_traffic_sweep_equals_compare():
    c = planner.compare(BASE)
    sweep = c.cost_vs_traffic(BASE.workload.requests_per_day)
    for o in c.options.values():
        # compare()'s p50 total is the same function evaluated at the scenario's own traffic.
        assert sweep.iloc[0][o.label] == pytest.approx(o.total_usd.p50, rel=1e-9)


@settings(max_examples=25, deadline=None)
@given(r1=st.floats(10, 5e7), r2=st.floats(10, 5e7))
def test_more_traffic_never_costs_less(r1, r2):
    c = planner.compare(BASE)
    lo, hi = sorted((r1, r2))
    sweep = c.cost_vs_traffic(np.array([lo, hi]))
    assert (sweep.iloc[1] >= sweep.iloc[0] - 1e-6).all()


@settings(max_examples=20, deadline=None)
@given(scale=st.floats(0.05, 1.0))
def test_lower_api_price_never_raises_api_cost(scale):
    base = planner.compare(BASE).options["api"].total_usd.p50
    p = planner.api_price(BASE.api.model)
    cheaper = replace(BASE, api=replace(BASE.api, input_usd_per_mtok=p.input_usd_per_mtok * scale,
                                        output_usd_per_mtok=p.output_usd_per_mtok * scale,
                                        cached_input_usd_per_mtok=p.cached_input_usd_per_mtok * scale))
    assert planner.compare(cheaper).options["api"].total_usd.p50 <= base + 1e-9


def test_recommendation_cheapest_and_flags():
    c = planner.compare(BASE)
    live = [o for o in c.options.values() if o.available]
    assert c.recommendation.choice == min(live, key=lambda o: o.total_usd.p50).key
    iso = planner.compare(replace(BASE, flags=planner.Flags(regulatory_isolation=True)))
    assert not iso.options["api"].available and iso.recommendation.choice != "api"
    assert any("Regulatory isolation" in r for r in iso.recommendation.reasons)
    frontier = planner.compare(replace(BASE, flags=planner.Flags(frontier_research=True)))
    assert frontier.recommendation.choice == "scratch"


def test_high_traffic_flips_to_self_hosting():
    big = replace(BASE, workload=BASE.workload.with_(requests_per_day=2e7))
    assert planner.compare(big).recommendation.choice == "self_host"


def test_prompt_trade_reported():
    big = replace(BASE, workload=BASE.workload.with_(requests_per_day=5e6))
    trades = {t.where: t for t in planner.compare(big).prompt_trades}
    sh = trades["self_host"]
    assert sh.monthly_saving_usd > 0 and sh.payback_months == pytest.approx(sh.tuning_cost_usd / sh.monthly_saving_usd)


def test_unavailable_options_explain_and_others_survive():
    tight = replace(BASE, workload=BASE.workload.with_(tpot_target_s=0.0005))
    c = planner.compare(tight)
    assert c.options["api"].available
    assert not c.options["self_host"].available and "floor" in c.options["self_host"].reason_unavailable
    assert c.recommendation.choice == "api"


def test_unknown_api_model_lists_close_matches():
    with pytest.raises(planner.UnknownNameError, match="gpt-4o-mini"):
        planner.compare(replace(BASE, api=replace(BASE.api, model="gpt-4o-mnii")))


def test_json_view_is_plain(example):
    import json
    _, c = example
    d = json.loads(json.dumps(c.to_dict(), allow_nan=False, default=str))
    assert set(d["options"]) == {"api", "self_host", "scratch"}
