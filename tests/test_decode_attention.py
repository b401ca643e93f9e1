"""TensorRT-LLM's measured decode-attention kernel (planner/estimate/decode_attention.py): the K/V read rate and the
per-layer fixed time by hand, the shapes and engines it leaves alone, and the 8B vs 70B throughput it moves."""
import dataclasses

import pytest

from planner.calibration.efficiency import Efficiencies
from planner.catalog.lookup import gpu, model
from planner.core.band import Band
from planner.estimate import arithmetic as ar
from planner.estimate import decode_attention as da
from planner.estimate import inference as inf
from planner.estimate import perf
from planner.estimate.engine import resolve_engine
from planner.estimate.throughput import max_throughput

H100 = gpu("H100 SXM")
T0_S, E = 8.8e-6, 0.84  # the H100 fit (scripts/decode_attention_fit.py)


def _kern(model_name: str, engine: str = "tensorrt-llm", g=H100, efficiencies=None) -> perf.Kernels:
    r = inf.replica(model(model_name), g, "fp8", 1, resolve_engine(engine, g, efficiencies), "fp8")
    return perf.at_quantile(r.kern, 1)


def test_llama_8b_kv_read_at_the_measured_rate_by_hand():
    # Llama-3.1-8B, fp8 KV: 32 layers x 2 (K, V) x 8 KV heads x 128 x 1 B = 65,536 B per cached token. 100 sequences
    # at 1,000 cached tokens read 6.5536e9 B; at e = 0.84 of 3.35 TB/s (2.814e12 B/s) that is 2.3289 ms. The flat
    # memory p50 of the engine profile (0.68) would give 2.8770 ms: the test fails if the rule were dropped.
    m, kern = model("Llama-3.1-8B"), _kern("Llama-3.1-8B")
    kv_bytes = float(ar.kv_cache_bytes(m, 1000.0, 1.0))
    assert kv_bytes == pytest.approx(65_536 * 1000)
    t = float(perf.attention_s(m, 100, 1.0, ar.attention_flops_per_token(m, 1000.0), kv_bytes, 1, kern))
    assert t == pytest.approx(6.5536e9 / (E * 3.35e12), rel=1e-6)
    assert t == pytest.approx(2.3289e-3, rel=1e-4)


def test_per_layer_fixed_time_by_hand():
    # One attention call per layer per pass: 32 x 8.8 us = 0.2816 ms on top of TensorRT-LLM's 0.3 ms per pass.
    m, kern = model("Llama-3.1-8B"), _kern("Llama-3.1-8B")
    assert kern.layer_overhead_s == pytest.approx(T0_S)
    assert float(perf.overheads_s(m, kern)) == pytest.approx(32 * T0_S + 0.0003)


def test_the_band_keeps_its_spread_and_stays_under_the_bandwidth():
    # p10/p50/p90 memory 0.55/0.68/0.78 scaled by 0.84/0.68: 0.679/0.84/0.964, each under 1.
    r = inf.replica(model("Llama-3.1-8B"), H100, "fp8", 1, resolve_engine("tensorrt-llm", H100), "fp8")
    rates = [perf._attention_rates(r.m, 1, perf.at_quantile(r.kern, q))[1] / 3.35e12 for q in (0, 1, 2)]  # noqa: SLF001
    assert rates == pytest.approx([0.55 * E / 0.68, E, 0.78 * E / 0.68], rel=1e-6)
    doubled = dataclasses.replace(perf.at_quantile(r.kern, 2), kv_stream_factor=2.0)
    assert perf._attention_rates(r.m, 1, doubled)[1] == pytest.approx(3.35e12)  # noqa: SLF001  (capped at the peak)


@pytest.mark.parametrize("name, why", [("Llama-3.1-405B", "16 query heads per KV head: outside the fitted 2-8"),
                                        ("Qwen3-235B-A22B", "16 query heads per KV head"),
                                        ("DeepSeek-V3", "MLA")])
def test_shapes_outside_the_fit_keep_the_flat_rate(name, why):
    kern = _kern(name)
    assert kern.kv_stream_factor == 1.0, why
    assert kern.layer_overhead_s == 0.0, why


def test_other_engines_gpus_and_given_rates_keep_the_flat_rate():
    assert _kern("Llama-3.1-8B", "vllm").kv_stream_factor == 1.0
    assert da.kv_stream_factor(model("Llama-3.1-8B"), gpu("A100 80GB SXM"), "tensorrt-llm", 0.68, "engine profile") == 1.0
    given = Efficiencies(gemm=Band(0.5, 0.6, 0.7), memory=Band(0.6, 0.7, 0.8), attention=Band(0.4, 0.5, 0.6))
    kern = _kern("Llama-3.1-8B", efficiencies=given)
    assert kern.kv_stream_factor == 1.0 and kern.layer_overhead_s == 0.0
    assert da.kv_stream_factor(model("Llama-3.1-8B"), H100, "tensorrt-llm", 0.7, "silicon") == 1.0


def test_a_kv_bound_small_model_moves_and_a_weight_bound_large_one_stays():
    # The perf overview's CALIBRATION rows (serving_published.toml): Llama-3.1-8B fp8 on one H100 at 128/2048, 22,714
    # tok/s, spends ~60% of a step reading K/V (batch ~490) and was -19% at the flat rate; Llama-3.3-70B fp8 on one
    # H200, 4,336 tok/s, ~25% (batch ~190), was -2%. With the measured kernel: within 12% and 5%; since trtllm-bench's
    # decode steps are charged at the CUDA graph's padded rows (graph_padding.py, 2026-12-08) the 70B row is -6%: 8%.
    def tokens(name, g):
        return max_throughput(model=name, gpu=g, precision="fp8", engine="tensorrt-llm", kv_cache_dtype="fp8",
                              tensor_parallel=1, prompt_tokens=128, output_tokens=2048,
                              num_requests=3000).tokens_per_s.p50
    assert tokens("Llama-3.1-8B", H100) / 22_714 - 1 == pytest.approx(0.0, abs=0.12)
    assert tokens("Llama-3.3-70B", gpu("H200 SXM")) / 4_336 - 1 == pytest.approx(0.0, abs=0.08)
