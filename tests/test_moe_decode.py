"""Small-batch MoE decode (planner/estimate/moe_decode.py): the fused-MoE op's measured floor, hand-worked, and the
term's effect on a step (a test that fails if the term is dropped from moe_serving.step_extra_s)."""
import numpy as np
import pytest

from planner.catalog import lookup as catalog
from planner.estimate import inference as inf
from planner.estimate import moe_decode, moe_serving, perf
from planner.estimate.engine import resolve_engine


def _replica(model, gpu, precision, tp, engine):
    g = catalog.gpu(gpu)
    return inf.replica(catalog.model(model), g, precision, tp, resolve_engine(engine, g))


def test_op_s_hand_worked():
    # 25 us + 44e6 bytes / (4.8e12 B/s x 0.76) = 25 + 12.06 us
    assert moe_decode.op_s(44e6, 4.8e12, 25e-6, 0.76) == pytest.approx(25e-6 + 44e6 / 3.648e12)
    assert moe_decode.op_s(44e6, 4.8e12, 25e-6, 0.76) == pytest.approx(37.06e-6, rel=1e-3)


def test_op_bytes_deepseek_one_token_tp8():
    # one token picks 8 of 256 experts: 256 (1 - (1 - 8/256)) = 8 touched; each 3 x 7168 x 2048 / 8 fp8 bytes
    m = catalog.model("DeepSeek-V3")
    assert float(moe_decode.op_bytes_per_layer(m, 1.0, 1.0, tp=8)) == pytest.approx(8 * 3 * 7168 * 2048 / 8)


def test_shortfall_is_one_sided():
    assert float(moe_decode.shortfall_s(10e-6, 4e-6)) == pytest.approx(6e-6)
    assert float(moe_decode.shortfall_s(3e-6, 4e-6)) == 0.0
    np.testing.assert_allclose(moe_decode.shortfall_s(np.array([1.0, 5.0]), 2.0), [0.0, 3.0])


def test_op_constants_by_generation_and_engine():
    assert moe_decode.op_constants(catalog.gpu("H100 SXM"), "sglang") == (24.9e-6, 0.76)
    assert moe_decode.op_constants(catalog.gpu("H200 SXM"), "vllm") == (46.7e-6, 0.73)  # H200 takes H100's
    assert moe_decode.op_constants(catalog.gpu("A100 80GB SXM"), "vllm") == (52.4e-6, 0.76)  # the median stand-in
    assert moe_decode.op_constants(catalog.gpu("MI300X"), "vllm") is None  # no table: no term
    assert moe_decode.op_constants(catalog.gpu("H100 SXM"), "roofline") is None  # the ideal engine pays none


def test_step_term_hand_worked_qwen3_30b_a100():
    """Qwen3-30B-A3B bf16 on one A100 under vLLM at one token: 48 MoE layers x (op - what perf charges)."""
    r = _replica("Qwen3-30B-A3B", "A100 80GB SXM", "bf16", 1, "vllm")
    k = perf.at_quantile(r.kern, 1)
    op = 52.4e-6 + 8 * 3 * 2048 * 768 * 2 / (2.039e12 * 0.76)  # 8 experts touched, bf16: 75.5 MB in the op
    charged = float(moe_decode.charged_s(r.m, k, r.num, 1.0))
    assert op > charged  # A100's measured op is slower than the H200-fitted fixed cost plus streaming
    assert float(moe_decode.step_s(r, k, 1.0)) == pytest.approx(48 * (op - charged), rel=1e-6)


def test_dropping_the_term_changes_the_decode_step(monkeypatch):
    r = _replica("Qwen3-30B-A3B", "A100 80GB SXM", "bf16", 1, "vllm")
    with_term = np.asarray(inf.decode_step_s(r, 1, 200.0)[0])
    monkeypatch.setattr(moe_decode, "step_s", lambda *a: 0.0)
    without = np.asarray(inf.decode_step_s(r, 1, 200.0)[0])
    assert np.all(with_term > without)  # at every quantile of the band
    assert with_term[1] > without[1] * 1.05  # at p50 the op's shortfall is > 5% of a batch-1 step here


def test_no_term_for_dense_models_or_large_steps():
    dense = _replica("Llama-3.1-8B", "H100 SXM", "bf16", 1, "vllm")
    assert moe_decode.step_s(dense, dense.kern, 1.0) == 0.0
    r = _replica("Qwen3-30B-A3B", "A100 80GB SXM", "bf16", 1, "vllm")
    assert np.all(np.asarray(moe_decode.step_s(r, r.kern, 4096.0)) == 0.0)  # prefill-sized: perf's curve alone
    assert np.all(np.asarray(moe_serving.step_extra_s(dense, dense.kern, 1.0, None)) == 0.0)
