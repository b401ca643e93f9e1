"""Workload validation and serving plans: hand-checked sizing, invariants, clear errors."""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

import planner
from planner.core.errors import DoesNotFitError, InfeasibleError, InputError, UnknownNameError
from planner.core.results import as_plain
from planner.core.units import HOURS_PER_MONTH
from planner.estimate import inference as inf
from planner.estimate import load as ld
from planner.estimate import search as sr
from planner.estimate.engine import resolve_engine
from planner.estimate.serving import monthly_cost_usd_for, replicas_for, serving
from planner.catalog.specs import ModelSpec
from planner.estimate.workload import Workload

W = Workload(requests_per_day=1_000_000, input_tokens=400, output_tokens=250, prompt_overhead_tokens=200)
BIG = ModelSpec(name="big-70b", n_layers=80, dim=8192, n_heads=64, n_kv_heads=8, ffn_dim=28672,
                vocab_size=32000)


# --- Workload ---------------------------------------------------------------------------------

def test_workload_derived_rates_by_hand():
    assert W.prompt_tokens == 600
    assert W.mean_rps == pytest.approx(1e6 / 86400)
    assert W.peak_rps == pytest.approx(2 * 1e6 / 86400)
    assert W.with_(peak_requests_per_s=50).peak_rps == 50


def test_workload_growth_by_hand():
    w = W.with_(monthly_growth=0.1)
    months = np.array([0, 1, 12])
    expected = 1e6 * 30.4375 * 1.1 ** months
    np.testing.assert_allclose(w.requests_per_month(months), expected)
    np.testing.assert_allclose(w.tokens_per_month(months), expected * 850)
    np.testing.assert_allclose(w.peak_rps_for(months), W.peak_rps * 1.1 ** months)
    assert len(w.months()) == 24


@pytest.mark.parametrize("field,value", [
    ("requests_per_day", 0), ("requests_per_day", -5), ("input_tokens", -1), ("output_tokens", 0),
    ("prompt_overhead_tokens", -10), ("peak_to_mean", 0.5), ("peak_requests_per_s", -1),
    ("tpot_target_s", 0), ("horizon_months", 0), ("monthly_growth", -0.1), ("length_sigma", -0.5),
    ("length_sigma", 4.0),
])
def test_workload_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(InputError) as e:
        W.with_(**{field: value})
    assert e.value.field == f"workload.{field}"


# --- serving: hand checks ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def plan():
    return serving(model="Llama-2-7B", gpu="H100 SXM", workload=W)


def _replica_of(p):
    g, m = planner.gpu(p.gpu), planner.model(p.model)
    return inf.replica(m, g, p.precision, p.tensor_parallel, resolve_engine(p.engine, g), p.kv_cache_dtype)


def test_analytic_latency_is_the_performance_models(plan):
    r = _replica_of(plan)
    tpot, _ = inf.decode_step_s(r, plan.batch_size, inf.mean_decode_context(600, 250))
    prefill = inf.prefill_s(r, 1, 600)
    assert plan.tpot_s == inf.to_band(tpot) and plan.prefill_s == inf.to_band(prefill)
    assert plan.ttft_s.p50 == pytest.approx(prefill[1] + tpot[1])


def test_replicas_carry_the_peak_at_the_simulated_rate(plan):
    g = planner.gpu("H100 SXM")
    rate = plan.max_requests_per_s_per_replica
    assert rate == pytest.approx(plan.utilization_ceiling * plan.requests_per_s_per_replica.p50)
    assert 0 < plan.utilization_ceiling <= 0.95
    replicas = max(2, math.ceil(W.peak_rps / rate))
    assert plan.replicas.p50 == replicas and plan.gpus.p50 == replicas * plan.tensor_parallel
    assert plan.monthly_cost_usd.p50 == pytest.approx(replicas * plan.tensor_parallel * g.usd_per_gpu_hour * 730)


def test_the_percentile_meets_the_targets_at_the_peak(plan):
    lat = plan.load_latency
    assert lat.requests_per_s == pytest.approx(W.peak_rps / plan.replicas.p50)
    assert lat.ttft_s["p90"] <= W.ttft_target_s and lat.tpot_s["p90"] <= W.tpot_target_s
    assert lat.ttft_s["p50"] <= lat.ttft_s["p90"] <= lat.ttft_s["p99"]


def test_cost_per_token_charges_idle_capacity(plan):
    g = planner.gpu("H100 SXM")
    usd_per_hour = plan.gpus.p50 * g.usd_per_gpu_hour
    per_request = usd_per_hour / (W.mean_rps * 3600)
    assert plan.usd_per_request.p50 == pytest.approx(per_request)
    assert plan.usd_per_million_tokens.p50 == pytest.approx(per_request / 850 * 1e6)
    assert 0 < plan.mean_utilization.p50 <= plan.utilization_ceiling / W.peak_to_mean + 1e-12


