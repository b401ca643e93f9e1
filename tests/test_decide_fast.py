"""The decide layer's fast paths (issue 23) give numpy's answer to the bit: the break-even search's TotalCost
against the formula evaluated whole, the scalar any/all checks against numpy's, price_factor on a number and
on an array."""
from pathlib import Path

import numpy as np
import pytest

import planner
from planner.core import npfast as nf
from planner.decide.compare import _peak_to_mean
from planner.decide.costmodel import monthly_costs, price_factor, traffic_grid
from planner.decide.totals import TotalCost
from planner.estimate.workload import requests_per_month

EXAMPLES = sorted(Path(__file__).parent.parent.joinpath("examples").glob("*.toml"))
LEVELS = np.array([1.0, 37.5, 4e3, 2.5e5, 1e8])


def _whole_formula(model, levels, w, bridge):
    """total = one-time + the monthly costs summed, every month-only factor computed inside the call."""
    months = np.arange(w.horizon_months, dtype=float)
    requests = requests_per_month(np.asarray(levels, dtype=float)[..., None], w.monthly_growth, months)
    return model.one_time_usd + monthly_costs(model, requests, months, _peak_to_mean(w), bridge).sum(axis=-1)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
@pytest.mark.parametrize("bridged", [True, False])
def test_total_cost_hoisted_equals_the_whole_formula_to_the_bit(path, bridged):
    s = planner.load_scenario(path)
    c = planner.compare(s)
    bridge = c.bridge if bridged else None
    for model in c.cost_models.values():
        cost = TotalCost(model, growth=s.workload.monthly_growth, horizon_months=s.workload.horizon_months,
                         peak_to_mean=_peak_to_mean(s.workload), bridge=bridge)
        for levels in (LEVELS, LEVELS[2:3], traffic_grid()):
            np.testing.assert_array_equal(cost(levels), _whole_formula(model, levels, s.workload, bridge))
        assert cost(LEVELS[3:4])[0] == cost(LEVELS)[3]  # nothing carried over from one call to the next


@pytest.mark.parametrize("x", [0, 1, -1, 0.0, 0.5, -0.5, 1e-300, -1.0, 2.0])
@pytest.mark.parametrize("bound", [-1.0, 0, 0.0, 1.0])
def test_scalar_checks_answer_as_numpy(x, bound):
    assert nf.any_(x) == bool(np.any(x))
    assert nf.any_above(x, bound) == bool(np.any(np.asarray(x) > bound))
    assert nf.all_above(x, bound) == bool(np.all(np.asarray(x) > bound))
    arr = np.array([x, bound + 1.0])
    assert nf.all_above(arr, bound) == bool(np.all(arr > bound)) and nf.any_(arr) == bool(np.any(arr))


@pytest.mark.parametrize("decline", [0.0, 0.2, -0.3, 0.999, 1.0, 1.5])
@pytest.mark.parametrize("term", [0.0, 12.0])
def test_price_factor_on_a_number_equals_on_an_array(decline, term):
    months = np.arange(36, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):  # decline >= 1: a base <= 0, the power's nan/0 path
        on_number = price_factor(decline, months, term)
        on_array = price_factor(np.asarray(decline), months, np.asarray(term))
    np.testing.assert_array_equal(on_number, on_array)


def test_the_default_grid_is_shared_read_only_and_geometric():
    grid = traffic_grid()
    np.testing.assert_array_equal(grid, np.geomspace(1.0, 1e10, 400))
    assert traffic_grid() is grid and not grid.flags.writeable
    np.testing.assert_array_equal(traffic_grid(1.0, 1e6, 50), np.geomspace(1.0, 1e6, 50))
