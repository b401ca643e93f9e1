"""A GEMM kernel's fixed latency (planner/estimate/kernel_floor.py): by hand below and above it, a batch-1 MoE layer
with k experts, the table lookups by GPU generation, precision and engine, and where the serving engines use it."""
import dataclasses

import numpy as np
import pytest

from planner.catalog.lookup import gpu, model
from planner.catalog.specs import ModelSpec
from planner.estimate import grouped_gemm, kernel_floor, perf
from planner.estimate import inference as inf
from planner.estimate.engine import resolve_engine

T0 = 4e-6
# 1 TB/s of streaming (2 TB/s x 0.5), 100 TFLOP/s of GEMM (200 x 0.5): numbers chosen to work by hand.
KERN = perf.Kernels(peak_flops_per_s=200e12, peak_bytes_per_s=2e12, gemm_efficiency=0.5, memory_efficiency=0.5,
                    attention_efficiency=0.5, gemm_overhead_s=T0)
BF16 = perf.Numerics()


def test_one_row_gemm_below_the_fixed_latency_by_hand():
    # 1024 x 1024 bf16 weights at one row: 2,097,152 B of weights + (1024 + 1024) x 2 B of activations = 2,101,248 B
    # over 1e12 B/s = 2.101 us of streaming, below t0: the kernel takes t0 + 2.101 us, three times the bytes' time.
    t = float(perf.gemm_s(1, 1024, 1024, KERN, BF16))
    assert t == pytest.approx(T0 + 2_101_248 / 1e12)
    assert t > 2.5 * float(perf.gemm_s(1, 1024, 1024, dataclasses.replace(KERN, gemm_overhead_s=0.0), BF16))


def test_large_gemm_above_the_fixed_latency_by_hand():
    # 16384 x 16384 bf16 at 4096 rows: 2 x 16384^2 x 4096 = 2.199e12 FLOPs over 1e14 FLOP/s = 21.99 ms (the default
    # gemm_half_rows is 0 here); t0 adds 4 us, under 0.02%.
    t = float(perf.gemm_s(4096, 16384, 16384, KERN, BF16))
    assert t == pytest.approx(T0 + 2 * 16384**2 * 4096 / 1e14)
    assert T0 / t < 2e-4


def test_scalar_answer_is_the_array_answer():
    rows = np.array([1.0, 3.0, 64.0, 4096.0])
    arr = perf.gemm_s(rows, 4096, 4096, KERN, BF16)
    assert arr == pytest.approx([float(perf.gemm_s(r, 4096, 4096, KERN, BF16)) for r in rows], rel=1e-12)
    # the dense model's kept coefficients (perf._dense_linears) and the stack of gemm_s agree with t0 in both
    m = model("Llama-3.1-8B")
    kept = perf.linears_s(m, rows, rows, 2, KERN, BF16)
    stacked = perf.stack_linears_s(m, rows, 2, KERN, BF16) + perf.head_s(m, rows, 2, KERN, BF16)
    assert kept == pytest.approx(stacked, rel=1e-12)


# A toy MoE: 2 layers, dim 64, 8 experts of width 32 (top-2), one shared expert of width 32; SwiGLU.
TOY = ModelSpec(name="toy-moe-floor", n_layers=2, dim=64, n_heads=4, n_kv_heads=2, ffn_dim=128, vocab_size=1000,
                n_experts=8, n_experts_per_token=2, moe_ffn_dim=32, n_shared_experts=1, shared_expert_ffn_dim=32)


