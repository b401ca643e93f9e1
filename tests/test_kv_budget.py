"""What an engine leaves for the KV cache, and the batch cap under DP attention (estimate/kv_budget.py)."""
from __future__ import annotations

import pytest

import planner
from planner.catalog.engines import profile_from_dict
from planner.core.errors import PlannerError
from planner.estimate import arithmetic as ar, inference as inf, kv_budget, moe_serving as moe
from planner.estimate.engine import resolve_engine


def _entry(name: str) -> dict:
    import pathlib
    import tomllib
    return next(e for e in tomllib.loads(pathlib.Path("planner/catalog/data/engines.toml").read_text())["engine"]
                if e["name"] == name and e["vendor"] == "nvidia")


def test_tensorrt_llm_takes_its_fraction_of_what_is_free_by_hand():
    """Maverick fp8 under DP attention on an H100: every GPU holds the attention, dense layers and head whole and
    1/8 of the routed experts; TensorRT-LLM's cache is kv_free_fraction of what the weights and reserve leave."""
    m, g = planner.model("Llama-4-Maverick"), planner.gpu("H100 SXM")
    setup = resolve_engine("tensorrt-llm", g)
    r = inf.replica(m, g, "fp8", 8, setup, attention_dp=True)
    experts = ar.n_moe_layers(m) * m.n_experts * ar.expert_params(m) * 1.0  # fp8: a byte a weight
    weights = ar.weight_bytes(m, "fp8") - experts + experts / 8
    free = g.memory_bytes * (1 - setup.memory_reserve_fraction) - weights - kv_budget.engine_workspace_bytes(r)
    assert 0 < setup.kv_free_fraction < 1 and r.kv_free_fraction == setup.kv_free_fraction
    assert kv_budget.kv_budget_bytes(r) == pytest.approx(setup.kv_free_fraction * free)
    vllm = inf.replica(m, g, "fp8", 8, resolve_engine("vllm", g), attention_dp=True)  # a share of the whole GPU
    assert kv_budget.kv_budget_bytes(vllm) == pytest.approx(vllm.usable_bytes - moe.weight_bytes_per_gpu(
        m, "fp8", vllm.split))


def test_the_fraction_of_free_memory_costs_a_full_gpu_more_than_a_roomy_one():
    """The same engine leaves a smaller share of its GPU to the KV cache where the weights nearly fill it."""
    m = planner.model("Llama-4-Maverick")
    share = {}
    for name in ("H100 SXM", "H200 SXM"):
        g = planner.gpu(name)
        r = inf.replica(m, g, "fp8", 8, resolve_engine("tensorrt-llm", g), attention_dp=True)
        share[name] = kv_budget.kv_budget_bytes(r) / (r.usable_bytes - moe.weight_bytes_per_gpu(m, "fp8", r.split)
                                                       - kv_budget.engine_workspace_bytes(r))
    assert share["H100 SXM"] == pytest.approx(share["H200 SXM"])  # the same share of what is free...
    g = planner.gpu("H100 SXM")
    r = inf.replica(m, g, "fp8", 8, resolve_engine("tensorrt-llm", g), attention_dp=True)
    assert kv_budget.kv_budget_bytes(r) < r.usable_bytes - moe.weight_bytes_per_gpu(m, "fp8", r.split)


@pytest.mark.parametrize("engine, dp, expected", [("tensorrt-llm", True, 8 * 2048), ("tensorrt-llm", False, 2048),
                                                  ("sglang", True, 2048), ("vllm", True, 2048)])
def test_batch_cap_per_attention_rank_only_where_the_engine_applies_it_so(engine, dp, expected):
    setup = resolve_engine(engine, planner.gpu("H200 SXM"))
    assert kv_budget.replica_batch_cap(2048, setup, 8, dp) == expected


