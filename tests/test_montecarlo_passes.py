"""The Monte Carlo's array pass (issue 23 speed work) against the plain formulas it replaces.

chunk_results takes each total from its cumulative curve's last point, sums requests in closed form,
paid_by costs spends over one phase together in place, cumulative adds the running cost a column at a
time and the fleet's monthly cost combines its per-sample factors first. Each is checked here against the
straightforward version (one + monthly.sum(), requests summed month by month, each spend's share on its
own, np.cumsum of spend_schedule), on the bundled examples' sampled inputs.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import planner
from planner.core.units import DAYS_PER_MONTH, HOURS_PER_MONTH, SECONDS_PER_DAY
from planner.decide.costmodel import Spend, _share_paid, cumulative, paid_by, spend_schedule
from planner.estimate.workload import requests_per_month
from planner.uncertainty.chunks import chunk_results, total_requests
from planner.uncertainty.montecarlo import RUN_SPEED, Engine

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_chunk_matches_the_plain_formulas(path):
    e = Engine(planner.load_scenario(path))
    n = 300
    values = e.with_run_speed(e.sample(n, 7), n)
    totals, per_request, pairs = chunk_results(e, values, n)
    costs, requests = e.evaluate(values)
    for i, (one, monthly, spends) in enumerate(costs.values()):
        plain = np.broadcast_to(np.ravel(one + monthly.sum(axis=-1, keepdims=True)), (n,))
        assert totals[:, i] == pytest.approx(plain, rel=1e-12)
        assert np.allclose(cumulative(spends, monthly), np.cumsum(spend_schedule(spends, monthly), axis=-1),
                           rtol=1e-12, atol=1e-6)
    assert per_request == pytest.approx(totals / requests.sum(axis=-1, keepdims=True), rel=1e-12)
    # the run re-timed once for all samples is what each chunk would compute for itself
    alone = {p: x for p, x in values.items() if p != RUN_SPEED}
    assert e.totals(alone, n) == pytest.approx(e.totals(values, n), rel=1e-12)


@pytest.mark.parametrize("growth", [0.0, 1e-13, 1e-7, 0.05, -0.3, 2.0])
def test_total_requests_closed_form(growth):
    months = np.arange(36)
    g = np.array([growth, 0.01, 0.0])
    plain = requests_per_month(np.array([5e4, 1.0, 3.0])[:, None], g[:, None], months).sum(axis=-1)
    assert total_requests(np.array([5e4, 1.0, 3.0]), g, months) == pytest.approx(plain, rel=1e-12)
    # months that are not 0 .. T-1: summed month by month
    odd = np.array([0.0, 2.0, 5.0])
    assert total_requests(10.0, growth, odd) == pytest.approx(requests_per_month(10.0, growth, odd).sum(), rel=1e-12)


def test_paid_by_shared_phases_equal_spends_one_at_a_time():
    """Spends sharing a phase (the same sampled array, or equal fixed months) are summed before their share is
    taken; the result is each spend's own share x usd, summed. Shapes that do not multiply in place (a (1, 1)
    start against (n, 1) costs, lumps, fixed months with sampled costs) take the general path."""
    rng = np.random.default_rng(3)
    n = 50
    start = rng.uniform(0, 10, (n, 1))
    end = start + rng.uniform(0, 8, (n, 1))
    end[:5] = start[:5]  # some lumps
    one = np.array([[2.5]])
    spends = (Spend("a", rng.uniform(1, 9, (n, 1)), start, end), Spend("b", 4.0, start, end),
              Spend("c", rng.uniform(1, 9, (n, 1)), 0.0, 3.0), Spend("d", rng.uniform(1, 9, (n, 1)), 0.0, 3.0),
              Spend("e", 7.0, 0.0, 0.0), Spend("f", rng.uniform(1, 9, (n, 1)), one, one + 4.0),
              Spend("g", 1.5, 30.0, 40.0))
    t = np.arange(25, dtype=float)
    plain = 0.0
    for s in spends:
        share = np.asarray(_share_paid(t, s.start_month, s.end_month), dtype=float)
        share[..., -1] = 1.0
        plain = plain + np.asarray(s.usd) * share
    got = paid_by(spends, 24)
    assert got.shape == (n, 25)
    assert np.allclose(got, plain, rtol=1e-12, atol=0)
    assert paid_by(spends[4:5], 24) == pytest.approx(np.full(25, 7.0))  # one fixed lump: a row


def test_fleet_monthly_matches_its_formula():
    """The fleet's monthly cost (per-sample factors combined first) against the formula written out."""
    c = planner.compare(planner.load_scenario(ROOT / "examples" / "customer_support.toml"))
    fleet = c.cost_models["self_host"]
    rng = np.random.default_rng(5)
    req = rng.uniform(1e5, 1e8, (40, 24))
    ptm = rng.uniform(1.0, 4.0, (40, 1))
    mean = req / (DAYS_PER_MONTH * SECONDS_PER_DAY)
    gpus = np.maximum(fleet.min_replicas, mean * ptm / (fleet.capacity_rps_per_replica * fleet.utilization_ceiling)) \
        * fleet.gpus_per_replica
    busy = mean / fleet.capacity_rps_per_replica * fleet.gpus_per_replica
    staff = fleet.fixed_monthly_usd if fleet.gpus_per_ops_engineer is None else \
        np.maximum(fleet.fixed_monthly_usd, gpus / fleet.gpus_per_ops_engineer * fleet.usd_per_engineer_month)
    plain = (gpus * fleet.usd_per_gpu_hour + busy * fleet.usd_per_busy_gpu_hour) * HOURS_PER_MONTH + staff
    assert fleet.monthly_usd(req, ptm) == pytest.approx(plain, rel=1e-12)
    assert float(fleet.monthly_usd(1e6, 2.0)) == pytest.approx(float(fleet.monthly_usd(np.array([1e6]), 2.0)[0]))
