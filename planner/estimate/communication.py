"""Collective communication time: tensor-, data-, pipeline- and expert-parallel traffic.

Each collective over n ranks costs a latency plus its bytes over the link's bus bandwidth,
t = alpha + factor(n) x bytes / busbw, with nccl-tests' bus factors (planner/catalog/collectives.py). `bytes` is the full buffer (all-reduce), the gathered result
(all-gather), the input (reduce-scatter) or each rank's send buffer (all-to-all).

A link is the scale-up fabric inside a node (NVLink, Infinity Fabric, ICI) or the scale-out
network between nodes; its bus bandwidth is the catalog's one-direction figure times an
achieved fraction, or a measured collective profile (benchmarks `collectives`) when a caller
passes one.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..catalog.collectives import bus_factor
from ..catalog.specs import GPUSpec

# NCCL reaches about 80% of NVLink's line rate as bus bandwidth (protocol overhead ~20%):
# NCCL maintainer S. Jeaugey, NVIDIA/nccl-tests issue #212 (2024-05-06): 370 of 450 GB/s on H100.
SCALE_UP_EFFICIENCY = 0.80
# Between nodes, RDMA over InfiniBand/RoCE reaches a similar share of the NIC's line rate in
# nccl-tests' inter-node busbw (judgement: the same 80%; MegaScale reports comparable figures).
SCALE_OUT_EFFICIENCY = 0.80
# Fixed cost of one collective: launch and synchronisation of a small message. Judgement at the
# scale of nccl-tests' small-message times (tens of microseconds at 8 ranks inside a node,
# more across nodes); a measured collective profile replaces it.
SCALE_UP_LATENCY_S = 10e-6
SCALE_OUT_LATENCY_S = 30e-6



@dataclass(frozen=True)
class Link:
    """One fabric's collective performance: latency and achieved bus bandwidth (one direction)."""

    name: str
    latency_s: float
    bus_bytes_per_s: float


def scale_up_link(g: GPUSpec) -> Link:
    """The fabric inside a node: half the catalog's both-directions figure, at NCCL's efficiency."""
    return Link(f"{g.name} scale-up", SCALE_UP_LATENCY_S, g.interconnect_bytes_per_s / 2 * SCALE_UP_EFFICIENCY)


def scale_out_link(g: GPUSpec) -> Link:
    """The network between nodes, per GPU (the catalog's per-GPU NIC share), at RDMA's efficiency."""
    per_gpu = g.scale_out_bytes_per_s or 50e9  # unknown: a 400 Gb/s NIC per GPU, the common cloud node
    return Link(f"{g.name} scale-out", SCALE_OUT_LATENCY_S, per_gpu * SCALE_OUT_EFFICIENCY)


def collective_s(op: str, n_bytes, n_ranks: int, link: Link):
    """Time of one collective `op` over `n_ranks` on `link` (zero for a single rank)."""
    if n_ranks <= 1:
        return np.zeros(np.shape(n_bytes))
    return link.latency_s + bus_factor(op, n_ranks) * np.asarray(n_bytes, dtype=float) / link.bus_bytes_per_s


def link_for(g: GPUSpec, group_size: int, stride: int = 1) -> Link:
    """The fabric a group of `group_size` ranks `stride` apart talks over: scale-up while the group
    fits in one scale-up domain (an 8-GPU node; 72 GPUs of a GB200 NVL72), scale-out beyond."""
    return scale_up_link(g) if group_size * stride <= g.scale_up_domain_size else scale_out_link(g)
