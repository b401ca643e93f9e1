"""[uncertainty] entries relative to the scenario's own values: the spread follows an edit of the point value."""
import dataclasses
from pathlib import Path

import numpy as np
import pytest

from planner.core.errors import InputError
from planner.decide.distributions import EFFICIENCY_INPUTS, INPUTS, parse_distribution, parse_uncertainty
from planner.decide.scenario import dumps_scenario, load_scenario, loads_scenario
from planner.uncertainty.montecarlo import Engine, monte_carlo

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BASE = load_scenario(EXAMPLES / "customer_support.toml")
SCALES = ("api.price_scale", "scratch.compute_price_scale")  # multipliers: their scenario value is 1 by definition

# Each input that has a point value in the scenario: (a new value for it, the relative entry that varies it).
# A fraction's relative entry stays at or below x1, so it cannot pass 1 at any point value.
LOGNORMAL = {"dist": "lognormal", "sigma": 0.3}
EDITS = {
    "workload.requests_per_day": (3e6, LOGNORMAL),
    "workload.monthly_growth": (0.07, {"dist": "triangular", "low": 0.0, "mode": 1.0, "high": 2.5}),
    "workload.peak_to_mean": (4.0, {"dist": "uniform", "low": 0.8, "high": 1.25}),
    "api.integration_usd": (50_000.0, LOGNORMAL),
    "self_host.usd_per_gpu_hour": (2.0, {"dist": "uniform", "low": 0.5, "high": 1.13}),
    "self_host.finetune_epochs": (5.0, LOGNORMAL),
    "self_host.finetune_tokens": (80e6, LOGNORMAL),
    "self_host.utilization_ceiling": (0.6, {"dist": "triangular", "low": 0.7, "mode": 1.0, "high": 1.0,
                                            "relative": True}),
    "self_host.ops_engineers": (3.0, {"dist": "triangular", "low": 0.5, "mode": 1.0, "high": 1.5}),
    "self_host.setup_months": (4.0, LOGNORMAL),
    "self_host.evaluation_usd": (80_000.0, LOGNORMAL),
    "scratch.tokens": (2e12, LOGNORMAL),
    "scratch.researchers": (25.0, LOGNORMAL),
    "scratch.months": (20.0, LOGNORMAL),
    "scratch.prep_months": (6.0, LOGNORMAL),
    "scratch.evaluation_usd": (300_000.0, LOGNORMAL),
    "costs.usd_per_engineer_year": (250_000.0, LOGNORMAL),
    "trends.api_decline_per_year": (0.3, {"dist": "uniform", "low": 0.8, "high": 1.2, "relative": True}),
    "trends.gpu_decline_per_year": (0.4, {"dist": "triangular", "low": 0.5, "mode": 1.0, "high": 1.5,
                                          "relative": True}),
    "trends.residual_loss_per_year": (0.4, {"dist": "uniform", "low": 0.8, "high": 1.2, "relative": True}),
    "trends.successor_step": (0.35, {"dist": "uniform", "low": 0.8, "high": 1.2, "relative": True}),
}
# Owned hardware's resale curve has a value only for an owned fleet whose successor ships within the horizon.
OWNED = {"trends.residual_loss_per_year", "trends.successor_step"}


def test_every_input_with_a_scenario_value_is_covered():
    """A new uncertain input must say here how its point value is edited (else this test fails)."""
    assert set(EDITS) == set(INPUTS) - set(SCALES) - set(EFFICIENCY_INPUTS)


def with_value(s, path: str, value: float):
    section, _, name = path.partition(".")
    if section == "workload":
        return s.replace(workload=s.workload.with_(**{name: value}))
    return s.replace(**{section: dataclasses.replace(getattr(s, section), **{name: value})})


@pytest.mark.parametrize("path", sorted(EDITS))
def test_changing_the_point_value_moves_the_monte_carlo_median(path):
    value, entry = EDITS[path]
    s = BASE.replace(workload=BASE.workload.with_(requests_per_day=1e6),  # busy: peak and utilisation size the fleet
                     uncertainty={path: entry})
    if path in OWNED:
        s = s.replace(self_host=dataclasses.replace(s.self_host, sourcing="owned"),
                      trends=dataclasses.replace(s.trends, successor="B200", successor_launch="2027-06"))
    before = monte_carlo(s, n=2000)
    edited = with_value(s, path, value)
    after = monte_carlo(edited, n=2000)
    centre = Engine(s).base[path]
    assert centre != pytest.approx(value)
    for run, at in ((before, centre), (after, value)):
        d = run.inputs[path]
        assert d.around == pytest.approx(at, rel=1e-12)  # centred on this scenario's own value
        assert d.ppf(0.5) == pytest.approx(at * entry_median(entry), rel=1e-9)
    assert before.total_usd != after.total_usd  # and the costs follow


