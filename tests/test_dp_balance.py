"""Under DP attention a prompt is prefilled whole on one rank (estimate/dp_balance.py)."""
from __future__ import annotations

import numpy as np
import pytest

import planner
from planner.estimate import dp_balance as dpb, inference as inf, perf
from planner.estimate.engine import resolve_engine


@pytest.mark.parametrize("prompt_rows, expected", [(500.0, 500.0),  # half a prompt a step: all of it on one rank
                                                   (3000.0, 1000.0),  # 3 prompts over 8 ranks: one each at most
                                                   (24000.0, 3000.0)])  # 24 prompts: 3 a rank
def test_busiest_prompt_rows_by_hand(prompt_rows, expected):
    assert float(dpb.busiest_prompt_rows(prompt_rows, 1000.0, 8)) == pytest.approx(expected)


def _replica(dp: bool):
    m, g = planner.model("Qwen3-235B-A22B"), planner.gpu("H200 SXM")
    return inf.replica(m, g, "fp8", 8, resolve_engine("tensorrt-llm", g), attention_dp=dp)


def test_extra_is_the_busiest_ranks_attention_side_over_the_even_spread():
    r = _replica(True)
    kern = perf.at_quantile(r.kern, 1)
    d, prompt_rows, p = 1600.0, 16000.0, 5000.0  # 3.2 prompts a step over 8 ranks: the busiest prefills one
    busiest, spread = d / 8 + 5000.0, (d + prompt_rows) / 8
    assert dpb.extra_s(r, kern, d, prompt_rows, p) == pytest.approx(
        float(dpb.attention_side_s(r, kern, busiest) - dpb.attention_side_s(r, kern, spread)))
    assert dpb.extra_s(r, kern, d, prompt_rows, p) > 0


def test_no_extra_without_dp_attention_or_prompts_and_less_for_short_prompts():
    kern = perf.at_quantile(_replica(True).kern, 1)
    assert dpb.extra_s(_replica(False), kern, 1600.0, 16000.0, 5000.0) == 0.0
    assert dpb.extra_s(_replica(True), kern, 1600.0, 0.0, 5000.0) == 0.0
    # the same prompt tokens in 8x shorter prompts spread over the ranks: far less waiting on one rank
    long_ = dpb.extra_s(_replica(True), kern, 1600.0, 5000.0, 5000.0)
    short = dpb.extra_s(_replica(True), kern, 1600.0, 5000.0, 625.0)
    assert short < 0.2 * long_


def test_prefill_heavy_dp_throughput_pays_for_whole_prompts():
    """5000/500 on Qwen3-235B-A22B: the steady-state step under DP attention carries the busiest rank's prompt."""
    from planner.estimate import load as ld
    r = _replica(True)
    setup = resolve_engine("tensorrt-llm", planner.gpu("H200 SXM"))
    steady = ld.steady_state(ld.load_for(r, setup, 16384, 5000.0, 500.0))
    extra = dpb.extra_s(r, perf.at_quantile(r.kern, 1), steady.batch, steady.batch * 5000.0 / 499.0, 5000.0)
    assert extra > 0.1 * steady.step_s


# --- one set of terms for the offline waves and the steady state: a two-rank example by hand -------------------

def _two_ranks(dp: bool, engine: str = "tensorrt-llm"):
    """Qwen3-30B-A3B fp8 on 2 H100s: DP attention + EP2 (dp) or TP2."""
    g = planner.gpu("H100 SXM")
    setup = resolve_engine(engine, g)
    return inf.replica(planner.model("Qwen3-30B-A3B"), g, "fp8", 2, setup, attention_dp=dp), setup


@pytest.mark.parametrize("dp, prompt_rows, prompts", [(True, 3000.0, 1.5),  # 3 prompts over 2 ranks: 2, 1 -> 1.5 avg
                                                      (True, 500.0, 0.5),  # half a prompt a step: it lands whole
                                                      (False, 3000.0, 3.0)])  # TP: one rank-group runs all three
