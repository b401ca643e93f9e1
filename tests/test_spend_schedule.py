"""Spend when it is spent: each option's one-time costs accrue over the months they are paid.

The frontier example's curves are checked against a calendar written out here by hand (not the
planner's spend functions), and the schedule's invariants hold for random spends.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import planner
from fuzzing import fuzz_settings
from planner.core.units import DAYS_PER_MONTH
from planner.decide.costmodel import Spend, crossing_month, cumulative, spend_schedule
from planner.uncertainty.chunks import chunk_results
from planner.uncertainty.montecarlo import Engine

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))


def _paid(t, start, end):
    """Share of a cost paid evenly over [start, end] by month t (a lump at start when end == start)."""
    if end <= start:
        return 1.0 if t >= start else 0.0
    return min(max((t - start) / (end - start), 0.0), 1.0)


@pytest.fixture(scope="module")
def frontier():
    s = planner.load_scenario(ROOT / "examples" / "frontier_lab.toml")
    return s, planner.compare(s)


def test_frontier_scratch_curve_by_hand(frontier):
    """The programme's parts on its calendar: prep 4 months, the run at its layout's speed, post-training 2
    months, evaluation 1 (data/programme.toml p50), research staff over [scratch] months, the 1-year
    reservation's unused term over its 12 months, licences at month 0, post-training data when it starts."""
    s, c = frontier
    sc, o = c.scratch_costs, c.options["scratch"]
    p = sc.parts
    prep = s.scratch.prep_months
    assert prep == 4.0 and s.scratch.months == 12.0 and s.scratch.sourcing == "reserved-1y"
    run_end = prep + sc.wall_days.p50 / DAYS_PER_MONTH
    post_end, done = run_end + 2.0, run_end + 3.0
    assert sc.months_to_production.p50 == pytest.approx(done, rel=1e-12)
    phases = {"final run compute": (prep, run_end), "failed and restarted runs": (prep, run_end),
              "ablations and experiments": (0, prep), "data pipeline compute": (0, prep), "data engineers": (0, prep),
              "post-training compute": (run_end, post_end), "evaluation": (post_end, done),
              "research staff": (0, 12), "reserved term unused": (0, 12), "data licences": (0, 0),
              "post-training data": (run_end, run_end)}
    assert phases.keys() == p.keys()
    assert p["data licences"] == 1e6 and p["reserved term unused"] > 0  # the parts this test exercises
    running = np.concatenate([[0.0], np.cumsum(o.monthly_usd)])
    for t in (0, 1, 2, 4, 7, 11, 12, 14, 36):
        want = sum(usd * _paid(t, *phases[k]) for k, usd in p.items()) + running[t]
        assert o.cumulative_usd[t] == pytest.approx(want, rel=1e-9), t
    assert o.cumulative_usd[0] == pytest.approx(1e6)  # only the licences are paid on day one
    assert o.cumulative_usd[1] < 0.15 * o.one_time_usd.p50  # not the whole programme at month 0


def test_frontier_self_host_and_api_curves_by_hand(frontier):
    s, c = frontier
    h, o = s.self_host, c.options["self_host"]
    tuned = c.finetune.wall_days.p50 / DAYS_PER_MONTH
    ready = tuned + h.setup_months
    running = np.concatenate([[0.0], np.cumsum(o.monthly_usd)])
    b = o.breakdown
    for t in (0, 1, 2, 12):
        want = (b["fine-tuning compute"] * _paid(t, 0, tuned)
                + (b["evaluation"] + b["setup staff"]) * _paid(t, tuned, ready) + running[t])
        assert o.cumulative_usd[t] == pytest.approx(want, rel=1e-9), t
    a = c.options["api"]
    api_running = np.concatenate([[0.0], np.cumsum(a.monthly_usd)])
    assert a.cumulative_usd[0] == 0.0 and s.api.months_to_production == 0.5  # integration over its half month
    assert a.cumulative_usd[1] == pytest.approx(s.api.integration_usd + api_running[1], rel=1e-12)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_curves_rise_to_the_total_and_parts_are_the_one_time(path):
    c = planner.compare(planner.load_scenario(path))
    for o in c.options.values():
        if not o.available:
            continue
        cum = np.asarray(o.cumulative_usd)
        assert len(cum) == c.horizon_months + 1
        assert np.all(np.diff(cum) >= 0), o.key
        assert cum[-1] == pytest.approx(o.total_usd.p50, rel=1e-12), o.key
        assert sum(float(x.usd) for x in c.cost_models[o.key].spends) == pytest.approx(o.one_time_usd.p50, rel=1e-12)


