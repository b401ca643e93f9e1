"""A dense model's GEMMs timed from the coefficients kept per (model, degree, Kernels, Numerics) (perf.linears_s,
perf.backward_linears_s, the estimates' fast path) equal the shape-by-shape stack (gemm_stack_s, head_s), at any
shape of rows and rates, with an output head at other weight bytes than the stack, and with frozen weights."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from planner.catalog import lookup
from planner.estimate import forward_table, gemm, inference, perf
from planner.estimate.engine import resolve_engine


def _kernels(model: str, gpu: str, precision: str):
    m, g = lookup.model(model), lookup.gpu(gpu)
    setup = resolve_engine("vllm", g, None)
    kern = inference.kernels(g, precision, setup.efficiencies, setup.stream_factor(precision))
    return m, kern, inference.numerics(precision)


def _kern_shapes(kern):
    """Rates as the estimates hold them: (p10, p50, p90), one quantile (numbers), the stacked peaks (4, 1) x (3,)."""
    return [kern, perf.at_quantile(kern, 1), forward_table.stacked_peaks(kern)]


@pytest.mark.parametrize("model,precision,tp", [("Llama-2-70B", "fp8", 4), ("Llama-3.1-8B", "bf16", 1),
                                                ("Mistral-7B-v0.1", "int4-weight-only", 2)])
def test_forward_linears_equal_the_stack_and_head(model, precision, tp):
    m, kern, num = _kernels(model, "H100 SXM", precision)
    assert num.head().weight_bytes != num.weight_bytes or precision == "bf16"  # the head's own bytes are exercised
    for k in _kern_shapes(kern):
        for rows, logits in [(1.0, 1.0), (8.0, 8.0), (4096.0, 8.0), (np.array([[1.0], [8.0], [300.0], [300.0]]), 8.0),
                             (np.array([[3.0], [1.0], [70.0]]).reshape(3, 1, 1), np.array([[[3.0]], [[1.0]], [[1.0]]]))]:
            if np.ndim(rows) == 3 and perf.rates_ndim(k) == 2:
                continue  # (3, 1, 1) rows against (4, 3) rates: a shape no caller passes
            want = perf.stack_linears_s(m, rows, tp, k, num) + perf.head_s(m, logits, tp, k, num)
            got = perf.linears_s(m, rows, logits, tp, k, num)
            assert np.shape(got) == np.shape(want)
            np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("weight_grads", [True, False])
def test_backward_linears_equal_the_shape_by_shape_stack(weight_grads):
    m, kern, _ = _kernels("Llama-2-70B", "H100 SXM", "bf16")
    num = dataclasses.replace(perf.DEFAULT_NUMERICS, head_weight_bytes=4.0)  # the backward keeps the stack's bytes
    for k in _kern_shapes(kern)[:2]:
        for tp in (1, 8):
            shapes = perf.attention_shapes(m, tp) + perf.mlp_shapes(m, m.ffn_dim / tp) + [(m.vocab_size / tp, m.dim)]
            counts = [m.n_layers] * (len(shapes) - 1) + [1]
            for rows in (1.0, 8192.0):
                want = gemm.gemm_stack_s(rows, [(b, a) for a, b in shapes], k, num, counts)
                if weight_grads:
                    want = want + gemm.gemm_stack_s(rows, shapes, k, num, counts, transpose=True)
                got = perf.backward_linears_s(m, rows, tp, k, num, weight_grads=weight_grads)
                np.testing.assert_allclose(got, want, rtol=1e-12)
                # the array path (rows as an array) takes the shape-by-shape stack: the same numbers
                arr = perf.backward_linears_s(m, np.array([rows]), tp, k, num, weight_grads=weight_grads)
                np.testing.assert_allclose(np.reshape(arr, np.shape(got)), got, rtol=1e-12)


def test_a_fresh_numerics_or_kernels_gives_the_same_answer_as_the_kept_one():
    m, kern, num = _kernels("Llama-2-70B", "H100 SXM", "fp8")
    a = perf.linears_s(m, 64.0, 8.0, 4, kern, num)
    b = perf.linears_s(m, 64.0, 8.0, 4, dataclasses.replace(kern), dataclasses.replace(num))
    np.testing.assert_array_equal(a, b)