def test_chosen_batch_meets_targets_and_the_next_does_not(plan):
    assert plan.tpot_s.p50 <= W.tpot_target_s and plan.ttft_s.p50 <= W.ttft_target_s
    assert plan.batch_size <= plan.max_batch_kv
    tight = serving(model="Llama-2-7B", gpu="H100 SXM", workload=W.with_(tpot_target_s=0.012), tensor_parallel=1)
    assert tight.limited_by == "tpot target"
    assert tight.tpot_s.p50 <= 0.012 < tight.tpot_s.p50 + 1e-3
    rows = {r.batch: r for r in tight.table}
    assert rows[tight.batch_size].meets_targets and not rows[max(rows)].meets_targets


def test_table_is_monotone_in_batch(plan):
    df = plan.table_frame()
    assert df["batch"].iloc[0] == 1 and plan.batch_size in set(df["batch"])
    assert df["tpot_s"].is_monotonic_increasing and df["requests_per_s"].is_monotonic_increasing


def test_to_dict_is_json_and_carries_assumptions(plan):
    d = json.loads(json.dumps(as_plain(plan)))
    names = {a["name"] for a in d["assumptions"]}
    assert {"latency_percentile", "sizing_utilization", "min_replicas", "hours_per_month", "efficiency_source",
            "engine", "kv_cache_dtype", "scheduler_overhead_s", "length_distribution"} <= names
    assert d["efficiency_source"] == "engine profile: vllm on nvidia" and d["engine"] == "vllm"
    assert d["monthly_cost_usd"].keys() == {"p10", "p50", "p90"}


# --- the configuration search -----------------------------------------------------------------

def test_pinning_tensor_parallel_and_the_batch_cap():
    p = serving(model="Llama-2-7B", gpu="H100 SXM", workload=W, tensor_parallel=2, max_batch_size=48)
    assert p.tensor_parallel == 2 and p.batch_size == 48 and p.limited_by == "max_batch_size=48"
    assert {r.tensor_parallel for r in p.frontier} == {2} and max(r.batch for r in p.frontier) == 48


def test_the_chosen_configuration_is_the_cheapest_that_meets_the_targets():
    """Every candidate simulated (no pruning): the plan's cost is the lowest of them."""
    w = W.with_(requests_per_day=2e7, ttft_target_s=1.0, tpot_target_s=0.05)
    g, m = planner.gpu("H100 SXM"), planner.model("Llama-3.1-70B")
    plan = serving(model=m, gpu=g, precision=["fp8", "bf16"], workload=w)
    setup = resolve_engine("vllm", g)
    costs = {}
    for c in sr.candidates(m, g, ["fp8", "bf16"], [1, 2, 4, 8], setup, w, None, setup.batch_cap):
        if c.batch:
            rate = ld.max_rate(ld.load_for(c.replica, setup, c.batch, w.prompt_tokens, w.output_tokens),
                                  w.ttft_target_s, w.tpot_target_s, "p90")
            if rate > 0:
                costs[(c.precision, c.tp)] = max(2, math.ceil(w.peak_rps / rate)) * c.tp * g.usd_per_gpu_hour * 730
    assert plan.monthly_cost_usd.p50 == pytest.approx(min(costs.values()))
    assert costs[(plan.precision, plan.tensor_parallel)] == pytest.approx(min(costs.values()))
    assert sum(r.chosen for r in plan.frontier) == 1


def test_70b_fp8_on_h100_takes_tp2_or_more_not_tp1_with_a_tiny_batch():
    p = serving(model="Llama-3.1-70B", gpu="H100 SXM", precision="fp8", workload=W)
    assert p.tensor_parallel >= 2 and p.batch_size > 100
    tp1 = [r for r in p.frontier if r.tensor_parallel == 1]
    assert tp1 and max(r.batch for r in tp1) < 32  # TP1 fits only a handful of sequences
    best = {r.tensor_parallel: r.tokens_per_s_per_gpu for r in p.frontier if r.meets_targets}
    assert best[p.tensor_parallel] > 2 * max(r.tokens_per_s_per_gpu for r in tp1)


def test_precision_auto_searches_the_formats_the_gpu_runs():
    p = serving(model="Llama-3.1-70B", gpu="A100 80GB SXM", precision="auto", workload=W)
    assert {r.precision for r in p.frontier} <= {"bf16", "int8", "int8-weight-only", "int4-weight-only"}  # no fp8 on A100
    assert p.precision in {r.precision for r in p.frontier}
    with pytest.raises(UnknownNameError, match="precision"):
        serving(model="Llama-2-7B", gpu="H100 SXM", precision=["bf16", "fp5"], workload=W)


