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
from ..core.memo import by_identity

# NCCL reaches about 80% of NVLink's line rate as bus bandwidth (protocol overhead ~20%):
# NCCL maintainer S. Jeaugey, NVIDIA/nccl-tests issue #212 (2024-05-06): 370 of 450 GB/s on H100.
SCALE_UP_EFFICIENCY = 0.80
# Between nodes, RDMA over InfiniBand/RoCE reaches a similar share of the NIC's line rate in
# nccl-tests' inter-node busbw (judgement: the same 80%; MegaScale reports comparable figures).
SCALE_OUT_EFFICIENCY = 0.80
# Fixed cost of one collective: NCCL's own latency model (src/graph/tuning.cc, quoted in
# NVIDIA/nccl issue #1334, 2024-07-01): a base latency of 6.6 us for the ring's low-latency (LL)
# protocol, the one NCCL picks for small messages, plus 0.6 us per ring step over NVLink and
# 1.0 us over PCIe; an all-reduce takes 2(n-1) steps, an all-gather or reduce-scatter n-1. So
# a small all-reduce over 8 NVLink GPUs costs 6.6 + 14 x 0.6 = 15 us and over 2 GPUs 7.8 us
# (NVIDIA/nccl issue #1259 measured ~6 us for 2 H100s with CUDA graphs). RCCL (AMD) is a fork
# with the same model; AMD's slower small-message path is the engine profile's business.
# Between nodes NCCL uses trees (log2 of the nodes); a flat judgement of 30 us is kept there.
BASE_LATENCY_S = 6.6e-6
HOP_LATENCY_S = {"nvlink": 0.6e-6, "infinity-fabric": 0.6e-6, "ici": 0.6e-6, "ethernet": 1.0e-6,
                 "pcie": 1.0e-6, "": 0.6e-6}
SCALE_UP_LATENCY_S = BASE_LATENCY_S
SCALE_OUT_LATENCY_S = 30e-6
# PCIe cards in one server talk through the host's PCIe switches: NCCL's ring over PCIe Gen4 x16
# reaches ~20-22 GB/s bus bandwidth of the 32 GB/s per direction (nccl-tests on two RTX 2080 Ti,
# NVIDIA/nccl-tests issue #44: 20-21 GB/s busbw at 16-128 MB): about 0.65 of line rate.
PCIE_EFFICIENCY = 0.65
PCIE_NODE_SIZE = 8  # cards one server holds (AWS g5/g6/g6e.48xlarge: 8)
# A card whose scale-up link joins fewer than the server holds (H100 NVL: NVLink bridges in pairs)
# reaches the rest over PCIe; its catalog figure is the bridge's, so PCIe Gen5 x16 (128 GB/s both
# directions, the H100 NVL datasheet) is assumed there.
PCIE_GEN5_BYTES_PER_S = 128e9


@dataclass(frozen=True)
class Link:
    """One fabric's collective performance: latency and achieved bus bandwidth (one direction)."""

    name: str
    latency_s: float  # fixed cost of one collective
    bus_bytes_per_s: float
    hop_latency_s: float = 0.0  # added per ring step (NCCL's tuning model)


# Ring steps of each collective over n ranks (NCCL tuning.cc: all-reduce 2(n-1), all-gather and
# reduce-scatter n-1, others n).
STEPS = {"all_reduce": lambda n: 2 * (n - 1), "all_gather": lambda n: n - 1,
         "reduce_scatter": lambda n: n - 1, "all_to_all": lambda n: n, "send_recv": lambda n: 1}


def scale_up_link(g: GPUSpec) -> Link:
    """The fabric inside a node: half the catalog's both-directions figure, at NCCL's efficiency."""
    return Link(f"{g.name} scale-up", SCALE_UP_LATENCY_S, g.interconnect_bytes_per_s / 2 * SCALE_UP_EFFICIENCY,
                HOP_LATENCY_S.get(g.link_kind, HOP_LATENCY_S[""]))


def pcie_link(g: GPUSpec) -> Link:
    """Cards in one server over PCIe: half the both-directions PCIe figure, at NCCL's PCIe efficiency."""
    both = g.interconnect_bytes_per_s if g.link_kind == "pcie" else PCIE_GEN5_BYTES_PER_S
    return Link(f"{g.name} PCIe", SCALE_UP_LATENCY_S, both / 2 * PCIE_EFFICIENCY, HOP_LATENCY_S["pcie"])


def scale_out_link(g: GPUSpec) -> Link:
    """The network between nodes, per GPU (the catalog's per-GPU NIC share), at RDMA's efficiency."""
    per_gpu = g.scale_out_bytes_per_s or 50e9  # unknown: a 400 Gb/s NIC per GPU, the common cloud node
    return Link(f"{g.name} scale-out", SCALE_OUT_LATENCY_S, per_gpu * SCALE_OUT_EFFICIENCY)


