"""CUDA-graph padding of TensorRT-LLM decode steps (planner/estimate/graph_padding.py) and its use in the offline waves."""
from __future__ import annotations

import numpy as np
import pytest

import planner
from planner.estimate import graph_padding as gp
from planner.estimate import inference as inf
from planner.estimate import load as ld
from planner.estimate import offline
from planner.estimate import trtllm_bench as tb
from planner.estimate.engine import resolve_engine


def test_captured_sizes_keep_the_list_up_to_the_bound_and_add_the_bound():
    """_filter_cuda_graph_batch_sizes with padding: 1 .. 1024 of the overview's list, then the bound 1280 (2048 is
    listed above it); a bound on the list adds nothing; past the list's end nothing can be padded to."""
    assert gp.captured_sizes(1280).tolist() == [1, 2, 4, 8, 16, 32, 64, 128, 256, 384, 512, 1024, 1280]
    assert gp.captured_sizes(512).tolist()[-2:] == [384, 512]
    assert gp.captured_sizes(20000).tolist()[-1] == 8192


def test_decode_rows_by_hand():
    # Qwen3-235B-A22B fp8 on 8 x H100, 128/2048: a wave of 1495 sequences over 8 DP ranks, graphs up to 1280 each:
    # the widest rank holds ceil(1495 / 8) = 187, padded to 256; every rank runs 256 rows: 2048 in all
    assert gp.decode_rows(1495, 8, 1280) == 2048
    # Llama-3.1-8B TP1, graphs up to 640: 485 -> 512; 600 -> the bound 640; 700 is above every graph: eager, as is
    assert gp.decode_rows(np.array([485, 600, 700]), 1, 640).tolist() == [512, 640, 700]
    assert gp.decode_rows(256, 1, 640) == 256  # on a captured size: no padding
    assert gp.decode_rows(187, 1, 0) == 187  # no graph modelled (another engine, or the caller's own cap)


def test_offline_decode_runs_the_padded_rows():
    """Fails if the padding is dropped from offline.decode_phase_s: the Qwen3 H100 wave's GEMMs, head and per-row
    work at 2048 rows, its attention over the real 1495 sequences' context."""
    m, g = planner.model("Qwen3-235B-A22B"), planner.gpu("H100 SXM")
    setup = tb.bench_setup(resolve_engine("tensorrt-llm", g), m, g, "fp8", 8, "fp8", 128, 2048)
    r = inf.replica(m, g, "fp8", 8, setup, attention_dp=True)
    assert r.graph_batch == 1280
    load = ld.load_for(r, setup, 8 * 1280, 128, 2048, quantile=1)
    steps = ld._steps(load)  # noqa: SLF001
    by_hand = 2047 * (ld.linears_s(load, steps, 2048) + float(steps.head_s[2048]) + steps.per_row_s * 2048
                      + steps.fixed_s) + steps.attention_per_context_s * 1495 * offline.decode_context_sum(128, 2048)
    assert offline.decode_phase_s(load, steps, 1495) == pytest.approx(by_hand, rel=1e-9)
    unpadded = 2047 * (ld.linears_s(load, steps, 1495) + float(steps.head_s[1495]) + steps.per_row_s * 1495
                       + steps.fixed_s) + steps.attention_per_context_s * 1495 * offline.decode_context_sum(128, 2048)
    assert offline.decode_phase_s(load, steps, 1495) > 1.02 * unpadded
