"""The fine-tune's GPU and GPU count, set in the scenario instead of the serving GPU at the fewest that fit."""
import dataclasses
from pathlib import Path

import numpy as np
import pytest

import planner
from planner.core.errors import InputError, UnknownNameError
from planner.decide.scenario import dumps_scenario, loads_scenario
from planner.uncertainty.montecarlo import Engine

ROOT = Path(__file__).resolve().parent.parent
BASE = planner.load_scenario(ROOT / "examples" / "customer_support.toml")


def with_finetune(**changes) -> planner.Scenario:
    return BASE.replace(self_host=dataclasses.replace(BASE.self_host, **changes),
                        scratch=dataclasses.replace(BASE.scratch, enabled=False))


def test_default_is_the_serving_gpu_at_the_fewest_that_fit():
    c = planner.compare(with_finetune())
    assert c.finetune.gpu == BASE.self_host.gpu and c.finetune.n_gpus == c.finetune.min_gpus


def test_another_gpu_is_rented_on_demand_at_its_catalog_price():
    s = with_finetune(finetune_gpu="A100 80GB SXM", sourcing="reserved-1y")
    c = planner.compare(s)
    rate = c.rates["self_host_training"]
    assert c.finetune.gpu == "A100 80GB SXM" and rate.gpu == "A100 80GB SXM" and rate.sourcing == "on-demand"
    assert rate.usd_per_gpu_hour == planner.gpu("A100 80GB SXM").usd_per_gpu_hour
    assert c.rates["self_host"].sourcing == "reserved-1y"  # the serving fleet keeps its own sourcing
    assert c.options["self_host"].breakdown["fine-tuning compute"] == pytest.approx(
        c.finetune.gpu_hours.p50 * planner.gpu("A100 80GB SXM").usd_per_gpu_hour, rel=1e-9)


def test_the_count_is_used_and_costs_the_hours_it_runs():
    few, many = (planner.compare(with_finetune(finetune_n_gpus=n)).finetune for n in (1, 8))
    assert (few.n_gpus, many.n_gpus) == (1, 8)
    assert many.wall_days.p50 < few.wall_days.p50  # more GPUs finish sooner


def test_a_count_too_small_to_fit_is_a_clear_error():
    with pytest.raises(InputError) as e:
        planner.compare(with_finetune(finetune_gpu="L4", finetune_method="full", finetune_n_gpus=1))
    assert e.value.field == "self_host.finetune_n_gpus" and "too few" in str(e.value) and "L4" in str(e.value)


@pytest.mark.parametrize("change, field", [({"finetune_n_gpus": 0}, "finetune_n_gpus"),
                                           ({"finetune_n_gpus": 2.5}, "finetune_n_gpus"),
                                           ({"finetune_gpu": ""}, "finetune_gpu")])
def test_bad_values_name_the_field(change, field):
    with pytest.raises(InputError, match=f"self_host.{field}"):
        dataclasses.replace(BASE.self_host, **change)


def test_an_unknown_gpu_lists_close_names():
    with pytest.raises(UnknownNameError, match="A100"):
        planner.compare(with_finetune(finetune_gpu="A100 80GB SMX"))


def test_round_trip_and_monte_carlo_at_the_point_values():
    s = with_finetune(finetune_gpu="A100 80GB SXM", finetune_n_gpus=2)
    assert loads_scenario(dumps_scenario(s)) == s
    c, e = planner.compare(s), Engine(s)
    got = e.totals({}, 1)[0]
    for i, k in enumerate(e.keys):
        assert got[i] == pytest.approx(c.options[k].total_usd.p50, rel=1e-9), k
    twice = e.totals({"self_host.usd_per_gpu_hour": np.array([2 * c.rates["self_host"].on_demand_usd_per_gpu_hour])}, 1)
    assert twice[0][e.keys.index("self_host")] > got[e.keys.index("self_host")]