def test_prefill_attention_on_the_busiest_of_two_ranks_by_hand(dp, prompt_rows, prompts):
    r, _ = _two_ranks(dp)
    assert dpb.prefill_attention_s(r, 0.01, prompt_rows, 1000.0) == pytest.approx(0.01 * prompts)


def test_two_ranks_each_fill_their_own_token_budget():
    """TensorRT-LLM: each attention-DP rank's scheduler takes floor(8192 / 3000) = 2 whole prompts a step,
    so a step of the replica carries 4; TP (one scheduler) and SGLang (caps divided over its ranks) carry 2."""
    from planner.estimate import kv_budget, load as ld, offline
    r, setup = _two_ranks(True)
    assert setup.chunk_tokens == 8192 and not setup.chunked_prefill
    assert kv_budget.scheduler_ranks(setup, 2, True) == 2
    assert offline.prompts_per_step(ld.load_for(r, setup, 64, 3000, 100)) == 4
    r_tp, _ = _two_ranks(False)
    assert offline.prompts_per_step(ld.load_for(r_tp, setup, 64, 3000, 100)) == 2
    sg = resolve_engine("sglang", planner.gpu("H100 SXM"))
    assert kv_budget.scheduler_ranks(sg, 2, True) == 1


def test_two_rank_wave_prefill_by_hand():
    """A wave of 8 prompts of 3000 tokens on two TensorRT-LLM ranks: 2 steps of 4 prompts (2 a rank: balanced,
    so nothing waits on a busier rank), each the GEMMs at 12,000 replica rows (6,000 a rank), the head at 4
    logits, the per-row and fixed costs, and two whole prompts' attention (the busiest rank's)."""
    from planner.estimate import load as ld, offline, simulate as sim
    r, setup = _two_ranks(True)
    load = ld.load_for(r, setup, 64, 3000, 100)
    steps = ld._steps(load)
    kern = perf.at_quantile(r.kern, 1)
    assert dpb.extra_s(r, kern, 0.0, 12000.0, 3000.0) == 0.0  # 4 prompts over 2 ranks: even
    one_prompt = float(sim.prefill_attention_s(r, 1, np.array([3000.0]))[0])
    step = (ld.linears_s(load, steps, 12000.0) + float(np.interp(4.0, np.arange(len(steps.head_s)), steps.head_s))
            + steps.per_row_s * 12000.0 + steps.fixed_s + 2 * one_prompt)
    assert offline.prefill_phase_s(load, steps, 8) == pytest.approx(2 * step, rel=1e-12)


def test_busiest_expert_rank_by_hand():
    """EP2: the busiest rank's experts multiply IMBALANCE (p50 1.3) x the mean rows each; the term is that grouped
    GEMM less the mean one, per MoE layer; nothing under TP or while the step reads weights only."""
    from planner.estimate import grouped_gemm, moe_train
    r, _ = _two_ranks(True)
    kern, m = perf.at_quantile(r.kern, 1), r.m
    rows = 4096.0  # the replica's: 2048 a rank, 2 x 2048 x 8 / 128 = 256 rows per expert, all 64 local experts hit
    local, per_expert = perf.routed_rows(m, 2048.0, 2)
    assert float(local) == pytest.approx(64.0, rel=1e-6) and float(per_expert) == pytest.approx(256.0, rel=1e-6)
    shapes = perf.mlp_shapes(m, m.moe_ffn_dim)
    f = moe_train.IMBALANCE["aux-loss"][1]
    by_hand = m.n_layers * 64.0 * float(grouped_gemm.stack_s(256.0 * f, shapes, kern, r.num)
                                        - grouped_gemm.stack_s(256.0, shapes, kern, r.num))
    assert float(dpb.ep_extra_s(r, kern, rows, 1)) == pytest.approx(by_hand, rel=1e-6)
    assert float(dpb.ep_extra_s(r, kern, rows, 0)) > float(dpb.ep_extra_s(r, kern, rows, 2))  # p10 rates: 1.5x
    assert float(dpb.ep_extra_s(_two_ranks(False)[0], kern, rows, 1)) == 0.0
    routed_one = m.n_layers * float(local) * float(grouped_gemm.stack_s(float(per_expert), shapes, kern, r.num))
    assert float(dpb.ep_extra_s(r, kern, 2.0, 1)) < 0.05 * routed_one  # 2 tokens: weight-bound, no one waits


