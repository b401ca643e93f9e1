"""Uncertain inputs and the Monte Carlo: distributions, parity with compare(), probabilities, seeds, errors."""
import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest

from planner.decide.compare import compare
from planner.decide.distributions import (EFFICIENCY_INPUTS, INPUTS, Distribution, parse_distribution, parse_uncertainty,
                                   triangular_from_band)
from planner.calibration.efficiency import DEFAULTS
from planner.core.band import Band
from planner.core.errors import InputError, PlannerError
from planner.decide.scenario import load_scenario, loads_scenario
from planner.uncertainty import programme
from planner.uncertainty.montecarlo import Engine, crossing_months, monte_carlo

EXAMPLES = sorted(Path(__file__).resolve().parents[1].glob("examples/*.toml"))
N_STATS = 200_000


def points_at_p50(s):
    """The scenario with its own uncertainty dropped, the efficiencies, the price trends and the programme's bands
    (and the pretraining run's overhead factor, which a scenario cannot pin) at p50: every input a point."""
    s = s.replace(uncertainty={})
    s = s.replace(programme=dataclasses.replace(s.programme, **{
        f.name: s.programme.band(f.name)[0].p50 for f in dataclasses.fields(s.programme)}))
    base = Engine(s).base
    pinned = (*EFFICIENCY_INPUTS, "trends.api_decline_per_year", "trends.gpu_decline_per_year")
    return s.replace(uncertainty={p: {"dist": "point", "value": base[p]} for p in pinned})


def crossing_scenario():
    """Self-hosting costs more up front but less per month: the cumulative curves cross mid-horizon."""
    s = load_scenario(EXAMPLES[0].parent / "code_completion.toml")
    return s.replace(workload=s.workload.with_(requests_per_day=1e7), scratch=s.scratch.__class__(enabled=False))


# --- distributions: sample statistics match the parameters --------------------------------------------------

@pytest.mark.parametrize("table, mean, quantiles", [
    ({"dist": "uniform", "low": 2.0, "high": 6.0}, 4.0, {0.1: 2.4, 0.5: 4.0, 0.9: 5.6}),
    ({"dist": "range", "low": 2.0, "high": 6.0}, 4.0, {0.1: 2.4, 0.5: 4.0, 0.9: 5.6}),
    # triangular(0, 1, 4): F(1) = 1/4; p50 = 4 - sqrt(0.5 * 4 * 3) = 4 - sqrt(6)
    ({"dist": "triangular", "low": 0.0, "mode": 1.0, "high": 4.0}, 5 / 3, {0.25: 1.0, 0.5: 4 - math.sqrt(6)}),
    ({"dist": "lognormal", "median": 100.0, "sigma": 0.5}, 100 * math.exp(0.125),
     {0.5: 100.0, 0.9: 100 * math.exp(0.5 * 1.2815515655446004)}),
    ({"dist": "lognormal", "p10": 10.0, "p90": 1000.0}, None, {0.1: 10.0, 0.5: 100.0, 0.9: 1000.0}),
])
def test_sample_statistics_match_parameters(table, mean, quantiles):
    d = parse_distribution("x", table)
    x = d.sample(np.random.default_rng(0), N_STATS)
    if mean is not None:
        assert d.mean == pytest.approx(mean, rel=1e-12)
        assert x.mean() == pytest.approx(mean, rel=0.01)
    for q, v in quantiles.items():
        assert d.ppf(q) == pytest.approx(v, rel=1e-9)
        assert np.quantile(x, q) == pytest.approx(v, rel=0.02)


def test_point_and_zero_width_distributions_are_points():
    for table in ({"dist": "point", "value": 3.0}, {"dist": "uniform", "low": 3.0, "high": 3.0},
                  {"dist": "lognormal", "median": 3.0, "sigma": 0.0}):
        d = parse_distribution("x", table)
        assert d.kind == "point"
        assert np.all(d.sample(np.random.default_rng(1), 10) == 3.0)


