"""The serving search with data-parallel attention + expert parallelism (issue 21): searched for MoE models
only, chosen when it costs less, forced or refused by `attention_dp`, reported on the plan and its frontier,
and reachable from the CLI."""
import numpy as np
import pytest

import planner
from planner.core.errors import InputError, PlannerTypeError
from planner.estimate import inference as inf
from planner.estimate import search as sr
from planner.estimate.engine import resolve_engine
from planner.estimate.serving import latency_curve
from planner.present.cli import build_parser, main

# DeepSeek-R1 in fp8 on one 8-GPU H200 node: the case engines serve with DP attention. 2M requests a day of
# 1000 in / 500 out, TPOT within 50 ms: enough traffic that a replica's capacity, not min_replicas, sets the cost.
R1 = dict(model="DeepSeek-R1", gpu="H200", precision="fp8", tensor_parallel=8)
BUSY = planner.Workload(requests_per_day=2_000_000, input_tokens=1000, output_tokens=500, tpot_target_s=0.05)
DENSE = dict(model="Llama-3.1-8B", gpu="H100 SXM", precision="bf16")
SMALL = planner.Workload(requests_per_day=200_000, input_tokens=500, output_tokens=200)


@pytest.fixture(scope="module")
def r1_plans():
    return {dp: planner.serving(**R1, workload=BUSY, attention_dp=dp) for dp in (None, False, True)}


def test_a_dense_model_never_gets_dp_attention():
    plan = planner.serving(**DENSE, workload=SMALL)
    assert plan.attention_dp is False and plan.parallelism == f"TP{plan.tensor_parallel}"
    assert not plan.frontier_frame()["attention_dp"].any()
    assert plan.frontier_frame()["tensor_parallel"].nunique() > 1  # the search did run over degrees


def test_an_moe_model_searches_both_and_picks_the_cheaper(r1_plans):
    searched, tp, dp = r1_plans[None], r1_plans[False], r1_plans[True]
    frame = searched.frontier_frame()
    assert set(frame["attention_dp"]) == {False, True}
    cheaper = min((tp, dp), key=lambda p: p.monthly_cost_usd.p50)
    assert searched.attention_dp == cheaper.attention_dp
    assert searched.monthly_cost_usd.p50 == pytest.approx(cheaper.monthly_cost_usd.p50)
    # at this traffic DP attention carries more requests per replica (no KV copy per rank, whole experts per GPU)
    assert dp.max_requests_per_s_per_replica > tp.max_requests_per_s_per_replica
    assert searched.attention_dp and searched.parallelism == "DP attention + EP8"
    assert frame.loc[frame["chosen"], "attention_dp"].tolist() == [True]


def test_forcing_attention_dp_keeps_the_search_to_it(r1_plans):
    assert not r1_plans[False].attention_dp and not r1_plans[False].frontier_frame()["attention_dp"].any()
    assert r1_plans[True].attention_dp and r1_plans[True].frontier_frame()["attention_dp"].all()
    assert any(a.name == "moe_parallelism" and a.value == "DP attention + EP8" for a in r1_plans[True].assumptions)


def test_bad_attention_dp_names_the_field():
    with pytest.raises(InputError, match="attention_dp.*dense"):
        planner.serving(**DENSE, workload=SMALL, attention_dp=True)
    with pytest.raises(PlannerTypeError, match="attention_dp"):
        planner.serving(**DENSE, workload=SMALL, attention_dp="yes")
    assert planner.serving(**DENSE, workload=SMALL, attention_dp=False).attention_dp is False


def test_the_grid_step_equals_inference_under_dp_attention():
    m, g = planner.model("Qwen3-30B-A3B"), planner.gpu("H100 SXM")
    r = inf.replica(m, g, "bf16", 4, resolve_engine("vllm", g, None), attention_dp=True)
    b = np.arange(1, 65, dtype=float)[:, None]
    np.testing.assert_allclose(sr.decode_step_s(r, b, 700.0), inf.decode_step_s(r, b, 700.0)[0], rtol=1e-12)


