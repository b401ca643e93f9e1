"""MoE training terms (planner/estimate/moe_train.py) worked by hand, and the MoE layout rules."""
import numpy as np
import pytest

from planner.catalog.lookup import model as lookup_model
from planner.catalog.specs import ModelSpec
from planner.core.errors import InputError
from planner.estimate import grouped_gemm, moe_train, perf
from planner.estimate.layout import TrainingLayout
from planner.estimate.training_step import step_time, stage_model

# A two-expert toy: 2 experts, top-1, plain (2-matrix) MLP of width 512 on a 1024-wide model.
TOY = ModelSpec(name="toy-moe", n_layers=2, dim=1024, n_heads=8, n_kv_heads=8, ffn_dim=512, vocab_size=1000,
                mlp="gelu", n_experts=2, n_experts_per_token=1, moe_ffn_dim=512)
# Round rates: 1 PFLOP/s at 50% GEMM efficiency, 100 TB/s (compute-bound everywhere below), element-wise at 1.
KERN = perf.Kernels(peak_flops_per_s=1e15, peak_bytes_per_s=1e14, gemm_efficiency=0.5, memory_efficiency=1.0,
                    attention_efficiency=0.5, elementwise_efficiency=1.0)
NUM = perf.Numerics()


def _factor_by_hand(m, n, k):
    ref = 1 + (198 + 894 + 707) / 8192
    return ref / (1 + 198 / m + 894 / n + 707 / k)


def test_two_expert_toy_forward_and_backward_by_hand():
    # 1000 tokens, top-1 of 2 experts, no parallelism: each expert multiplies 500 rows; the MLP's two matrices
    # are (n, k) = (512, 1024) up and (1024, 512) down.
    rate = 1e15 * 0.5
    up, down = 2 * 512 * 1024 * 500 / (rate * _factor_by_hand(500, 512, 1024)), \
        2 * 1024 * 512 * 500 / (rate * _factor_by_hand(500, 1024, 512))
    fwd, bwd = moe_train.routed_experts_s(TOY, 1000, 1, 1, 1, KERN, NUM, weight_grads=True)
    assert fwd == pytest.approx(2 * (up + down), rel=1e-9)
    # backward: dX swaps n and k; dW reduces over the 500 rows: shapes (n, k, M) = (512, 1024, 500) as (M=512, N=1024, K=500)
    dx = 2 * 512 * 1024 * 500 / (rate * _factor_by_hand(500, 1024, 512)) \
        + 2 * 1024 * 512 * 500 / (rate * _factor_by_hand(500, 512, 1024))
    dw = 2 * 512 * 1024 * 500 / (rate * _factor_by_hand(512, 1024, 500)) \
        + 2 * 1024 * 512 * 500 / (rate * _factor_by_hand(1024, 512, 500))
    assert bwd == pytest.approx(2 * (dx + dw), rel=1e-9)
    frozen = moe_train.routed_experts_s(TOY, 1000, 1, 1, 1, KERN, NUM, weight_grads=False)[1]
    assert frozen == pytest.approx(2 * dx, rel=1e-9)


def test_grouped_gemm_factor_falls_with_small_shapes_and_is_one_at_the_dense_reference():
    assert grouped_gemm.factor(8192, 8192, 8192) == pytest.approx(1.0)
    wide, narrow = grouped_gemm.factor(4096, 4096, 4096), grouped_gemm.factor(4096, 768, 4096)
    few_rows = grouped_gemm.factor(128, 4096, 4096)
    assert narrow < wide and few_rows < wide and 0.3 < narrow < 0.8


def test_grouped_half_lengths_grow_with_the_datapath_rate_by_hand():
    # Hockney n_1/2 = r_inf x t0: at twice the fit's rate (H800 fp8, 1978.9 TFLOP/s) every half-length doubles,
    # the reference shape still gives 1, and a slower datapath keeps the fitted lengths
    assert grouped_gemm.half_scale(2 * 1978.9e12) == pytest.approx(2.0)
    assert grouped_gemm.half_scale(989.4e12) == pytest.approx(1.0)
    ref2 = 1 + 2 * (198 + 894 + 707) / 8192
    assert grouped_gemm.factor(500, 512, 1024, 2.0) == pytest.approx(
        ref2 / (1 + 2 * (198 / 500 + 894 / 512 + 707 / 1024)))
    assert grouped_gemm.factor(8192, 8192, 8192, 2.3) == pytest.approx(1.0)
    assert grouped_gemm.factor(1024, 768, 2048, 2.3) < grouped_gemm.factor(1024, 768, 2048)


