"""Inference roofline: hand-computed cases, a published figure, and invariants."""
from __future__ import annotations

import numpy as np
import pytest

import planner
from planner.estimate import arithmetic as ar
from planner.estimate import inference as inf
from planner.estimate import perf
from planner.core.band import Band
from planner.calibration.efficiency import Efficiencies
from planner.core.errors import DoesNotFitError, InputError, PlannerError
from planner.catalog.specs import ModelSpec

# Point efficiencies so the estimate is one number.
POINT = Efficiencies(gemm=Band.point(0.6), memory=Band.point(0.68), attention=Band.point(0.5), source="test points")

# Llama-2-70B shape (Touvron et al. 2023), built here so the test does not depend on the catalog.
BIG = ModelSpec(name="big-70b", n_layers=80, dim=8192, n_heads=64, n_kv_heads=8, ffn_dim=28672,
                vocab_size=32000)
# Mixtral-8x7B shape (Jiang et al. 2024): 8 experts, top-2.
MOE = ModelSpec(name="moe-8x7b", n_layers=32, dim=4096, n_heads=32, n_kv_heads=8, ffn_dim=14336,
                vocab_size=32000, n_experts=8, n_experts_per_token=2)


def test_decode_and_prefill_are_the_performance_model_s():
    """inference_speed is perf.py's prefill and decode step (hand-checked in test_perf.py) at the GPU's peaks."""
    m, g = planner.model("Llama-2-7B"), planner.gpu("A100 80GB SXM")
    r = inf.inference_speed(model=m, gpu=g, prompt_tokens=2048, output_tokens=2, efficiencies=POINT)
    kern, num = perf.kernels_for(g.peak("bf16"), g.memory_bytes_per_s, POINT), perf.Numerics()
    assert r.prefill_s.p50 == pytest.approx(float(perf.prefill_s(m, kern, num, batch=1, prompt_tokens=2048)[1]))
    step = perf.decode_step_s(m, kern, num, batch=1, context_tokens=2048 + 1)  # prompt + half the output
    assert r.decode_step_s.p50 == pytest.approx(float(step[1]))
    assert r.decode_step_s.spread == 0 and r.bound == "memory" and r.tpot_s == r.decode_step_s
    assert r.ttft_s == r.prefill_s and r.tokens_per_s_per_sequence.p50 == pytest.approx(1 / r.decode_step_s.p50)


def test_gpt_fast_published_batch1_decode_within_25_percent():
    # gpt-fast README, "Benchmarks" table (https://github.com/pytorch-labs/gpt-fast, README.md):
    # Llama-2-7B, Base (bf16), batch size 1, 5-token prompt, on an A100-80GB power-limited to
    # 330 W: 104.9 tokens/s (1397.31 GB/s). max_new_tokens defaults to 200 in generate.py.
    # IN-SAMPLE: the torch-compile engine profile's MBU was read off this same table.
    published_tokens_per_s = 104.9
    r = inf.inference_speed(model="Llama-2-7B", gpu="A100 80GB SXM", prompt_tokens=5, output_tokens=200,
                            engine="torch-compile")
    assert r.efficiency_source == "engine profile: torch-compile on nvidia"
    assert r.tokens_per_s_per_sequence.p50 == pytest.approx(published_tokens_per_s, rel=0.25)
    assert r.tokens_per_s_per_sequence.contains(published_tokens_per_s)


def test_bands_are_ordered_and_totals_scale_with_batch():
    r = inf.inference_speed(model="Llama-2-7B", gpu="H100 SXM", batch_size=8)
    assert r.decode_step_s.p10 < r.decode_step_s.p50 < r.decode_step_s.p90
    assert r.tokens_per_s_total.p50 == pytest.approx(8 * r.tokens_per_s_per_sequence.p50)
    assert r.e2e_s.p50 == pytest.approx(r.ttft_s.p50 + 255 * r.tpot_s.p50)


