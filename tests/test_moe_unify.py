"""One grouped-GEMM curve for training and serving, the MoE layer's fixed time, DeepEP's cross-node dispatch,
fp8 with MoE, and the MoE fp8 rows of the step check, worked by hand."""
from math import comb

import numpy as np
import pytest

from planner.calibration.efficiency import DEFAULTS
from planner.catalog.lookup import gpu as lookup_gpu
from planner.catalog.lookup import model as lookup_model
from planner.catalog.published import published_steps
from planner.catalog.specs import ModelSpec
from planner.core.errors import InputError
from planner.estimate import communication as comm
from planner.estimate import fp8 as fp8_gemms
from planner.estimate import grouped_gemm, moe_dispatch, moe_train, perf
from planner.estimate.layout import TrainingLayout
from planner.estimate.training_step import step_time

# 2 MoE layers of 4 experts, top-1, a plain (2-matrix) MLP of width 512 on a 1024-wide model.
TOY = ModelSpec(name="toy-moe", n_layers=2, dim=1024, n_heads=8, n_kv_heads=8, ffn_dim=512, vocab_size=1000,
                mlp="gelu", n_experts=4, n_experts_per_token=1, moe_ffn_dim=512)
# Round rates, compute-bound everywhere below: 1 PFLOP/s at 50% GEMM efficiency, 100 TB/s.
KERN = perf.Kernels(peak_flops_per_s=1e15, peak_bytes_per_s=1e14, gemm_efficiency=0.5, memory_efficiency=1.0,
                    attention_efficiency=0.5, elementwise_efficiency=1.0)
NUM = perf.Numerics()


def _factor(m, n, k):
    return (1 + (198 + 894 + 707) / 8192) / (1 + 198 / max(m, 256) + 894 / n + 707 / k)


def test_one_curve_held_below_the_fitted_rows():
    assert grouped_gemm.factor(500, 512, 1024) == pytest.approx(_factor(500, 512, 1024))
    assert grouped_gemm.factor(500, 512, 1024) > grouped_gemm.factor(300, 512, 1024)
    # below DeepGEMM's smallest 256 rows per expert the rate is not extrapolated: a decode step's 4 rows
    # per expert cost 4 rows' compute at the 256-row rate, so streaming the weights sets their time
    assert grouped_gemm.factor(4, 512, 1024) == pytest.approx(grouped_gemm.factor(256, 512, 1024))
    kern = perf.Kernels(peak_flops_per_s=1e15, peak_bytes_per_s=1e12, gemm_efficiency=0.5, memory_efficiency=1.0,
                        attention_efficiency=0.5)
    int4 = perf.Numerics(weight_bytes=0.5)
    assert grouped_gemm.gemm_s(4, 512, 1024, kern, int4) == pytest.approx(
        (512 * 1024 * 0.5 + 4 * (512 + 1024) * 2) / 1e12)


def test_serving_routed_experts_follow_the_training_curve_by_hand():
    # 4000 tokens, top-1 of 4 experts: 1000 rows each (uniform occupancy: all 4 touched)
    rows = 4000
    local, per_expert = perf.routed_rows(TOY, rows)
    assert per_expert == pytest.approx(1000, rel=1e-6)
    rate = 1e15 * 0.5
    by_hand = local * (2 * 512 * 1024 * per_expert / (rate * _factor(per_expert, 512, 1024))
                       + 2 * 1024 * 512 * per_expert / (rate * _factor(per_expert, 1024, 512)))
    router = perf.gemm_s(rows, 4, 1024, KERN, NUM)  # the gating GEMM stays an ordinary GEMM
    assert perf.ffn_s(TOY, rows, 1, KERN, NUM, moe=True) == pytest.approx(by_hand + router, rel=1e-9)
    # the training forward of the same experts is the same number (one curve)
    assert moe_train.routed_experts_s(TOY, rows, 1, 1, 1, KERN, NUM, weight_grads=False)[0] == pytest.approx(by_hand)
    # an engine's kernel below the curve: half the rate, twice the (compute-bound) time
    from dataclasses import replace
    slow = replace(KERN, grouped_gemm_factor=0.5)
    assert perf.ffn_s(TOY, rows, 1, slow, NUM, moe=True) == pytest.approx(2 * by_hand + router, rel=1e-9)


