"""The max_batch_size and max_num_tokens trtllm-bench throughput picks from the dataset (estimate/trtllm_bench.py)."""
from __future__ import annotations

import dataclasses

import pytest

import planner
from planner.estimate import inference as inf, kv_budget, trtllm_bench as tb
from planner.estimate.engine import resolve_engine

GIB = 2 ** 30


def test_finetune_setting_rounds_as_tuning_py_by_hand():
    """finetune_setting at 821.4 requests, ISL/OSL 5000/500: raw_bs 821.4 (256-1024: 128 x ceil(6.42) = 896);
    raw_tokens 821.4 x (1 + 10) = 9035.4 (>= 8192: 1024 x ceil(8.82) = 9216)."""
    assert tb.finetune_setting(821.4, 5000, 500) == (896, 9216)
    # under 256 requests the batch is max(64, 32 x ceil(raw / 32)); under 4096 tokens, max(2048, 256 x ceil(raw / 256))
    assert tb.finetune_setting(40.0, 128, 2048) == (64, 2048)
    assert tb.finetune_setting(200.0, 2000, 100) == (224, 4608)  # 200 x 21 = 4200 tokens: 512 x ceil(8.2)
    # the caps: 4096 requests, 32768 tokens; past 1024 requests the batch rounds to 256
    assert tb.finetune_setting(10_000.0, 1000, 1000) == (4096, 8192)
    assert tb.finetune_setting(3000.0, 20000, 2000) == (3072, 32768)


def test_kv_requests_by_hand_llama_8b_h100():
    """Llama-3.1-8B fp8 on one H100 at 1000/1000, fraction 0.95: 2 x 32 layers x max(1, 8) heads x 128 x 1 B =
    65,536 B a token; (80 GiB - 8.03e9 params x 1 B) x 0.95 / (65,536 B x 2000) = 564.4 requests -> (640, 2048):
    raw tokens 1128.8 rounds up to the 2048 floor, above ISL + max_bs = 1640."""
    m, g = planner.model("Llama-3.1-8B"), planner.gpu("H100 SXM")
    cache_gib = (80.0 - 8_030_261_248 / GIB) * 0.95
    want = cache_gib / (65_536 / GIB * 2000)
    assert tb.kv_max_requests(m, g, "fp8", 1, "fp8", 1000, 1000, 0.95) == pytest.approx(want)
    assert want == pytest.approx(564.4, abs=0.1)
    assert tb.bench_limits(m, g, "fp8", 1, "fp8", 1000, 1000, 0.95, chunked=False) == (640, 2048)
    # a 16-bit KV cache doubles the bytes a token: half the requests
    assert tb.kv_max_requests(m, g, "fp8", 1, "bf16", 1000, 1000, 0.95) == pytest.approx(want / 2)


def test_unchunked_budget_holds_a_prompt_and_the_batch():
    """Qwen3-235B-A22B fp8 on 8 H100s at 5000/500: 405.6 requests -> (512, 4608), and without chunked prefill
    get_settings raises max_num_tokens to ISL + max_bs = 5512 (chunked: it stays 4608)."""
    m, g = planner.model("Qwen3-235B-A22B"), planner.gpu("H100 SXM")
    req = tb.kv_max_requests(m, g, "fp8", 8, "fp8", 5000, 500, 0.95)
    assert req == pytest.approx(405.6, abs=0.1)
    assert tb.bench_limits(m, g, "fp8", 8, "fp8", 5000, 500, 0.95, chunked=False) == (512, 5512)
    assert tb.bench_limits(m, g, "fp8", 8, "fp8", 5000, 500, 0.95, chunked=True) == (512, 4608)


def test_untuned_quantisation_keeps_build_config_defaults():
    m, g = planner.model("Llama-3.1-8B"), planner.gpu("H100 SXM")
    assert tb.bench_limits(m, g, "int4-weight-only", 1, "bf16", 1000, 1000, 0.95, chunked=True) == tb.DEFAULT_LIMITS


def test_max_throughput_runs_with_the_benchmarks_limits():
    """Fails if the rule is dropped: the replica's cap is 8 x the heuristic's 1280, not 8 x the profile's 2048, and the
    MoE workspace follows the heuristic's max_num_tokens (2048 per rank, not 8192)."""
    kw = dict(model="Qwen3-235B-A22B", gpu="H100 SXM", precision="fp8", engine="tensorrt-llm", tensor_parallel=8,
              prompt_tokens=128, output_tokens=2048, attention_dp=True)
    t = planner.max_throughput(**kw)
    assert t.batch_cap == 8 * 1280
    limits = [a.value for a in t.assumptions if a.name == "scheduler_limits"]
    assert limits == ["max_batch_size 1280, max_num_tokens 2048"]
    setup = tb.bench_setup(resolve_engine("tensorrt-llm", planner.gpu("H100 SXM")), planner.model("Qwen3-235B-A22B"),
                           planner.gpu("H100 SXM"), "fp8", 8, "fp8", 128, 2048)
    assert (setup.batch_cap, setup.chunk_tokens, setup.moe_profile_tokens) == (1280, 2048, 2048)
    assert setup is tb.bench_setup(resolve_engine("tensorrt-llm", planner.gpu("H100 SXM")),
                                   planner.model("Qwen3-235B-A22B"), planner.gpu("H100 SXM"), "fp8", 8, "fp8", 128, 2048)
    # the fused-MoE workspace of the profiling forward is linear in its rows: a quarter of the profile's 8192
    m, g = planner.model("Qwen3-235B-A22B"), planner.gpu("H100 SXM")
    tuned = inf.replica(m, g, "fp8", 8, setup, attention_dp=True)
    default = inf.replica(m, g, "fp8", 8, resolve_engine("tensorrt-llm", g), attention_dp=True)
    assert kv_budget.engine_workspace_bytes(tuned) == pytest.approx(kv_budget.engine_workspace_bytes(default) / 4)
    # a cap the caller gives is the engine's as before (per attention rank), with the profile's token budget
    assert planner.max_throughput(**kw, max_batch_size=2048).batch_cap == 8 * 2048


def test_other_engines_are_untouched():
    g = planner.gpu("H100 SXM")
    setup = resolve_engine("vllm", g)
    assert tb.bench_setup(setup, planner.model("Llama-3.1-8B"), g, "fp8", 1, "fp8", 1000, 1000) is setup
    prof = dataclasses.replace(resolve_engine("tensorrt-llm", g).profile, bench_tunes_limits=False)
    plain = dataclasses.replace(resolve_engine("tensorrt-llm", g), profile=prof)
    assert tb.bench_setup(plain, planner.model("Llama-3.1-8B"), g, "fp8", 1, "fp8", 1000, 1000) is plain


def test_the_results_assumptions_list_the_limits_the_run_used_not_the_profiles_defaults():
    """max_throughput on TensorRT-LLM without a max_batch_size runs at trtllm-bench's own limits; the engine entries of
    its assumptions say so (one answer: no 8,192-token default beside the 2,304 tokens the run used)."""
    import planner
    r = planner.max_throughput(model="Qwen3-235B-A22B", gpu="H100 SXM", precision="fp8", engine="tensorrt-llm",
                               tensor_parallel=8, attention_dp=True, prompt_tokens=1000, output_tokens=1000)
    got = {a.name: a.value for a in r.assumptions}
    limits = got["scheduler_limits"]
    assert f"max_batch_size {got['max_batch_size_default']}," in limits
    tokens = int(limits.rsplit(" ", 1)[1])
    assert tokens != 8192 and got["moe_profile_tokens"] == tokens
    assert got["chunked_prefill"].endswith(f"{tokens} tokens per step")
