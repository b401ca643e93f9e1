"""The routed experts' data-parallel traffic: over the expert-data-parallel group, not the dense one.

Megatron-Core builds a second set of process groups for the experts: "expert_data_parallel_size = world_size //
(expert_tensor_parallel_size x expert_model_parallel_size x pipeline_model_parallel_size)", ranked by a
RankGenerator with tp = etp innermost, then ep, then the expert-data-parallel axis (megatron/core/
parallel_state.py, initialize_model_parallel, as quoted in a code-corpus walk-through of that function read
2026-12-07), and the distributed optimizer shards an expert chunk's gradients over that group (its
setup_process_groups_for_optimizer: "Use expert DP group for MoE layers"). So the experts' gradients are
reduced, and their updated weights gathered, among etp x ep-apart ranks: with etp x ep filling a node (EP8 on
an 8-GPU node) the group has one rank per node and every byte crosses the scale-out network, where the dense
group's hierarchical reduction sends only 1/local of them (communication.hierarchical_collective_s).

`split_local` divides a GPU's parameters into the dense ones and the experts' (the same split as
layout.params_per_gpu); `expert_group` gives the group's size and rank stride; training_step times each part
over its own group with the same hierarchical collective.
"""
from __future__ import annotations

import numpy as np


def expert_group(dp, cp, tp, ep, etp):
    """(ranks, stride) of the expert-data-parallel group: the dp x cp x tp ranks of a pipeline stage over
    the etp x ep that hold one copy of its experts, etp x ep apart (at least one rank)."""
    inner = np.asarray(ep, dtype=float) * etp
    size = np.maximum(1, np.asarray(dp, dtype=float) * cp * tp // inner)
    if np.ndim(size) == 0 and np.ndim(inner) == 0:  # one layout: the integers hierarchy() takes
        return int(size), int(inner)
    return size, inner


def split_local(total, experts, tp, pp, ep, etp):
    """(dense, expert) parameters on one GPU: the dense part over tp x pp, the experts over etp x pp x ep."""
    return (total - experts) / (tp * pp), experts / (etp * pp * ep)
