"""Pick the int8 weight-only matmul kernel by timing: the fastest candidate that computes the right thing.

A correct kernel can still be slower than the dense bf16 matmul it replaces (PyTorch's CUDA
_weight_int8pack_mm is a simple kernel), so correctness alone must not decide. Candidates
are timed on the shape that matters, a model's largest per-layer linear (w1: dim -> ffn_dim)
at the rows of the point, with the suite's own timer; every candidate's time or failure is
recorded next to the choice.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from ..measure.accel import Accel
from .quantize import DEQUANT, DEQUANT_COMPILED, INT8PACK, KERNELS, quantize_per_channel
from ..measure.timing import measure

MAX_REL_ERROR = 1e-2  # bf16 activations round at 2^-9 relative; a wrong kernel is off by O(1)


class NoKernelError(RuntimeError):
    """No int8 candidate ran correctly on this device."""


@dataclass(frozen=True)
class KernelChoice:
    chosen: str
    shape: tuple[int, int, int]  # (rows, out_features, in_features)
    candidates: dict  # name -> {"median_s", "iqr_s", "rel_error"}, {"failed": reason} or {"skipped": reason}

    def to_dict(self) -> dict:
        return asdict(self)


# Judgement: the compiled candidate is raced at one row only. There inductor (with gpt-fast's
# coordinate-descent tuning) turns the matmul into a reduction with the int8 cast fused, the
# case it exists for; at more rows it is a matmul much like the eager one. Each cold compile
# costs seconds to tens of seconds: racing it at every row count of the full plan's 4 decode
# batches meant up to 24 (the race's shape and the 1b model's 5 linear shapes, per batch);
# at one row it is 5 (the race's w1 compile is reused by the model, quantize.py).
COMPILED_MAX_ROWS = 1


def candidate_names(accel: Accel, rows: int = 1) -> tuple[str, ...]:
    """The compiled candidate needs a GPU (on a CPU inductor compiles C++ for minutes per shape),
    and is raced at up to COMPILED_MAX_ROWS rows."""
    if not accel.is_cuda:
        return INT8PACK, DEQUANT
    return (INT8PACK, DEQUANT, DEQUANT_COMPILED) if rows <= COMPILED_MAX_ROWS else (INT8PACK, DEQUANT)


def _rel_error(got: torch.Tensor, want: torch.Tensor) -> float:
    return ((got.float() - want).norm() / want.norm().clamp(min=1e-30)).item()


@torch.no_grad()  # as the points run: a compiled kernel is then not recompiled for grad mode
def choose_int8_kernel(*, rows: int, out_features: int, in_features: int, dtype: torch.dtype, accel: Accel,
                       min_run_s: float, names: tuple[str, ...] | None = None) -> KernelChoice:
    """Time every candidate on x (rows, in) @ W_int8 (out, in)^T; NoKernelError if none is correct."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(rows, in_features, generator=g).to(accel.tensor_device, dtype)
    w, s = quantize_per_channel(0.02 * torch.randn(out_features, in_features, generator=g), torch.bfloat16)
    w, s = w.to(accel.tensor_device), s.to(accel.tensor_device)
    want = x.float() @ (w.float() * s.float()[:, None]).t()  # (rows, out)
    results: dict[str, dict] = {}
    if names is None and accel.is_cuda and rows > COMPILED_MAX_ROWS:
        results[DEQUANT_COMPILED] = {"skipped": f"raced at up to {COMPILED_MAX_ROWS} row(s) only (cold compiles)"}
    for name in names or candidate_names(accel, rows):
        try:
            err = _rel_error(KERNELS[name](x, w, s), want)
            if not err <= MAX_REL_ERROR:
                results[name] = {"failed": f"wrong result: relative error {err:.3g} > {MAX_REL_ERROR}"}
                continue
            t = measure(lambda n=name: KERNELS[n](x, w, s), device=accel, min_run_s=min_run_s, warmup=3)
            results[name] = {"median_s": t.median_s, "iqr_s": t.iqr_s, "rel_error": err}
        except Exception as e:  # a candidate that cannot run here is a result, not a crash
            results[name] = {"failed": f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:200]}"}
        finally:
            accel.sync()
    ok = {n: r["median_s"] for n, r in results.items() if "median_s" in r}
    if not ok:
        raise NoKernelError(f"no int8 kernel ran correctly: {results}")
    return KernelChoice(chosen=min(ok, key=ok.get), shape=(rows, out_features, in_features), candidates=results)