def test_a_utilization_cap_only_adds_replicas():
    free = serving(model="Llama-2-7B", gpu="H100 SXM", workload=W.with_(requests_per_day=2e7), tensor_parallel=1)
    capped = serving(model="Llama-2-7B", gpu="H100 SXM", workload=W.with_(requests_per_day=2e7), tensor_parallel=1,
                     utilization_ceiling=0.3)
    assert capped.utilization_ceiling == pytest.approx(0.3) and capped.utilization_cap == 0.3
    assert capped.replicas.p50 > free.replicas.p50


def test_a_stricter_percentile_never_needs_fewer_replicas():
    w = W.with_(requests_per_day=2e7, ttft_target_s=0.5, tpot_target_s=0.03)
    plans = [serving(model="Llama-2-7B", gpu="H100 SXM", workload=w, tensor_parallel=1, latency_percentile=q)
             for q in ("p50", "p90", "p99")]
    assert [p.replicas.p50 for p in plans] == sorted(p.replicas.p50 for p in plans)


# --- vectorized sweeps and invariants --------------------------------------------------------

def test_sweep_is_vectorized_and_monotone(plan):
    peaks = np.linspace(0, 500, 1001)
    reps = replicas_for(plan, peaks)
    cost = monthly_cost_usd_for(plan, peaks)
    assert reps.shape == peaks.shape and reps[0] == plan.min_replicas
    assert np.all(np.diff(reps) >= 0) and np.all(np.diff(cost) >= 0)
    np.testing.assert_allclose(cost, reps * plan.tensor_parallel * plan.usd_per_gpu_hour * HOURS_PER_MONTH)
    assert replicas_for(plan, W.peak_rps) == plan.replicas.p50
    assert np.all(replicas_for(plan, peaks, "p90") >= replicas_for(plan, peaks, "p10"))
    months = W.with_(monthly_growth=0.2).months()
    assert monthly_cost_usd_for(plan, W.peak_rps_for(months)[None, :]).shape == (1, 24)


def test_sweep_rejects_negative_traffic(plan):
    with pytest.raises(InputError, match="peak_rps"):
        replicas_for(plan, np.array([1.0, -1.0]))


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_more_traffic_never_costs_less(precision):
    plans = [serving(model="Llama-2-7B", gpu="H100 SXM", precision=precision,
                     workload=W.with_(requests_per_day=rpd)) for rpd in (1e3, 1e5, 1e6, 1e7, 1e8)]
    cost = [p.monthly_cost_usd.p50 for p in plans]
    assert cost == sorted(cost)


@pytest.mark.parametrize("gpu", ["H100 SXM", "A100 80GB SXM"])
@pytest.mark.parametrize("speedup", [1.2, 2.0])
@pytest.mark.parametrize("workload", [W, W.with_(requests_per_day=3e7, tpot_target_s=0.03, output_tokens=800)])
def test_faster_gpu_never_costs_more(gpu, speedup, workload):
    g = planner.gpu(gpu)
    fast = dataclasses.replace(g, name=g.name + " (faster)", memory_bytes_per_s=g.memory_bytes_per_s * speedup,
                               peak_flops={k: v * speedup for k, v in g.peak_flops.items()})
    slow_plan = serving(model="Llama-2-7B", gpu=g, workload=workload)
    fast_plan = serving(model="Llama-2-7B", gpu=fast, workload=workload)
    assert fast_plan.monthly_cost_usd.p50 <= slow_plan.monthly_cost_usd.p50


# --- errors ----------------------------------------------------------------------------------

def test_tpot_below_floor_is_infeasible_and_names_the_floor():
    floor_ms = inf.inference_speed(model="Llama-2-7B", gpu="H100 SXM", prompt_tokens=600,
                                   output_tokens=250).tpot_s.p50 * 1e3
    with pytest.raises(InfeasibleError) as e:
        serving(model="Llama-2-7B", gpu="H100 SXM", workload=W.with_(tpot_target_s=0.003), max_tensor_parallel=1)
    msg = str(e.value)
    assert f"floor of {floor_ms:.1f} ms" in msg and "tpot target 3 ms" in msg
    assert "Llama-2-7B bf16" in msg and "H100 SXM" in msg and "lower precision" in msg


def test_ttft_below_floor_is_infeasible():
    with pytest.raises(InfeasibleError, match=r"ttft target 1 ms is below the floor of [0-9.]+ ms"):
        serving(model="Llama-2-7B", gpu="H100 SXM", workload=W.with_(ttft_target_s=0.001))


def test_more_tensor_parallel_rescues_a_tight_target():
    p = serving(model="Llama-2-7B", gpu="H100 SXM", workload=W.with_(tpot_target_s=0.005))
    assert p.tensor_parallel > 1 and p.tpot_s.p50 <= 0.005


