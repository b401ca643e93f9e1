"""Training layouts: memory per GPU by component against hand computations, and step time's communication."""
from __future__ import annotations

import dataclasses

import pytest

import planner
from planner.calibration.efficiency import DEFAULTS
from planner.estimate import communication as comm
from planner.estimate import perf
from planner.estimate.arithmetic import total_params
from planner.estimate.layout import TrainingLayout, training_memory
from planner.estimate.training_step import step_time

H100 = planner.gpu("H100 SXM")
L70 = planner.model("Llama-3.1-70B")  # 80 layers, dim 8192, 64 heads (8 KV), SwiGLU 28672, vocab 128256
N70 = total_params(L70)


def test_zero1_tp8_pp4_memory_by_hand():
    lay = TrainingLayout(tp=8, pp=4, dp=32, zero_stage=1, micro_batch=1, recompute="selective")
    mem = training_memory("Llama-3.1-70B", "H100 SXM", lay, 8192)
    local = N70 / 32  # tp x pp
    assert mem.weights == pytest.approx(local * 2)  # bf16, not sharded under ZeRO-1
    assert mem.gradients == pytest.approx(local * 2)
    assert mem.optimizer_states == pytest.approx(local * 12 / 32)  # fp32 master + m + v over dp
    sbh = 8192 * 1 * 8192 / 8  # sequence x micro-batch x dim, split by tensor (sequence) parallelism
    assert mem.activations == pytest.approx(20 * 34 * sbh * 4, rel=0.05)  # 20 layers, 34 sbh each, 4 in flight
    assert mem.communication_buffers == 0.0  # ZeRO-1: no gathered weights; Megatron re-gathers TP inputs
    allocated = local * 4 + local * 12 / 32 + 20 * 34 * sbh * 4
    assert mem.allocated == pytest.approx(allocated, rel=0.05)
    assert mem.reserved == pytest.approx(allocated * 1.10, rel=0.05)  # the allocator's 10% (memory_terms.py)
    assert mem.total == pytest.approx(allocated * 1.10 + 0.7e9 + 0.5e9, rel=0.05)  # + CUDA context + NCCL
    assert mem.figure("device") == mem.total and mem.figure("allocated") == mem.allocated


def test_zero3_shards_everything_and_full_recompute_keeps_inputs_only():
    lay = TrainingLayout(tp=1, pp=1, dp=64, zero_stage=3, micro_batch=2, recompute="full")
    mem = training_memory(L70, H100, lay, 4096)
    assert mem.weights == pytest.approx(N70 * 2 / 64)
    assert mem.gradients == pytest.approx(N70 * 2 / 64)
    assert mem.optimizer_states == pytest.approx(N70 * 12 / 64)
    sbh = 4096 * 2 * 8192
    logits = 4096 * 2 * 128256 * 10  # bf16 logits + saved fp32 log-softmax + an fp32 transient (one stage)
    assert mem.activations == pytest.approx(80 * 2 * sbh + 34 * sbh + logits, rel=0.01)
    assert mem.communication_buffers == pytest.approx(2 * N70 / 80 * 2, rel=0.05)  # two prefetched layer gathers


def test_eight_bit_paged_and_offloaded_states_leave_the_gpu():
    base = TrainingLayout(tp=1, pp=1, dp=1, zero_stage=0)
    kw = dict(trainable_params=8e9)
    adam = training_memory("Llama-3.1-8B", "H100 SXM", base, 2048, **kw)
    eight = training_memory("Llama-3.1-8B", "H100 SXM", dataclasses.replace(base, optimizer="adamw-8bit"), 2048, **kw)
    paged = training_memory("Llama-3.1-8B", "H100 SXM", dataclasses.replace(base, optimizer="paged-adamw-8bit"), 2048, **kw)
    off = training_memory("Llama-3.1-8B", "H100 SXM", dataclasses.replace(base, offload="optimizer"), 2048, **kw)
    assert adam.optimizer_states == pytest.approx(8e9 * 12) and eight.optimizer_states == pytest.approx(8e9 * 2)
    assert paged.optimizer_states == off.optimizer_states == 0.0


def test_moe_experts_split_by_expert_parallelism():
    mix = planner.model("Mixtral-8x7B")
    one = training_memory(mix, H100, TrainingLayout(dp=8, ep=1, zero_stage=0), 4096)
    eight = training_memory(mix, H100, TrainingLayout(dp=8, ep=8, zero_stage=0), 4096)
    assert eight.weights < one.weights / 5  # the experts are ~97% of Mixtral's weights


