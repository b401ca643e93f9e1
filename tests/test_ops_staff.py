"""Operations staff: a number in the scenario is a fixed team; unset, the team scales with the fleet,
max(OPS_MIN_ENGINEERS, GPUs held / GPUS_PER_OPS_ENGINEER) (decide/assembly.py, sourced there)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

import planner
from planner.decide.assembly import GPUS_PER_OPS_ENGINEER, OPS_MIN_ENGINEERS

ROOT = Path(__file__).resolve().parent.parent
BASE = planner.load_scenario(ROOT / "examples" / "customer_support.toml")


def _scenario(requests_per_day: float, ops_engineers) -> planner.Scenario:
    """A 70B model at steady traffic: ~470 H100s at 40M requests/day, ~2 at 10k."""
    return BASE.replace(workload=BASE.workload.with_(requests_per_day=requests_per_day, monthly_growth=0.0),
                        self_host=replace(BASE.self_host, model="Llama-3.1-70B", ops_engineers=ops_engineers),
                        uncertainty={})


@pytest.fixture(scope="module")
def big():
    return planner.compare(_scenario(40e6, None))


def test_the_default_is_the_scaling_rule():
    assert planner.SelfHostOption().ops_engineers is None
    assert planner.Scenario().self_host.ops_engineers is None


def test_staff_scale_with_the_fleet_by_hand(big):
    """By hand: GPUs held each month / 250 engineers at $/year / 12, paid after production."""
    o, m = big.options["self_host"], big.cost_models["self_host"]
    w = _scenario(40e6, None).workload
    gpus = m.gpus(np.asarray(big.requests_per_month), w.peak_to_mean)
    assert gpus.min() / GPUS_PER_OPS_ENGINEER > 1.5  # well above the floor: the test tests the scaling
    months = np.arange(w.horizon_months)
    live = 1 - np.clip(o.months_to_production.p50 - months, 0, 1)
    usd_year = _scenario(40e6, None).costs.usd_per_engineer_year
    by_hand = (live * np.maximum(OPS_MIN_ENGINEERS, gpus / GPUS_PER_OPS_ENGINEER) * usd_year / 12).sum()
    assert o.breakdown["operations staff"] == pytest.approx(by_hand, rel=1e-9)
    assert sum(o.breakdown.values()) == pytest.approx(o.total_usd.p50, rel=1e-9)


def test_a_small_fleet_pays_the_floor_and_a_set_number_is_fixed(big):
    small = planner.compare(_scenario(10_000, None)).options["self_host"]
    fixed = planner.compare(_scenario(10_000, OPS_MIN_ENGINEERS)).options["self_host"]
    assert small.breakdown["operations staff"] == pytest.approx(fixed.breakdown["operations staff"], rel=1e-12)
    set_big = planner.compare(_scenario(40e6, 0.5)).options["self_host"]
    usd_year, live = BASE.costs.usd_per_engineer_year, big.cost_models["self_host"].months_to_production
    months = np.arange(BASE.workload.horizon_months)
    expected = (1 - np.clip(live - months, 0, 1)).sum() * 0.5 * usd_year / 12
    assert set_big.breakdown["operations staff"] == pytest.approx(expected, rel=1e-9)
    assert big.options["self_host"].breakdown["operations staff"] > 3 * expected


def test_monte_carlo_agrees_with_compare_when_staff_scale(big):
    mc = planner.monte_carlo(_scenario(40e6, None), n=500, comparison=big)
    assert mc.point_total_usd["self_host"] == pytest.approx(big.options["self_host"].total_usd.p50, rel=1e-9)


def test_scenario_round_trip_keeps_the_rule():
    s = _scenario(10_000, None)
    assert "ops_engineers" not in planner.dumps_scenario(s)
    assert planner.loads_scenario(planner.dumps_scenario(s)) == s


def test_the_rule_is_listed_with_its_source(big):
    row = next(a for a in big.assumptions if a.name == "operations staff")
    assert row.value == f"max(1, GPUs held / {GPUS_PER_OPS_ENGINEER:g})" and "CTWatch" in row.source
    fixed = planner.compare(_scenario(10_000, 0.5))
    assert next(a for a in fixed.assumptions if a.name == "operations staff").value == 0.5