def test_spend_after_the_horizon_counts_at_its_end():
    """A horizon shorter than the programme: its total is unchanged, the rest lands in the last month."""
    s = planner.load_scenario(ROOT / "examples" / "frontier_lab.toml")
    short = s.replace(workload=s.workload.with_(horizon_months=6))
    o = planner.compare(short).options["scratch"]
    cum = np.asarray(o.cumulative_usd)
    assert cum[-1] == pytest.approx(o.total_usd.p50, rel=1e-12) and np.all(np.diff(cum) >= 0)
    step = np.diff(cum)
    assert step[-1] > 3 * step[-2]  # the programme still to pay after month 6, counted at month 6


@pytest.mark.parametrize("trends", [{"prices": "none"}, {"api_decline_per_year": 0.1, "gpu_decline_per_year": 0.3}])
def test_monte_carlo_crossings_use_the_same_schedule(trends):
    """At the scenario's point values the Monte Carlo engine's crossing months are compare()'s, prices frozen
    or falling (the engine keeps compare()'s price trends)."""
    s = planner.load_scenario(ROOT / "examples" / "frontier_lab.toml")
    s = s.replace(scratch=dataclasses.replace(s.scratch, researchers=5.0),  # a cheaper programme to cross
                  trends=dataclasses.replace(s.trends, **trends))
    c = planner.compare(s)
    _, _, pairs = chunk_results(Engine(s, c), {}, 1)
    crossed = 0
    for be in c.break_evens:
        got = pairs[(be.a, be.b)][0]
        if be.crossing_month is None:
            assert np.isnan(got)
        else:
            crossed += 1
            assert got == pytest.approx(be.crossing_month, rel=1e-9)
    assert crossed


@pytest.mark.parametrize("path, value", [("api.integration_usd", [0.0, 2e6]), ("scratch.prep_months", [1.0, 9.0]),
                                         ("self_host.setup_months", [0.0, 5.0]), ("efficiency.gemm", [0.3, 0.7])])
def test_monte_carlo_curves_end_at_each_samples_total(frontier, path, value):
    """Each sample's one-time spends are rebuilt from its inputs: its curve ends at its total."""
    s, c = frontier
    costs, _ = Engine(s, c).evaluate({path: np.array(value)})
    for key, (one, monthly, spends) in costs.items():
        end = np.broadcast_to(cumulative(spends, monthly), (2, len(c.requests_per_month) + 1))[:, -1]
        assert np.allclose(end, np.ravel(one + monthly.sum(axis=-1, keepdims=True)), rtol=1e-12), key


def test_when_a_cost_is_paid_moves_the_crossings_it_spans():
    """$480 paid at month 0, or evenly over 24 months, against an option with $100 up front: spread, A is the
    cheaper one until month 10 (30t = 100 + 20t); once it is all paid both curves meet again at month 38."""
    lump = cumulative((Spend("x", 480.0, 0.0, 0.0),), np.full(48, 10.0))
    spread = cumulative((Spend("x", 480.0, 0.0, 24.0),), np.full(48, 10.0))
    b = cumulative((Spend("y", 100.0, 0.0, 0.0),), np.full(48, 20.0))
    assert crossing_month(b, spread) == pytest.approx(10.0) and crossing_month(b, lump) is None
    assert np.all(lump[:38] > b[:38])  # paid up front, A costs more from the start
    assert crossing_month(spread, b) == pytest.approx(38.0) == crossing_month(lump, b)


spends = st.lists(st.builds(lambda usd, a, w: Spend("x", usd, a, a + w), st.floats(0, 1e9), st.floats(0, 80),
                            st.one_of(st.just(0.0), st.just(5e-324), st.floats(0, 40))), max_size=6)


@fuzz_settings(200)
@given(spends, st.lists(st.floats(0, 1e8), min_size=1, max_size=60))
def test_schedule_is_non_negative_and_sums_to_the_total(items, monthly):
    per = spend_schedule(items, monthly)
    cum = cumulative(items, monthly)
    total = sum(x.usd for x in items) + sum(monthly)
    assert per.shape == (len(monthly) + 1,) and np.all(per >= -1e-6 * max(total, 1.0))
    assert np.all(np.diff(cum) >= -1e-6 * max(total, 1.0))
    assert cum[-1] == pytest.approx(total, rel=1e-9, abs=1e-6)


def test_schedule_broadcasts_over_samples():
    """The Monte Carlo engine passes one row per sample: each row is the scalar schedule."""
    usd, start = np.array([[100.0], [200.0]]), np.array([[0.0], [2.5]])
    rows = spend_schedule((Spend("x", usd, start, start + 3.0),), np.ones((2, 6)))
    for i in range(2):
        one = spend_schedule((Spend("x", float(usd[i, 0]), float(start[i, 0]), float(start[i, 0]) + 3.0),), np.ones(6))
        assert np.allclose(rows[i], one)


def test_a_phase_shorter_than_float_resolution_is_a_step():
    """prep_months = 5e-324 (a valid input): no overflow warning (warnings are errors here), paid by month 1."""
    cum = cumulative((Spend("x", 5.0, 0.0, 5e-324),), np.ones(3))
    assert cum.tolist() == [0.0, 6.0, 7.0, 8.0]