@pytest.mark.parametrize("model, layout", [
    ("Mixtral-8x7B", TrainingLayout(dp=6, ep=3)),  # 3 does not divide 8 experts
    ("Qwen3-30B-A3B", TrainingLayout(dp=96, ep=96)),  # nor 96 the 128
    ("Llama-3.1-8B", TrainingLayout(dp=8, ep=2)),  # a dense model has no experts to split
])
def test_expert_parallelism_must_split_the_experts(model, layout):
    """Megatron-LM and DeepSpeed-MoE refuse num_experts % ep != 0: so does every path a layout enters by."""
    with pytest.raises(planner.InputError, match="layout.ep"):
        training_memory(model, H100, layout, 4096)
    with pytest.raises(planner.InputError, match="layout.ep"):
        planner.pretraining(model=model, gpu=H100, layout=layout, tokens=1e9)


def test_bad_layouts_are_refused_naming_the_field():
    with pytest.raises(planner.InputError, match="layout.ep"):
        TrainingLayout(dp=6, ep=4)
    with pytest.raises(planner.InputError, match="layout.recompute"):
        TrainingLayout(recompute="some")
    with pytest.raises(planner.InputError, match="layout.tp"):
        TrainingLayout(tp=0)


def test_tensor_parallel_all_reduces_by_hand():
    kern = perf.kernels_for(H100.peak("bf16"), H100.memory_bytes_per_s, DEFAULTS)
    lay = TrainingLayout(tp=8, pp=1, dp=1, zero_stage=0, micro_batch=1, recompute="selective")
    st = step_time(L70, H100, kern, lay, seq_len=4096, global_batch=1)
    link = comm.scale_up_link(H100)
    # ring all-reduce of the activations: NCCL's latency (base + 2(n-1) ring steps) and bytes at the bus bandwidth
    per = link.latency_s + 2 * 7 * link.hop_latency_s + 2 * 7 / 8 * 4096 * 8192 * 2 / link.bus_bytes_per_s
    assert st.breakdown.tensor_parallel_s == pytest.approx(4 * 80 * per)  # 4 per layer: 2 forward, 2 backward
    assert st.breakdown.data_parallel_exposed_s == 0 and st.breakdown.pipeline_bubble_s == 0


def test_pipeline_bubble_is_p_minus_1_over_v_micro_steps():
    kern = perf.kernels_for(H100.peak("bf16"), H100.memory_bytes_per_s, DEFAULTS)
    lay = TrainingLayout(tp=8, pp=8, dp=1, zero_stage=0, micro_batch=1, recompute="full")
    st = step_time(L70, H100, kern, lay, seq_len=4096, global_batch=32)
    per_micro = (st.breakdown.compute_s + st.breakdown.tensor_parallel_s + st.breakdown.pipeline_send_s) / 32
    assert st.breakdown.pipeline_bubble_s == pytest.approx(7 * per_micro, rel=1e-6)
    inter = step_time(L70, H100, kern, dataclasses.replace(lay, virtual_stages=2), seq_len=4096, global_batch=32)
    assert inter.breakdown.pipeline_bubble_s < st.breakdown.pipeline_bubble_s * 0.6


def test_collectives_follow_the_nccl_tests_factors():
    link = comm.Link("test", 1e-5, 100e9)
    assert comm.collective_s("all_reduce", 1e9, 8, link) == pytest.approx(1e-5 + 2 * 7 / 8 * 1e9 / 100e9)
    assert comm.collective_s("all_gather", 1e9, 4, link) == pytest.approx(1e-5 + 3 / 4 * 1e9 / 100e9)
    assert comm.collective_s("all_reduce", 1e9, 1, link) == 0
    assert comm.link_for(H100, 8).name.endswith("scale-up") and comm.link_for(H100, 16).name.endswith("scale-out")


# Never refuse what ran (issue 22): memory is a band; refuse only past its optimistic end; say "tight" near the edge.

def _breakdown(total_gb, card_gib=80):
    from planner.estimate.layout import USABLE_MEMORY_FRACTION
    return planner.MemoryBreakdown(weights=total_gb * 1e9, gradients=0.0, optimizer_states=0.0, activations=0.0,
                                   communication_buffers=0.0, usable=card_gib * 2**30 * USABLE_MEMORY_FRACTION)


def test_memory_band_and_fit_by_hand():
    # 80 GiB card = 85.9 GB; usable 90% = 77.3 GB; band 0.8x / 1.2x the central total.
    ok, tight, over = _breakdown(70.0), _breakdown(100.0), _breakdown(110.0)
    assert ok.band.p10 == pytest.approx(56e9) and ok.band.p90 == pytest.approx(84e9)
    assert ok.comfortable and not ok.tight and ok.fit_note() == ""
    assert tight.fits and tight.tight  # 100 GB central, but the optimistic 80 GB is under 85.9 GB
    assert tight.fit_note().startswith("tight: needs 100.0 GB") and "22.7 GB over the 77.3 GB usable" in tight.fit_note()
    assert not over.fits and "optimistic 88.0 GB" in over.fit_note()  # 0.8 x 110 = 88 > 85.9