def test_routed_experts_slow_down_on_a_faster_datapath(monkeypatch):
    fast = perf.Kernels(peak_flops_per_s=4e15, peak_bytes_per_s=1e14, gemm_efficiency=0.5, memory_efficiency=1.0,
                        attention_efficiency=0.5, elementwise_efficiency=1.0)
    fwd_plain = moe_train.routed_experts_s(TOY, 1000, 1, 1, 1, fast, NUM, weight_grads=True)[0]
    fwd_scaled = moe_train.routed_experts_s(TOY, 1000, 1, 1, 1, fast, NUM, weight_grads=True,
                                            half_scale=grouped_gemm.half_scale(4e15))[0]
    assert fwd_scaled > fwd_plain
    # micro_step_moe_s applies the datapath's scale itself: without it the step would be shorter
    kw = dict(rows=4096, tp=1, etp=1, ep=1, full_recompute=False, weight_grads=True, balance="forced")
    scaled = moe_train.micro_step_moe_s(TOY, fast, NUM, **kw)
    monkeypatch.setattr(grouped_gemm, "half_scale", lambda peak: 1.0)
    assert np.all(scaled > moe_train.micro_step_moe_s(TOY, fast, NUM, **kw))


def test_imbalance_band_and_forced_balance():
    assert moe_train.imbalance_factor("forced").tolist() == [1.0, 1.0, 1.0]
    loss, free = moe_train.imbalance_factor("aux-loss"), moe_train.imbalance_factor("aux-free")
    assert (loss >= free).all() and (free >= 1.0).all() and list(loss) == sorted(loss, reverse=True)


def test_permutation_bytes_by_hand():
    # 100 tokens, top-2, dim 8, bf16: permute (1 + 2) x 100 x 8 x 2 bytes, unpermute the same, backward twice that
    m = ModelSpec(name="p", n_layers=1, dim=8, n_heads=1, n_kv_heads=1, ffn_dim=8, vocab_size=10,
                  n_experts=4, n_experts_per_token=2)
    one_expert = 4 * 3 * 100 * 8 * 2
    assert moe_train.permutation_bytes(m, 100, 1, 2.0) == pytest.approx(one_expert)
    # two experts on the rank: the received 2 x 100 copies sorted by expert and back, forward and backward
    assert moe_train.permutation_bytes(m, 100, 2, 2.0) == pytest.approx(one_expert + 4 * 2 * 2 * 100 * 8 * 2)
    assert moe_train.permutation_s(m, 100, 1, KERN, NUM) == pytest.approx(one_expert / 1e14)


def test_all_to_all_bytes_by_hand():
    # 4096 rows over tp = 2 (sequence parallel): 2048 tokens x k = 8 copies x dim 4096, bf16 both ways
    m = lookup_model("Qwen3-235B-A22B")
    assert moe_train.dispatch_bytes(m, 4096, 2, fp8=False) == pytest.approx(2048 * 8 * 4096 * 2)
    # fp8 dispatch, bf16 combine: the mean of 1 and 2 bytes
    assert moe_train.dispatch_bytes(m, 4096, 2, fp8=True) == pytest.approx(2048 * 8 * 4096 * 1.5)


def test_dense_models_get_nothing_and_interleaved_models_count_their_moe_layers():
    dense = lookup_model("Llama-3.1-8B")
    assert moe_train.micro_step_moe_s(dense, KERN, NUM, rows=4096, tp=1, etp=1, ep=1, full_recompute=False,
                                      weight_grads=True, balance="forced") == 0.0
    every = ModelSpec(name="e", n_layers=4, dim=1024, n_heads=8, n_kv_heads=8, ffn_dim=512, vocab_size=1000,
                      n_experts=8, n_experts_per_token=2)
    half = ModelSpec(name="h", n_layers=4, dim=1024, n_heads=8, n_kv_heads=8, ffn_dim=512, vocab_size=1000,
                     n_experts=8, n_experts_per_token=2, moe_layer_step=2)
    kw = dict(rows=4096, tp=1, etp=1, ep=1, full_recompute=False, weight_grads=True, balance="aux-loss")
    assert moe_train.micro_step_moe_s(half, KERN, NUM, **kw) == pytest.approx(
        moe_train.micro_step_moe_s(every, KERN, NUM, **kw) / 2)


def test_expert_parallelism_may_exceed_data_parallelism():
    lay = TrainingLayout(tp=2, etp=1, pp=8, dp=16, ep=32)  # Megatron MoE Model Zoo's Qwen3-235B layout
    assert lay.expert_tp == 1 and "EP32" in lay.describe() and "ETP1" in lay.describe()
    assert TrainingLayout(tp=4, dp=2, ep=8, etp=1).n_gpus == 8
    assert TrainingLayout(tp=2, dp=4).expert_tp == 2  # etp 0: the attention's tp, Megatron's default


