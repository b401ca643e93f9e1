"""The CUDA-graph pool TensorRT-LLM's estimation executor holds while it sizes the KV cache (cuda_graph_pool.py)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import planner
from planner.estimate import cuda_graph_pool as graphs
from planner.estimate import inference as inf, kv_budget, moe_serving as moe, trtllm_bench as tb
from planner.estimate.engine import resolve_engine


def _bench_replica(model: str, gpu: str, tp: int, isl: float, osl: float, attention_dp: bool) -> inf.Replica:
    m, g = planner.model(model), planner.gpu(gpu)
    setup = tb.bench_setup(resolve_engine("tensorrt-llm", g), m, g, "fp8", tp, "fp8", isl, osl)
    return inf.replica(m, g, "fp8", tp, setup, attention_dp=attention_dp)


def test_formulas_by_hand():
    """The largest graph is min(max_batch_size, max_num_tokens) tokens; logits are batch x vocab x (2 + 4) B; the
    MoE op is its workspace plus the gathered input and the output; the pool the larger (arrays broadcast)."""
    assert graphs.graph_batch(1280, 2048) == 1280 and graphs.graph_batch(640, 512) == 512
    assert graphs.logits_bytes(640, 128_256, 2) == 640 * 128_256 * 6
    assert graphs.moe_op_bytes(1e9, 100, 4096, 1, 2) == 1e9 + 100 * 4096 * 3
    np.testing.assert_array_equal(graphs.pool_bytes(np.array([1.0, 5.0]), np.array([3.0, 2.0])), [3.0, 5.0])


def test_qwen3_dp8_h100_by_hand():
    """Qwen3-235B-A22B fp8, 8 x H100, DP attention, 128/2048: trtllm-bench picks (1280, 2048), so the largest graph
    decodes 1280 tokens a rank and its MoE gathers 8 x 1280 = 10,240 rows: workspace 8 x 10,240 x (8192 + 8192 + 16)
    + 4 x 10,240 x 16 (h 4096, I 1536, fp8 in, bf16 out, 16 experts a GPU) plus 10,240 x 4096 x (1 + 2) = 1.470 GB,
    above the logits' 1280 x 151,936 x 6 = 1.167 GB."""
    r = _bench_replica("Qwen3-235B-A22B", "H100 SXM", 8, 128, 2048, True)
    assert r.graph_batch == 1280
    rows = 8 * 1280
    want = 8 * rows * (8192 + 8192 + 16) + 4 * rows * 16 + rows * 4096 * 3
    assert want == 1_469_972_480
    assert kv_budget.graph_pool_bytes(r) == want
    assert graphs.logits_bytes(1280, 151_936, 2) < want
    # the KV cache gets the engine's share of what is left after it too (fails if the term were dropped)
    free = r.usable_bytes - moe.weight_bytes_per_gpu(r.m, "fp8", r.split) - kv_budget.engine_workspace_bytes(r) - want
    assert kv_budget.kv_budget_bytes(r) == pytest.approx(r.kv_free_fraction * free)


def test_dense_llama_8b_is_its_logits():
    """Llama-3.1-8B fp8 on one H100 at 128/2048: (640, 2048), so the pool is the logits, 640 x 128,256 x 6 B =
    0.49 GB, under 1% of its KV cache."""
    r = _bench_replica("Llama-3.1-8B", "H100 SXM", 1, 128, 2048, False)
    assert kv_budget.graph_pool_bytes(r) == 640 * 128_256 * 6 == 492_503_040
    assert kv_budget.graph_pool_bytes(r) < 0.01 * kv_budget.kv_budget_bytes(r)


def test_only_where_the_bench_names_the_graph():
    """The serving estimates (profile defaults, no benchmark) and other engines keep it inside the reserve; a
    replica's cache key tells the two apart."""
    m, g = planner.model("Qwen3-235B-A22B"), planner.gpu("H100 SXM")
    plain = inf.replica(m, g, "fp8", 8, resolve_engine("tensorrt-llm", g), attention_dp=True)
    assert plain.graph_batch == 0 and kv_budget.graph_pool_bytes(plain) == 0.0
    assert kv_budget.graph_pool_bytes(inf.replica(m, g, "fp8", 8, resolve_engine("vllm", g), attention_dp=True)) == 0
    bench = _bench_replica("Qwen3-235B-A22B", "H100 SXM", 8, 128, 2048, True)
    assert dataclasses.replace(bench, graph_batch=0).cache_key() != bench.cache_key()
