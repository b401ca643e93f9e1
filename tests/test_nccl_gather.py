"""NCCL's measured all-gather and reduce-scatter (planner/estimate/nccl_gather.py) and where DP attention uses them."""
import numpy as np
import pytest

from planner.catalog import lookup as catalog
from planner.estimate import communication as comm
from planner.estimate import inference as inf
from planner.estimate import moe_serving as moe
from planner.estimate import nccl_gather
from planner.estimate.engine import resolve_engine
from tests.test_moe_serving import TOY

# a link far faster than NVLink: any use of it instead of the measured fit shows
FAST = comm.Link("fast", latency_s=1e-9, bus_bytes_per_s=1e15)


def test_all_gather_of_8_mb_over_8_h100s_by_hand():
    """H100 SXM, 8 GPUs, 8 MB gathered: 16.3 us + 7/8 x 8e6 B / 307 GB/s = 16.3 + 22.80 = 39.10 us (the H100 table:
    43.6 us at 8.39 MB, 33.5 us at 4.19 MB); the catalog link charges 6.6 + 7 x 0.6 + 7/8 x 8e6 / 360e9 = 30.2 us."""
    got = float(nccl_gather.collective_s("all_gather", 8e6, 8, FAST, "H100 SXM"))
    assert got == pytest.approx(16.3e-6 + 7 / 8 * 8e6 / 307e9, rel=1e-12)
    assert got == pytest.approx(39.10e-6, abs=0.01e-6)
    link = comm.link_for(catalog.gpu("H100 SXM"), 8)
    assert float(comm.collective_s("all_gather", 8e6, 8, link)) == pytest.approx(30.2e-6, abs=0.05e-6)


def test_reduce_scatter_of_16_mb_over_4_h200s_by_hand():
    """H200 SXM (H100's fit: the same NVLink 4 and NVSwitch), 4 GPUs, 16 MB: 11.1 us + 3/4 x 16e6 / 280e9 = 53.96 us."""
    got = float(nccl_gather.collective_s("reduce_scatter", 16e6, 4, FAST, "H200 SXM"))
    assert got == pytest.approx(11.1e-6 + 0.75 * 16e6 / 280e9, rel=1e-12)


@pytest.mark.parametrize("gpu, ranks", [("A100 80GB SXM", 8), ("H100 SXM", 16), ("H100 PCIe", 8), (None, 8)])
def test_unmeasured_gpu_or_group_keeps_the_link(gpu, ranks):
    assert nccl_gather.measured(gpu, "all_gather", ranks) is None
    got = nccl_gather.collective_s("all_gather", 8e6, ranks, FAST, gpu)
    assert float(got) == pytest.approx(float(comm.collective_s("all_gather", 8e6, ranks, FAST)), rel=1e-12)


def test_arrays_broadcast_and_more_bytes_never_cost_less():
    n_bytes = np.array([[0.0, 1e6], [1e8, 1e9]])
    got = nccl_gather.collective_s("reduce_scatter", n_bytes, 8, FAST, "H100 SXM")
    assert got.shape == (2, 2)
    flat = got.ravel()
    assert np.all(np.diff(flat) > 0) and flat[0] == pytest.approx(13.2e-6, rel=1e-12)  # 0 bytes: alpha alone


def test_dp_collectives_use_the_measured_fit_by_hand():
    """TOY (4 MoE layers, dim 64, top-2) over 8 DP-attention H100 ranks, 1,000 tokens, fp8 gather: the all-gather
    carries 1,000 x (64 + 2 x 8) = 80,000 B -> 16.3 us + 7/8 x 80,000 / 307e9; the reduce-scatter 1,000 x 64 x 2 =
    128,000 B -> 13.2 us + 7/8 x 128,000 / 309e9; x 4 layers."""
    ag = 16.3e-6 + 7 / 8 * 80_000 / 307e9
    rs = 13.2e-6 + 7 / 8 * 128_000 / 309e9
    got = float(moe.dp_collectives_s(TOY, 1000.0, moe.Split(8, True), FAST, 2.0, "fp8", "H100 SXM"))
    assert got == pytest.approx(4 * (ag + rs), rel=1e-12)


def test_a_dp_attention_replica_on_h100_pays_the_measured_gathers():
    """Qwen3-235B-A22B fp8 on 8 H100s with DP attention: its step's collectives are the measured NCCL ones (dropping
    the GPU name, the catalog link, makes them ~19% cheaper at a decode step of 1,496 tokens: 6.25 ms a step
    by the link, 7.70 ms by the fit)."""
    m, g = catalog.model("Qwen3-235B-A22B"), catalog.gpu("H100 SXM")
    r = inf.replica(m, g, "fp8", 8, resolve_engine("tensorrt-llm", g), None, True)
    tokens = 1496.0
    got = float(inf.collectives_s(r, tokens))
    measured = float(moe.dp_collectives_s(m, tokens, r.split, FAST, r.num.activation_bytes, r.precision, g.name))
    link_only = float(moe.dp_collectives_s(m, tokens, r.split, r.link, r.num.activation_bytes, r.precision))
    assert got == pytest.approx(measured, rel=1e-12)
    assert got > 1.2 * link_only