def test_dense_replicas_get_none_of_it():
    """A dense model has no DP attention: one scheduler, no busiest rank, no expert ranks."""
    from planner.estimate import kv_budget
    g = planner.gpu("H100 SXM")
    setup = resolve_engine("tensorrt-llm", g)
    r = inf.replica(planner.model("Llama-3.1-8B"), g, "fp8", 2, setup)
    kern = perf.at_quantile(r.kern, 1)
    assert dpb.ranks(r) == 1 and _adds_nothing(r, kern)
    assert kv_budget.scheduler_ranks(setup, 2, False) == 1


def _adds_nothing(r, kern) -> bool:
    return (dpb.extra_s(r, kern, 100.0, 3000.0, 1000.0) == 0.0 and float(dpb.ep_extra_s(r, kern, 4096.0, 1)) == 0.0
            and dpb.prefill_attention_s(r, 0.01, 3000.0, 1000.0) == pytest.approx(0.03))


@pytest.mark.parametrize("b", [2, 64, 1024])
def test_a_dp_attention_decode_step_is_the_same_in_the_step_tables_and_inference_speed(b):
    """The busiest expert rank is in simulate's step tables (steady state, waves, runs) and in inference.decode_step_s
    (inference_speed, the serving grid) alike."""
    from planner.estimate import simulate as sim
    r, _ = _two_ranks(True)
    steps = sim.step_model(r, 1, 2048, 600.0)
    assert steps.time_s(b, b, b * 600.0, 0.0) == pytest.approx(float(inf.decode_step_s(r, b, 600.0)[0][1]), rel=1e-6)


def test_moe_permutation_by_hand():
    """Qwen3-30B-A3B (48 MoE layers, k = 8, dim 2048), fp8 (16-bit activations), 4096 replica rows on two DP ranks:
    each GPU dispatches 2048 tokens; permute writes their 8 copies and un-permute reads them back into one:
    (1 + 8) x 2048 x 2048 x 2 B each way per MoE layer, at the element-wise bandwidth. TP2: every GPU permutes all
    4096. A dense model: nothing."""
    from planner.estimate import moe_serving as moe
    r, _ = _two_ranks(True)
    kern, m = perf.at_quantile(r.kern, 1), r.m
    assert (m.n_experts_per_token, m.dim, r.num.activation_bytes) == (8, 2048, 2.0)
    per_gpu = 48 * 2 * 9 * 2048 * 2048 * 2.0 / (kern.peak_bytes_per_s * kern.elementwise_efficiency)
    assert float(moe.permutation_s(r, kern, 4096.0)) == pytest.approx(per_gpu, rel=1e-9)
    r_tp, _ = _two_ranks(False)
    assert float(moe.permutation_s(r_tp, kern, 4096.0)) == pytest.approx(2 * per_gpu, rel=1e-9)
    assert float(moe.step_extra_s(r, kern, 4096.0, 1)) == pytest.approx(
        per_gpu + float(dpb.ep_extra_s(r, kern, 4096.0, 1)), rel=1e-9)
    g = planner.gpu("H100 SXM")
    dense = inf.replica(planner.model("Llama-3.1-8B"), g, "fp8", 2, resolve_engine("tensorrt-llm", g))
    assert float(moe.step_extra_s(dense, kern, 4096.0, 1)) == 0.0
