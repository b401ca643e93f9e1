"""int8 weight-only quantisation (`int8-weight-only`, W8A16) as a module swap of nn.Linear,
after gpt-fast's quantize.py.

Symmetric, one scale per output channel: w ~ w_int8 * scale, scale = max|w_row| / 127.
Activations stay in floating point. This is NOT the planner's `int8` precision, which means
int8 weights and int8 activations (W8A8, int8 tensor cores); the suite does not measure that.

The matmul has several kernels; which is fastest depends on the device, so kernels.py picks one
by timing among the correct candidates and every int8 point records the one it used:
  int8pack_mm        torch._weight_int8pack_mm (bf16 activations and scales)
  dequant_matmul     F.linear(x, w.to(x.dtype)) * scales, eager (reads the int8 weight, writes a float copy)
  dequant_compiled   the same under torch.compile (inductor fuses the cast into the matmul, gpt-fast's path)
"""
from __future__ import annotations

import functools

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..measure.schema import INT8_WEIGHT_ONLY

FORMATS = (INT8_WEIGHT_ONLY,)
INT8PACK = "int8pack_mm"
DEQUANT = "dequant_matmul"
DEQUANT_COMPILED = "dequant_compiled"
COMPILE_BACKEND = "inductor"  # tests use "eager" to run the compiled branch without a code generator
COMPILE_RECOMPILE_LIMIT = 64  # one compile per (rows, out, in) shape; dynamo's default limit of 8 is too low


def quantize_per_channel(w: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """(out, in) float weight -> int8 weight (out, in) and scales (out,) in `dtype`."""
    scales = w.float().abs().amax(dim=1).clamp(min=1e-8) / 127.0  # (out,)
    w_int8 = torch.round(w.float() / scales[:, None]).clamp(-127, 127).to(torch.int8)
    return w_int8, scales.to(dtype)


def dequant_matmul(x: torch.Tensor, w: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """x (..., in) @ (w_int8 * scales)^T -> (..., out), in x's dtype, as one 2-D matmul.

    2-D inside, so the compiled kernel is the graph the race timed (kernels.py times 2-D rows):
    on the model's 3-D activations inductor's pattern matcher rewrites the same code to
    aten._weight_int8pack_mm, the slow CUDA kernel the race may just have rejected.
    """
    x2 = x.reshape(-1, x.shape[-1])  # (rows, in)
    y = F.linear(x2, w.to(x.dtype)) * scales.to(x.dtype)  # (rows, out)
    return y.reshape(*x.shape[:-1], w.shape[0])


def int8pack_matmul(x: torch.Tensor, w: torch.Tensor, scales: torch.Tensor) -> torch.Tensor:
    """The same through torch._weight_int8pack_mm, which takes 2-D activations in the scales' dtype."""
    x2 = x.reshape(-1, x.shape[-1]).to(scales.dtype)  # (rows, in)
    y = torch._weight_int8pack_mm(x2, w, scales)  # (rows, out)
    return y.reshape(*x.shape[:-1], w.shape[0]).to(x.dtype)


@functools.cache
def _compiled():
    import torch._dynamo.config as dynamo
    for name in ("recompile_limit", "cache_size_limit"):  # the name changed across torch versions
        if hasattr(dynamo, name):
            setattr(dynamo, name, max(getattr(dynamo, name), COMPILE_RECOMPILE_LIMIT))
    if COMPILE_BACKEND == "inductor":
        import torch._inductor.config as inductor
        # gpt-fast's setting; it also lets inductor rewrite a 1-row matmul as a reduction
        # (torch/_inductor/decomposition.py, mm), into which the int8 -> float cast fuses.
        inductor.coordinate_descent_tuning = True
    return torch.compile(dequant_matmul, backend=COMPILE_BACKEND, fullgraph=True, dynamic=False)


def compiled_dequant_matmul(x, w, scales):
    """dequant_matmul compiled, called on 2-D rows: the model's (B, T, in) activations reach the
    compiled graph as the (B*T, in) matrix the kernel race compiled and timed (same guards, so
    the race's compile is reused, not repeated)."""
    y = _compiled()(x.reshape(-1, x.shape[-1]), w, scales)  # (rows, out)
    return y.reshape(*x.shape[:-1], w.shape[0])


KERNELS = {INT8PACK: int8pack_matmul, DEQUANT: dequant_matmul, DEQUANT_COMPILED: compiled_dequant_matmul}


class WeightOnlyInt8Linear(nn.Module):
    """y = x @ (w_int8 * scales)^T by the kernel named in `self.kernel`."""

    def __init__(self, in_features: int, out_features: int, *, kernel: str, device=None):
        super().__init__()
        self.in_features, self.out_features, self.kernel = in_features, out_features, kernel
        self.register_buffer("weight", torch.empty(out_features, in_features, dtype=torch.int8, device=device))
        self.register_buffer("scales", torch.ones(out_features, dtype=torch.bfloat16, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return KERNELS[self.kernel](x, self.weight, self.scales)


def quantize_int8_weight_only(model: nn.Module, *, kernel: str = DEQUANT, skip: tuple[str, ...] = ()) -> nn.Module:
    """Swap every nn.Linear (except those whose qualified name is in `skip`) for a
    WeightOnlyInt8Linear, in place; returns the model, marked `quantized` and `kernel`.

    Scales are bf16: torch._weight_int8pack_mm requires the activation dtype, and bf16 scales
    carry 8 mantissa bits, below int8's own rounding error (assumes symmetric weights).
    """
    for name, child in list(model.named_modules()):
        if isinstance(child, nn.Linear) and name not in skip:
            w_int8, scales = quantize_per_channel(child.weight.detach(), torch.bfloat16)
            q = WeightOnlyInt8Linear(child.in_features, child.out_features, kernel=kernel, device=w_int8.device)
            q.weight.copy_(w_int8)
            q.scales.copy_(scales)
            parent, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent) if parent else model, attr, q)
    model.quantized = INT8_WEIGHT_ONLY
    set_kernel(model, kernel)
    return model


def set_kernel(model: nn.Module, kernel: str) -> None:
    """Route every int8 linear of `model` through `kernel` (one of KERNELS)."""
    if kernel not in KERNELS:
        raise ValueError(f"unknown int8 kernel {kernel!r}; have {sorted(KERNELS)}")
    for m in model.modules():
        if isinstance(m, WeightOnlyInt8Linear):
            m.kernel = kernel
    model.kernel = kernel


def linear_weight_bytes(model: nn.Module) -> int:
    """Bytes of every (quantised or float) linear layer's weights and scales."""
    total = 0
    for m in model.modules():
        if isinstance(m, nn.Linear):
            total += m.weight.nbytes
        elif isinstance(m, WeightOnlyInt8Linear):
            total += m.weight.nbytes + m.scales.nbytes
    return total


def linear_numel(model: nn.Module) -> int:
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, (nn.Linear, WeightOnlyInt8Linear)))


def quantized_layers(model: nn.Module) -> int:
    return sum(isinstance(m, WeightOnlyInt8Linear) for m in model.modules())
