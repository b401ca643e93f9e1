"""Kernel-level points: GEMM throughput and memory bandwidth."""
from __future__ import annotations

import torch

from .timing import Timing, measure

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def point(kind: str, dtype: str, params: dict, t: Timing, **derived) -> dict:
    """One measured record (see SCHEMA.md); `derived` holds rates such as flops_per_s."""
    return {"kind": kind, "dtype": dtype, "params": params, **t.to_dict(), "model": None,
            "quantized": None, **derived}


def skipped(kind: str, params: dict, reason: str, **extra) -> dict:
    return {"kind": kind, "params": params, "skipped": reason, **extra}


def fp8_unsupported(device: str) -> str | None:
    """Why fp8 GEMM cannot run here, or None. fp8 tensor cores need sm_89 or newer (Ada, Hopper)."""
    if device != "cuda":
        return "fp8 GEMM needs an NVIDIA GPU with sm_89+ (this run is on CPU)"
    cap = torch.cuda.get_device_capability()
    if cap < (8, 9):
        return f"fp8 GEMM needs sm_89+, this GPU is sm_{cap[0]}{cap[1]}"
    if not hasattr(torch, "_scaled_mm"):
        return "this torch has no torch._scaled_mm"
    return None


def gemm(*, m: int, n: int, k: int, dtype: str, device: str, min_run_s: float) -> dict:
    """C = A @ B with A (m, k), B (k, n): 2 m n k FLOPs."""
    params = {"m": m, "n": n, "k": k}
    if dtype == "float8_e4m3fn":
        return _gemm_fp8(params, device, min_run_s)
    a = torch.randn(m, k, device=device, dtype=DTYPES[dtype])
    b = torch.randn(k, n, device=device, dtype=DTYPES[dtype])
    t = measure(lambda: torch.mm(a, b), device=device, min_run_s=min_run_s)
    return point("gemm", dtype, params, t, flops_per_s=2.0 * m * n * k / t.median_s)


def _gemm_fp8(params: dict, device: str, min_run_s: float) -> dict:
    why = fp8_unsupported(device)
    if why:
        return skipped("gemm", params, why, dtype="float8_e4m3fn")
    m, n, k = params["m"], params["n"], params["k"]
    a = torch.randn(m, k, device=device).to(torch.float8_e4m3fn)
    b = torch.randn(n, k, device=device).to(torch.float8_e4m3fn).t()  # column-major, as cuBLASLt requires
    one = torch.tensor(1.0, device=device)
    t = measure(lambda: torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16),
                device=device, min_run_s=min_run_s)
    return point("gemm", "float8_e4m3fn", params, t, flops_per_s=2.0 * m * n * k / t.median_s)


def bandwidth(*, n_bytes: int, device: str, min_run_s: float) -> dict:
    """dst.copy_(src) of `n_bytes`; bytes_per_s counts the read and the write (2 x n_bytes)."""
    src = torch.empty(n_bytes // 4, device=device, dtype=torch.float32).fill_(1.0)
    dst = torch.empty_like(src)
    t = measure(lambda: dst.copy_(src), device=device, min_run_s=min_run_s)
    return point("bandwidth", "float32", {"n_bytes": src.nbytes, "op": "copy"}, t,
                 bytes_per_s=2.0 * src.nbytes / t.median_s)
