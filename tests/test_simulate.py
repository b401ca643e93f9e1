"""Latency under load: the continuous-batching simulation against the analytic path."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

import planner
from planner.estimate import inference as inf
from planner.estimate import load as ld
from planner.estimate import simulate as sim
from planner.estimate.engine import resolve_engine

P, O = 600, 250


def _replica(engine="vllm", model="Llama-3.1-8B", gpu="H100 SXM", precision="bf16", tp=1):
    g, m = planner.gpu(gpu), planner.model(model)
    setup = resolve_engine(engine, g)
    return inf.replica(m, g, precision, tp, setup), setup


@pytest.mark.parametrize("engine,tp", [("vllm", 1), ("tensorrt-llm", 2)])
def test_a_step_is_the_performance_models_step(engine, tp):
    r, setup = _replica(engine, tp=tp)
    steps = sim.step_model(r, 1, 2048, P + O / 2)
    for b in (1, 7, 64):
        assert steps.time_s(b, b, b * (P + O / 2), 0.0) == pytest.approx(float(inf.decode_step_s(r, b, P + O / 2)[0][1]))
    prefill_attention = sim.prefill_attention_s(r, 1, np.array([P]))[0]
    assert steps.time_s(P, 1, 0.0, prefill_attention) == pytest.approx(float(inf.prefill_s(r, 1, P)[1]), rel=1e-6)


@pytest.mark.parametrize("chunked", [True, False])
def test_simulation_agrees_with_the_analytic_path_at_low_load(chunked):
    """At a trickle of traffic a request meets an idle replica: TTFT is one prefill (plus at most one
    step in flight, the analytic TTFT) and TPOT one decode step at batch ~1."""
    r, setup = _replica()
    load = dataclasses.replace(ld.load_for(r, setup, 256, P, O), chunked=chunked)
    lat = ld.latency(load, 0.05)  # one request every 20 s; a request lasts ~2 s
    prefill = float(inf.prefill_s(r, 1, P)[1])
    tpot = float(inf.decode_step_s(r, 1, inf.mean_decode_context(P, O))[0][1])
    assert lat.mean_batch < 1.2
    assert prefill * 0.97 <= lat.ttft_s["p50"] <= (prefill + tpot) * 1.03  # analytic TTFT = prefill + one step
    assert lat.tpot_s["p50"] == pytest.approx(tpot, rel=0.05)


def test_latency_grows_with_load_and_queues_past_capacity():
    r, setup = _replica()
    load = ld.load_for(r, setup, 256, P, O)
    cap = ld.steady_state(load).requests_per_s
    lats = [ld.latency(load, f * cap) for f in (0.1, 0.5, 0.9, 1.3)]
    tpot = [x.tpot_s["p50"] for x in lats]
    assert tpot == sorted(tpot)
    assert lats[-1].ttft_s["p90"] > 10 * lats[0].ttft_s["p90"]  # over capacity the queue grows


def test_steady_state_matches_a_long_offline_simulation():
    r, setup = _replica()
    load = ld.load_for(r, setup, 256, P, O)
    steady = ld.steady_state(load)
    steps, sched, *_ = ld._machinery(load)
    req = sim.requests(math.inf, 4000, P, O)
    out = sim.simulate(req, steps, sim.prefill_attention_s(r, 1, req.prompt_tokens), sched)
    assert out.throughput_tokens_per_s() == pytest.approx(steady.output_tokens_per_s, rel=0.10)
    assert steady.batch == pytest.approx(256)


def test_chunked_prefill_keeps_tpot_tails_down():
    """Without chunking a long prompt joins a step whole and stalls every decode in it."""
    r, setup = _replica()
    base = ld.load_for(r, setup, 64, 4000, 200)
    chunked = dataclasses.replace(base, chunked=True, chunk_tokens=512)
    whole = dataclasses.replace(base, chunked=False, chunk_tokens=8192)
    rate = 0.5 * ld.steady_state(whole).requests_per_s
    assert ld.latency(chunked, rate).tpot_s["p99"] < ld.latency(whole, rate).tpot_s["p99"]


def test_kv_admission_reserves_or_occupies():
    r, setup = _replica()
    on_demand = ld.load_for(r, setup, 100_000, 1000, 1000)
    reserve = dataclasses.replace(on_demand, reserve_kv=True)
    # A full batch is KV-limited: reserving prompt + output fits fewer sequences than prompt + output/2.
    assert ld.steady_state(reserve).batch == pytest.approx(ld.steady_state(on_demand).batch * 1500 / 2000, rel=1e-6)


def test_lognormal_lengths_keep_their_means():
    rng = np.random.default_rng(0)
    x = sim.lengths(500, 200_000, 0.8, rng)
    assert x.mean() == pytest.approx(500, rel=0.02) and x.min() >= 1 and x.std() > 200
    assert (sim.lengths(500, 10, 0.0, rng) == 500).all()


def test_runs_are_repeatable():
    r, setup = _replica()
    load = ld.load_for(r, setup, 128, P, O)
    ld.run.cache_clear()
    a = ld.latency(load, 10.0)
    ld.run.cache_clear()
    assert ld.latency(load, 10.0) == a


def test_max_rate_meets_the_targets_and_a_little_more_does_not():
    r, setup = _replica()
    load = ld.load_for(r, setup, 256, P, O)
    tpot = 0.022  # a target that binds below the search's ceiling (MAX_LOAD_FRACTION of capacity), so "a little
    # more" must miss it; at the ceiling the answer is the ceiling and more may still meet the targets
    rate = ld.max_rate(load, 0.5, tpot, "p90")
    assert 0 < rate < ld.MAX_LOAD_FRACTION * ld.steady_state(load).requests_per_s
    lat = ld.latency(load, rate)
    assert lat.ttft_s["p90"] <= 0.5 and lat.tpot_s["p90"] <= tpot
    above = ld.latency(load, rate * 1.05)
    assert above.ttft_s["p90"] > 0.5 or above.tpot_s["p90"] > tpot
    assert ld.max_rate(load, 1e-4, None, "p90") == 0.0  # below one prefill: never met


def test_serving_can_turn_chunked_prefill_off_and_the_curve_follows_the_plan():
    from planner.estimate.serving import latency_curve
    w = planner.Workload(requests_per_day=2e6, input_tokens=4000, output_tokens=200)
    for chunked in (True, False):
        plan = planner.serving(model="Llama-3.1-8B", gpu="A100 80GB SXM", workload=w, tensor_parallel=1,
                               chunked_prefill=chunked)  # vLLM on an A100: 2048-token chunks
        assert plan.chunked_prefill is chunked
        at_peak = latency_curve(plan, plan.load_latency.requests_per_s).iloc[0]
        assert at_peak["tpot_p90_s"] == pytest.approx(plan.load_latency.tpot_s["p90"])
        assert at_peak["ttft_p99_s"] == pytest.approx(plan.load_latency.ttft_s["p99"])


def _full_run_meets(load, rate, ttft, tpot, percentile):
    lat = ld.latency(load, rate)
    ok = ttft is None or (lat.ttft_s[percentile] is not None and lat.ttft_s[percentile] <= ttft)
    return ok and (tpot is None or lat.tpot_s[percentile] is None or lat.tpot_s[percentile] <= tpot)


@pytest.mark.parametrize("seed", range(4))
def test_a_run_stopped_at_its_verdict_agrees_with_the_whole_run(seed):
    """meets() stops a run once the answer is known; it must give the whole run's answer, near the
    boundary too (rates around the capacity, targets around the measured percentiles)."""
    rng = np.random.default_rng(seed)
    r, setup = _replica(engine=("vllm", "tensorrt-llm")[seed % 2])
    load = ld.load_for(r, setup, int(rng.integers(8, 200)), float(rng.integers(50, 3000)), float(rng.integers(1, 400)),
                       float(rng.choice([0.0, 0.8])))
    cap = ld.steady_state(load).requests_per_s
    for rate in cap * rng.uniform(0.2, 1.3, 4):
        lat = ld.latency(load, rate)
        for percentile in ("p50", "p90", "p99"):
            for scale in (0.9, 1.0, 1.1):
                ttft = lat.ttft_s[percentile] * scale
                tpot = None if lat.tpot_s[percentile] is None else lat.tpot_s[percentile] * (2.0 - scale)
                for targets in ((ttft, tpot), (ttft, None), (None, tpot)):
                    assert ld.meets(load, rate, *targets, percentile) == _full_run_meets(load, rate, *targets, percentile)


def test_step_tables_do_not_depend_on_their_length():
    """One table per replica serves every workload: a row's time is the same in a short or a long table."""
    for model in ("Llama-3.1-8B", "Mixtral-8x7B"):
        r, _ = _replica(model=model, tp=2)
        short, long = sim.step_tables(r, 1, 300), sim.step_tables(r, 1, 5000)
        assert np.array_equal(short.linears_s, long.linears_s[:300]) and np.array_equal(short.head_s, long.head_s[:300])
        assert short.linears == long.linears[:300] and short.head == long.head[:300]