def test_large_batch_becomes_compute_bound():
    small = inf.inference_speed(model="Llama-2-7B", gpu="H100 SXM", batch_size=1, prompt_tokens=16,
                                output_tokens=16)
    large = inf.inference_speed(model="Llama-2-7B", gpu="H100 SXM", batch_size=2048, prompt_tokens=16,
                                output_tokens=16)
    assert (small.bound, large.bound) == ("memory", "compute")


@pytest.mark.parametrize("m", planner.models(), ids=lambda m: m.name)
@pytest.mark.parametrize("tp", [1, 2, 8])
@pytest.mark.parametrize("batch,context", [(1, 1024), (32, 4096)])
def test_int8_never_needs_more_memory_than_bf16(m, tp, batch, context):
    int8 = inf.memory_per_gpu_bytes(m, "int8", batch, context, tp)
    bf16 = inf.memory_per_gpu_bytes(m, "bf16", batch, context, tp)
    assert int8 <= bf16


def test_quantized_precisions_read_fewer_bytes_and_use_their_peak():
    kw = dict(model="Llama-2-7B", gpu="H100 SXM", prompt_tokens=128, output_tokens=128)
    bf16, int4 = inf.inference_speed(**kw), inf.inference_speed(precision="int4", **kw)
    assert int4.tpot_s.p50 < bf16.tpot_s.p50
    assert inf.inference_speed(precision="fp8", **kw).prefill_s.p50 < bf16.prefill_s.p50


def test_gpu_without_the_dtype_raises_clear_error():
    with pytest.raises(PlannerError, match="no fp8"):
        inf.inference_speed(model="Llama-2-7B", gpu="A100 80GB SXM", precision="fp8")


def test_does_not_fit_names_gigabytes_and_suggests_tp():
    with pytest.raises(DoesNotFitError, match=r"needs 1[0-9.]+ GB .* has 77\.3 GB usable.*tensor_parallel=2"):
        inf.inference_speed(model=BIG, gpu="H100 SXM", prompt_tokens=512, output_tokens=256)
    ok = inf.inference_speed(model=BIG, gpu="H100 SXM", tensor_parallel=2)
    assert ok.memory_per_gpu_bytes <= ok.usable_memory_bytes


def test_tensor_parallel_speeds_up_decode_less_than_linearly():
    one = inf.inference_speed(model="Llama-2-7B", gpu="H100 SXM", tensor_parallel=1)
    two = inf.inference_speed(model="Llama-2-7B", gpu="H100 SXM", tensor_parallel=2)
    assert one.tpot_s.p50 / 2 < two.tpot_s.p50 < one.tpot_s.p50


def test_moe_expected_experts_touched():
    assert inf.expected_experts_touched(8, 2, 1) == pytest.approx(2)
    assert inf.expected_experts_touched(8, 2, 2) == pytest.approx(8 * (1 - 0.75**2))  # 3.5
    touched = inf.expected_experts_touched(8, 2, np.arange(1, 200))
    assert np.all(np.diff(touched) >= 0) and touched[-1] == pytest.approx(8)


