"""Communication overlap and the fp8 weight gather (planner/estimate/comm_overlap.py) as the step uses them."""
import inspect

import numpy as np
import pytest

import planner
from planner.calibration.efficiency import DEFAULTS
from planner.core.errors import PlannerError
from planner.estimate import comm_overlap as co
from planner.estimate import perf
from planner.estimate.arithmetic import embedding_params, total_params
from planner.estimate.layout import TrainingLayout
from planner.estimate.training_step import step_terms, step_time
from planner.present.cli_training import parse_layout

H100, A100 = planner.gpu("H100 SXM"), planner.gpu("A100 80GB SXM")
L8, L405 = planner.model("Llama-3.1-8B"), planner.model("Llama-3.1-405B")


def _kern(g):
    return perf.kernels_for(g.peak("bf16"), g.memory_bytes_per_s, DEFAULTS)


def test_gather_bytes_per_param_by_hand():
    assert co.gather_bytes_per_param(L8, False) == 2.0
    head_and_embedding = 2 * 128256 * 4096  # untied, vocab 128256, dim 4096
    assert embedding_params(L8) == head_and_embedding
    share = 1 - head_and_embedding / total_params(L8)
    assert co.gather_bytes_per_param(L8, True) == pytest.approx(share * 1 + (1 - share) * 2, rel=1e-12)
    # a bigger model has a smaller embedding share: closer to the halving the docs quote
    assert 1.0 < co.gather_bytes_per_param(L405, True) < co.gather_bytes_per_param(L8, True) < 1.2


def test_exposed_by_hand():
    assert co.exposed_s(1.0, 4.0) == pytest.approx(co.NOT_OVERLAPPED * 1.0)
    assert co.exposed_s(5.0, 4.0) == pytest.approx(1.0 + co.NOT_OVERLAPPED * 4.0)
    assert co.tp_exposed_s(2.0, 10.0, False) == 2.0
    assert co.tp_exposed_s(2.0, 10.0, True) == pytest.approx(co.NOT_OVERLAPPED * 2.0)


def test_dp_phases_by_hand():
    # ZeRO-3, one micro-step of 3 s (1 s forward, 2 s backward): gather 0.9 s fits the forward, and the
    # backward's gather + reduce 0.9 + 1.0 fits the backward: only NOT_OVERLAPPED of each is exposed
    got = co.dp_exposed_s(0.9, 1.0, 3, 1, 3.0, False)
    assert got == pytest.approx(co.NOT_OVERLAPPED * (0.9 + 1.9))
    # a gather longer than the forward is exposed by what outlasts it, even though the whole step could hide it
    got = co.dp_exposed_s(1.5, 0.1, 3, 1, 3.0, False)
    assert got == pytest.approx(0.5 + co.NOT_OVERLAPPED * 1.0 + co.NOT_OVERLAPPED * 1.6)
    # full recomputation: the forward is 1/4 of the compute
    assert co.dp_exposed_s(1.0, 0.0, 1, 1, 4.0, True) == pytest.approx(co.NOT_OVERLAPPED * 1.0)
    # ZeRO-0 gathers nothing: only the all-reduce, behind the backward
    assert co.dp_exposed_s(9.0, 1.0, 0, 1, 3.0, False) == pytest.approx(co.NOT_OVERLAPPED * 1.0)


@pytest.mark.parametrize("gather, reduce", [(0.5, 0.5), (2.0, 0.1), (0.1, 5.0)])
def test_more_traffic_never_costs_less(gather, reduce):
    for zero in (0, 1, 3):
        base = co.dp_exposed_s(gather, reduce, zero, 4, 3.0, False)
        assert co.dp_exposed_s(gather * 1.5, reduce, zero, 4, 3.0, False) >= base
        assert co.dp_exposed_s(gather, reduce * 1.5, zero, 4, 3.0, False) >= base


def _step(layout, g=H100, m=L8):
    return step_time(m, g, _kern(g), layout, seq_len=8192, global_batch=layout.dp * layout.micro_batch)


