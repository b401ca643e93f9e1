"""The decode-step GEMMs the serving search keeps per replica for its latency grid (search._grid_linears, issue 23)
give the same grid, bit for bit, as the GEMMs computed afresh."""
from __future__ import annotations

import numpy as np
import pytest

import planner
from planner.estimate import inference as inf
from planner.estimate import search as sr
from planner.estimate.engine import resolve_engine


@pytest.mark.parametrize("model, gpu, precision, tp, dp", [
    ("Llama-3.1-8B", "H100 SXM", "bf16", 1, False), ("Llama-2-70B", "H200", "fp8", 4, False),
    ("Mixtral-8x7B", "H200", "fp8", 2, False), ("Mixtral-8x7B", "H100 SXM", "fp8", 4, True)])
@pytest.mark.parametrize("n", [1, 3, 100, 469])
def test_the_latency_grid_with_its_kept_gemms_equals_the_grid_computed_afresh(model, gpu, precision, tp, dp, n):
    g = planner.gpu(gpu)
    r = inf.replica(planner.model(model), g, precision, tp, resolve_engine("vllm", g), attention_dp=dp)
    w = planner.Workload(requests_per_day=10_000, input_tokens=700, output_tokens=200)
    sr._grid_linears(r, 1024)  # a longer table kept first: the grid reads its first n rows
    grid = sr.latency_grid(r, np.arange(1, n + 1), w)
    b = np.arange(1, n + 1, dtype=float)[:, None]
    fresh = sr.decode_step_s(r, b, inf.mean_decode_context(w.prompt_tokens, w.generated_tokens))
    np.testing.assert_array_equal(grid["tpot"], fresh)  # bit for bit, not to a tolerance
    assert grid["tpot"].shape == (n, 3)
