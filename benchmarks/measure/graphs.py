"""Capture one forward step (a decode step, a prefill) in a CUDA graph and replay it, as
gpt-fast's reduce-overhead mode does.

A forward pass of a 1B model launches ~1,000 small kernels; timed eagerly, the host's launch
rate is what gets measured, not the GPU. A captured graph replays them with one launch.
The step is static (same tokens, same positions, same KV-cache slots), so every replay is the
same step. After capture the replayed logits are checked against an eager step: a graph
that computes something else fails the point instead of timing it.
"""
from __future__ import annotations

from typing import Callable

import torch

from .accel import Accel

WARMUP_CALLS = 3  # on a side stream before capture, as torch.cuda.graphs' docs require


class GraphMismatchError(RuntimeError):
    """The replayed graph's output differs from the eager step's."""


def record(graph, step: Callable[[], torch.Tensor]) -> torch.Tensor:
    """Capture `step` into `graph` (the one line tests replace to replay it on a CPU)."""
    with torch.cuda.graph(graph):
        return step()


def capture(step: Callable[[], torch.Tensor], accel: Accel, *, check: bool = True) -> Callable[[], None]:
    """A replay function for `step` (which returns logits); checked against an eager call."""
    side = torch.cuda.Stream(device=accel.index)
    side.wait_stream(torch.cuda.current_stream(accel.index))
    with torch.cuda.stream(side):
        for _ in range(WARMUP_CALLS):
            step()
    torch.cuda.current_stream(accel.index).wait_stream(side)
    accel.sync()
    graph = torch.cuda.CUDAGraph()
    out = record(graph, step)  # a static output buffer, rewritten by every replay
    if check:
        graph.replay()
        accel.sync()
        replayed = out.float().clone()
        eager = step().float()
        scale = eager.abs().max().clamp(min=1e-6)
        err = ((replayed - eager).abs().max() / scale).item()
        if not err <= 1e-2:
            raise GraphMismatchError(f"CUDA-graph replay differs from the eager step (max error {err:.3g} of the "
                                     "largest logit)")
    return graph.replay