@pytest.mark.parametrize("kw", [dict(tp=2, dp=16, ep=24, etp=1), dict(tp=2, dp=4, ep=8), dict(dp=6, ep=4)])
def test_bad_expert_parallelism_is_refused_naming_the_field(kw):
    with pytest.raises(InputError, match=r"layout\.ep.*must divide tp x cp x dp"):
        TrainingLayout(**kw)


def test_bad_balance_and_etp_are_refused_naming_the_field():
    with pytest.raises(InputError, match=r"layout\.moe_balance"):
        TrainingLayout(moe_balance="perfect")
    with pytest.raises(InputError, match=r"layout\.etp"):
        TrainingLayout(etp=-1)


def test_step_at_ep_above_dp_runs_and_cross_node_all_to_all_costs_more():
    m = lookup_model("Qwen3-235B-A22B")
    from planner.catalog.lookup import gpu as lookup_gpu
    g = lookup_gpu("H100 SXM")
    kern = perf.kernels_for(g.peak("bf16"), g.memory_bytes_per_s, __import__(
        "planner.calibration.efficiency", fromlist=["DEFAULTS"]).DEFAULTS)
    inside = step_time(m, g, kern, TrainingLayout(tp=2, etp=1, pp=8, dp=16, ep=4, virtual_stages=4),
                       seq_len=4096, global_batch=2048)
    across = step_time(m, g, kern, TrainingLayout(tp=2, etp=1, pp=8, dp=16, ep=32, virtual_stages=4),
                       seq_len=4096, global_batch=2048)
    assert across.breakdown.expert_parallel_s > inside.breakdown.expert_parallel_s > 0
    forced = step_time(m, g, kern, TrainingLayout(tp=2, etp=1, pp=8, dp=16, ep=4, virtual_stages=4,
                                                  moe_balance="forced"), seq_len=4096, global_batch=2048)
    assert forced.seconds[1] < inside.seconds[1]
    assert stage_model(m, 8).n_layers == 12


def test_the_timed_stage_is_the_last_so_leading_dense_layers_stay_on_the_first():
    m = lookup_model("DeepSeek-V3")  # 61 layers, the first 3 dense
    assert stage_model(m, 1).n_dense_layers == 3
    last = stage_model(m, 32)  # 2 layers per stage: the last stage's are both MoE
    assert (last.n_layers, last.n_dense_layers) == (2, 0)
    maverick = lookup_model("Llama-4-Maverick")  # MoE every other layer
    assert stage_model(maverick, 4).moe_layer_step == maverick.moe_layer_step


def test_expert_tp_splits_the_experts_memory_and_parameters_over_etp_x_ep():
    from planner.estimate.layout import _split_params, params_per_gpu, training_memory
    m = lookup_model("Qwen3-235B-A22B")
    lay = TrainingLayout(tp=2, etp=1, pp=8, dp=16, ep=32)
    total, experts = _split_params(m)
    assert params_per_gpu(m, lay) == pytest.approx((total - experts) / 16 + experts / (1 * 8 * 32))
    mem = training_memory(m, "H100 SXM", lay, 4096)
    assert mem.weights == pytest.approx(params_per_gpu(m, lay) * 2.0)  # bf16, ZeRO-1 keeps whole weights
    same = TrainingLayout(tp=2, pp=8, dp=16, ep=16)  # etp = tp = 2: the same 32-way split of each expert
    assert params_per_gpu(m, same) == pytest.approx(params_per_gpu(m, lay))


def test_imbalance_scales_the_routed_experts_and_permutation_by_hand():
    kw = dict(rows=1000, tp=1, etp=1, ep=1, full_recompute=False, weight_grads=True)
    forced = moe_train.micro_step_moe_s(TOY, KERN, NUM, balance="forced", **kw)
    loss = moe_train.micro_step_moe_s(TOY, KERN, NUM, balance="aux-loss", **kw)
    fwd, bwd = moe_train.routed_experts_s(TOY, 1000, 1, 1, 1, KERN, NUM, weight_grads=True)
    perm = moe_train.permutation_s(TOY, 1000, 2, KERN, NUM)
    # 2 MoE layers, each waiting for its busiest expert: (factor - 1) x (experts + permutation) more per layer
    assert np.allclose(loss - forced, 2 * (np.array([1.5, 1.3, 1.2]) - 1) * (fwd + bwd + perm))


