"""TensorRT-LLM's measured context (prefill) attention (planner/estimate/context_attention.py): its FLOP rate by hand
in the prefill, the table's three-term form by hand, and the engines, rates and shapes it leaves alone."""
import dataclasses

import numpy as np
import pytest

from planner.calibration.efficiency import Efficiencies
from planner.catalog.lookup import gpu, model
from planner.core.band import Band
from planner.estimate import context_attention as ca
from planner.estimate import inference as inf
from planner.estimate import passes, perf
from planner.estimate.engine import resolve_engine

H100, A100 = gpu("H100 SXM"), gpu("A100 80GB SXM")
E_FP8, E_BF16 = 0.369, 0.547  # the H100 fits (scripts/context_attention_fit.py)


def _replica(name: str, engine: str = "tensorrt-llm", g=H100, precision: str = "fp8", kv=None, efficiencies=None):
    return inf.replica(model(name), g, precision, 1, resolve_engine(engine, g, efficiencies), kv)


def _prefill_attention_s(r, batch: float, prompt: float, q: int = 1) -> float:
    w = passes.prefill_work(r.m, r.num.kv_bytes, batch=batch, prompt_tokens=prompt)
    return float(perf.attention_s(r.m, w["batch"], w["new_tokens"], w["attn_flops_per_token"], w["kv_bytes_per_seq"],
                                  1, perf.at_quantile(r.kern, q)))


def test_llama_8b_fp8_prefill_attention_at_the_measured_rate_by_hand():
    # Llama-3.1-8B, one 5,000-token prompt: causal FLOPs 32 layers x 2 x 32 heads x 128 x 5,000 x 5,001 = 6.55491e12.
    # fp8 FMHA at e = 0.369 of H100's 1,979 TFLOP/s fp8 peak (730.2 TFLOP/s): 8.977 ms. The flat profile rate
    # (0.55 of the fp8 peak, 1,088 TFLOP/s) gave 6.02 ms: the test fails if the term were dropped.
    r = _replica("Llama-3.1-8B", kv="fp8")
    flops = 32 * 2.0 * 32 * 128 * 5000 * 5001
    assert flops == pytest.approx(6.55491e12, rel=1e-5)
    t = _prefill_attention_s(r, 1, 5000.0)
    assert t == pytest.approx(flops / (E_FP8 * H100.peak("fp8")), rel=1e-6)
    assert t == pytest.approx(8.977e-3, rel=2e-4)
    assert t > 1.4 * flops / (0.55 * H100.peak("fp8"))


def test_bf16_cache_runs_the_bf16_fmha_rate():
    # A bf16 checkpoint (bf16 cache): 0.547 of the bf16 peak, the same absolute rate whatever the compute peak.
    r = _replica("Llama-3.1-8B", precision="bf16", kv="bf16")
    p50 = float(np.ravel(r.kern.attention_efficiency)[1]) * float(r.kern.peak_flops_per_s)
    assert p50 == pytest.approx(E_BF16 * H100.peak("bf16"), rel=1e-9)


def test_the_band_keeps_its_spread():
    # p10/p50/p90 0.40/0.55/0.72 of the profile, scaled by 0.369 / 0.55.
    got = np.ravel(_replica("Llama-3.1-8B", kv="fp8").kern.attention_efficiency)
    assert got == pytest.approx([0.40 * E_FP8 / 0.55, E_FP8, 0.72 * E_FP8 / 0.55], rel=1e-9)


def test_layer_form_by_hand():
    # One layer, 2 prompts of 1,000 tokens, 32 heads over 8 KV heads: FLOPs 2 x 2 x 32 x 128 x 1,000 x 1,001 =
    # 1.640038e10 at 730.2 TFLOP/s = 22.460 us; elements 2 x 1,000 x 48 x 128 = 1.2288e7 x 2.21 ps = 27.156 us;
    # plus t0 18.4 us: 68.02 us. At tp 2: half the heads, FLOPs and elements, t0 whole.
    t0, e, c = ca.MEASURED["hopper"]["tensorrt-llm"]["fp8"]
    m, peak = model("Llama-3.1-8B"), H100.peak("fp8")
    t = float(ca.layer_s(t0, e, c, peak, m, 2, 1000.0))
    assert t == pytest.approx(18.4e-6 + 1.640038e10 / (0.369 * peak) + 1.2288e7 * 2.21e-12, rel=1e-6)
    assert t == pytest.approx(68.02e-6, rel=1e-3)
    assert float(ca.layer_s(t0, e, c, peak, m, 2, 1000.0, tp=2)) == pytest.approx(t0 + (t - t0) / 2, rel=1e-9)