def test_fp8_weight_gather_shortens_fsdp_exposure_only_with_fp8():
    # 8B FSDP over 128 H100 (16 nodes): the gathers outlast the forward, so halving them shows
    fsdp = dict(dp=128, micro_batch=2, zero_stage=3)
    fp8_on, fp8_off = TrainingLayout(**fsdp, fp8=True), TrainingLayout(**fsdp, fp8=True, fp8_param_gather=False)
    on, off = _step(fp8_on).breakdown, _step(fp8_off).breakdown
    assert on.data_parallel_exposed_s < 0.8 * off.data_parallel_exposed_s
    assert on.compute_s == pytest.approx(off.compute_s)
    bf16_on, bf16_off = TrainingLayout(**fsdp), TrainingLayout(**fsdp, fp8_param_gather=False)
    assert _step(bf16_on).breakdown.total_s == pytest.approx(_step(bf16_off).breakdown.total_s, rel=1e-12)


def test_tp_overlap_hides_tensor_parallel_comm():
    lay = dict(tp=8, dp=16, micro_batch=2, zero_stage=3, recompute="full")
    plain = _step(TrainingLayout(**lay), m=L405).breakdown
    overlapped = _step(TrainingLayout(**lay, tp_overlap=True), m=L405).breakdown
    assert overlapped.tensor_parallel_s == pytest.approx(co.NOT_OVERLAPPED * plain.tensor_parallel_s, rel=1e-9)
    assert overlapped.compute_s == pytest.approx(plain.compute_s)
    # no tensor parallelism, nothing to hide
    one = TrainingLayout(dp=8, micro_batch=1)
    assert _step(one).breakdown.total_s == pytest.approx(_step(TrainingLayout(dp=8, micro_batch=1, tp_overlap=True))
                                                         .breakdown.total_s, rel=1e-12)


def test_step_terms_defaults_are_the_layout_defaults():
    # the layout search calls step_terms without these arguments: its defaults must be TrainingLayout's
    params = inspect.signature(step_terms).parameters
    for field in ("fp8_param_gather", "tp_overlap"):
        assert params[field].default == getattr(TrainingLayout(), field)


@pytest.mark.parametrize("field", ["fp8_param_gather", "tp_overlap"])
def test_bad_flags_are_refused_by_name(field):
    with pytest.raises(PlannerError, match=f"layout.{field}"):
        TrainingLayout(**{field: "yes"})
    with pytest.raises(PlannerError, match=field):
        parse_layout(f"tp=2,{field}=maybe")
    assert getattr(parse_layout(f"tp=2,{field}=true"), field) is True


def test_describe_names_tp_overlap():
    assert "TP comm overlapped" in TrainingLayout(tp=4, tp_overlap=True).describe()
    assert "overlapped" not in TrainingLayout(tp=1, tp_overlap=True).describe()


def test_a100_fsdp_forward_gathers_hide_behind_the_forward():
    # the 8B torchtitan layout on 64 A100: gathers a little shorter than the forward, so the phase model exposes
    # only NOT_OVERLAPPED of them where a backward-only window exposed most of the traffic
    b = step_time(L8, A100, _kern(A100), TrainingLayout(dp=64, micro_batch=1, zero_stage=3), seq_len=8192,
                  global_batch=64).breakdown
    assert b.data_parallel_exposed_s < 0.25 * b.compute_s
    assert np.isfinite(b.total_s)


def test_interleaved_pipeline_hides_its_sends():
    assert co.pp_send_exposed_s(0.01, 0.1, 1) == 0.01  # plain 1F1B waits for them
    assert co.pp_send_exposed_s(0.01, 0.1, 4) == pytest.approx(co.NOT_OVERLAPPED * 0.01)
    m = planner.model("Llama-2-70B")
    lay = dict(tp=4, pp=4, dp=4, micro_batch=1, fp8=True)
    steps = {v: step_time(m, H100, _kern(H100), TrainingLayout(**lay, virtual_stages=v), seq_len=4096,
                          global_batch=128).breakdown for v in (1, 20)}
    # 20 chunks send 20x as often; overlapped, they cost less than the plain schedule's unhidden sends x 20
    assert steps[20].pipeline_send_s < 20 * steps[1].pipeline_send_s * 0.5
    assert steps[20].pipeline_bubble_s < steps[1].pipeline_bubble_s  # (p - 1) / v