def test_all_to_all_time_in_a_step_by_hand():
    from planner.catalog.collectives import bus_factor
    from planner.catalog.lookup import gpu as lookup_gpu
    from planner.calibration.efficiency import DEFAULTS
    from planner.estimate import communication as comm
    m, g = lookup_model("Qwen3-235B-A22B"), lookup_gpu("H100 SXM")
    kern = perf.kernels_for(g.peak("bf16"), g.memory_bytes_per_s, DEFAULTS)
    lay = TrainingLayout(pp=8, dp=8, ep=8, micro_batch=1)  # 94 layers -> 12 per stage, all MoE; EP inside a node
    st = step_time(m, g, kern, lay, seq_len=4096, global_batch=64)
    link = comm.link_for(g, 8, 1)
    sent = 4096 * 8 * 4096 * 2.0  # k = 8 copies of 4096 tokens x dim 4096 in bf16
    one = link.latency_s + 8 * link.hop_latency_s + bus_factor("all_to_all", 8) * sent / link.bus_bytes_per_s
    # 8 micro-steps x 4 all-to-alls (dispatch, combine; forward, backward) x 12 MoE layers x the p50 imbalance 1.3,
    # none of it overlapped (A2A_NOT_OVERLAPPED = 1)
    assert st.breakdown.expert_parallel_s == pytest.approx(8 * 4 * 12 * 1.3 * one, rel=1e-9)


def test_overlapped_all_to_all_is_hidden_behind_compute():
    from planner.catalog.lookup import gpu as lookup_gpu
    from planner.calibration.efficiency import DEFAULTS
    m, g = lookup_model("Qwen3-235B-A22B"), lookup_gpu("H100 SXM")
    kern = perf.kernels_for(g.peak("bf16"), g.memory_bytes_per_s, DEFAULTS)
    kw = dict(tp=2, etp=1, pp=8, dp=16, ep=32, virtual_stages=4)
    plain = step_time(m, g, kern, TrainingLayout(**kw), seq_len=4096, global_batch=2048)
    hidden = step_time(m, g, kern, TrainingLayout(**kw, moe_overlap=True), seq_len=4096, global_batch=2048)
    assert 0 < hidden.breakdown.expert_parallel_s < plain.breakdown.expert_parallel_s
    with pytest.raises(Exception, match=r"layout\.moe_overlap"):
        TrainingLayout(moe_overlap="yes")


def test_cli_layout_takes_the_moe_fields():
    from planner.core.errors import PlannerError
    from planner.present.cli_training import parse_layout
    lay = parse_layout("tp=2,etp=1,pp=8,dp=16,ep=32,moe_balance=aux-free,moe_overlap=true")
    assert (lay.etp, lay.ep, lay.moe_balance, lay.moe_overlap) == (1, 32, "aux-free", True)
    with pytest.raises(PlannerError, match="moe_overlap"):
        parse_layout("ep=1,moe_overlap=maybe")


def test_expert_gradients_reduce_over_the_expert_data_parallel_group_by_hand():
    from planner.catalog.lookup import gpu
    from planner.estimate import communication as comm, moe_grads
    # 64 GPUs, TP1 PP1, EP8 on 8-GPU nodes: the experts' group is the 8 ranks 8 apart, one per node, so all
    # its bytes cross the scale-out network; the dense group (64 ranks, 8 per node) sends 1/8 of them across
    assert moe_grads.expert_group(64, 1, 1, 8, 1) == (8, 8)
    assert moe_grads.expert_group(16, 1, 2, 32, 1) == (1, 32)  # EP32 over DP16 x TP2: one copy, nothing to reduce
    b200 = gpu("B200")
    assert comm.hierarchy(b200, 8, 8) == (1, 8) and comm.hierarchy(b200, 64, 1) == (8, 8)
    _, across_experts = comm.hierarchical_bytes("reduce_scatter", 1e9, 8, 8, b200)
    _, across_dense = comm.hierarchical_bytes("reduce_scatter", 1e9, 64, 1, b200)
    assert across_experts == pytest.approx(7 / 8 * 1e9) and across_dense == pytest.approx(7 / 8 * 1e9 / 8)
    assert moe_grads.split_local(100.0, 80.0, 1, 1, 8, 1) == (20.0, 10.0)


def test_expert_data_parallel_traffic_slows_a_step_whose_experts_span_nodes():
    # GPT-OSS-120B on 64 B200 at EP8: 16 experts a GPU, their gradients reduced across 8 nodes
    m = lookup_model("GPT-OSS-120B")
    from planner.calibration.efficiency import DEFAULTS
    from planner.catalog.lookup import gpu
    g = gpu("B200")
    kern = perf.kernels_for(g.peak("bf16"), g.memory_bytes_per_s, DEFAULTS)
    lay = TrainingLayout(tp=1, pp=1, dp=64, ep=8, micro_batch=4, global_batch=512, moe_balance="forced")
    st = step_time(m, g, kern, lay, seq_len=4096, global_batch=512)
    assert st.breakdown.data_parallel_exposed_s > 0.1 * st.breakdown.total_s
