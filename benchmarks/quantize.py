"""int8 weight-only quantization as a module swap of nn.Linear (after gpt-fast's quantize.py).

Symmetric, one scale per output channel: w ~ w_int8 * scale, scale = max|w_row| / 127.
Activations stay in floating point; the matmul runs in `torch._weight_int8pack_mm`
where the device has it, else as a dequantize-then-matmul fallback.
"""
from __future__ import annotations

import functools
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

INT8PACK = "int8pack_mm"
DEQUANT = "dequant_matmul"


def quantize_per_channel(w: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(out, in) float weight -> int8 weight (out, in) and scales (out,) in `dtype`."""
    scales = w.float().abs().amax(dim=1).clamp(min=1e-8) / 127.0  # (out,)
    w_int8 = torch.round(w.float() / scales[:, None]).clamp(-127, 127).to(torch.int8)
    return w_int8, scales.to(dtype)


@functools.cache
def int8_kernel(device: str) -> str:
    """INT8PACK if torch._weight_int8pack_mm runs correctly on `device` with bf16, else DEQUANT."""
    try:
        x = torch.randn(4, 64, device=device, dtype=torch.bfloat16)
        w, s = quantize_per_channel(torch.randn(32, 64, device=device), torch.bfloat16)
        got = torch._weight_int8pack_mm(x, w, s).float()
    except (RuntimeError, NotImplementedError, AttributeError):
        return DEQUANT
    want = x.float() @ (w.float() * s.float()[:, None]).t()
    return INT8PACK if torch.allclose(got, want, rtol=0.05, atol=0.05) else DEQUANT


class WeightOnlyInt8Linear(nn.Module):
    """y = x @ (w_int8 * scales)^T. The int8 kernel takes bf16 activations and bf16 scales;
    an fp32 model's activations are cast to bf16 around the matmul and back."""

    def __init__(self, in_features: int, out_features: int, *, kernel: str, device=None):
        super().__init__()
        self.in_features, self.out_features, self.kernel = in_features, out_features, kernel
        self.register_buffer("weight", torch.empty(out_features, in_features, dtype=torch.int8, device=device))
        self.register_buffer("scales", torch.ones(out_features, dtype=torch.bfloat16, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.kernel == INT8PACK:
            x2 = x.reshape(-1, self.in_features).to(self.scales.dtype)  # (B*T, in)
            y = torch._weight_int8pack_mm(x2, self.weight, self.scales)  # (B*T, out)
            return y.reshape(*x.shape[:-1], self.out_features).to(x.dtype)  # (B, T, out)
        return F.linear(x, self.weight.to(x.dtype)) * self.scales.to(x.dtype)


def quantize_int8(model: nn.Module, *, kernel: str | None = None) -> nn.Module:
    """Swap every nn.Linear for a WeightOnlyInt8Linear, in place; returns the model,
    marked `quantized = "int8"` and `kernel` (the matmul path used).

    Scales are bf16: the int8 kernel requires the activation dtype, and bf16 scales
    carry 8 mantissa bits, below int8's own rounding error (assumes symmetric weights).
    """
    device = next(model.parameters()).device.type
    kernel = kernel or int8_kernel(device)
    _swap_linears(model, kernel)
    model.quantized, model.kernel = "int8", kernel
    return model


def _swap_linears(module: nn.Module, kernel: str) -> None:
    for name, child in list(module.named_children()):
        if isinstance(child, nn.Linear):
            w_int8, scales = quantize_per_channel(child.weight.detach(), torch.bfloat16)
            q = WeightOnlyInt8Linear(child.in_features, child.out_features, kernel=kernel, device=w_int8.device)
            q.weight.copy_(w_int8)
            q.scales.copy_(scales)
            setattr(module, name, q)
        else:
            _swap_linears(child, kernel)


def linear_weight_bytes(model: nn.Module) -> int:
    """Bytes of every (quantized or float) linear layer's weights and scales."""
    total = 0
    for m in model.modules():
        if isinstance(m, nn.Linear):
            total += m.weight.nbytes
        elif isinstance(m, WeightOnlyInt8Linear):
            total += m.weight.nbytes + m.scales.nbytes
    return total


def linear_numel(model: nn.Module) -> int:
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Linear, WeightOnlyInt8Linear)))


@dataclass(frozen=True)
class QualityReport:
    passed: bool
    top1_agreement: float  # fraction of positions where both models pick the same token
    rel_error: float  # ||ref - quant|| / ||ref|| over all logits
    bytes_vs_bf16: float  # quantized linear bytes / the same linears in bf16
    kernel: str
    reason: str  # why it failed; "" when passed

    def to_dict(self) -> dict:
        return asdict(self)


@torch.no_grad()
def check_quality(ref: nn.Module, quant: nn.Module, *, vocab_size: int, device: str = "cpu",
                  batch: int = 4, seq_len: int = 64, seed: int = 0, min_top1: float = 0.99,
                  max_rel_error: float = 0.05, max_bytes_vs_bf16: float = 0.55) -> QualityReport:
    """Compare logits of `ref` and `quant` on random prompts; a model failing this is not benchmarked."""
    g = torch.Generator(device="cpu").manual_seed(seed)
    tokens = torch.randint(0, vocab_size, (batch, seq_len), generator=g).to(device)
    a, b = ref(tokens).float(), quant(tokens).float()  # (B, T, vocab)
    top1 = (a.argmax(-1) == b.argmax(-1)).float().mean().item()
    rel = ((a - b).norm() / a.norm()).item()
    ratio = linear_weight_bytes(quant) / (2 * linear_numel(quant))
    kernels = {m.kernel for m in quant.modules() if isinstance(m, WeightOnlyInt8Linear)}
    reasons = []
    if not top1 >= min_top1:
        reasons.append(f"top-1 agreement {top1:.4f} < {min_top1}")
    if not rel <= max_rel_error:  # `not <=` also catches NaN
        reasons.append(f"relative logit error {rel:.4f} > {max_rel_error}")
    if not ratio <= max_bytes_vs_bf16:
        reasons.append(f"weight bytes {ratio:.3f} x bf16 > {max_bytes_vs_bf16}")
    if not kernels:
        reasons.append("no quantized layers")
    return QualityReport(passed=not reasons, top1_agreement=top1, rel_error=rel, bytes_vs_bf16=ratio,
                         kernel=",".join(sorted(kernels)), reason="; ".join(reasons))