def test_moe_layer_fixed_time_by_hand():
    kw = dict(rows=4000, tp=1, etp=1, ep=1, weight_grads=True, balance="forced")
    base = moe_train.micro_step_moe_s(TOY, KERN, NUM, full_recompute=False, **kw)
    f = moe_train.LAYER_FORWARD_S
    assert moe_train.layer_fixed_s(False) == pytest.approx(f + 2 * f)  # forward + backward (2x)
    assert moe_train.layer_fixed_s(True) == pytest.approx(2 * f + 2 * f)  # the forward again
    old = moe_train.LAYER_FORWARD_S
    try:
        moe_train.LAYER_FORWARD_S, moe_train.LAYER_BACKWARD_S = 0.0, 0.0
        without = moe_train.micro_step_moe_s(TOY, KERN, NUM, full_recompute=False, **kw)
    finally:
        moe_train.LAYER_FORWARD_S, moe_train.LAYER_BACKWARD_S = old, 2 * old
    assert base - without == pytest.approx(2 * 3 * f)  # 2 MoE layers x (forward + 2 x forward)
    dense = ModelSpec(name="d", n_layers=2, dim=1024, n_heads=8, n_kv_heads=8, ffn_dim=512, vocab_size=1000)
    assert moe_train.micro_step_moe_s(dense, KERN, NUM, full_recompute=False, **kw) == 0.0


def test_fp8_experts_run_on_the_curve_at_the_fp8_rate_and_are_replaced_once():
    f8 = fp8_gemms.Fp8Gemms("tensorwise", 2.0)
    k8 = fp8_gemms.fp8_kernels(KERN, f8)
    bf16 = moe_train.routed_experts_s(TOY, 4000, 1, 1, 1, KERN, NUM, weight_grads=True)
    fp8 = moe_train.routed_experts_s(TOY, 4000, 1, 1, 1, k8, NUM, weight_grads=True)
    # compute-bound: the same curve, the fp8 rate 2 x 0.96 the bf16 one
    assert np.allclose(np.array(fp8), np.array(bf16) / (2 * 0.96), rtol=1e-9)
    kw = dict(rows=4000, tp=1, etp=1, ep=1, full_recompute=False, weight_grads=True, balance="aux-loss")
    w = perf.StepWork(micro_batch=1, seq_len=4000, tp=1, recompute="selective", weight_grads=True)
    both = fp8_gemms.micro_step_s(TOY, KERN, NUM, w, f8) + moe_train.micro_step_moe_s(TOY, KERN, NUM, fp8=f8, **kw)
    plain = perf.micro_step_s(TOY, KERN, NUM, w) + moe_train.micro_step_moe_s(TOY, KERN, NUM, **kw)
    # the fp8 change perf's routed experts got (paired rates) is taken back, and the grouped experts' own change
    # (x the p50..p10 imbalance) put in: nothing of the routed experts is counted twice
    old8 = moe_train.perf_routed_s(TOY, 4000, 1, 1, k8, NUM, weight_grads=True)
    old = moe_train.perf_routed_s(TOY, 4000, 1, 1, KERN, NUM, weight_grads=True)
    delta_rest = fp8_gemms.micro_step_s(TOY, KERN, NUM, w, f8) - perf.micro_step_s(TOY, KERN, NUM, w) \
        - 2 * (sum(old8) - sum(old))
    worst = moe_train.imbalance_factor("aux-loss")
    # the grouped fp8 experts run at their datapath's half-lengths (2 PFLOP/s: just above the fit's H800 fp8)
    fp8 = moe_train.routed_experts_s(TOY, 4000, 1, 1, 1, k8, NUM, weight_grads=True,
                                     half_scale=grouped_gemm.half_scale(2e15))
    assert np.allclose(both - plain, delta_rest + 2 * worst * (sum(fp8) - sum(bf16)), rtol=1e-9)


