"""Dense GEMMs by weight shape (planner/estimate/gemm_shape.py): narrow tensor-parallel projections run slower."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import planner
from planner.estimate import gemm, gemm_shape, grouped_gemm, perf
from planner.estimate import inference as inf
from planner.estimate.engine import resolve_engine


def test_dense_factor_by_hand():
    # (1 + (894 + 707) / 8192) / (1 + 894 / 1280 + 707 / 8192): Llama-3.1-70B's q/k/v weights at TP8
    ref = 1.0 + (grouped_gemm.N_HALF + grouped_gemm.K_HALF) / 8192.0
    assert gemm_shape.dense_factor(1280.0, 8192.0) == pytest.approx(ref / (1 + 894 / 1280 + 707 / 8192))
    assert gemm_shape.dense_factor(1280.0, 8192.0) == pytest.approx(0.670, abs=1e-3)
    assert gemm_shape.dense_factor(8192.0, 8192.0) == pytest.approx(1.0)
    assert gemm_shape.dense_factor(16384.0, 53248.0) == 1.0  # never above the large-GEMM rate


def test_dense_factor_arrays_match_numbers():
    n, k = np.array([1280.0, 2304.0, 28672.0]), np.array([8192.0, 16384.0, 8192.0])
    got = gemm_shape.dense_factor(n, k)
    assert got == pytest.approx([gemm_shape.dense_factor(float(a), float(b)) for a, b in zip(n, k)])
    assert got[0] < got[1] < got[2] == 1.0


def test_a_compute_bound_gemm_pays_the_shape_and_a_streaming_one_does_not():
    g = planner.gpu("H100 SXM")
    kern = perf.kernels_for(g.peak("bf16"), g.memory_bytes_per_s, planner.DEFAULT_EFFICIENCIES)
    shaped, num = dataclasses.replace(kern, dense_gemm_shape=True), perf.Numerics()
    f = gemm_shape.dense_factor(1280.0, 8192.0)
    big = gemm.gemm_s(8192.0, 1280.0, 8192.0, kern, num)  # 8,192 rows: compute-bound
    assert gemm.gemm_s(8192.0, 1280.0, 8192.0, shaped, num) == pytest.approx(
        kern.gemm_overhead_s + (big - kern.gemm_overhead_s) / f)
    assert gemm.gemm_s(1.0, 1280.0, 8192.0, shaped, num) == pytest.approx(gemm.gemm_s(1.0, 1280.0, 8192.0, kern, num))


def test_serving_charges_the_shape_training_does_not():
    """A serving replica's Kernels carry the shape curve: Llama-3.1-70B at TP8 decoding 1,024 sequences (its
    narrow projections compute-bound) slows, Llama-3.1-405B's wider ones less; training's Kernels
    (perf.kernels_for) keep the large-GEMM rate."""
    g = planner.gpu("MI300X")
    setup = resolve_engine("vllm", g)
    slow = {}
    for name in ("Llama-3.1-70B", "Llama-3.1-405B"):
        r = inf.replica(planner.model(name), g, "fp8", 8, setup)
        flat = dataclasses.replace(r, kern=dataclasses.replace(r.kern, dense_gemm_shape=False))
        assert r.kern.dense_gemm_shape
        slow[name] = float(inf.decode_step_s(r, 1024, 1152)[0][1] / inf.decode_step_s(flat, 1024, 1152)[0][1])
    assert 1.05 < slow["Llama-3.1-70B"] and 1.0 <= slow["Llama-3.1-405B"] < slow["Llama-3.1-70B"]
    assert not perf.kernels_for(1e15, 3e12, planner.DEFAULT_EFFICIENCIES).dense_gemm_shape


def test_measured_explicit_and_roofline_rates_are_taken_as_they_stand():
    """The curve scales the large-GEMM rates of engine profiles and literature defaults; rates passed in (or
    fitted to a device's own GEMMs, which hold its shapes already) and the roofline's ideal bound are not scaled."""
    g = planner.gpu("H100 SXM")
    assert resolve_engine("vllm", g).dense_gemm_shape
    assert not resolve_engine("vllm", g, planner.DEFAULT_EFFICIENCIES).dense_gemm_shape
    assert not resolve_engine("roofline", g).dense_gemm_shape