def collective_s(op: str, n_bytes, n_ranks: int, link: Link):
    """Time of one collective `op` over `n_ranks` on `link` (zero for a single rank):
    latency + steps x hop latency + factor x bytes / bus bandwidth."""
    if n_ranks <= 1:
        return np.zeros(np.shape(n_bytes))
    alpha = link.latency_s + STEPS[op](n_ranks) * link.hop_latency_s
    n_bytes = n_bytes if type(n_bytes) is float else np.asarray(n_bytes, dtype=float)  # a float stays one (cheaper)
    return alpha + bus_factor(op, n_ranks) * n_bytes / link.bus_bytes_per_s


def node_size(g: GPUSpec) -> int:
    """Accelerators that share the fast link before traffic must take the scale-out network: the scale-up
    domain (an 8-GPU node, a 72-GPU NVL72 rack, a TPU slice), or a server of PCIe cards (link_for's rule)."""
    if g.link_kind in ("pcie", "nvlink") and g.scale_up_domain_size < PCIE_NODE_SIZE:
        return PCIE_NODE_SIZE
    return g.scale_up_domain_size


def hierarchy(g: GPUSpec, group_size, stride=1):
    """(ranks of the group in one node or slice, nodes or slices the group spans) for a group of
    `group_size` ranks `stride` apart (numbers or arrays that broadcast)."""
    if type(group_size) is int and type(stride) is int:  # one group: the same arithmetic on Python ints (cheaper)
        local = min(max(node_size(g) // max(stride, 1), 1), max(group_size, 1))
        return local, -(-max(group_size, 1) // local)
    local = np.clip(node_size(g) // np.maximum(stride, 1), 1, np.maximum(group_size, 1))
    return local, -(-np.maximum(group_size, 1) // local)  # ceil: a group that does not fill its last node


def hierarchical_collective_s(op: str, n_bytes, group_size, stride, g: GPUSpec, time_of=None):
    """A collective over a group that spans nodes (or TPU slices), run as the libraries run it: the phase
    inside each node over the fast link on all the bytes, and the phase across nodes over the scale-out
    link on only 1/local of them, each local rank driving its own NIC share at once.

        all-reduce     = reduce-scatter inside + all-reduce across (bytes / local) + all-gather inside
        reduce-scatter = reduce-scatter inside + reduce-scatter across (bytes / local)
        all-gather     = all-gather across (bytes / local) + all-gather inside

    The inside phase of an all-reduce is the inside reduce-scatter plus all-gather, whose bus factors add up
    to the all-reduce's 2(n-1)/n, so each line is op(inside) + op(across, bytes / local). The libraries
    reach this traffic with NCCL's trees (NCCL 2.4.2 release notes, docs.nvidia.com, checked 2026-12-07:
    "tree-based algorithms for better All Reduce performance at scale"; NVIDIA's blog "Massively Scale Your
    Deep Learning Training with NCCL 2.4", 2019) and its rings over one NIC per GPU, which cross each node
    boundary once per NIC; Horovod's and DeepSpeed's hierarchical all-reduce; and Cloud TPU Multislice, where
    chips talk over ICI inside a slice and over the data-centre network (DCN) between slices, XLA generating
    the cross-slice collectives (cloud.google.com/tpu/docs/multislice-introduction, checked 2026-12-07).
    A group inside one node, or one rank per node, is the flat collective. `time_of(op, bytes, ranks,
    stride)` times one phase; by default collective_s on link_for's link."""
    if time_of is None:
        def time_of(op_, b, n, s):
            return collective_s(op_, b, int(n), link_for(g, int(n), int(s)))
    local, nodes = hierarchy(g, group_size, stride)
    return time_of(op, n_bytes, local, stride) + time_of(op, n_bytes / local, nodes, stride * local)


def hierarchical_bytes(op: str, n_bytes, group_size, stride, g: GPUSpec) -> tuple:
    """(bytes each rank sends over the fast link, bytes each rank sends over the scale-out link) of
    hierarchical_collective_s: bus factor x bytes in each phase."""
    local, nodes = hierarchy(g, group_size, stride)
    return bus_factor(op, local) * n_bytes, bus_factor(op, nodes) * n_bytes / local


@by_identity()  # pure: the catalog's GPU and two sizes; every training step and replica asks
def link_for(g: GPUSpec, group_size: int, stride: int = 1) -> Link:
    """The fabric a group of `group_size` ranks `stride` apart talks over: scale-up while the group
    fits in one scale-up domain (an 8-GPU node; 72 GPUs of a GB200 NVL72), the server's PCIe for
    PCIe cards without a bridge (up to PCIE_NODE_SIZE in one server), scale-out beyond."""
    span = group_size * stride
    if span <= g.scale_up_domain_size:
        return scale_up_link(g)
    if span <= PCIE_NODE_SIZE and g.link_kind in ("pcie", "nvlink"):
        return pcie_link(g)
    return scale_out_link(g)
