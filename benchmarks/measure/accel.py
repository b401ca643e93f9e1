"""The device a run measures: CPU, or one CUDA GPU by index, and the GPU-only calls in one place.

Every branch that only a GPU takes goes through an `Accel` of kind "cuda". Its tensors live
on `tensor_device` ("cuda:<index>"); tests build a "cuda" Accel whose tensors live on the
CPU, with torch.cuda's calls replaced by fakes, so each GPU-only branch runs in CI
(tests/fake_cuda.py).
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass

import torch

# Where torch does not report the L2 size: above every L2 shipped so far (B200: 126 MB),
# so buffers sized from it are still at least 4x the real cache. Judgement.
FALLBACK_L2_BYTES = 256 * 2**20
L2_MULTIPLE = 4  # GEMM operands, copy buffers and the flush buffer are >= 4x the L2 cache


@dataclass(frozen=True)
class Accel:
    kind: str  # "cpu" or "cuda"
    index: int = 0  # CUDA device index (as torch numbers them, after CUDA_VISIBLE_DEVICES)
    tensor_device: str = "cpu"

    @property
    def is_cuda(self) -> bool:
        return self.kind == "cuda"

    def sync(self) -> None:
        if self.is_cuda:
            torch.cuda.synchronize(self.index)

    def free(self) -> None:
        if self.is_cuda:
            torch.cuda.empty_cache()

    def properties(self):
        return torch.cuda.get_device_properties(self.index)

    def name(self) -> str:
        return torch.cuda.get_device_name(self.index) if self.is_cuda else cpu_model()

    def l2_bytes(self) -> int | None:
        """The L2 cache size torch reports for this GPU; None on a CPU (not measured there)."""
        if not self.is_cuda:
            return None
        size = getattr(self.properties(), "L2_cache_size", 0)
        return int(size) if size and size > 0 else FALLBACK_L2_BYTES

    def min_buffer_bytes(self) -> int:
        """Smallest buffer that does not fit in cache: L2_MULTIPLE x L2 on a GPU, 0 on a CPU."""
        l2 = self.l2_bytes()
        return L2_MULTIPLE * l2 if l2 else 0

    def capability(self) -> tuple[int, int]:
        return tuple(torch.cuda.get_device_capability(self.index)) if self.is_cuda else (0, 0)

    def uuid(self) -> str | None:
        """The GPU's UUID as NVML spells it ("GPU-..."): finds the same device in NVML whatever the
        CUDA_VISIBLE_DEVICES numbering."""
        u = getattr(self.properties(), "uuid", None) if self.is_cuda else None
        if u is None:
            return None
        u = str(u)
        return u if u.startswith(("GPU-", "MIG-")) else f"GPU-{u}"


def as_accel(device: str | Accel) -> Accel:
    """An Accel for "cpu", "cuda" or "cuda:<index>" (an Accel is returned as is)."""
    if isinstance(device, Accel):
        return device
    kind, _, idx = str(device).partition(":")
    if kind == "cpu" and not idx:
        return Accel("cpu")
    if kind == "cuda" and (not idx or idx.isdigit()):
        index = int(idx) if idx else (torch.cuda.current_device() if torch.cuda.is_available() else 0)
        return Accel("cuda", index, f"cuda:{index}")
    raise ValueError(f"unknown device {device!r}; use cpu, cuda or cuda:<index>")


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def check_device(device: str) -> str | None:
    """Why `device` cannot run here, or None."""
    try:
        accel = as_accel(device)
    except ValueError as e:
        return str(e)
    if accel.is_cuda and not torch.cuda.is_available():
        return f"--device {device} asked for, but torch sees no CUDA GPU (torch {torch.__version__})"
    if accel.is_cuda and accel.index >= torch.cuda.device_count():
        return f"--device {device}: torch sees {torch.cuda.device_count()} GPU(s)"
    return None


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or "unknown CPU"


def cores() -> int:
    """CPUs this process may run on (the affinity mask, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def copies_for(bytes_per_copy: int, min_bytes: int, cap: int = 4096) -> int:
    """How many distinct copies of an operand set make at least `min_bytes` (at most `cap`)."""
    return max(1, min(cap, math.ceil(min_bytes / max(1, bytes_per_copy))))
