"""int8 weight-only quantization: the real one passes the quality gate, broken ones fail it."""
import copy

import pytest

torch = pytest.importorskip("torch")

from benchmarks.model import build, config  # noqa: E402
from benchmarks.quantize import (DEQUANT, INT8PACK, WeightOnlyInt8Linear, check_quality, int8_kernel,  # noqa: E402
                                 linear_weight_bytes, quantize_int8, quantize_per_channel)


@pytest.fixture(scope="module")
def ref():
    return build(config("tiny")).eval()


def _gate(ref, quant, device="cpu"):
    return check_quality(ref, quant, vocab_size=ref.cfg.vocab_size, device=device, batch=2, seq_len=32)


def _quantized(ref, kernel=None):
    return quantize_int8(copy.deepcopy(ref), kernel=kernel)


@pytest.mark.parametrize("kernel", [None, DEQUANT])
def test_int8_passes_the_gate(ref, kernel):
    report = _gate(ref, _quantized(ref, kernel))
    assert report.passed, report.reason
    assert report.top1_agreement >= 0.99 and report.rel_error <= 0.05
    assert 0.49 <= report.bytes_vs_bf16 <= 0.55


def test_cpu_uses_the_int8pack_kernel():
    assert int8_kernel("cpu") in (INT8PACK, DEQUANT)
    assert _quantized(build(config("tiny-mha"))).kernel == int8_kernel("cpu")


def _break(quant, how):
    for m in quant.modules():
        if isinstance(m, WeightOnlyInt8Linear):
            if how == "zero_scales":
                m.scales.zero_()
            elif how == "wrong_axis":  # scales from the input axis, applied to output channels
                w = m.weight.float() * m.scales.float()[:, None]
                per_input = w.abs().amax(dim=0) / 127.0
                m.scales.copy_(per_input[torch.arange(m.out_features) % m.in_features])
    return quant


@pytest.mark.parametrize("how", ["zero_scales", "wrong_axis"])
def test_broken_quantization_fails_the_gate(ref, how):
    report = _gate(ref, _break(_quantized(ref), how))
    assert not report.passed
    assert "relative logit error" in report.reason


def test_unquantized_copy_fails_the_bytes_check(ref):
    report = _gate(ref, copy.deepcopy(ref))
    assert not report.passed and "no quantized layers" in report.reason


def test_per_channel_roundtrip_error_is_within_half_a_step():
    w = torch.randn(64, 128)
    w_int8, scales = quantize_per_channel(w, torch.float32)
    err = (w_int8.float() * scales[:, None] - w).abs()
    assert (err <= scales[:, None] / 2 + 1e-6).all()


def test_weight_bytes_halve_against_bf16(ref):
    bf16 = linear_weight_bytes(copy.deepcopy(ref).to(torch.bfloat16))
    assert linear_weight_bytes(_quantized(ref)) / bf16 == pytest.approx(0.5, abs=0.01)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_int8_passes_the_gate_on_cuda():
    ref = build(config("small"), device="cuda", dtype=torch.bfloat16).eval()
    report = _gate(ref, _quantized(ref), device="cuda")
    assert report.passed, report.reason
