"""Kernel-level points: GEMM throughput and memory bandwidth.

On a GPU, operands and copy buffers total at least 4x the L2 cache (several operand sets
are cycled when one set is smaller) and the timer flushes the L2 between repetitions, so
no figure is an L2 figure. fp8 GEMMs run torch._scaled_mm with fast accumulation, as
fp8 inference and training kernels do (cuBLASLt's CUBLASLT_MATMUL_DESC_FAST_ACCUM).
"""
from __future__ import annotations

import itertools

import torch

from .accel import Accel, as_accel, copies_for
from .timing import Timing, measure

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16,
          "float8_e4m3fn": torch.float8_e4m3fn}
FP8 = "float8_e4m3fn"


def point(kind: str, dtype: str, params: dict, t: Timing, **derived) -> dict:
    """One measured record (see SCHEMA.md); `derived` holds rates such as flops_per_s."""
    return {"kind": kind, "dtype": dtype, "params": params, **t.to_dict(), "model": None,
            "quantized": None, **derived}


def skipped(kind: str, params: dict, reason: str, **extra) -> dict:
    return {"kind": kind, "params": params, "skipped": reason, **extra}


def fp8_unsupported(device: str | Accel) -> str | None:
    """Why fp8 GEMM cannot run here, or None. fp8 tensor cores need sm_89 or newer (Ada, Hopper)."""
    accel = as_accel(device)
    if not accel.is_cuda:
        return "fp8 GEMM needs an NVIDIA GPU with sm_89+ (this run is on CPU)"
    cap = accel.capability()
    if cap < (8, 9):
        return f"fp8 GEMM needs sm_89+, this GPU is sm_{cap[0]}{cap[1]}"
    if not hasattr(torch, "_scaled_mm"):
        return "this torch has no torch._scaled_mm"
    return None


def _cycle(make, bytes_per_set: int, accel: Accel):
    """Enough operand sets (from `make()`) to fill L2_MULTIPLE x L2; an iterator that cycles them."""
    sets = [make() for _ in range(copies_for(bytes_per_set, accel.min_buffer_bytes()))]
    return len(sets), itertools.cycle(sets)


def gemm(*, m: int, n: int, k: int, dtype: str, device: str | Accel, min_run_s: float) -> dict:
    """C = A @ B with A (m, k), B (k, n): 2 m n k FLOPs."""
    accel = as_accel(device)
    params = {"m": m, "n": n, "k": k}
    if dtype == FP8:
        return _gemm_fp8(params, accel, min_run_s)
    dt = DTYPES[dtype]
    size = dt.itemsize * (m * k + k * n + m * n)
    copies, sets = _cycle(lambda: (torch.randn(m, k, device=accel.tensor_device, dtype=dt),
                                   torch.randn(k, n, device=accel.tensor_device, dtype=dt)), size, accel)

    def call():
        a, b = next(sets)
        return torch.mm(a, b)

    t = measure(call, device=accel, min_run_s=min_run_s)
    return point("gemm", dtype, params | {"operand_sets": copies}, t, flops_per_s=2.0 * m * n * k / t.median_s)


def _gemm_fp8(params: dict, accel: Accel, min_run_s: float) -> dict:
    why = fp8_unsupported(accel)
    if why:
        return skipped("gemm", params, why, dtype=FP8)
    m, n, k = params["m"], params["n"], params["k"]
    dev = accel.tensor_device
    one = torch.tensor(1.0, device=dev)  # per-tensor scales (float32 scalars, as _scaled_mm requires)

    def make():
        a = torch.randn(m, k, device=dev).to(torch.float8_e4m3fn)
        b = torch.randn(n, k, device=dev).to(torch.float8_e4m3fn).t()  # column-major, as cuBLASLt requires
        return a, b

    copies, sets = _cycle(make, m * k + k * n + 2 * m * n, accel)

    def call():
        a, b = next(sets)
        return torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16, use_fast_accum=True)

    t = measure(call, device=accel, min_run_s=min_run_s)
    return point("gemm", FP8, params | {"operand_sets": copies, "fast_accum": True}, t,
                 flops_per_s=2.0 * m * n * k / t.median_s)


def bandwidth(*, n_bytes: int, device: str | Accel, min_run_s: float) -> dict:
    """dst.copy_(src) of `n_bytes` (at least 4x L2 on a GPU); bytes_per_s counts the read and the write."""
    accel = as_accel(device)
    n_bytes = max(n_bytes, accel.min_buffer_bytes())
    src = torch.empty(n_bytes // 4, device=accel.tensor_device, dtype=torch.float32).fill_(1.0)
    dst = torch.empty_like(src)
    t = measure(lambda: dst.copy_(src), device=accel, min_run_s=min_run_s)
    return point("bandwidth", "float32", {"n_bytes": src.nbytes, "op": "copy"}, t,
                 bytes_per_s=2.0 * src.nbytes / t.median_s)