def test_linear_percentiles_are_numpys_bit_for_bit():
    """The run's percentiles skip np.percentile's overhead; they must stay its numbers exactly (golden files)."""
    rng = np.random.default_rng(5)
    qs = [0.0, 10.0, 50.0, 90.0, 99.0, 99.9, 100.0]
    for n in (1, 2, 3, 7, 100, 561, 2000):
        for values in (rng.lognormal(0, 1, n), rng.integers(0, 5, n).astype(float), np.full(n, 0.25)):
            assert sim.linear_percentiles(values.copy(), qs) == np.percentile(values, qs).tolist()
    assert all(math.isnan(v) for v in sim.linear_percentiles(np.array([]), [50.0, 90.0]))


def test_a_settled_verdict_is_numpys_percentile_verdict():
    """A run stops at a pass once ttft_passes window values are at or below the pass limit, at a miss once ttft_misses
    are above the miss limit: then np.percentile over the whole window, whatever the other values, must agree."""
    rng = np.random.default_rng(3)
    for _ in range(1500):
        n, q = int(rng.integers(2, 80)), float(rng.choice([0.0, 50.0, 90.0, 99.0, 100.0]))
        v = sim.verdict(np.full(n, 2), q, 2.0, 2.0)
        m = v.last - v.first
        values = rng.integers(0, 5, m).astype(float)  # ties at the target
        settled = sorted(rng.permutation(m)[:rng.integers(0, m + 1)])  # the values known when the run stops
        rest = np.setdiff1d(np.arange(m), settled)
        known = values[settled]
        for fill in (0.0, 4.0):  # the unknown values at either extreme
            whole = values.copy()
            whole[rest] = fill
            if (known <= v.ttft_pass_s).sum() >= v.ttft_passes:
                assert np.percentile(whole, q) <= 2.0
            if (known > v.ttft_limit_s).sum() >= v.ttft_misses:
                assert np.percentile(whole, q) > 2.0


def test_table_lookups_are_numpys_interp_bit_for_bit():
    """steady_state reads its step tables at fractional rows without np.interp; the numbers must stay np.interp's
    exactly (golden files): on a real replica's tables and a random one, at integral, fractional, end and
    past-the-end rows, from a list longer than the table (the replica's shared lists)."""
    r, _ = _replica(model="Mixtral-8x7B", tp=2)
    rng = np.random.default_rng(3)
    tables = sim.step_tables(r, 1, 4000)
    for values in (tables.linears, tables.head, np.cumsum(rng.random(4000)).tolist()):
        for n in (2, 3, 1000, 4000):
            xs = [0.0, 1.0, n - 1.0, n - 1.5, n - 1e-9, n + 0.5, 1e9, *(rng.random(300) * (n - 1)).tolist(),
                  *rng.integers(0, n, 50).astype(float).tolist()]
            got = [ld.table_at(values, n, x) for x in xs]
            assert got == np.interp(xs, np.arange(n), values[:n]).tolist()
    assert math.isnan(ld.table_at([1.0, 2.0], 2, math.nan))