def test_zero_traffic_is_an_input_error():
    with pytest.raises(InputError, match="requests_per_day"):
        serving(model="Llama-2-7B", gpu="H100 SXM", workload=W.with_(requests_per_day=0))


def test_model_that_does_not_fit_at_max_tp():
    with pytest.raises(DoesNotFitError, match="GB"):
        serving(model=BIG, gpu="H100 SXM", workload=W, max_tensor_parallel=1)
    assert serving(model=BIG, gpu="H100 SXM", workload=W).tensor_parallel >= 2


@pytest.mark.parametrize("kw,field", [({"utilization_ceiling": 1.5}, "utilization_ceiling"),
                                      ({"min_replicas": 0}, "min_replicas"),
                                      ({"tensor_parallel": 0}, "tensor_parallel"),
                                      ({"latency_percentile": "p95"}, "latency_percentile")])
def test_bad_plan_inputs_name_the_field(kw, field):
    with pytest.raises(InputError, match=field):
        serving(model="Llama-2-7B", gpu="H100 SXM", workload=W, **kw)


def test_unknown_engine_lists_close_matches():
    with pytest.raises(UnknownNameError, match="engine 'sglan'. Did you mean: sglang"):
        serving(model="Llama-2-7B", gpu="H100 SXM", workload=W, engine="sglan")


@pytest.mark.parametrize("model,precision,tp", [("Llama-3.1-8B", "bf16", 1), ("Llama-2-70B", "fp8", 4),
                                                ("Mixtral-8x7B", "bf16", 2), ("DeepSeek-V3", "fp8", 8)])
def test_the_searchs_decode_step_is_inferences(model, precision, tp):
    """search.decode_step_s skips the memory-bound flag; a term added to inference.decode_step_s must reach it."""
    g = planner.gpu("H200")
    r = inf.replica(planner.model(model), g, precision, tp, resolve_engine("vllm", g))
    b = np.arange(1, 300, dtype=float)[:, None]
    np.testing.assert_array_equal(sr.decode_step_s(r, b, 1234.5), inf.decode_step_s(r, b, 1234.5)[0])


def test_a_traffic_change_reuses_the_replicas_max_rate():
    """The highest rate a replica meets its targets at depends on the workload's shape, not its traffic: a new
    requests_per_day reuses it (load.max_rate's cache) and still gives the plan a fresh search would."""
    import planner
    from planner.estimate import load as ld
    w = planner.Workload(requests_per_day=2e5, input_tokens=700, output_tokens=150, ttft_target_s=2.0)
    planner.serving(model="Llama-3.1-8B", gpu="H100 SXM", precision="fp8", engine="vllm", workload=w)
    hits = ld.max_rate.cache_info().hits
    more = planner.serving(model="Llama-3.1-8B", gpu="H100 SXM", precision="fp8", engine="vllm",
                           workload=dataclasses.replace(w, requests_per_day=3e5))
    assert ld.max_rate.cache_info().hits > hits
    ld.max_rate.cache_clear()
    fresh = planner.serving(model="Llama-3.1-8B", gpu="H100 SXM", precision="fp8", engine="vllm",
                            workload=dataclasses.replace(w, requests_per_day=3e5))
    assert fresh.replicas == more.replicas and fresh.usd_per_million_tokens == more.usd_per_million_tokens


@pytest.mark.parametrize("seed", range(3))
def test_a_plan_without_its_peak_latency_is_the_same_plan(seed):
    """peak_latency=False (a plan only costed: compare's prompt trade, a successor GPU) leaves out one simulated run,
    plan.load_latency, and nothing else."""
    rng = np.random.default_rng(seed)
    w = planner.Workload(requests_per_day=float(10 ** rng.uniform(4, 6.5)), input_tokens=float(rng.integers(100, 4000)),
                         output_tokens=float(rng.integers(20, 800)), length_sigma=float(rng.choice([0.0, 0.5])))
    kw = dict(model=["Llama-3.1-8B", "Mixtral-8x7B", "Llama-3.1-70B"][seed], gpu="H100 SXM", precision="auto", workload=w)
    full, costed = planner.serving(**kw), planner.serving(**kw, peak_latency=False)
    assert full.load_latency is not None and costed.load_latency is None
    assert {**full.to_dict(), "load_latency": None} == costed.to_dict()


def test_peak_latency_must_be_a_flag():
    w = planner.Workload(requests_per_day=1e5, input_tokens=500, output_tokens=100)
    with pytest.raises(planner.PlannerError, match="peak_latency"):
        planner.serving(model="Llama-3.1-8B", gpu="H100 SXM", workload=w, peak_latency="no")