@pytest.mark.parametrize("attr", ["gemm", "memory"])
def test_efficiency_defaults_are_triangular_matching_the_band(attr):
    band = getattr(DEFAULTS, attr)
    d = triangular_from_band(band, "test")
    assert d.kind == "triangular" and 0 < d.low <= d.mode <= d.high <= 1
    assert d.ppf(np.array([0.1, 0.5, 0.9])) == pytest.approx([band.p10, band.p50, band.p90], rel=1e-6)
    x = d.sample(np.random.default_rng(2), N_STATS)
    assert np.quantile(x, [0.1, 0.5, 0.9]) == pytest.approx([band.p10, band.p50, band.p90], rel=0.01)


def test_engine_defaults_efficiencies_with_sources():
    e = Engine(load_scenario(EXAMPLES[0]))
    for path in EFFICIENCY_INPUTS:
        assert e.uncertain[path].kind == "triangular"
        assert e.uncertain[path].source  # cites where the Band comes from


# --- validation -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("path, table, words", [
    ("self_host.usd_per_gpu_hour", {"dist": "uniform", "low": 5.0, "high": 2.0}, "above high"),
    ("self_host.usd_per_gpu_hour", {"dist": "range", "low": 5.0, "high": 2.0}, "above high"),
    ("workload.requests_per_day", {"dist": "lognormal", "median": 1e4, "sigma": -0.5}, "sigma"),
    ("workload.requests_per_day", {"dist": "lognormal", "median": 0.0, "sigma": 0.5}, "median"),
    ("workload.requests_per_day", {"dist": "lognormal", "p10": 10.0, "p90": 5.0}, "above p90"),
    ("api.price_scale", {"dist": "triangular", "low": 0.5, "mode": 2.0, "high": 1.5}, "outside"),
    ("api.price_scale", {"dist": "gaussian", "mean": 1.0}, "unknown dist"),
    ("api.price_scale", {"dist": "uniform", "low": 0.5}, "high"),
    ("api.price_scale", {"dist": "uniform", "low": 0.5, "high": 1.0, "mode": 0.7}, "unexpected"),
    ("api.price_scale", 1.5, "inline table"),
    ("efficiency.gemm", {"dist": "uniform", "low": 0.3, "high": 1.2}, "fraction"),
    ("efficiency.gemm", {"dist": "lognormal", "median": 0.4, "sigma": 0.1}, "fraction"),
    ("efficiency.train_mfu", {"dist": "uniform", "low": 0.3, "high": 0.5}, "replaced by 'efficiency.gemm'"),
    ("workload.requests_per_day", {"dist": "uniform", "low": -5.0, "high": 10.0}, "> 0"),
    ("workload.request_per_day", {"dist": "point", "value": 1.0}, "workload.requests_per_day"),
])
def test_bad_distributions_name_the_input(path, table, words):
    with pytest.raises(InputError) as e:
        parse_uncertainty({path: table})
    assert e.value.field == path
    assert path in str(e.value) and words in str(e.value)


def test_bad_distribution_refused_at_load_and_by_monte_carlo():
    text = '[uncertainty]\n"self_host.usd_per_gpu_hour" = {dist = "triangular", low = 2, mode = 9, high = 4}\n'
    with pytest.raises(PlannerError, match="self_host.usd_per_gpu_hour.*mode"):
        loads_scenario(text)
    with pytest.raises(InputError, match="api.price_scale"):  # refused when the Scenario is built
        load_scenario(EXAMPLES[0]).replace(uncertainty={"api.price_scale": {"dist": "lognormal", "median": -1,
                                                                            "sigma": 1}})


def test_toml_dotted_and_quoted_keys():
    text = ('[uncertainty]\nworkload.requests_per_day = {dist = "lognormal", p10 = 1e3, p90 = 1e5, relative = false}\n'
            '"api.price_scale" = {dist = "range", low = 0.5, high = 1.0}\n')
    d = parse_uncertainty(loads_scenario(text).uncertainty)
    assert set(d) == {"workload.requests_per_day", "api.price_scale"}
    assert d["api.price_scale"].kind == "uniform"


