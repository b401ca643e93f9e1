"""Cross-node expert-parallel dispatch as DeepEP's normal (training / prefill) kernels run it.

NCCL's all-to-all (Megatron-Core's "alltoall" dispatcher) sends every one of a token's k copies to its expert's
GPU, so once the expert-parallel group spans nodes most copies cross the network. DeepEP's normal kernels
forward instead: "kernels optimized for asymmetric-domain bandwidth forwarding, such as forwarding data from
NVLink domain to RDMA domain", which follow DeepSeek-V3's group-limited gating ("Normal kernels with NVLink
and RDMA forwarding"; https://github.com/deepseek-ai/DeepEP README, read 2026-12-07 from a copy in the code
corpus). A token goes over the network once per destination node, to the GPU of the same index there, which
forwards it over NVLink to the GPUs holding its experts (DeepEP csrc/kernels/internode.cu: RDMA senders, NVLink
forwarders). Megatron-Core runs these kernels with --moe-token-dispatcher-type flex (DeepEP, HybridEP).

`deepep_s` times one dispatch or combine so: the network carries tokens x remote destination nodes, the
scale-up link carries the copies forwarded inside a node, and the two pipeline (the slower sets the time).
Destination nodes follow uniform routing of k distinct experts over the nodes' equal shares (hypergeometric:
what a balanced or force-balanced router gives; a node-limited router, as DeepSeek-V3's at most 4 nodes,
sends to fewer where the group spans more than 4, which this leaves out: a pessimism there).
"""
from __future__ import annotations

import numpy as np
from scipy.special import gammaln

from ..catalog.specs import GPUSpec, ModelSpec
from . import communication as comm

DISPATCHERS = ("alltoall", "deepep")


def nodes_spanned(g: GPUSpec, ep, etp):
    """Scale-up domains (nodes) one expert-parallel group covers: ep ranks etp apart."""
    return np.maximum(1.0, np.ceil(np.asarray(ep, dtype=float) * etp / g.scale_up_domain_size))


def node_missed(n_experts: int, k: int, nodes):
    """Probability that none of a token's k distinct experts (of n_experts, n_experts / nodes per node) lies on
    one given node: C(E - E/nodes, k) / C(E, k)."""
    e, other = float(n_experts), n_experts - n_experts / np.asarray(nodes, dtype=float)
    log_p = gammaln(other + 1) - gammaln(np.maximum(other - k, 0) + 1) - gammaln(e + 1) + gammaln(e - k + 1)
    return np.where(other >= k, np.exp(log_p), 0.0)


def remote_nodes(n_experts: int, k: int, nodes):
    """Expected nodes other than the sender's own that a token's k experts lie on."""
    nodes = np.asarray(nodes, dtype=float)
    return (nodes - 1.0) * (1.0 - node_missed(n_experts, k, nodes))


def deepep_s(m: ModelSpec, g: GPUSpec, copies_bytes, ep, etp):
    """One dispatch (or combine) of `copies_bytes` (a rank's k copies of its tokens, as dispatch_bytes) by
    DeepEP's normal kernels: each token once per remote destination node over the rank's own NIC, the copies
    for other GPUs of a node over the scale-up link, pipelined; inside one node, NVLink alone."""
    k = m.n_experts_per_token
    nodes = nodes_spanned(g, ep, etp)
    out, up = comm.scale_out_link(g), comm.scale_up_link(g)
    network = np.asarray(copies_bytes, dtype=float) / k * remote_nodes(m.n_experts, k, nodes) / out.bus_bytes_per_s
    forwarded = np.asarray(copies_bytes, dtype=float) * (1.0 - 1.0 / np.maximum(ep, 1)) / up.bus_bytes_per_s
    latency = np.where(nodes > 1, out.latency_s, up.latency_s)
    return np.where(np.asarray(ep) > 1, latency + np.maximum(network, forwarded), 0.0)