def _simulated_distinct_experts(n_experts, k, batch, trials, rng, ep=1):
    """Random routing: each of `batch` tokens picks k distinct experts of n uniformly; the distinct
    experts hit on EP rank 0 (experts 0 .. n/ep - 1), one count per trial."""
    picks = np.argpartition(rng.random((trials, batch, n_experts)), k - 1, axis=-1)[..., :k]
    hit = np.zeros((trials, n_experts), dtype=bool)
    np.put_along_axis(hit, picks.reshape(trials, -1), True, axis=1)
    return hit[:, : n_experts // ep].sum(axis=1)


@pytest.mark.parametrize("n_experts, k, batch, ep", [
    (8, 2, 1, 1), (8, 2, 3, 1), (8, 2, 16, 1),  # Mixtral: all 8 read from batch ~16
    (16, 1, 4, 1), (16, 1, 32, 1),  # Llama 4 Scout
    (128, 8, 1, 1), (128, 8, 8, 1), (128, 8, 64, 1),  # Qwen3 MoE
    (256, 8, 16, 8), (256, 8, 64, 8), (128, 1, 32, 4),  # per EP rank: DeepSeek-V3 at EP 8, Maverick at EP 4
])
def test_distinct_experts_formula_matches_a_simulation_of_random_routing(n_experts, k, batch, ep):
    """E (1 - (1 - k/E)^B) distinct experts per layer (and / ep per EP rank) against random top-k routing;
    the weight bytes a decode step reads grow with the batch until every expert is read."""
    counts = _simulated_distinct_experts(n_experts, k, batch, 400, np.random.default_rng(batch * n_experts + ep), ep)
    want = inf.expected_experts_touched(n_experts, k, batch) / ep
    assert abs(counts.mean() - want) <= 4 * counts.std() / np.sqrt(len(counts)) + 1e-9, (counts.mean(), want)
    m = ModelSpec("toy", n_layers=2, dim=64, n_heads=4, n_kv_heads=4, ffn_dim=128, vocab_size=100,
                  n_experts=n_experts, n_experts_per_token=k)
    per_gpu, rows_each = perf.routed_rows(m, batch, ep)  # `batch` rows per rank; the EP group routes ep x batch
    assert per_gpu == pytest.approx(inf.expected_experts_touched(n_experts, k, batch * ep) / ep)
    assert per_gpu * ep * rows_each == pytest.approx(batch * ep * k)  # every routed row lands on one expert


def test_interleaved_moe_decode_reads_only_its_moe_layers_experts():
    """Llama 4 Maverick (MoE in 24 of 48 layers): batch 1 reads the active weights, a large batch all of them."""
    m = planner.model("Llama-4-Maverick")
    assert inf.decode_weight_bytes(m, "bf16", 1) == pytest.approx(ar.active_params(m) * 2)
    assert inf.decode_weight_bytes(m, "bf16", 100_000) == pytest.approx(ar.weight_bytes(m, "bf16"))
    steps = inf.decode_weight_bytes(m, "bf16", np.array([1, 8, 64, 512]))
    assert np.all(np.diff(steps) > 0)


def test_moe_decode_reads_active_weights_at_batch1_and_all_at_large_batch():
    at1 = inf.decode_weight_bytes(MOE, "bf16", 1)
    assert at1 == pytest.approx(ar.active_params(MOE) * 2)
    assert inf.decode_weight_bytes(MOE, "bf16", 10_000) == pytest.approx(ar.weight_bytes(MOE, "bf16"))
    dense = planner.model("Llama-2-7B")
    assert inf.decode_weight_bytes(dense, "bf16", 64) == ar.weight_bytes(dense, "bf16")


def test_gqa_kv_cache_replicates_beyond_kv_heads():
    assert inf.kv_shards(BIG, 4) == 4
    assert inf.kv_shards(BIG, 16) == 8  # 8 KV heads: ranks beyond 8 hold copies


@pytest.mark.parametrize("field,kw", [("batch_size", {"batch_size": 0}), ("prompt_tokens", {"prompt_tokens": -1}),
                                      ("tensor_parallel", {"tensor_parallel": 1.5})])
def test_bad_inputs_name_the_field(field, kw):
    with pytest.raises(InputError, match=field):
        inf.inference_speed(model="Llama-2-7B", gpu="H100 SXM", **kw)


def test_to_dict_carries_source_and_assumptions():
    d = inf.inference_speed(model="Llama-2-7B", gpu="H100 SXM", tensor_parallel=2).to_dict()
    names = {a["name"] for a in d["assumptions"]}
    assert {"precision", "memory_reserve_fraction", "efficiency.memory", "tp_allreduce", "performance_model",
            "engine", "kv_cache_dtype", "weight_stream_factor", "scheduler_overhead_s"} <= names
    assert d["efficiency_source"] == "engine profile: vllm on nvidia"
    assert d["tpot_s"].keys() == {"p10", "p50", "p90"}
