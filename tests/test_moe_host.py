"""moe_host: MoE layers that wait on the CPU's expert-GEMM launches after their device-to-host sync."""
import numpy as np
import pytest

from planner.catalog.lookup import model as lookup_model
from planner.estimate import moe_host
from planner.estimate.step_check import check_published_steps

QWEN3_30B = lookup_model("Qwen3-30B-A3B")  # 128 experts, 48 layers, all MoE


def test_host_layer_counts_six_expert_gemms_per_local_expert():
    # EP8: 16 local experts x (2 forward + 4 backward) GEMMs, by hand
    assert moe_host.host_layer_s(QWEN3_30B, 8, False) == pytest.approx(16 * 6 * moe_host.HOST_S_PER_EXPERT_GEMM)
    # full recomputation runs the forward's 2 GEMMs again: 16 x 8
    assert moe_host.host_layer_s(QWEN3_30B, 8, True) == pytest.approx(16 * 8 * moe_host.HOST_S_PER_EXPERT_GEMM)
    # more expert parallelism, fewer local experts, less launching
    assert moe_host.host_layer_s(QWEN3_30B, 64, False) < moe_host.host_layer_s(QWEN3_30B, 8, False)


def test_forward_launches_are_exposed_whole_and_the_backward_only_beyond_its_gpu_work():
    h = moe_host.HOST_S_PER_EXPERT_GEMM
    fwd, bwd = 16 * 2 * h, 16 * 4 * h  # EP8: 16 local experts, by hand
    gpu_layer = 0.75 * bwd  # the backward's GPU work: two thirds of the layer's
    micro = np.array([48 * gpu_layer])  # one stage: 48 layers of equal GPU work
    expected = 48 * (fwd + bwd - 2 / 3 * gpu_layer)
    assert moe_host.host_bound_s(QWEN3_30B, micro, pp=1, ep=8, full_recompute=False)[0] == pytest.approx(expected)
    # two stages: 24 MoE layers each, GPU work per layer unchanged
    assert moe_host.host_bound_s(QWEN3_30B, micro / 2, pp=2, ep=8, full_recompute=False)[0] == pytest.approx(expected / 2)
    # GPU work that outlasts the backward's launches hides them, never the forward's (they wait for the sync)
    long = np.array([48 * 10 * bwd])
    assert moe_host.host_bound_s(QWEN3_30B, long, pp=1, ep=8, full_recompute=False)[0] == pytest.approx(48 * fwd)
    # full recomputation launches the forward twice
    assert moe_host.host_bound_s(QWEN3_30B, long, pp=1, ep=8, full_recompute=True)[0] == pytest.approx(48 * 2 * fwd)


def test_dense_model_is_never_host_bound():
    assert moe_host.host_bound_s(lookup_model("Llama-3.1-8B"), np.array([1e-3]), pp=1, ep=1, full_recompute=False) == 0.0


def test_host_bound_broadcasts_over_layouts():
    micro = np.array([[1e-3, 1e-3, 1e-3], [1.0, 1.0, 1.0]])
    out = moe_host.host_bound_s(QWEN3_30B, micro, pp=np.array([[1], [1]]), ep=np.array([[8], [8]]),
                                full_recompute=np.array([[False], [False]]))
    assert out.shape == (2, 3) and (out[0] > out[1]).all() and np.allclose(
        out[1], 48 * moe_host.forward_exposed_s(QWEN3_30B, 8, False))


def test_calibrated_constant_fits_the_small_expert_calibration_row():
    """HOST_S_PER_EXPERT_GEMM was set from the MoE calibration rows (median |error| over a grid); the row it
    moves most, Qwen3-30B-A3B at MBS 1 on 8 B200, lands within 10% of its published rate, and a large-expert
    model's step barely waits on the host."""
    df = check_published_steps().set_index("name")
    assert abs(df.loc["Qwen3-30B-A3B, 8 B200, FP8-MX (Megatron-Bridge 25.11)", "error"]) < 0.10
    from planner.calibration.efficiency import DEFAULTS
    from planner.catalog.published import published_steps
    from planner.estimate.pretraining import pretraining
    from planner.estimate.step_check import layout_of
    s = next(s for s in published_steps() if s.name == "DeepSeek-V3, 256 GB200, BF16 (Megatron-Bridge 25.11)")
    est = pretraining(model=s.model, gpu=s.gpu, n_gpus=s.n_gpus, seq_len=s.seq_len, layout=layout_of(s),
                      fp8=False, tokens=1e12, overhead_factor=1.0, efficiencies=DEFAULTS)
    # 256 experts over EP64: 4 local experts' forward launches, a few percent of a step of wide experts
    assert 0 < est.step.host_bound_s < 0.05 * est.step.total_s


def test_step_breakdown_carries_the_host_bound_time():
    from planner.calibration.efficiency import DEFAULTS
    from planner.catalog.published import published_steps
    from planner.estimate.pretraining import pretraining
    from planner.estimate.step_check import layout_of
    s = next(s for s in published_steps() if s.name.startswith("Qwen3-30B-A3B, 8 B200"))
    est = pretraining(model=s.model, gpu=s.gpu, n_gpus=s.n_gpus, seq_len=s.seq_len, layout=layout_of(s),
                      fp8=True, tokens=1e12, overhead_factor=1.0, efficiencies=DEFAULTS)
    b = est.step
    assert b.host_bound_s > 0.5 * b.total_s  # small experts at MBS 1: the CPU sets the pace
    assert b.components()["host-bound MoE layers"] == b.host_bound_s


def test_full_iteration_cuda_graphs_remove_the_host_wait_in_both_paths():
    from dataclasses import replace
    from planner.calibration.efficiency import DEFAULTS
    from planner.catalog.published import published_steps
    from planner.estimate.pretraining import pretraining
    from planner.estimate.step_check import layout_of
    s = next(s for s in published_steps() if s.name.startswith("Qwen3-30B-A3B, 8 B200"))
    kw = dict(model=s.model, gpu=s.gpu, n_gpus=s.n_gpus, seq_len=s.seq_len, fp8=True, tokens=1e12,
              overhead_factor=1.0, efficiencies=DEFAULTS)
    eager = pretraining(layout=layout_of(s), **kw).step
    graphed = pretraining(layout=replace(layout_of(s), cuda_graphs=True), **kw).step
    assert graphed.host_bound_s == 0.0 and graphed.total_s == pytest.approx(eager.total_s - eager.host_bound_s)
    # the searched path takes it from the recipe: a graphed recipe is never slower
    searched = pretraining(model="Qwen3-30B-A3B", gpu="B200", n_gpus=8, seq_len=4096, tokens=1e12, fp8=True)
    searched_graphed = pretraining(model="Qwen3-30B-A3B", gpu="B200", n_gpus=8, seq_len=4096, tokens=1e12, fp8=True,
                                   recipe={"cuda_graphs": True})
    assert searched_graphed.gpu_hours.p50 <= searched.gpu_hours.p50


def test_cuda_graphs_must_be_a_flag():
    from planner.core.errors import PlannerError
    from planner.estimate.layout import TrainingLayout
    with pytest.raises(PlannerError, match="cuda_graphs"):
        TrainingLayout(cuda_graphs="yes")