@pytest.mark.parametrize("name, why", [("DeepSeek-V3", "MLA"), ("Llama-4-Scout", "chunked (windowed) attention"),
                                        ("Llama-3.2-1B", "head_dim 64")])
def test_shapes_outside_the_fit_keep_the_flat_rate(name, why):
    m = model(name)
    assert not ca.in_fitted_range(m), why
    assert ca.attention_factor(m, H100, "tensorrt-llm", "fp8", H100.peak("fp8"), 0.55, "engine profile") == 1.0


def test_other_engines_and_given_rates_keep_the_flat_rate():
    flat = [0.40, 0.55, 0.72]
    assert np.ravel(_replica("Llama-3.1-8B", engine="vllm").kern.attention_efficiency)[1] != pytest.approx(E_FP8)
    given = Efficiencies(gemm=Band(0.6, 0.7, 0.8), memory=Band(0.6, 0.7, 0.8), attention=Band(*flat))
    got = np.ravel(_replica("Llama-3.1-8B", kv="fp8", efficiencies=given).kern.attention_efficiency)
    assert got == pytest.approx(flat)


def test_a_gpu_without_the_fmha_dtype_measured_keeps_the_flat_rate():
    # A100 has no fp8: only its bf16 table is fitted; an fp8 cache there is not measured.
    assert ca.measured(model("Llama-3.1-8B"), A100, "tensorrt-llm", "fp8") is None
    assert ca.measured(model("Llama-3.1-8B"), A100, "tensorrt-llm", "bf16")[1] == pytest.approx(0.471)


def test_prefill_charges_the_qkv_term_by_hand():
    # Llama-3.1-8B fp8, one 2,048-token prompt: 2,048 x (32 + 2 x 8) x 128 x 32 layers = 4.0265e8 elements x 2.21 ps
    # = 0.8899 ms, on top of the FLOP term (perf.prefill_s and inference.prefill_s); none in a decode step. The test
    # fails if the term were dropped from the prefill.
    r = _replica("Llama-3.1-8B", kv="fp8")
    k = perf.at_quantile(r.kern, 1)
    assert k.context_s_per_element == pytest.approx(2.21e-12)
    assert float(ca.qkv_s(r.m, k, 2048.0)) == pytest.approx(2048 * 48 * 128 * 32 * 2.21e-12, rel=1e-9)
    assert float(ca.qkv_s(r.m, k, 2048.0)) == pytest.approx(0.8899e-3, rel=1e-3)
    bare = dataclasses.replace(k, context_s_per_element=0.0)
    with_term = float(perf.prefill_s(r.m, k, r.num, batch=1, prompt_tokens=2048.0))
    without = float(perf.prefill_s(r.m, bare, r.num, batch=1, prompt_tokens=2048.0))
    assert with_term - without == pytest.approx(0.8899e-3, rel=1e-3)
    pre, _, _ = inf.prefill_and_decode_s(r, 1, 2048.0, 2048.0)
    assert pre[1] == pytest.approx(float(np.ravel(inf.prefill_s(r, 1, 2048.0))[1]), rel=1e-9)  # both paths charge it
    assert _replica("Llama-3.1-8B", engine="vllm").kern.context_s_per_element == 0.0


def test_an_estimate_says_which_measured_attention_kernels_it_used():
    """The assumptions name the measured decode and context attention rates where they replace the flat
    efficiencies (TensorRT-LLM, a fitted shape), and nothing of them elsewhere (vLLM)."""
    import planner
    kw = dict(model="Llama-3.1-8B", gpu="H100 SXM", precision="fp8", tensor_parallel=1, prompt_tokens=1000,
              output_tokens=1000)
    trt = {a.name: a.value for a in planner.max_throughput(engine="tensorrt-llm", **kw).assumptions}
    assert "0.84 of bandwidth" in trt["decode_attention"] and "fp8 FMHA at 0.369" in trt["context_attention"]
    other = {a.name for a in planner.max_throughput(engine="vllm", **kw).assumptions}
    assert not {"decode_attention", "context_attention"} & other
