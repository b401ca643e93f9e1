"""Reasoning (hidden) tokens: billed as output by the API unless the price data lists a reasoning price, and
decoded by a self-hosted model (decode time, KV-cache, energy), for the self-host and scratch options alike."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

import planner
from planner.core.errors import PlannerError
from planner.estimate.workload import Workload

ROOT = Path(__file__).resolve().parent.parent
BASE = planner.load_scenario(ROOT / "examples" / "customer_support.toml")
R = 2000.0


def with_workload(s, **changes):
    return dataclasses.replace(s, workload=dataclasses.replace(s.workload, **changes))


def test_api_bills_reasoning_as_output_by_hand():
    p = planner.api_price("gpt-4.1-mini")
    assert p.reasoning_usd_per_mtok is None  # the data lists no separate price: billed as output
    got = p.cost_usd(1000, 300, reasoning_tokens=R)
    assert got == pytest.approx((1000 * p.input_usd_per_mtok + (300 + R) * p.output_usd_per_mtok) / 1e6)
    batch = p.cost_usd(1000, 300, reasoning_tokens=R, batch=True)
    assert batch == pytest.approx(got * (1 - p.batch_discount))


def test_a_reasoning_price_in_the_data_is_used():
    p = planner.api_price("sonar-deep-research", "perplexity")  # genai-prices: output $8, reasoning $3 per Mtok
    assert p.reasoning_usd_per_mtok is not None and p.reasoning_usd_per_mtok != p.output_usd_per_mtok
    assert p.cost_usd(0, 0, reasoning_tokens=1e6) == pytest.approx(p.reasoning_usd_per_mtok)


def test_compare_bills_the_api_per_request_by_hand():
    frozen = BASE.replace(trends=dataclasses.replace(BASE.trends, prices="none"))  # today's prices every month
    s = with_workload(frozen, reasoning_tokens=R)
    c0, c = planner.compare(frozen), planner.compare(s)
    p = c.api_price
    extra = R * p.output_usd_per_mtok / 1e6  # the example bills output at the standard price
    assert c.options["api"].usd_per_request == pytest.approx(c0.options["api"].usd_per_request + extra)


def test_self_hosted_decode_work_is_that_of_the_generated_tokens():
    """Reasoning tokens cost a self-hosted model what as many output tokens cost: the same plan, fleet and totals."""
    w = BASE.workload
    reasoning = planner.compare(with_workload(BASE, reasoning_tokens=R))
    longer = planner.compare(with_workload(BASE, output_tokens=w.output_tokens + R))
    for key in ("self_host", "scratch"):
        a, b = reasoning.options[key], longer.options[key]
        assert a.total_usd.p50 == pytest.approx(b.total_usd.p50) and a.gpus == b.gpus
        assert a.energy_mwh.p50 == pytest.approx(b.energy_mwh.p50)
    p0, p = planner.compare(BASE).serving_plan, reasoning.serving_plan
    assert p.e2e_s.p50 > p0.e2e_s.p50  # more decode steps per request
    assert p.requests_per_s_per_replica.p50 < p0.requests_per_s_per_replica.p50
    assert p.batch_size == longer.serving_plan.batch_size  # KV-cache per sequence holds the reasoning too


@pytest.mark.parametrize("bad", [-1, -0.5, float("nan"), "many", 1e12])
def test_bad_reasoning_tokens_name_the_field(bad):
    with pytest.raises(PlannerError, match="workload.reasoning_tokens"):
        Workload(requests_per_day=10, input_tokens=1, output_tokens=1, reasoning_tokens=bad)
    with pytest.raises(PlannerError, match="reasoning_tokens"):
        planner.api_price("gpt-4.1-mini").cost_usd(1, 1, reasoning_tokens=bad if bad != 1e12 else -1)


def test_scenario_file_round_trips_the_field():
    s = with_workload(BASE, reasoning_tokens=R)
    assert planner.loads_scenario(planner.dumps_scenario(s)) == s
    with pytest.raises(PlannerError, match="workload.reasoning_tokens"):
        planner.loads_scenario("[workload]\nrequests_per_day = 10\ninput_tokens = 1\noutput_tokens = 1\n"
                               "reasoning_tokens = -3\n")