# --- the Monte Carlo ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("path", EXAMPLES + ["crossing"], ids=lambda p: getattr(p, "stem", p))
def test_degenerate_distribution_reproduces_compare_exactly(path, monkeypatch):
    monkeypatch.setattr(programme, "RUN_OVERHEAD", Band.point(programme.RUN_OVERHEAD.p50))  # not a scenario setting
    s = crossing_scenario() if path == "crossing" else load_scenario(path)
    s = points_at_p50(s)
    c, r = compare(s), monte_carlo(s, n=1000)
    assert not r.inputs
    for k in r.options:
        o = c.options[k]
        for q in ("p10", "p50", "p90"):
            assert getattr(r.total_usd[k], q) == pytest.approx(o.total_usd.p50, rel=1e-9, abs=0)
        assert r.usd_per_request[k].p50 == pytest.approx(o.all_in_usd_per_request, rel=1e-9, abs=0)
    for be in c.break_evens:
        if r.reference in (be.a, be.b):
            got = r.break_even_months[be.b if be.a == r.reference else be.a]
            if be.crossing_month is None:
                assert got.month is None and got.never_fraction == 1.0
            else:
                assert got.month.p50 == pytest.approx(be.crossing_month, rel=1e-9)
                assert got.never_fraction == 0.0


def test_crossing_scenario_crosses():
    c = compare(points_at_p50(crossing_scenario()))
    assert any(be.crossing_month is not None for be in c.break_evens)


# Field inputs that compare() reads directly: the engine must give compare()'s totals with the field changed.
FIELD_CHANGES = [("workload", "requests_per_day", 2.5e6), ("workload", "monthly_growth", 0.05),
                 ("workload", "peak_to_mean", 3.0), ("api", "integration_usd", 50_000.0),
                 ("self_host", "usd_per_gpu_hour", 1.7), ("self_host", "finetune_epochs", 5.0),
                 ("self_host", "finetune_tokens", 9e7), ("self_host", "utilization_ceiling", 0.5),
                 ("self_host", "ops_engineers", 2.5), ("self_host", "setup_months", 4.0),
                 ("self_host", "evaluation_usd", 1e5), ("scratch", "researchers", 3.0), ("scratch", "months", 7.0),
                 ("scratch", "prep_months", 9.0), ("scratch", "evaluation_usd", 1.0), ("costs", "usd_per_engineer_year", 2e5)]


@pytest.mark.parametrize("section, name, value", FIELD_CHANGES, ids=[f"{a}.{b}" for a, b, _ in FIELD_CHANGES])
def test_engine_matches_compare_for_each_field_input(section, name, value):
    import dataclasses
    s = points_at_p50(crossing_scenario().replace(scratch=load_scenario(EXAMPLES[0]).scratch))
    changed = s.replace(**{section: dataclasses.replace(getattr(s, section), **{name: value})})
    want = compare(changed)
    got = Engine(s).totals({f"{section}.{name}": np.array([value])}, 1)[0]
    for i, k in enumerate(Engine(s).keys):
        assert got[i] == pytest.approx(want.options[k].total_usd.p50, rel=1e-9), k


def test_prob_cheapest_sums_to_one_over_available_options():
    for path in EXAMPLES:
        s = load_scenario(path).replace(uncertainty={
            "self_host.usd_per_gpu_hour": {"dist": "triangular", "low": 0.5, "mode": 2.0, "high": 8.0, "relative": False},
            "workload.requests_per_day": {"dist": "lognormal", "median": 3e5, "sigma": 1.5, "relative": False}})
        r = monte_carlo(s, n=20_000)
        c = compare(s)
        assert set(r.prob_cheapest) == {k for k, o in c.options.items() if o.available}
        assert sum(r.prob_cheapest.values()) == pytest.approx(1.0, abs=1e-12)
        assert all(0 <= p <= 1 for p in r.prob_cheapest.values())


def test_prob_cheapest_matches_samples_and_ties_go_to_the_first_option():
    s = points_at_p50(crossing_scenario())
    r = monte_carlo(s, n=5000, seed=3)
    winners = np.argmin(r.samples_usd, axis=1)
    assert r.prob_cheapest[r.options[0]] == pytest.approx(np.mean(winners == 0))
    tie = np.array([[1.0, 1.0], [2.0, 1.0]])
    assert list(np.argmin(tie, axis=1)) == [0, 1]  # the rule monte_carlo relies on


