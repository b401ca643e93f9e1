"""Serving physics fixed after the MoE serving work: the int4 format gpt-fast measures (tinygemm, a bf16
scale and zero per 32 weights), the steady state's GEMMs at every row a step holds, and the decode
attention of static-KV-cache engines (gpt-fast's attention reads the whole allocated cache)."""
import numpy as np
import pytest

import planner
from planner.catalog.specs import PRECISIONS, precision
from planner.catalog.published import published_serving_figures
from planner.estimate import arithmetic as ar
from planner.estimate.engine import resolve_engine


# --- int4 as gpt-fast/torchao's tinygemm stores it ---------------------------------------------------------

def test_int4_g32_bytes_by_hand():
    # int4 = 0.5 B; a bf16 scale and a bf16 zero (2 x 2 B) shared by 32 weights: 4/32 = 0.125 B
    assert precision("int4-weight-only-g32").bytes_per_weight == pytest.approx(0.625)
    assert precision("int4-g32").name == "int4-weight-only-g32"
    assert precision("int4-weight-only").bytes_per_weight == pytest.approx(0.5 + 2 / 128)


def test_gpt_fast_readme_bytes_per_token_by_hand():
    """gpt-fast's README: 862.69 GB/s at 196.80 tok/s for Llama-2-7B int4 G=32 is 4.38 GB per token; the
    format's bytes with the bf16 embedding table (gpt-fast's head is int4 too) land within 2%."""
    m = planner.model("Llama-2-7B")
    linear = ar.matmul_params(m)  # includes the output head
    embedding = m.vocab_size * m.dim * 2.0
    assert linear * 0.625 + embedding == pytest.approx(862.69e9 / 196.80, rel=0.02)


@pytest.mark.parametrize("engine", ["torch-compile", "vllm", "tensorrt-llm"])
def test_int4_g32_streams_at_the_int4_kernel_rate(engine):
    setup = resolve_engine(engine, planner.gpu("A100 80GB SXM"))
    assert setup.stream_factor("int4-weight-only-g32") == setup.stream_factor("int4-weight-only")
    assert setup.kv_cache_dtype("int4-weight-only-g32") == setup.kv_cache_dtype("int4-weight-only")


def test_int4_g32_decode_is_slower_by_its_bytes():
    """Batch 1 is weight-bound: the g32 format reads 0.625 / 0.5156 = 1.21x the linear weights, so its
    decode step is slower, by at most that ratio."""
    kw = dict(model="Llama-2-7B", gpu="A100 80GB SXM", engine="torch-compile", prompt_tokens=5, output_tokens=200)
    g128 = planner.inference_speed(precision="int4-weight-only", **kw).decode_step_s.p50
    g32 = planner.inference_speed(precision="int4-weight-only-g32", **kw).decode_step_s.p50
    assert 1.10 < g32 / g128 < 0.625 / (0.5 + 2 / 128) + 1e-9


def test_gpt_fast_int4_figures_are_scored_at_their_format():
    rows = [f for f in published_serving_figures() if f.id.startswith("gpt-fast") and "int4" in f.id]
    assert len(rows) == 2 and {f.precision for f in rows} == {"int4-weight-only-g32"}
    assert "int4-weight-only-g32" in PRECISIONS


# --- steady state: the GEMMs at every row of a step -------------------------------------------------------

def test_steady_state_gemms_past_the_step_table_by_hand():
    """Qwen3-235B-A22B fp8 on 8 H200 (TRT-LLM, DP attention), 5000/500: a step carries d decodes and
    d x 5000 / 499 prompt rows (~17,000), past the simulation's table (cap + one prompt ~7,000 rows). The
    step is the sum of its parts with the GEMMs evaluated at those rows (np.interp held the table's last
    entry, so ~10,000 prompt rows a step ran for free: throughput +46% against the published 3,623)."""
    from planner.estimate import dp_balance, inference as inf, load as ld, perf, simulate as sim
    m, g = planner.model("Qwen3-235B-A22B"), planner.gpu("H200 SXM")
    setup = resolve_engine("tensorrt-llm", g)
    r = inf.replica(m, g, "fp8", 8, setup, None, True)
    load = ld.load_for(r, setup, setup.batch_cap, 5000, 500)
    steps, *_ = ld._machinery(load)
    st = ld.steady_state(load)
    d, dec = st.batch, 499.0
    rows = d + d * 5000 / dec
    assert rows > len(steps.linears_s)  # the case: past the table
    kern = perf.at_quantile(r.kern, 1)
    gemms = float(sim.stack_linears_s(r, kern, rows))
    assert gemms > 1.3 * steps.linears_s[-1]
    table = np.arange(len(steps.linears_s))
    rest = (float(np.interp(d + d / dec, table, steps.head_s)) + steps.per_row_s * rows + steps.fixed_s
            + steps.attention_per_context_s * d * (5000 + 250)
            # the prompts' attention on the busiest rank: max(n / 8, min(n, 1)) whole prompts of the n a step holds
            + float(sim.prefill_attention_s(r, 1, np.array([5000.0]))[0]) * max((rows - d) / 5000 / 8, 1.0))
    whole_prompts = dp_balance.extra_s(r, kern, d, rows - d, 5000.0)  # a prompt prefills whole on one rank
    assert whole_prompts > 0
    assert st.step_s == pytest.approx(gemms + rest + whole_prompts, rel=1e-9)
    assert st.output_tokens_per_s == pytest.approx(d / (dec * st.step_s) * 500, rel=1e-9)