def test_remote_nodes_hypergeometric_by_hand():
    # 128 experts on 4 nodes (32 each), top-8: P(a node gets none) = C(96, 8) / C(128, 8)
    miss = comb(96, 8) / comb(128, 8)
    assert moe_dispatch.node_missed(128, 8, 4) == pytest.approx(miss, rel=1e-9)
    assert moe_dispatch.remote_nodes(128, 8, 4) == pytest.approx(3 * (1 - miss), rel=1e-9)
    assert moe_dispatch.remote_nodes(128, 8, 1) == pytest.approx(0.0)
    assert moe_dispatch.node_missed(16, 8, 16) == pytest.approx(comb(15, 8) / comb(16, 8))


def test_deepep_dispatch_by_hand_and_below_nccl_across_nodes():
    m, g = lookup_model("Qwen3-235B-A22B"), lookup_gpu("H100 SXM")
    copies = 4096 / 2 * 8 * 4096 * 2.0  # TP2's sequence-parallel share, k = 8 copies, dim 4096, bf16
    out, up = comm.scale_out_link(g), comm.scale_up_link(g)
    network = copies / 8 * moe_dispatch.remote_nodes(128, 8, 4) / out.bus_bytes_per_s  # EP32, etp 1: 4 nodes
    forwarded = copies * (1 - 1 / 32) / up.bus_bytes_per_s
    assert moe_dispatch.deepep_s(m, g, copies, 32, 1) == pytest.approx(out.latency_s + max(network, forwarded))
    from planner.estimate.training_step import _collective, _link
    assert moe_dispatch.deepep_s(m, g, copies, 32, 1) < 0.5 * _collective("all_to_all", copies, 32, _link(g, 32, 1))
    assert moe_dispatch.deepep_s(m, g, copies, 1, 1) == 0.0  # no expert parallelism, nothing sent


def test_deepep_layout_option_in_a_step_and_refused_when_unknown():
    m, g = lookup_model("Qwen3-235B-A22B"), lookup_gpu("H100 SXM")
    kern = perf.kernels_for(g.peak("bf16"), g.memory_bytes_per_s, DEFAULTS)
    base = dict(tp=2, etp=1, pp=8, virtual_stages=4, dp=16, ep=32, micro_batch=1)
    nccl = step_time(m, g, kern, TrainingLayout(**base), seq_len=4096, global_batch=256)
    deep = step_time(m, g, kern, TrainingLayout(**base, moe_dispatcher="deepep"), seq_len=4096, global_batch=256)
    assert deep.breakdown.expert_parallel_s < 0.5 * nccl.breakdown.expert_parallel_s
    assert deep.breakdown.compute_s == pytest.approx(nccl.breakdown.compute_s)
    with pytest.raises(InputError, match=r"layout\.moe_dispatcher"):
        TrainingLayout(moe_dispatcher="nccl")


def test_step_check_has_moe_fp8_rows_in_both_sets_and_the_moved_rows():
    steps = published_steps()
    moe_fp8 = [s for s in steps if s.moe and s.precision == "fp8"]
    assert {s.set for s in moe_fp8} == {"calibration", "validation"} and len(moe_fp8) >= 6
    ep32 = [s for s in steps if "TP2 EP32" in s.name]
    assert len(ep32) == 2 and all(s.set == "calibration" and "Moved from validation" in s.source.note for s in ep32)
    assert all(dict(s.layout).get("moe_dispatcher") == "deepep" for s in ep32)


def test_fp8_expert_casts_follow_expert_tensor_parallelism_by_hand():
    f8 = fp8_gemms.Fp8Gemms("tensorwise", 2.0)
    kw = dict(rows=4000, ep=1, kern=KERN, fp8=f8)
    assert moe_train.routed_casts_delta_s(TOY, tp=2, etp=2, **kw) == pytest.approx(0.0, abs=1e-18)
    # etp 1 under tp 2: each expert whole (512 wide) on every rank, its 4 x 1000 rows split over the 2 ranks:
    # per expert, X (rows x 1024) + hidden (rows x 512) in, weights 512 x 1024 twice, dY (rows x 512, rows x 1024)
    def elements(rows, hidden):
        return 4 * (rows * (1024 + hidden) + 2 * hidden * 1024 + rows * (hidden + 1024))
    by_hand = elements(500, 512) - elements(1000, 256)
    assert moe_train.routed_casts_delta_s(TOY, tp=2, etp=1, **kw) == pytest.approx(
        fp8_gemms.cast_s(by_hand, "tensorwise", KERN), rel=1e-9)