def entry_median(entry: dict) -> float:
    """The multiplier at the median of a relative entry (a relative lognormal without a median: 1)."""
    return float(parse_distribution("x", {**entry, "relative": True}).ppf(0.5))


def test_relative_is_the_default_and_absolute_must_be_asked_for():
    rel = parse_uncertainty({"workload.requests_per_day": {"dist": "lognormal", "sigma": 0.5}})
    assert rel["workload.requests_per_day"].relative and rel["workload.requests_per_day"].median == 1.0
    ab = parse_uncertainty({"workload.requests_per_day": {"dist": "lognormal", "median": 4e4, "sigma": 0.5,
                                                          "relative": False}})
    assert not ab["workload.requests_per_day"].relative
    e = Engine(BASE.replace(workload=BASE.workload.with_(requests_per_day=1e5),
                            uncertainty={"workload.requests_per_day": {"dist": "lognormal", "median": 4e4,
                                                                       "sigma": 0.5, "relative": False}}))
    assert e.medians()["workload.requests_per_day"] == pytest.approx(4e4)  # absolute: stays where it was put
    assert not parse_uncertainty({"efficiency.gemm": {"dist": "uniform", "low": 0.3, "high": 0.5}})[
        "efficiency.gemm"].relative  # fractions are absolute unless asked


@pytest.mark.parametrize("path, table, words", [
    ("workload.requests_per_day", {"dist": "lognormal", "median": 40000, "sigma": 0.6}, "relative = false"),
    ("self_host.usd_per_gpu_hour", {"dist": "uniform", "low": 2.0, "high": 4.5}, "leaves out x1"),
    ("workload.requests_per_day", {"dist": "lognormal", "sigma": 0.5, "relative": "yes"}, "true or false"),
    ("workload.requests_per_day", {"dist": "lognormal"}, "sigma"),
    ("self_host.ops_engineers", {"dist": "uniform", "low": -0.5, "high": 2.0}, ">= 0"),
])
def test_bad_relative_entries_name_the_input(path, table, words):
    with pytest.raises(InputError) as e:
        parse_uncertainty({path: table})
    assert e.value.field == path and words in str(e.value)


def test_a_scaled_entry_past_its_bounds_is_refused_naming_it():
    s = BASE.replace(uncertainty={"self_host.utilization_ceiling": {"dist": "uniform", "low": 0.9, "high": 1.2,
                                                                    "relative": True}})
    with pytest.raises(InputError, match="self_host.utilization_ceiling.*> 1"):
        Engine(s)  # 0.95 (the plan's) x 1.2 passes 1: known only once compared
    with pytest.raises(InputError, match=r"uncertainty.workload.requests_per_day \(x.* of this scenario's"):
        BASE.replace(workload=BASE.workload.with_(requests_per_day=5e11),
                     uncertainty={"workload.requests_per_day": {"dist": "uniform", "low": 0.5, "high": 3.0}})


def test_a_spread_around_zero_is_no_spread():
    s = BASE.replace(workload=BASE.workload.with_(monthly_growth=0.0))
    e = Engine(s)
    assert s.uncertainty["workload.monthly_growth"]  # the example varies growth around its value...
    d = e.distributions["workload.monthly_growth"]
    assert d.kind == "point" and d.low == 0.0 and d.around == 0.0  # ...which is 0 here
    assert "workload.monthly_growth" not in e.uncertain


def test_examples_are_relative_and_round_trip():
    for path in sorted(EXAMPLES.glob("*.toml")):
        s = load_scenario(path)
        assert loads_scenario(dumps_scenario(s)) == s
        for p, d in parse_uncertainty(s.uncertainty).items():
            assert d.relative, f"{path.name}: {p} should be relative to the scenario's value"
        e = Engine(s)
        for p in s.uncertainty:
            assert np.isclose(e.given[p].around, e.base[p])
