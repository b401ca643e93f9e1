"""Invariants on random valid scenarios (Hypothesis): what must hold for every scenario a user can write.

- save then load gives the same scenario (None targets, unicode text and [uncertainty] included);
- every valid scenario compares, with no NaN, inf or negative cost outside an unavailable option;
- more traffic never costs less, a higher API price never costs less;
- each option's cumulative cost never falls and ends at its total;
- Monte Carlo bands are ordered (p10 <= p50 <= p90) and the same seed gives the same numbers.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import planner
from fuzzing import check_result, fuzz_settings, time_limit
from planner.uncertainty.montecarlo import Engine

TEXT = st.characters(blacklist_categories=("Cs", "Cc"))
NAME = st.text(TEXT, min_size=1, max_size=40).filter(str.strip)
DESCRIPTION = st.text(st.one_of(TEXT, st.sampled_from("\n\t")), max_size=120)


def _f(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


workloads = st.builds(
    planner.Workload, requests_per_day=_f(1.0, 1e7), input_tokens=_f(1.0, 4000), output_tokens=_f(1.0, 2000),
    prompt_overhead_tokens=_f(0.0, 3000), peak_to_mean=_f(1.0, 5.0),
    ttft_target_s=st.one_of(st.none(), _f(0.05, 10.0)), tpot_target_s=st.one_of(st.none(), _f(0.005, 0.5)),
    horizon_months=st.integers(1, 60), monthly_growth=_f(0.0, 0.2))
apis = st.builds(
    planner.ApiOption, model=st.sampled_from(["gpt-4o-mini", "gpt-4.1-mini", "gpt-4o"]), cached_prompt=st.booleans(),
    batch=st.booleans(), input_usd_per_mtok=st.one_of(st.none(), _f(0.0, 50.0)),
    output_usd_per_mtok=st.one_of(st.none(), _f(0.0, 100.0)), integration_usd=_f(0.0, 1e6),
    months_to_production=_f(0.0, 6.0))
self_hosts = st.builds(
    planner.SelfHostOption, model=st.sampled_from(["Llama-3.1-8B", "Qwen2.5-7B", "Mistral-7B-v0.1", "Llama-3.1-70B"]),
    gpu=st.sampled_from(["H100 SXM", "A100 80GB SXM", "L4", "H200 SXM"]),
    precision=st.sampled_from(["bf16", "fp8", "int8", "int4"]), usd_per_gpu_hour=st.one_of(st.none(), _f(0.5, 20.0)),
    finetune_method=st.sampled_from(["lora", "qlora", "full", "none"]), finetune_tokens=_f(1e5, 1e9),
    finetune_epochs=_f(0.5, 5.0), drops_prompt_overhead=st.booleans(), utilization_ceiling=_f(0.3, 1.0),
    min_replicas=st.integers(1, 4), ops_engineers=_f(0.0, 5.0), evaluation_usd=_f(0.0, 1e6), setup_months=_f(0.0, 6.0))
scratches = st.builds(
    planner.ScratchOption, enabled=st.booleans(), model=st.sampled_from(["Llama-3.1-8B", "Qwen2.5-7B"]),
    gpu=st.sampled_from(["H100 SXM", "H200 SXM"]), tokens=st.one_of(st.sampled_from(["match", "chinchilla"]), _f(1e9, 1e13)),
    n_gpus=st.one_of(st.none(), st.integers(8, 4096)), researchers=_f(0.0, 50.0), months=_f(0.0, 24.0),
    prep_months=_f(0.0, 12.0), evaluation_usd=_f(0.0, 1e6))
UNCERTAIN = {
    "workload.requests_per_day": st.one_of(  # absolute, or relative: centred on the scenario's own traffic
        st.builds(lambda m, s: {"dist": "lognormal", "median": m, "sigma": s, "relative": False},
                  _f(10.0, 1e6), _f(0.0, 1.0)),
        st.builds(lambda s: {"dist": "lognormal", "sigma": s}, _f(0.0, 1.0))),
    "api.price_scale": st.just({"dist": "triangular", "low": 0.5, "mode": 1.0, "high": 1.2}),
    "self_host.usd_per_gpu_hour": st.builds(lambda lo, w: {"dist": "uniform", "low": lo, "high": lo + w,
                                                           "relative": False}, _f(0.5, 5.0), _f(0.0, 5.0)),
    "self_host.ops_engineers": st.just({"dist": "triangular", "low": 0.0, "mode": 1.0, "high": 3.0}),
}
uncertainties = st.lists(st.sampled_from(sorted(UNCERTAIN)), max_size=3, unique=True).flatmap(
    lambda paths: st.fixed_dictionaries({p: UNCERTAIN[p] for p in paths}))


def _scenario(name, description, seed, workload, api, self_host, scratch, usd_year, flags, uncertainty):
    if api.batch and api.model not in ("gpt-4o-mini", "gpt-4.1-mini", "gpt-4o"):
        api = dataclasses.replace(api, batch=False)
    return planner.Scenario(name=name, description=description, seed=seed, workload=workload, api=api,
                            self_host=self_host, scratch=scratch, costs=planner.Costs(usd_year), flags=flags,
                            uncertainty=uncertainty)


scenarios = st.builds(_scenario, NAME, DESCRIPTION, st.integers(0, 2**40), workloads, apis, self_hosts, scratches,
                      _f(5e4, 1e6), st.builds(planner.Flags, *[st.booleans()] * 5), uncertainties)


@fuzz_settings(300)
@given(scenarios)
def test_save_then_load_is_the_same_scenario(s):
    text = planner.dumps_scenario(s)
    assert planner.loads_scenario(text) == s
    if s.workload.ttft_target_s is None:
        assert 'ttft_target_s = "none"' in text  # no target stays no target


def _totals(c) -> dict[str, float]:
    return {k: o.total_usd.p50 for k, o in c.options.items() if o.available}


@fuzz_settings(25)
@given(scenarios, _f(1.1, 10.0))
def test_valid_scenarios_compare_cleanly_and_more_traffic_never_costs_less(s, factor):
    with time_limit("compare"):
        c = planner.compare(s)
    check_result(c)
    for o in c.options.values():  # spend over time: one-time costs as paid, never a refund, ending at the total
        cum = np.asarray(o.cumulative_usd)
        assert not o.available or (np.all(np.diff(cum) >= -1e-9 * cum[-1])
                                   and abs(cum[-1] - o.total_usd.p50) <= 1e-9 * o.total_usd.p50), o.key
    more = planner.compare(s.replace(workload=s.workload.with_(requests_per_day=s.workload.requests_per_day * factor)))
    low, high = _totals(c), _totals(more)
    assert low.keys() == high.keys()
    for k in low:
        assert high[k] >= low[k] * (1 - 1e-9), (k, low[k], high[k])
    sweep = c.cost_vs_traffic(np.geomspace(1.0, 1e8, 40))
    assert np.all(np.diff(sweep.to_numpy(), axis=0) >= -1e-9 * sweep.to_numpy()[1:])


@fuzz_settings(25)
@given(scenarios)
def test_a_higher_api_price_never_costs_less(s):
    c = planner.compare(s)
    if not c.cost_models:
        return
    engine = Engine(s, c)
    scales = np.array([0.25, 0.5, 1.0, 2.0, 4.0])
    totals = engine.totals({"api.price_scale": scales}, len(scales))  # (scales, options)
    assert np.all(np.diff(totals, axis=0) >= -1e-9 * np.abs(totals[1:])), totals


@fuzz_settings(20)
@given(scenarios, st.integers(0, 2**32))
def test_monte_carlo_bands_are_ordered_and_a_seed_repeats(s, seed):
    c = planner.compare(s)
    if not c.cost_models:
        return
    with time_limit("monte_carlo"):
        a = planner.monte_carlo(s, n=2000, seed=seed, comparison=c)
    b = planner.monte_carlo(s, n=2000, seed=seed, comparison=c)
    check_result(a)
    for band in [*a.total_usd.values(), *a.usd_per_request.values()]:
        assert band.p10 <= band.p50 <= band.p90
    assert a.prob_cheapest == b.prob_cheapest and a.total_usd == b.total_usd
    assert np.array_equal(a.samples_usd, b.samples_usd)
    assert abs(sum(a.prob_cheapest.values()) - 1) < 1e-9
