"""Weight-only int4 GEMMs once compute-bound (planner/estimate/weight_only.py)."""
from __future__ import annotations

import pytest

import planner
from planner.estimate import inference as inf
from planner.estimate import weight_only
from planner.estimate.engine import resolve_engine


def test_compute_share_by_format():
    assert weight_only.compute_share("int4-weight-only") == 0.9
    assert weight_only.compute_share("int4-weight-only-g32") == 0.9  # the same kernel family
    assert weight_only.compute_share("int4") == 0.9  # the alias
    for name in ("bf16", "fp8", "int8", "int8-weight-only"):
        assert weight_only.compute_share(name) == 1.0


def test_int4_replica_gemm_rate_is_the_16_bit_rate_times_the_share():
    g = planner.gpu("A100 80GB SXM")
    setup = resolve_engine("vllm", g)
    m = planner.model("Llama-3.1-8B")
    int4, bf16 = inf.replica(m, g, "int4-weight-only", 1, setup), inf.replica(m, g, "bf16", 1, setup)
    assert int4.kern.gemm_efficiency == pytest.approx(0.9 * bf16.kern.gemm_efficiency)
    assert int4.kern.peak_flops_per_s == bf16.kern.peak_flops_per_s  # dequantised into 16-bit tensor-core GEMMs


def test_int4_keeps_its_speedup_at_batch_1_and_loses_it_when_compute_bound():
    """Batch 1 streams 4-bit weights (near 4x the bf16 step on the weights); a prefill of 8k tokens is
    compute-bound, where the int4 GEMMs run at 0.9 of bf16's and the prefill is slower than bf16's."""
    kw = dict(model="Llama-3.1-8B", gpu="A100 80GB SXM", engine="vllm", prompt_tokens=8192, output_tokens=16)
    int4, bf16 = (planner.inference_speed(precision=p, **kw) for p in ("int4-weight-only", "bf16"))
    assert int4.decode_step_s.p50 < 0.5 * bf16.decode_step_s.p50
    assert int4.prefill_s.p50 > 1.05 * bf16.prefill_s.p50


def test_measured_rates_pay_no_share():
    g = planner.gpu("A100 80GB SXM")
    assert resolve_engine("vllm", g, planner.DEFAULT_EFFICIENCIES).gemm_compute_share("int4-weight-only") == 1.0