def test_the_latency_curve_simulates_the_plans_own_split(r1_plans):
    tp, dp = r1_plans[False], r1_plans[True]
    loads = np.array([dp.max_requests_per_s_per_replica])
    # at DP's own sizing rate its p90 meets the TPOT target; the same curve on a TP replica would differ
    curve = latency_curve(dp, loads)
    assert curve["tpot_p90_s"].iloc[0] <= BUSY.tpot_target_s
    assert curve["tpot_p50_s"].iloc[0] != pytest.approx(latency_curve(tp, loads)["tpot_p50_s"].iloc[0], rel=1e-6)


def test_cli_flags_parse():
    serve = ["estimate", "serve", "--model", "DeepSeek-R1", "--requests-per-day", "1000", "--input-tokens", "100",
             "--output-tokens", "100"]
    p = build_parser()
    assert p.parse_args(serve).attention_dp is None
    assert p.parse_args([*serve, "--attention-dp"]).attention_dp is True
    assert p.parse_args([*serve, "--no-attention-dp"]).attention_dp is False
    assert p.parse_args(["estimate", "speed", "--attention-dp"]).attention_dp is True
    assert p.parse_args(["estimate", "throughput", "--no-attention-dp"]).attention_dp is False


def test_cli_speed_with_attention_dp_equals_the_estimate(capsys):
    args = ["--model", "Qwen3-30B-A3B", "--gpu", "H100 SXM", "--tensor-parallel", "4", "--batch-size", "32"]
    assert main(["estimate", "speed", *args, "--attention-dp", "--format", "json"]) == 0
    row = __import__("json").loads(capsys.readouterr().out)[0]
    want = planner.inference_speed(model="Qwen3-30B-A3B", gpu="H100 SXM", tensor_parallel=4, batch_size=32,
                                   attention_dp=True)
    assert row["attention_dp"] is True
    assert row["decode_step_s_p50"] == pytest.approx(want.tpot_s.p50, rel=1e-9)
    assert main(["estimate", "speed", "--model", "Llama-3.1-8B", "--attention-dp"]) != 0
    assert "attention_dp" in capsys.readouterr().err


def test_cli_serve_reports_the_parallelism(capsys):
    assert main(["estimate", "serve", "--model", "Qwen3-30B-A3B", "--gpu", "H100 SXM", "--requests-per-day", "100000",
                 "--input-tokens", "500", "--output-tokens", "200", "--tensor-parallel", "2", "--attention-dp"]) == 0
    assert "DP attention + EP2" in capsys.readouterr().out


def test_compare_self_hosts_an_moe_model_with_dp_attention_when_cheaper():
    """compare()'s self-host option goes through the same search: at 2M requests a day DeepSeek-R1 on H200 is
    served with DP attention, and a shortlist row says so."""
    import dataclasses
    from planner.present.shortlist_text import shortlist_frame, shortlist_lines
    s = planner.load_scenario("examples/customer_support.toml")
    w = dataclasses.replace(s.workload, requests_per_day=2_000_000, input_tokens=1000, output_tokens=500,
                            prompt_overhead_tokens=0.0)
    h = dataclasses.replace(s.self_host, model=("DeepSeek-R1", "Llama-3.1-70B"), gpu="H200", precision="fp8")
    c = planner.compare(dataclasses.replace(s, workload=w, self_host=h))
    by_model = {k.model: k for k in c.shortlist.candidates}
    assert by_model["DeepSeek-R1"].attention_dp and not by_model["Llama-3.1-70B"].attention_dp
    assert "8 (DP attention)" in shortlist_frame(c)["TP"].tolist()
    alone = planner.compare(dataclasses.replace(s, workload=w, self_host=dataclasses.replace(h, model="DeepSeek-R1")))
    assert alone.serving_plan.attention_dp and alone.serving_plan.parallelism == "DP attention + EP8"
    one = dataclasses.replace(c, shortlist=dataclasses.replace(c.shortlist, chosen=by_model["DeepSeek-R1"]))
    assert "8 GPU(s) per replica, DP attention + EP" in shortlist_lines(one)[1]