# --- static KV cache: decode attention over every allocated position ---------------------------------------

@pytest.mark.parametrize("engine, static", [("torch-compile", True), ("vllm", False), ("tensorrt-llm", False)])
def test_decode_reads_the_allocated_cache_with_a_static_cache_by_hand(engine, static):
    """gpt-fast's attention runs over its whole max_seq_length cache every step: a 128-token prompt with
    4096 outputs reads 4224 keys per step, not the running mean 128 + 2048 (paged engines)."""
    from planner.estimate import inference as inf
    m, g = planner.model("Llama-3.1-8B"), planner.gpu("H100 SXM")
    setup = resolve_engine(engine, g)
    assert setup.static_kv_cache is static
    r = inf.replica(m, g, "bf16", 1, setup)
    got = planner.inference_speed(model=m, gpu=g, engine=engine, batch_size=64, prompt_tokens=128,
                                  output_tokens=4096).tpot_s.p50
    keys = 128 + 4096 if static else 128 + 4096 / 2
    assert got == pytest.approx(float(inf.decode_step_s(r, 64, keys)[0][1]), rel=1e-12)
    longer = float(inf.decode_step_s(r, 64, 128 + 4096)[0][1])
    assert (got == pytest.approx(longer, rel=1e-12)) is static


def test_static_cache_is_stated_and_sourced():
    r = planner.inference_speed(model="Llama-2-7B", gpu="A100 80GB SXM", engine="torch-compile")
    a = {x.name: x for x in r.assumptions}
    assert a["static_kv_cache"].value is True and "gpt-fast" in a["static_kv_cache"].source
    from planner.catalog.engines import profile_from_dict
    from planner.core.errors import PlannerError
    import tomllib, pathlib
    entry = next(e for e in tomllib.loads(pathlib.Path("planner/catalog/data/engines.toml").read_text())["engine"]
                 if e["name"] == "torch-compile")
    entry = dict(entry, sources={k: v for k, v in entry["sources"].items() if k != "static_kv_cache"})
    with pytest.raises(PlannerError, match="static_kv_cache"):
        profile_from_dict(entry)


# --- KV capacity when TP exceeds the KV heads -------------------------------------------------------------

def test_kv_heads_replicate_past_tp_in_the_capacity_path_by_hand():
    """Qwen3-235B-A22B has 4 KV heads: at TP 8 each head sits on 2 GPUs, so a GPU holds 1/4 of a sequence's
    KV cache (not 1/8) in the memory check, the simulation's KV pool and the traffic alike."""
    from planner.estimate import inference as inf, kv_budget, simulate as sim
    m, g = planner.model("Qwen3-235B-A22B"), planner.gpu("H200 SXM")
    assert m.n_kv_heads == 4
    per_seq = 2 * m.n_layers * 4 * m.head_dim * 1.0 * 3000  # K and V, fp8, 3,000 tokens
    assert ar.kv_cache_bytes(m, 3000, 1.0) == pytest.approx(per_seq)
    assert inf.kv_bytes_per_gpu(m, 10, 3000, 8, 1.0) == pytest.approx(10 * per_seq / 4)
    assert inf.kv_bytes_per_gpu(m, 10, 3000, 8, 1.0) == pytest.approx(inf.kv_bytes_per_gpu(m, 10, 3000, 4, 1.0))
    r = inf.replica(m, g, "fp8", 8, resolve_engine("tensorrt-llm", g))
    steps = sim.step_model(r, 1, 64, 3000.0)
    workspace = 8 * 8192 * (2 * m.dim * 2 + 16) + 4 * 8192 * m.n_experts  # its MoE workspace at max_num_tokens
    assert kv_budget.engine_workspace_bytes(r) == workspace  # (kv_budget.py; k 8, fc2 result h x 2 B both buffers)
    free = r.kv_free_fraction * (r.usable_bytes - ar.weight_bytes(m, "fp8") / 8 - workspace)  # TensorRT-LLM: a share
    assert steps.kv_tokens == pytest.approx(free / (per_seq / 3000 / 4))