def test_given_layout_near_the_edge_runs_and_says_tight():
    """Llama-3.1-8B LoRA on a 24 GB RTX 4090 without recomputation: 16.1 GB bf16 base + 10.2 GB activations
    + 1 GB NCCL reserve + adapters ~ 27.8 GB, over the 23.2 GB usable but its optimistic 22.3 GB fits 25.8 GB."""
    e = planner.finetuning(model="Llama-3.1-8B", gpu="RTX 4090", method="lora", tokens=1e6,
                           layout=TrainingLayout(recompute="none"))
    assert e.memory.tight and e.memory_fit.startswith("tight")
    searched = planner.finetuning(model="Llama-3.1-8B", gpu="RTX 4090", method="lora", tokens=1e6)
    assert searched.memory.comfortable and searched.memory_fit == ""  # the search prefers a comfortable layout


def test_past_the_optimistic_end_is_still_refused():
    with pytest.raises(planner.DoesNotFitError, match="optimistic"):
        planner.finetuning(model="Llama-3.1-70B", gpu="RTX 4090", method="lora", tokens=1e6,
                           layout=TrainingLayout(recompute="full"))


def test_hierarchical_data_parallel_bytes_by_hand():
    """DP=32 at TP=2 on 8-GPU H100 nodes: 4 DP ranks share a node, the group spans 8 nodes. A 1 GB all-reduce
    sends 2 x 3/4 x 1 GB over NVLink and 2 x 7/8 x 1/4 GB over the network per GPU (flat: 2 x 31/32 x 1 GB)."""
    assert comm.hierarchy(H100, 32, 2) == (4, 8)
    fast, out = comm.hierarchical_bytes("all_reduce", 1e9, 32, 2, H100)
    assert (fast, out) == (pytest.approx(2 * 3 / 4 * 1e9), pytest.approx(2 * 7 / 8 * 0.25e9))
    rs_fast, rs_out = comm.hierarchical_bytes("reduce_scatter", 1e9, 32, 2, H100)
    assert (rs_fast, rs_out) == (pytest.approx(3 / 4 * 1e9), pytest.approx(7 / 8 * 0.25e9))
    up, net = comm.scale_up_link(H100), comm.scale_out_link(H100)
    want = (up.latency_s + 6 * up.hop_latency_s + fast / up.bus_bytes_per_s) + (net.latency_s + out / net.bus_bytes_per_s)
    assert comm.hierarchical_collective_s("all_reduce", 1e9, 32, 2, H100) == pytest.approx(want)
    assert comm.hierarchical_collective_s("all_reduce", 1e9, 32, 2, H100) < comm.collective_s(
        "all_reduce", 1e9, 32, comm.link_for(H100, 32, 2)) / 3  # the flat ring charged every byte to the network


@pytest.mark.parametrize("group, stride", [(8, 1), (4, 2), (2, 4), (16, 8), (64, 8), (1, 1)])
def test_hierarchy_is_the_flat_collective_inside_a_node_or_one_rank_per_node(group, stride):
    """Nothing moves where the group stays in one node (a single 8-GPU node) or has one rank per node (TP=8)."""
    flat = comm.collective_s("all_reduce", 3e9, group, comm.link_for(H100, group, stride))
    assert comm.hierarchical_collective_s("all_reduce", 3e9, group, stride, H100) == pytest.approx(flat)


def test_tpu_multislice_sends_one_slice_share_over_dcn():
    """TPU v5e slices of 256 chips on ICI: across 4 slices each chip sends 1/256 of the bytes over DCN."""
    v5e = planner.gpu("TPU v5e")
    assert comm.hierarchy(v5e, 1024, 1) == (256, 4)
    _, dcn = comm.hierarchical_bytes("all_gather", 16e9, 1024, 1, v5e)
    assert dcn == pytest.approx(3 / 4 * 16e9 / 256)


def test_data_parallel_across_nodes_is_cheaper_than_flat_but_never_free():
    """A step's exposed DP time: 8B at DP=64 over 8 nodes drops below the flat ring's, and stays above zero;
    a single node's step does not move (the hierarchy is the flat collective there)."""
    kern = perf.kernels_for(H100.peak("bf16"), H100.memory_bytes_per_s, DEFAULTS)
    m = planner.model("Llama-3.1-8B")
    one = step_time(m, H100, kern, TrainingLayout(dp=8, micro_batch=2), seq_len=4096, global_batch=64)
    many = step_time(m, H100, kern, TrainingLayout(dp=64, micro_batch=2), seq_len=4096, global_batch=1024)
    grads = total_params(m) * 2
    flat = comm.collective_s("reduce_scatter", grads, 64, comm.scale_out_link(H100)) \
        + comm.collective_s("all_gather", grads, 64, comm.scale_out_link(H100))
    assert 0 < many.breakdown.data_parallel_exposed_s < 0.5 * flat
    inside = comm.collective_s("reduce_scatter", grads, 8, comm.scale_up_link(H100)) \
        + comm.collective_s("all_gather", grads, 8, comm.scale_up_link(H100))
    assert one.breakdown.data_parallel_exposed_s == pytest.approx(0.15 * inside)  # NOT_OVERLAPPED of it, as before