def test_moe_batch_one_layer_with_k_experts_by_hand():
    # One token: k = 2 experts (balls in bins: 8 (1 - (6/8)^1) = 2), each 3 matrices of 64 x 32 streamed whole:
    # (64 x 32 x 2 B + (64 + 32) x 2 B) per matrix; no t0 per expert (one grouped kernel: its fixed time is the
    # layer's moe_layer_overhead_s). The shared expert's 3 GEMMs and the router's (8 x 64) are dense GEMMs: t0 each.
    per_matrix = (64 * 32 * 2 + (64 + 32) * 2) / 1e12
    routed = 2 * 3 * per_matrix
    shared = 3 * (T0 + per_matrix)
    router = T0 + (8 * 64 * 2 + (8 + 64) * 2) / 1e12
    got = float(perf.ffn_s(TOY, 1.0, 1, KERN, BF16, moe=True))
    assert got == pytest.approx(routed + shared + router, rel=1e-9)
    # and the grouped GEMM's own time carries no t0, whatever the Kernels say
    assert float(grouped_gemm.gemm_s(1.0, 32, 64, KERN, BF16)) == pytest.approx(per_matrix)


def test_decode_step_pays_t0_once_per_dense_gemm():
    # a batch-1 decode step of the toy: per layer 4 attention projections + 3 shared-expert GEMMs + the router, and
    # the output head: 2 x 8 + 1 = 17 GEMMs of t0; the MoE layer's fixed cost is separate (moe_layer_overhead_s).
    kw = {"batch": 1, "context_tokens": 100}
    with_t0 = float(perf.decode_step_s(TOY, KERN, BF16, **kw))
    without = float(perf.decode_step_s(TOY, dataclasses.replace(KERN, gemm_overhead_s=0.0), BF16, **kw))
    assert with_t0 - without == pytest.approx(17 * T0, rel=1e-9)


@pytest.mark.parametrize("gpu_name, engine, want", [
    ("H100 SXM", "vllm", 3.42e-6),  # vLLM's one-row bf16 GEMM table on H100
    ("H200 SXM", "tensorrt-llm", 3.42e-6),  # H200 takes H100's (Hopper) value: its own table is validation
    ("H100 SXM", "sglang", 3.62e-6),
    ("A100 80GB SXM", "sglang", 3.97e-6),
    ("A100 80GB SXM", "torch-compile", 3.67e-6),  # no table for the engine: median of 3.67, 3.97, 3.67
    ("B200", "tensorrt-llm", 2.99e-6),
    ("GB200", "sglang", 3.23e-6),  # as B200
    ("MI300X", "vllm", 0.0),  # no measured table for AMD: no fixed latency
])
def test_fixed_latency_lookup(gpu_name, engine, want):
    assert kernel_floor.gemm_fixed_s(gpu(gpu_name), engine) == pytest.approx(want)


def test_every_generation_is_measured_and_names_catalog_gpus():
    for name, gen in kernel_floor.GENERATION.items():
        gpu(name)  # a catalog name (an unknown one raises)
        assert gen in kernel_floor.FIXED_S
    for values in kernel_floor.FIXED_S.values():
        assert all(1e-6 < v < 1e-5 for v in values.values())


def test_serving_engines_put_it_in_the_kernels_roofline_and_measured_rates_do_not():
    g, m = gpu("H100 SXM"), model("Llama-3.1-8B")
    for prec in ("fp8", "bf16", "int4-weight-only"):  # every format: the 16-bit t0 (kernel_floor.FIXED_S)
        assert inf.replica(m, g, prec, 1, resolve_engine("vllm", g)).kern.gemm_overhead_s == pytest.approx(3.42e-6)
    ideal = inf.replica(m, g, "fp8", 1, resolve_engine("roofline", g))
    assert ideal.kern.gemm_overhead_s == 0.0
    setup = resolve_engine("vllm", g)
    explicit = resolve_engine("vllm", g, dataclasses.replace(setup.efficiencies, gemm_overhead_s=1e-6))
    assert inf.replica(m, g, "fp8", 1, explicit).kern.gemm_overhead_s == pytest.approx(1e-6)
    # and every estimate lists it among the engine's assumptions
    listed = {a.name: a.value for a in setup.assumptions("fp8", "fp8", False)}
    assert listed["gemm_fixed_s"] == pytest.approx(3.42e-6)