def test_max_throughput_runs_past_the_per_rank_cap_under_dp_attention():
    """TensorRT-LLM caps each attention-DP rank: Qwen3-235B-A22B on 8 H200s at 128/2048 is then limited by its
    KV cache, not by 2,048 sequences for the replica (the cap given, as trtllm-bench's own is larger: trtllm_bench.py)."""
    cap = resolve_engine("tensorrt-llm", planner.gpu("H200 SXM")).batch_cap
    t = planner.max_throughput(model="Qwen3-235B-A22B", gpu="H200 SXM", precision="fp8", engine="tensorrt-llm",
                               tensor_parallel=8, prompt_tokens=128, output_tokens=2048, attention_dp=True,
                               max_batch_size=cap)
    assert t.batch_cap == 8 * cap
    assert t.batch_size > 2048 and t.limited_by == "KV-cache memory"


def test_profile_fields_are_checked_and_sourced():
    e = _entry("tensorrt-llm")
    for bad in (0.0, 1.5):
        with pytest.raises(PlannerError, match="kv_free_fraction"):
            profile_from_dict(dict(e, kv_free_fraction=bad))
    for field in ("kv_free_fraction", "batch_cap_per_dp_rank", "moe_workspace_profiled", "bench_tunes_limits"):
        with pytest.raises(PlannerError, match=field):
            profile_from_dict(dict(e, sources={k: v for k, v in e["sources"].items() if k != field}))


def test_moe_workspace_bytes_by_hand():
    """getWorkspaceDeviceBufferSizes on toy dims. h 8, I 4, k 2, 3 rows, 2 experts a GPU, fp8 in (1 B), bf16 out:
    6 expanded rows x (inputs max(8, 16, 4) + outputs max(4, 16, 16) + 16 B of maps) + 4 B x 3 rows x 2 experts."""
    from types import SimpleNamespace
    toy = SimpleNamespace(dim=8, moe_ffn_dim=4, n_experts_per_token=2)
    assert kv_budget.moe_workspace_bytes(toy, 3, 2, 1, 1.0, 2.0) == 6 * (16 + 16 + 16) + 4 * 3 * 2
    wide = SimpleNamespace(dim=4, moe_ffn_dim=8, n_experts_per_token=1)  # the GLU input (2 I o = 32 B) dominates
    assert kv_budget.moe_workspace_bytes(wide, 2, 1, 1, 2.0, 2.0) == 2 * (16 + 32 + 16) + 4 * 2 * 1
    assert kv_budget.moe_workspace_bytes(wide, 2, 1, 2, 2.0, 2.0) == 2 * (8 + 16 + 16) + 4 * 2 * 1  # expert TP 2


def test_moe_workspace_under_dp_attention_is_sized_for_every_rank_tokens():
    """Qwen3-235B-A22B fp8, DP attention over 8 GPUs, max_num_tokens 8192: R = 65,536 gathered rows, M = 8 R;
    inputs max(4096 x 1, 4096 x 2, 1536 x 1) = 8192 B, outputs max(1536, 2 x 1536 x 2, 4096 x 2) = 8192 B a row."""
    m, g = planner.model("Qwen3-235B-A22B"), planner.gpu("H100 SXM")
    assert (m.dim, m.moe_ffn_dim, m.n_experts_per_token, m.n_experts) == (4096, 1536, 8, 128)
    setup = resolve_engine("tensorrt-llm", g)
    r = inf.replica(m, g, "fp8", 8, setup, attention_dp=True)
    assert r.moe_profile_tokens == setup.chunk_tokens == 8192
    rows = 8 * 8192
    assert kv_budget.engine_workspace_bytes(r) == 8 * rows * (8192 + 8192 + 16) + 4 * rows * 16  # 8.60 GB
    tp = inf.replica(m, g, "fp8", 8, setup)  # tensor parallel: one rank's max_num_tokens, each expert's width / 8
    assert kv_budget.engine_workspace_bytes(tp) == 8 * 8192 * (8192 + 8192 + 16) + 4 * 8192 * 128
    assert kv_budget.engine_workspace_bytes(inf.replica(m, g, "fp8", 8, resolve_engine("vllm", g), attention_dp=True)) == 0
    dense = planner.model("Llama-3.1-8B")
    assert kv_budget.engine_workspace_bytes(inf.replica(dense, g, "fp8", 1, setup)) == 0
