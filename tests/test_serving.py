"""Workload validation and serving plans: hand-checked sizing, invariants, clear errors."""
from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

import planner
from planner.estimate import inference as inf
from planner.core.errors import DoesNotFitError, InfeasibleError, InputError
from planner.core.units import HOURS_PER_MONTH
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
    ("tpot_target_s", 0), ("horizon_months", 0), ("monthly_growth", -0.1),
])
def test_workload_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(InputError) as e:
        W.with_(**{field: value})
    assert e.value.field == field


# --- serving: hand checks ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def plan():
    return serving(model="Llama-2-7B", gpu="H100 SXM", workload=W)


def test_sizing_follows_littles_law_and_the_ceiling(plan):
    g = planner.gpu("H100 SXM")
    b = plan.batch_size
    # p50 efficiencies: prefill of one prompt, one decode step at batch b
    one = inf.inference_speed(model="Llama-2-7B", gpu=g, prompt_tokens=600, output_tokens=250)
    at_b = inf.inference_speed(model="Llama-2-7B", gpu=g, batch_size=b, prompt_tokens=600, output_tokens=250)
    capacity = b / (b * one.prefill_s.p50 + 249 * at_b.tpot_s.p50)
    assert plan.requests_per_s_per_replica.p50 == pytest.approx(capacity)
    assert plan.tpot_s.p50 == pytest.approx(at_b.tpot_s.p50)
    assert plan.ttft_s.p50 == pytest.approx(one.prefill_s.p50 + at_b.tpot_s.p50)
    replicas = max(2, math.ceil(W.peak_rps / (capacity * 0.7)))
    assert plan.replicas.p50 == replicas and plan.gpus.p50 == replicas * plan.tensor_parallel
    assert plan.monthly_cost_usd.p50 == pytest.approx(replicas * g.usd_per_gpu_hour * 730)


def test_cost_per_token_charges_idle_capacity(plan):
    g = planner.gpu("H100 SXM")
    usd_per_hour = plan.gpus.p50 * g.usd_per_gpu_hour
    per_request = usd_per_hour / (W.mean_rps * 3600)
    assert plan.usd_per_request.p50 == pytest.approx(per_request)
    assert plan.usd_per_million_tokens.p50 == pytest.approx(per_request / 850 * 1e6)
    assert 0 < plan.mean_utilization.p50 <= 0.7 / W.peak_to_mean + 1e-12


def test_chosen_batch_meets_targets_and_the_next_does_not(plan):
    assert plan.tpot_s.p50 <= W.tpot_target_s and plan.ttft_s.p50 <= W.ttft_target_s
    assert plan.batch_size <= plan.max_batch_kv
    tight = serving(model="Llama-2-7B", gpu="H100 SXM", workload=W.with_(tpot_target_s=0.012))
    assert tight.limited_by == "tpot target"
    assert tight.tpot_s.p50 <= 0.012 < tight.tpot_s.p50 + 1e-3
    assert tight.batch_size < plan.batch_size
    rows = {r.batch: r for r in tight.table}
    assert rows[tight.batch_size].meets_targets and not rows[max(rows)].meets_targets


def test_table_is_monotone_in_batch(plan):
    df = plan.table_frame()
    assert df["batch"].iloc[0] == 1 and plan.batch_size in set(df["batch"])
    assert df["tpot_s"].is_monotonic_increasing and df["requests_per_s"].is_monotonic_increasing


def test_to_dict_is_json_and_carries_assumptions(plan):
    d = json.loads(json.dumps(plan.to_dict()))
    names = {a["name"] for a in d["assumptions"]}
    assert {"utilization_ceiling", "min_replicas", "hours_per_month", "efficiency_source"} <= names
    assert d["efficiency_source"] == "literature defaults"
    assert d["monthly_cost_usd"].keys() == {"p10", "p50", "p90"}


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
def test_more_traffic_never_fewer_replicas_or_lower_cost(precision):
    plans = [serving(model="Llama-2-7B", gpu="H100 SXM", precision=precision,
                     workload=W.with_(requests_per_day=rpd)) for rpd in (1e3, 1e5, 1e6, 1e7, 1e8)]
    for q in ("p10", "p50", "p90"):
        reps = [getattr(p.replicas, q) for p in plans]
        cost = [getattr(p.monthly_cost_usd, q) for p in plans]
        assert reps == sorted(reps) and cost == sorted(cost)


@pytest.mark.parametrize("gpu", ["H100 SXM", "A100 80GB SXM"])
@pytest.mark.parametrize("speedup", [1.2, 2.0])
@pytest.mark.parametrize("workload", [W, W.with_(requests_per_day=3e7, tpot_target_s=0.03, output_tokens=800)])
def test_faster_gpu_never_needs_more_replicas(gpu, speedup, workload):
    g = planner.gpu(gpu)
    fast = dataclasses.replace(g, name=g.name + " (faster)", memory_bytes_per_s=g.memory_bytes_per_s * speedup,
                               peak_flops={k: v * speedup for k, v in g.peak_flops.items()})
    slow_plan = serving(model="Llama-2-7B", gpu=g, workload=workload)
    fast_plan = serving(model="Llama-2-7B", gpu=fast, workload=workload)
    for q in ("p10", "p50", "p90"):
        assert getattr(fast_plan.replicas, q) <= getattr(slow_plan.replicas, q)


# --- errors ----------------------------------------------------------------------------------

def test_tpot_below_floor_is_infeasible_and_names_the_floor():
    floor_ms = inf.inference_speed(model="Llama-2-7B", gpu="H100 SXM", prompt_tokens=600,
                                   output_tokens=250).tpot_s.p50 * 1e3  # ~6.1 ms
    with pytest.raises(InfeasibleError) as e:
        serving(model="Llama-2-7B", gpu="H100 SXM", workload=W.with_(tpot_target_s=0.003), max_tensor_parallel=1)
    msg = str(e.value)
    assert f"floor of {floor_ms:.1f} ms" in msg and "tpot target 3 ms" in msg
    assert "Llama-2-7B bf16" in msg and "H100 SXM" in msg and "lower precision" in msg


def test_ttft_below_floor_is_infeasible():
    with pytest.raises(InfeasibleError, match=r"ttft target 1 ms is below the floor of [0-9.]+ ms"):
        serving(model="Llama-2-7B", gpu="H100 SXM", workload=W.with_(ttft_target_s=0.001))


def test_more_tensor_parallel_rescues_a_tight_target():
    p = serving(model="Llama-2-7B", gpu="H100 SXM", workload=W.with_(tpot_target_s=0.004))
    assert p.tensor_parallel > 1 and p.tpot_s.p50 <= 0.004


def test_zero_traffic_is_an_input_error():
    with pytest.raises(InputError, match="requests_per_day"):
        serving(model="Llama-2-7B", gpu="H100 SXM", workload=W.with_(requests_per_day=0))


def test_model_that_does_not_fit_at_max_tp():
    with pytest.raises(DoesNotFitError, match="GB"):
        serving(model=BIG, gpu="H100 SXM", workload=W, max_tensor_parallel=1)
    assert serving(model=BIG, gpu="H100 SXM", workload=W).tensor_parallel == 2


@pytest.mark.parametrize("kw,field", [({"utilization_ceiling": 1.5}, "utilization_ceiling"),
                                      ({"min_replicas": 0}, "min_replicas")])
def test_bad_plan_inputs_name_the_field(kw, field):
    with pytest.raises(InputError, match=field):
        serving(model="Llama-2-7B", gpu="H100 SXM", workload=W, **kw)
