"""MoE serving (planner/estimate/moe_serving.py): experts touched per batch, bytes per decode step, DP attention
with expert parallelism, the per-MoE-layer fixed cost, and the calibration/validation split of the serving check."""
import dataclasses

import numpy as np
import pytest

import planner
from planner.catalog.engines import profile_from_dict, engine_profiles
from planner.catalog.published import published_serving_figures
from planner.catalog.specs import ModelSpec
from planner.core.errors import InputError, PlannerError, PlannerTypeError
from planner.estimate import inference as inf
from planner.estimate import moe_serving as moe
from planner.estimate import perf, serving_check

# A toy MoE: 4 layers, dim 64, 16 experts of width 32 (SwiGLU: 3 x 64 x 32 = 6144 weights each), top-2.
TOY = ModelSpec(name="toy-moe", n_layers=4, dim=64, n_heads=4, n_kv_heads=2, ffn_dim=128, vocab_size=1000,
                n_experts=16, n_experts_per_token=2, moe_ffn_dim=32)
EXPERT_WEIGHTS = 3 * 64 * 32


def _simulated_touched(n_experts, k, tokens, ep, trials, rng):
    """Random routing: each token picks k distinct experts uniformly; distinct experts rank 0 (experts
    0 .. n/ep - 1) sees, averaged over trials."""
    picks = np.argsort(rng.random((trials, tokens, n_experts)), axis=-1)[..., :k]
    hit = np.zeros((trials, n_experts), dtype=bool)
    np.put_along_axis(hit, picks.reshape(trials, -1), True, axis=1)
    return hit[:, : n_experts // ep].sum(axis=1).mean()


@pytest.mark.parametrize("tokens", [1, 3, 16, 64, 256])
@pytest.mark.parametrize("ep", [1, 4])
def test_distinct_experts_match_random_routing(tokens, ep):
    rng = np.random.default_rng(7)
    simulated = _simulated_touched(64, 4, tokens, ep, 400, rng)
    formula = float(moe.distinct_experts_per_rank(64, 4, tokens, ep))
    assert formula == pytest.approx(simulated, rel=0.03, abs=0.05)


def test_distinct_experts_grow_to_all_and_broadcast():
    b = np.array([1, 2, 8, 10_000])
    got = moe.distinct_experts_per_rank(16, 2, b, 2)
    assert got.shape == (4,) and got[0] == pytest.approx(2 / 2) and got[-1] == pytest.approx(8.0)
    assert np.all(np.diff(got) > 0)


def test_expert_bytes_per_decode_step_by_hand():
    # B = 1: k = 2 experts per layer, 4 layers, bf16: 4 x 2 x 6144 x 2 B.
    assert float(moe.expert_bytes_read_per_gpu(TOY, "bf16", 1)) == pytest.approx(4 * 2 * EXPERT_WEIGHTS * 2)
    # Large B: every one of the 16 experts; over EP 4 a GPU reads its 4; over TP 2 half of each.
    assert float(moe.expert_bytes_read_per_gpu(TOY, "bf16", 10**6)) == pytest.approx(4 * 16 * EXPERT_WEIGHTS * 2)
    assert float(moe.expert_bytes_read_per_gpu(TOY, "bf16", 10**6, ep=4)) == pytest.approx(4 * 4 * EXPERT_WEIGHTS * 2)
    assert float(moe.expert_bytes_read_per_gpu(TOY, "bf16", 10**6, tp=2)) == pytest.approx(4 * 8 * EXPERT_WEIGHTS * 2)
    # B = 4: 16 (1 - (14/16)^4) experts per layer.
    touched = 16 * (1 - (14 / 16) ** 4)
    assert float(moe.expert_bytes_read_per_gpu(TOY, "bf16", 4)) == pytest.approx(4 * touched * EXPERT_WEIGHTS * 2)


def test_decode_memory_traffic_reads_the_experts_the_batch_touches():
    """The MoE layer's GEMMs in the decode step (perf.ffn_s) stream exactly the experts touched plus the router:
    with unlimited FLOP/s, unit efficiencies and no activation bytes, time x bandwidth = bytes."""
    bw = 1e12
    kern = perf.Kernels(peak_flops_per_s=np.inf, peak_bytes_per_s=bw, gemm_efficiency=1.0, memory_efficiency=1.0,
                        attention_efficiency=1.0)
    num = perf.Numerics(weight_bytes=2.0, activation_bytes=0.0)
    router = 16 * 64 * 2
    for batch in (1, 4, 10**6):
        moved = float(perf.ffn_s(TOY, batch, 1, kern, num, moe=True)) * bw
        assert moved == pytest.approx(float(moe.expert_bytes_read_per_gpu(TOY, "bf16", batch)) / 4 + router)


def test_dp_attention_kv_per_gpu_by_hand_for_mla():
    """DeepSeek-R1's MLA caches 512 + 64 = 576 elements per token and layer, 61 layers. Over TP8 every GPU holds
    all of it (one latent, no heads to split); with DP attention each of 8 GPUs holds its 1/8 of the sequences."""
    m = planner.model("DeepSeek-R1")
    per_token = 61 * (512 + 64) * 1.0  # fp8 KV
    tp = float(inf.kv_bytes_per_gpu(m, 64, 1000, 8, 1.0))
    dp = float(inf.kv_bytes_per_gpu(m, 64, 1000, 8, 1.0, attention_dp=True))
    assert tp == pytest.approx(64 * 1000 * per_token)
    assert dp == pytest.approx(64 * 1000 * per_token / 8)


def test_dp_attention_weights_per_gpu_by_hand():
    total = planner.estimate.arithmetic.weight_bytes(TOY, "bf16")
    experts = 4 * 16 * EXPERT_WEIGHTS * 2
    s = moe.split(TOY, 4, True)
    assert (s.tp, s.ep) == (1, 4)
    assert moe.weight_bytes_per_gpu(TOY, "bf16", s) == pytest.approx(total - experts + experts / 4)
    assert moe.weight_bytes_per_gpu(TOY, "bf16", moe.split(TOY, 4, False)) == pytest.approx(total / 4)
    assert list(s.local(np.array([1, 4, 5, 9]))) == [1, 1, 2, 3]  # the busiest rank's sequences


def test_dp_attention_raises_mla_throughput_and_is_refused_for_dense():
    kw = dict(model="DeepSeek-R1", gpu="H200 SXM", precision="fp8", engine="sglang", tensor_parallel=8,
              prompt_tokens=1000, output_tokens=1000)
    tp, dp = planner.max_throughput(**kw), planner.max_throughput(**kw, attention_dp=True)
    assert dp.max_batch_kv > 4 * tp.max_batch_kv and dp.tokens_per_s.p50 > tp.tokens_per_s.p50
    with pytest.raises(InputError, match="attention_dp"):
        planner.max_throughput(model="Llama-3.1-8B", gpu="H100 SXM", tensor_parallel=2, attention_dp=True)
    with pytest.raises(PlannerTypeError, match="attention_dp"):
        planner.inference_speed(model="Qwen3-30B-A3B", gpu="H100 SXM", attention_dp="yes")


def test_moe_layer_overhead_counts_once_per_moe_layer():
    kern = perf.Kernels(peak_flops_per_s=1e15, peak_bytes_per_s=1e12, gemm_efficiency=1.0, memory_efficiency=1.0,
                        attention_efficiency=1.0, moe_layer_overhead_s=3e-5, pass_overhead_s=1e-4)
    m = planner.model("Llama-4-Maverick")  # 48 layers, every second one MoE
    assert perf.overheads_s(m, kern) == pytest.approx(24 * 3e-5 + 1e-4)
    assert perf.overheads_s(planner.model("Llama-2-7B"), kern) == pytest.approx(1e-4)


def test_batch_one_moe_decode_pays_the_engine_moe_cost():
    kw = dict(model="Qwen3-235B-A22B", gpu="H200 SXM", precision="fp8", tensor_parallel=8, batch_size=1)
    sglang = planner.inference_speed(engine="sglang", **kw).tpot_s.p50
    ideal = planner.inference_speed(engine="roofline", **kw).tpot_s.p50
    assert sglang - ideal > 94 * 35e-6  # 94 MoE layers x SGLang's 35 us, beyond the bandwidth difference


def test_engine_profile_moe_fields_are_checked():
    d = {"name": "sglang", "vendor": "nvidia", "memory": [0.5, 0.6, 0.7], "gemm": [0.5, 0.6, 0.7],
         "attention": [0.5, 0.6, 0.7], "pass_overhead_s": 0.0, "weight_stream": {}, "kv_cache_dtype": {},
         "max_batch_size": 8, "chunked_prefill": True, "prefill_chunk_tokens": 2048, "kv_admission": "on_demand",
         "memory_reserve_fraction": 0.1,
         "sources": {k: {"url": "https://x.org", "checked": "2026-12-07"} for k in
                     ("memory", "gemm", "attention", "pass_overhead_s", "weight_stream", "kv_cache_dtype",
                      "max_batch_size", "chunked_prefill", "kv_admission", "memory_reserve_fraction")}}
    assert profile_from_dict(d).moe_layer_overhead_s == 0.0
    with pytest.raises(PlannerError, match="moe_layer_overhead_s"):
        profile_from_dict({**d, "moe_layer_overhead_s": 3e-5})  # a number without its source
    with pytest.raises(PlannerError, match="grouped_gemm_factor"):
        profile_from_dict({**d, "grouped_gemm_factor": 1.5})
    for p in engine_profiles():
        if p.name != "roofline":
            assert p.moe_layer_overhead_s > 0 and "moe_layer_overhead_s" in p.sources
            # the routed experts follow grouped_gemm.py's curve (the one training uses), not a flat share
            assert p.grouped_gemm_factor == 1 and "grouped_gemm_factor" in p.sources


def test_published_figures_have_a_set_and_enough_moe_figures():
    figs = published_serving_figures()
    assert {f.set for f in figs} == {"calibration", "validation"}
    moe_figs = [f for f in figs if planner.model(f.model).is_moe]
    assert len(moe_figs) >= 8
    assert sum(f.set == "validation" for f in moe_figs) >= 4
    assert all(f.checked in ("2026-12-07", "2026-12-08") for f in (x.source for x in moe_figs))  # read in this work


def test_serving_check_reports_the_two_sets_apart():
    df = serving_check.check()
    lines = serving_check.summary_line(df).splitlines()
    assert lines[0].startswith("CALIBRATION (IN-SAMPLE)") and lines[1].startswith("VALIDATION (held out)")
    n_val = int((df["set"] == "validation").sum())
    assert f"over {n_val} figures" in lines[1]
    table = serving_check.markdown_table(df)
    assert table.count("| validation |") == n_val


def test_decode_step_dp_attention_uses_the_busiest_rank():
    m = planner.model("Qwen3-30B-A3B")
    g = planner.gpu("H100 SXM")
    setup = planner.estimate.engine.resolve_engine("sglang", g)
    r_dp = inf.replica(m, g, "bf16", 4, setup, attention_dp=True)
    step4, _ = inf.decode_step_s(r_dp, np.array([4.0]), 1000)
    step1, _ = inf.decode_step_s(r_dp, np.array([1.0]), 1000)
    # 4 sequences over 4 ranks: one each, so the attention part is one sequence's, as at batch 1.
    assert np.all(step4 >= step1) and np.all(step4 < 2 * step1)
    assert dataclasses.replace(r_dp.split, attention_dp=False).tp == 4


def test_dp_attention_gather_and_scatter_bytes_by_hand():
    """TOY (4 MoE layers, dim 64, top-2) over 4 DP-attention ranks, 10 tokens in the step, bf16 activations, on a
    link of 1 GB/s bus bandwidth, 1 us latency and no hop latency. Per MoE layer: the all-gather carries 10 x (64 x 2
    + 2 x (4 + 4)) = 1,440 bytes, at (4 - 1)/4 of them over the bus = 1,080 B -> 1.08 us + 1 us; the reduce-scatter
    10 x 64 x 2 = 1,280 bytes -> 960 B -> 0.96 us + 1 us; 4 layers: 4 x 4.04 us = 16.16 us."""
    link = moe.comm.Link("toy", latency_s=1e-6, bus_bytes_per_s=1e9)
    assert moe.gather_bytes_per_token(TOY, 2.0) == 64 * 2 + 2 * 8
    got = float(moe.dp_collectives_s(TOY, 10.0, moe.Split(4, True), link, 2.0))
    assert got == pytest.approx(4 * ((1.08e-6 + 1e-6) + (0.96e-6 + 1e-6)), rel=1e-12)
    assert float(moe.dp_collectives_s(TOY, 10.0, moe.Split(1, True), link, 2.0)) == 0.0  # one rank: nothing to gather
    # arrays broadcast elementwise, and 0 tokens still pay the two latencies per layer
    arr = moe.dp_collectives_s(TOY, np.array([0.0, 10.0]), moe.Split(4, True), link, 2.0)
    assert arr.tolist() == pytest.approx([4 * 2e-6, got], rel=1e-12)


def test_fp8_experts_gather_their_input_in_fp8_and_scatter_in_bf16():
    """W8A8 fp8 (TensorRT-LLM's per-tensor FP8 QDQ path) quantises before the gather: TOY's 10 tokens gather
    10 x (64 x 1 + 2 x 8) = 800 bytes (600 B over the bus, 0.6 us + 1 us) and scatter 1,280 in bf16 (0.96 us + 1 us):
    4 layers x 3.56 us. Weight-only and bf16 formats gather the bf16 activations as they are."""
    link = moe.comm.Link("toy", latency_s=1e-6, bus_bytes_per_s=1e9)
    assert moe.gather_element_bytes("fp8", 2.0) == 1.0
    assert moe.gather_element_bytes("bf16", 2.0) == moe.gather_element_bytes("int4-weight-only", 2.0) == 2.0
    got = float(moe.dp_collectives_s(TOY, 10.0, moe.Split(4, True), link, 2.0, "fp8"))
    assert got == pytest.approx(4 * ((0.6e-6 + 1e-6) + (0.96e-6 + 1e-6)), rel=1e-12)
    assert float(moe.dp_collectives_s(TOY, 10.0, moe.Split(4, True), link, 2.0, "bf16")) == pytest.approx(
        float(moe.dp_collectives_s(TOY, 10.0, moe.Split(4, True), link, 2.0)), rel=1e-12)