def test_seeded_runs_are_identical():
    s = load_scenario(EXAMPLES[0]).replace(uncertainty={
        "workload.requests_per_day": {"dist": "lognormal", "sigma": 0.8}})
    a, b = monte_carlo(s, n=30_000), monte_carlo(s, n=30_000, seed=s.seed)
    assert a.to_dict() == b.to_dict() and np.array_equal(a.samples_usd, b.samples_usd)
    c = monte_carlo(s, n=30_000, seed=s.seed + 1)
    assert not np.array_equal(a.samples_usd, c.samples_usd)


def test_input_streams_are_independent_of_other_inputs():
    s = load_scenario(EXAMPLES[0])
    one = Engine(s.replace(uncertainty={"api.price_scale": {"dist": "uniform", "low": 0.5, "high": 1.5}}))
    two = Engine(s.replace(uncertainty={"api.price_scale": {"dist": "uniform", "low": 0.5, "high": 1.5},
                                        "workload.monthly_growth": {"dist": "uniform", "low": 0.0, "high": 0.1,
                                                                    "relative": False}}))
    assert np.array_equal(one.sample(100, 5)["api.price_scale"], two.sample(100, 5)["api.price_scale"])


def test_result_views():
    r = monte_carlo(crossing_scenario(), n=5000)
    json.dumps(r.to_dict())
    f = r.summary_frame()
    assert list(f.index) == list(r.options)
    assert f["prob_cheapest"].sum() == pytest.approx(1.0)
    assert (f["total_usd_p10"] <= f["total_usd_p50"]).all() and (f["total_usd_p50"] <= f["total_usd_p90"]).all()
    assert r.samples_frame().shape == (5000, len(r.options))
    assert set(r.inputs_frame().index) == set(r.inputs)


def test_price_scale_scales_api_cost():
    s = load_scenario(EXAMPLES[0])
    e = Engine(s)
    base, doubled = e.totals({}, 1)[0], e.totals({"api.price_scale": np.array([2.0])}, 1)[0]
    api = e.keys.index("api")
    one_time = s.api.integration_usd
    assert doubled[api] - one_time == pytest.approx(2 * (base[api] - one_time), rel=1e-12)


def test_lower_gemm_efficiency_costs_more_one_time_and_takes_longer():
    """Only one-time cost and time to production: a later launch can lower the total when the API bridge is cheaper."""
    e = Engine(load_scenario(EXAMPLES[0]))
    v = {"efficiency.gemm": np.array([0.3, 0.7])}
    costs, _ = e.evaluate(v)
    api_one_time = costs["api"][0]
    assert np.ndim(api_one_time) == 0 or np.all(api_one_time == api_one_time.flat[0])
    for key in ("self_host", "scratch"):
        one_time = np.ravel(costs[key][0])
        assert one_time[0] > one_time[1]
        ttp = np.ravel(e._fleet(key, {**e.base, **{k: x[:, None] for k, x in v.items()}}).months_to_production)
        assert ttp[0] > ttp[1]


def test_crossing_months_matches_scalar_version():
    from planner.decide.costmodel import crossing_month
    rng = np.random.default_rng(0)
    a, b = np.cumsum(rng.normal(size=(200, 8)), axis=1), np.cumsum(rng.normal(size=(200, 8)), axis=1)
    got = crossing_months(a, b)
    for i in range(200):
        want = crossing_month(a[i], b[i])
        want = crossing_month(b[i], a[i]) if want is None else want
        assert (math.isnan(got[i]) and want is None) or got[i] == pytest.approx(want)


def test_bad_n():
    with pytest.raises(InputError, match="n"):
        monte_carlo(load_scenario(EXAMPLES[0]), n=0)


def test_every_input_has_a_known_domain():
    assert {s.domain for s in INPUTS.values()} <= {"positive", "nonneg", "fraction", "decline"}
    assert Distribution.point(2.0).band().p50 == 2.0
