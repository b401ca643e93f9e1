"""Collective operations and nccl-tests' bus-bandwidth convention: the one copy of these factors.

busbw = algbw x factor(n) makes every collective's figure comparable with the link's bandwidth
(NVIDIA nccl-tests, doc/PERFORMANCE.md): all-reduce 2 (n-1)/n; all-gather, reduce-scatter and
all-to-all (n-1)/n; a point-to-point send 1.
"""
from __future__ import annotations

COLLECTIVE_OPS = ("all_reduce", "all_gather", "reduce_scatter", "all_to_all")


def bus_factor(op: str, n: int) -> float:
    """nccl-tests' bus-bandwidth factor of `op` over `n` ranks (KeyError-free: ValueError for an unknown op)."""
    if op == "send_recv":
        return 1.0
    if op not in COLLECTIVE_OPS:
        raise ValueError(f"collective op {op!r} is not one of {', '.join(COLLECTIVE_OPS)} or send_recv")
    return (2.0 if op == "all_reduce" else 1.0) * (n - 1) / n
