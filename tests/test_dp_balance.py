"""Under DP attention a prompt is prefilled whole on one rank (estimate/dp_balance.py)."""
from __future__ import annotations

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
