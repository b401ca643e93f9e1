"""The layer-wise performance model (planner/estimate/perf.py) against hand computations."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import planner
from planner.catalog.specs import ModelSpec
from planner.estimate import arithmetic as ar
from planner.estimate import perf

PEAK, BW = 312e12, 2.039e12  # A100 80GB: dense bf16, HBM2e
KERN = perf.Kernels(peak_flops_per_s=PEAK, peak_bytes_per_s=BW, gemm_efficiency=0.6, memory_efficiency=0.7,
                    attention_efficiency=0.5, elementwise_efficiency=0.8)
NUM = perf.Numerics()  # bf16 weights, activations, KV
L2 = planner.model("Llama-2-7B")  # 32 layers, dim 4096, 32 MHA heads of 128, SwiGLU 11008, vocab 32000
MOE = ModelSpec(name="moe-8x7b", n_layers=32, dim=4096, n_heads=32, n_kv_heads=8, ffn_dim=14336,
                vocab_size=32000, n_experts=8, n_experts_per_token=2)


def test_gemm_is_overhead_plus_the_slower_of_compute_and_memory():
    k = dataclasses.replace(KERN, gemm_overhead_s=1e-5, gemm_half_rows=32.0)
    # 4096^3: compute 2 x 4096^2 x (4096 + 32) / (312e12 x 0.6); memory (3 x 4096^2 x 2 B) / (2.039e12 x 0.7).
    compute = 2 * 4096**2 * (4096 + 32) / (PEAK * 0.6)
    assert perf.gemm_s(4096, 4096, 4096, k, NUM) == pytest.approx(1e-5 + compute)
    # One row: memory-bound, the weight plus one input and one output row.
    memory = (4096 * 4096 + 2 * 4096) * 2 / (BW * 0.7)
    assert perf.gemm_s(1, 4096, 4096, k, NUM) == pytest.approx(1e-5 + memory)


def test_half_rows_halve_the_rate_of_a_gemm_that_many_rows_tall():
    k = dataclasses.replace(KERN, gemm_half_rows=64.0, memory_efficiency=1e9)  # no memory bound
    rate = 2 * 64 * 8192 * 8192 / perf.gemm_s(64, 8192, 8192, k, NUM)
    assert rate == pytest.approx(0.5 * PEAK * 0.6)


def test_one_row_is_a_gemv_without_tile_fill_and_two_rows_pay_it():
    # A CPU-like device: compute slow enough that the tile fill of 64 rows would dominate one row.
    k = dataclasses.replace(KERN, peak_flops_per_s=1e11, peak_bytes_per_s=2e10, gemm_half_rows=64.0)
    memory = (4096 * 4096 + 2 * 4096) * 2 / (2e10 * 0.7)
    assert perf.gemm_s(1, 4096, 4096, k, NUM) == pytest.approx(memory)
    assert perf.gemm_s(2, 4096, 4096, k, NUM) == pytest.approx(2 * 4096**2 * (2 + 64) / (1e11 * 0.6))


def _decode_by_hand(batch: int, keys: int) -> float:
    """Llama-2-7B decode step on KERN: every GEMM memory-bound, attention reads K/V, fused element-wise."""
    layer = [(4096, 4096)] * 4 + [(11008, 4096), (11008, 4096), (4096, 11008)]
    shapes = layer * 32 + [(32000, 4096)]
    gemm_bytes = sum(n * k * 2 + batch * (n + k) * 2 for n, k in shapes)
    kv_bytes = batch * keys * 32 * 2 * 32 * 128 * 2  # layers x (K, V) x heads x head_dim x 2 B
    elementwise = 32 * batch * (4 * 2 * 4096 + 1 * 2 * 4096 + 3 * 11008) * 2  # norms+residual, cache write, SwiGLU
    return (gemm_bytes + kv_bytes) / (BW * 0.7) + elementwise / (BW * 0.8)


@pytest.mark.parametrize("batch", [1, 4])
def test_decode_step_by_hand(batch):
    got = perf.decode_step_s(L2, KERN, NUM, batch=batch, context_tokens=1000)
    assert got == pytest.approx(_decode_by_hand(batch, 1000), rel=1e-9)
    assert perf.decode_is_memory_bound(L2, KERN, NUM, batch=batch, context_tokens=1000)


def test_prefill_by_hand_is_compute_bound():
    p = 2048
    flops_gemm = 2 * p * (ar.matmul_params(L2) - 32000 * 4096)  # the head runs on the last position only
    attention = p * 2 * 32 * 32 * 256 * (p + 1) / 2  # causal: (P + 1) / 2 keys on average
    elementwise = 32 * p * (8 * 4096 + 2 * 4096 + 3 * 11008) * 2 / (BW * 0.8)
    head = perf.gemm_s(1, 32000, 4096, KERN, NUM)  # one row: memory-bound
    expected = flops_gemm / (PEAK * 0.6) + attention / (PEAK * 0.5) + elementwise + head
    got = perf.prefill_s(L2, KERN, NUM, batch=1, prompt_tokens=p)
    assert got == pytest.approx(expected, rel=2e-3)  # norms' and biases' FLOPs left out of the hand count


def test_tensor_parallel_splits_gemms_and_heads():
    one = perf.decode_step_s(L2, KERN, NUM, batch=1, context_tokens=1000)
    two = perf.decode_step_s(L2, KERN, NUM, batch=1, context_tokens=1000, tp=2)
    assert two == pytest.approx(one / 2, rel=0.01)  # memory-bound: half the bytes per GPU (activations replicated)


def test_overheads_add_per_layer_and_per_pass():
    k = dataclasses.replace(KERN, layer_overhead_s=1e-5, pass_overhead_s=2e-4, gemm_overhead_s=1e-6)
    extra = perf.decode_step_s(L2, k, NUM, batch=1, context_tokens=10) - \
        perf.decode_step_s(L2, KERN, NUM, batch=1, context_tokens=10)
    assert extra == pytest.approx(32 * 1e-5 + 2e-4 + (32 * 7 + 1) * 1e-6)


def test_moe_batch1_reads_only_the_routed_experts():
    one = perf.ffn_s(MOE, 1, 1, KERN, NUM, moe=True)
    two_experts = 2 * perf.gemm_s(1, 14336, 4096, KERN, NUM) * 2 + 2 * perf.gemm_s(1, 4096, 14336, KERN, NUM) \
        + perf.gemm_s(1, 8, 4096, KERN, NUM)
    assert one == pytest.approx(two_experts)
    many = perf.ffn_s(MOE, 10_000, 1, KERN, NUM, moe=True)
    assert many > 3.9 * one  # all eight experts read at a large batch


def test_training_step_counts_backward_gemms_and_recomputation():
    k = dataclasses.replace(KERN, memory_efficiency=1e9, elementwise_efficiency=1e9)  # isolate the FLOPs
    w = perf.StepWork(micro_batch=1, seq_len=4096, recompute="none")
    t = perf.micro_step_s(L2, k, NUM, w)
    rows = 4096
    linear_flops = 2 * rows * ar.matmul_params(L2)
    attention = perf.attention_s(L2, 1, 4096, (ar.prefill_flops(L2, 4096) - 4096 * 2 * ar.matmul_params(L2)) / 4096,
                                 0.0, 1, k)
    # matmul_params keeps the norms' weights (4e-5 of the total) that no GEMM multiplies: rel 1e-4.
    assert t == pytest.approx(3 * linear_flops / (PEAK * 0.6) + 3 * attention, rel=1e-4)
    frozen = perf.micro_step_s(L2, k, NUM, dataclasses.replace(w, weight_grads=False))
    assert frozen == pytest.approx(t - linear_flops / (PEAK * 0.6), rel=1e-4)  # no dW GEMMs
    full = perf.micro_step_s(L2, k, NUM, dataclasses.replace(w, recompute="full"))
    assert full == pytest.approx(t + linear_flops / (PEAK * 0.6) + attention, rel=1e-4)


def test_rates_broadcast_over_quantiles_and_batches():
    eff = planner.DEFAULT_EFFICIENCIES
    k = perf.kernels_for(PEAK, BW, eff)
    t = perf.decode_step_s(L2, k, NUM, batch=np.array([1, 8, 64])[:, None], context_tokens=512)
    assert t.shape == (3, 3)
    assert np.all(np.diff(t, axis=1) < 0)  # p10 efficiencies slowest
    assert np.all(np.diff(t, axis=0) > 0)  # a bigger batch takes longer per step
