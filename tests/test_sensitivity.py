"""Tornado and break-even frontier: the decisive input is found, the grid agrees with compare()."""
import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from planner.decide.compare import compare
from planner.decide.distributions import EFFICIENCY_INPUTS
from planner.core.errors import InputError
from planner.decide.scenario import load_scenario
from planner.uncertainty.sensitivity import frontier, tornado
from planner.uncertainty.montecarlo import Engine

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def gpu_price_decides():
    """API vs self-host within a few percent; the GPU price is very uncertain, the rest nearly certain."""
    s = load_scenario(EXAMPLES / "code_completion.toml")
    s = s.replace(scratch=dataclasses.replace(s.scratch, enabled=False),
                  trends=dataclasses.replace(s.trends, prices="none"))  # prices as today: no trend to sample
    base = Engine(s).base
    unc = {p: {"dist": "triangular", "low": base[p] * 0.99, "mode": base[p], "high": base[p] * 1.01}
           for p in EFFICIENCY_INPUTS}
    unc["self_host.usd_per_gpu_hour"] = {"dist": "uniform", "low": 0.5, "high": 10.0, "relative": False}
    unc["api.integration_usd"] = {"dist": "uniform", "low": 5_000.0, "high": 20_000.0, "relative": False}
    return s.replace(uncertainty=unc)


def test_tornado_largest_bar_is_the_input_that_flips_the_winner():
    t = tornado(gpu_price_decides())
    assert t.index[0] == "self_host.usd_per_gpu_hour"
    assert bool(t.loc["self_host.usd_per_gpu_hour", "flips"])
    assert not t.drop(index="self_host.usd_per_gpu_hour")["flips"].any()
    assert list(t["swing_usd"]) == sorted(t["swing_usd"], reverse=True)
    assert {t.attrs["recommended"], t.attrs["runner_up"]} == {"api", "self_host"}
    row = t.loc["self_host.usd_per_gpu_hour"]
    assert row["swing_usd"] == pytest.approx(abs(row["gap_at_p90_usd"] - row["gap_at_p10_usd"]))
    assert row["p10_value"] == pytest.approx(0.5 + 0.1 * 9.5)


def test_tornado_gap_matches_compare_at_an_end():
    """The P90 row of an input equals compare() with that field at its P90 (others at P50 = scenario values)."""
    s = gpu_price_decides()
    s_points = s.replace(uncertainty={p: {"dist": "point", "value": Engine(s).base[p]} for p in EFFICIENCY_INPUTS}
                         | {"api.integration_usd": {"dist": "uniform", "low": 5_000.0, "high": 15_000.0,
                                                   "relative": False}})
    t = tornado(s_points, inputs=["api.integration_usd"])
    c = compare(s_points.replace(api=dataclasses.replace(s.api, integration_usd=14_000.0),
                                 uncertainty={}))  # P90 of uniform(5k, 15k)
    rec, run = t.attrs["recommended"], t.attrs["runner_up"]
    gap = c.options[run].total_usd.p50 - c.options[rec].total_usd.p50
    assert t.loc["api.integration_usd", "gap_at_p90_usd"] == pytest.approx(gap, rel=1e-9)


def test_tornado_unknown_input():
    with pytest.raises(InputError, match="workload.requests_per_day"):
        tornado(gpu_price_decides(), inputs=["workload.request_per_day"])


def test_frontier_grid_matches_compare():
    s = gpu_price_decides()
    s = s.replace(uncertainty={p: {"dist": "point", "value": Engine(s).base[p]} for p in EFFICIENCY_INPUTS})
    xs, ys = [1e4, 3e5, 1e6, 3e6], [1.0, 2.0, 6.0]
    f = frontier(s, x_values=xs, y_values=ys)
    assert f.winner.shape == (3, 4) and f.frame().shape == (3, 4)
    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            c = compare(s.replace(workload=s.workload.with_(requests_per_day=x),
                                  self_host=dataclasses.replace(s.self_host, usd_per_gpu_hour=y)))
            totals = {k: o.total_usd.p50 for k, o in c.options.items() if o.available}
            assert f.winner[i, j] == min(totals, key=totals.get)
            for k, v in totals.items():
                assert f.totals_usd[k][i, j] == pytest.approx(v, rel=1e-9)
    json.dumps(f.to_dict())
    assert len(f.long_frame()) == 12


def test_frontier_cheap_gpus_and_high_traffic_favour_self_hosting():
    f = frontier(gpu_price_decides(), x_values=np.geomspace(1e3, 1e8, 30), y_values=[0.5, 2.0, 10.0])
    assert f.winner[0, 0] == "api"  # little traffic: the fleet's minimum replicas cost more than tokens
    assert f.winner[0, -1] == "self_host"


@pytest.mark.parametrize("kwargs, path", [
    ({"x": "workload.requests_per_day", "y": "workload.requests_per_day"}, "workload.requests_per_day"),
    ({"x": "self_host.usd_per_gpu", "y": "workload.requests_per_day"}, "self_host.usd_per_gpu"),
    ({"x_values": [1.0, -2.0]}, "workload.requests_per_day"),
    ({"x": "efficiency.train_mfu", "x_values": [0.5, 1.5]}, "efficiency.train_mfu"),
])
def test_frontier_bad_inputs(kwargs, path):
    with pytest.raises(InputError) as e:
        frontier(gpu_price_decides(), **kwargs)
    assert e.value.field == path
