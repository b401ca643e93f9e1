"""Weight formats, KV-cache dtypes and the tensor-parallel all-reduce, checked by hand."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import planner
from planner.calibration import store
from planner.calibration.collectives import collective_fits
from planner.calibration.results_file import ResultsFileError
from planner.catalog.specs import KV_CACHE_DTYPES, PRECISIONS, compute_peak, precision
from planner.core.errors import UnknownNameError
from planner.estimate import arithmetic as ar
from planner.estimate import communication as comm
from planner.estimate import inference as inf
from planner.estimate import perf
from planner.estimate.engine import resolve_engine

L3 = planner.model("Llama-3.1-8B")  # 32 layers, dim 4096, 8 KV heads of 128, vocab 128256


# --- precisions ------------------------------------------------------------------------------

@pytest.mark.parametrize("name,compute,weight_only", [
    ("bf16", "bf16", False), ("fp16", "fp16", False), ("fp8", "fp8", False), ("int8", "int8", False),
    ("int8-weight-only", "bf16", True), ("int4-weight-only", "bf16", True)])
def test_each_format_has_its_compute_path(name, compute, weight_only):
    p = precision(name)
    assert (p.compute_dtype, p.weight_only) == (compute, weight_only)
    # W8A8 uses the GPU's int8/fp8 peak; weight-only formats dequantise into bf16 GEMMs at the bf16 peak.
    h100 = planner.gpu("H100 SXM")
    assert compute_peak(h100, p) == h100.peak_flops["bf16" if compute == "fp16" else compute]


def test_int4_alias_and_unknown_format():
    assert precision("int4").name == "int4-weight-only" and precision("W4A16").name == "int4-weight-only"
    with pytest.raises(UnknownNameError, match="precision 'int3'"):
        precision("int3")


def test_fp16_falls_back_to_bf16_peak_but_v100_has_only_fp16():
    assert compute_peak(planner.gpu("A100 80GB SXM"), precision("fp16")) == 312e12
    v100 = planner.gpu("V100 SXM2 16GB")
    assert compute_peak(v100, precision("fp16")) == 125e12
    with pytest.raises(planner.PlannerError, match="no bf16"):
        compute_peak(v100, precision("bf16"))


def test_quantised_decode_streams_slower_than_its_bytes_alone_say():
    """bf16 -> int4 cuts the linear bytes 3.88x; gpt-fast's kernels give ~1.9x, the engine factor models that."""
    kw = dict(model="Llama-2-7B", gpu="A100 80GB SXM", prompt_tokens=5, output_tokens=200, engine="torch-compile")
    bf16, int4 = planner.inference_speed(**kw), planner.inference_speed(precision="int4-weight-only", **kw)
    speedup = bf16.tpot_s.p50 / int4.tpot_s.p50
    bytes_ratio = ar.weight_bytes(planner.model("Llama-2-7B"), "bf16") / ar.weight_bytes(planner.model("Llama-2-7B"), "int4")
    assert 1.5 < speedup < 0.8 * bytes_ratio
    setup = resolve_engine("torch-compile", planner.gpu("A100 80GB SXM"))
    assert setup.stream_factor("int4-weight-only") < setup.stream_factor("int8-weight-only") < 1.0


def test_stream_factor_divides_the_memory_term_only():
    k = perf.Kernels(peak_flops_per_s=1e15, peak_bytes_per_s=1e12, gemm_efficiency=1.0, memory_efficiency=1.0,
                     attention_efficiency=1.0, gemm_half_rows=0.0)
    num = perf.Numerics(weight_bytes=0.5)
    half = dataclasses.replace(k, weight_stream_factor=0.5)
    assert perf.gemm_s(1, 4096, 4096, half, num) == pytest.approx(2 * perf.gemm_s(1, 4096, 4096, k, num))
    big = 1 << 16  # compute-bound: unchanged
    assert perf.gemm_s(big, 4096, 4096, half, num) == pytest.approx(perf.gemm_s(big, 4096, 4096, k, num))


def test_output_head_keeps_16_bit_weights():
    num = inf.numerics("int4-weight-only")
    assert num.head().weight_bytes == 2.0 and num.weight_bytes == pytest.approx(0.515625)
    k = perf.Kernels(peak_flops_per_s=1e15, peak_bytes_per_s=1e12, gemm_efficiency=1.0, memory_efficiency=1.0,
                     attention_efficiency=1.0)
    head = perf.head_s(L3, 1, 1, k, num)
    assert head == pytest.approx((128256 * 4096 * 2 + (4096 + 128256) * 2) / 1e12)


# --- KV cache --------------------------------------------------------------------------------

def test_kv_dtypes_bytes():
    assert KV_CACHE_DTYPES["fp8"] == KV_CACHE_DTYPES["int8"] == 1.0 and KV_CACHE_DTYPES["bf16"] == 2.0
    assert inf.numerics("bf16", "fp8").kv_bytes == 1.0 and inf.numerics("fp8").kv_bytes == 2.0


def test_fp8_kv_halves_the_cache_and_roughly_doubles_the_batch():
    # Llama-3.1-8B: 32 layers x 2 (K, V) x 8 heads x 128 x 2 B = 131,072 B per token in bf16.
    assert inf.kv_bytes_per_gpu(L3, 1, 1000, 1, 2.0) == 131_072 * 1000
    assert inf.kv_bytes_per_gpu(L3, 1, 1000, 1, 1.0) == 65_536 * 1000
    g = planner.gpu("H100 SXM")
    setup = resolve_engine("vllm", g)
    from planner.estimate.search import max_batch_for_kv
    b16 = max_batch_for_kv(inf.replica(L3, g, "bf16", 1, setup), 4096)
    b8 = max_batch_for_kv(inf.replica(L3, g, "bf16", 1, setup, "fp8"), 4096)
    free = g.memory_bytes * 0.9 - ar.weight_bytes(L3, "bf16")
    assert b16 == int(free // (131_072 * 4096)) and b8 == int(free // (65_536 * 4096))


def test_kv_cache_is_window_aware():
    mistral = planner.model("Mistral-7B-v0.1")  # every layer slides over 4096 tokens
    assert ar.kv_cache_bytes(mistral, 32_000, 2.0) == ar.kv_cache_bytes(mistral, 4096, 2.0)


@pytest.mark.parametrize("name", list(PRECISIONS))
def test_engine_default_kv_follows_its_profile(name):
    trt, vllm = resolve_engine("tensorrt-llm", planner.gpu("H100 SXM")), resolve_engine("vllm", planner.gpu("H100 SXM"))
    expected = "fp32" if name == "fp32" else ("fp16" if name == "fp16" else "bf16")
    assert vllm.kv_cache_dtype(name) == expected  # vLLM's kv_cache_dtype="auto": the model's dtype
    assert trt.kv_cache_dtype(name) == ("fp8" if name == "fp8" else expected)  # ModelOpt FP8 checkpoints
    assert vllm.kv_cache_dtype(name, "int8") == "int8"
    with pytest.raises(UnknownNameError, match="kv_cache_dtype"):
        vllm.kv_cache_dtype(name, "fp4")


def test_kv_dtype_is_stated_in_the_assumptions():
    r = planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM", kv_cache_dtype="fp8")
    a = {x.name: x for x in r.assumptions}
    assert r.kv_cache_dtype == "fp8" and a["kv_cache_dtype"].value == "fp8" and a["kv_cache_dtype"].source == "requested"
    d = {x.name: x for x in planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM").assumptions}
    assert "default" in d["kv_cache_dtype"].source and "vllm" in d["kv_cache_dtype"].source


# --- tensor-parallel all-reduce ----------------------------------------------------------------

def test_tp_allreduce_by_hand_over_nvlink():
    """Two all-reduces per layer of tokens x dim x 2 B: latency 6.6 us + 2(n-1) x 0.6 us, bytes at
    2(n-1)/n over a bus bandwidth of 900/2 x 0.8 = 360 GB/s (H100 NVLink)."""
    g, tokens, tp = planner.gpu("H100 SXM"), 64, 4
    link = comm.link_for(g, tp)
    assert link.bus_bytes_per_s == pytest.approx(360e9) and link.hop_latency_s == pytest.approx(0.6e-6)
    one = 6.6e-6 + 2 * 3 * 0.6e-6 + 2 * 3 / 4 * tokens * 4096 * 2 / 360e9
    assert inf.tp_allreduce_s(L3, tokens, tp, link) == pytest.approx(2 * 32 * one)
    assert inf.tp_allreduce_s(L3, tokens, 1, link) == 0


def test_pcie_cards_all_reduce_over_pcie_not_the_network():
    l4 = planner.gpu("L4")  # PCIe Gen4 x16: 64 GB/s both ways, no NVLink
    link = comm.link_for(l4, 2)
    assert "PCIe" in link.name and link.bus_bytes_per_s == pytest.approx(32e9 * comm.PCIE_EFFICIENCY)
    assert "scale-out" in comm.link_for(l4, 16).name


def test_tp_adds_the_all_reduce_to_decode():
    g = planner.gpu("H100 SXM")
    setup = resolve_engine("vllm", g)
    r = inf.replica(L3, g, "bf16", 2, setup)
    step, _ = inf.decode_step_s(r, 8, 1000)
    bare = perf.decode_step_s(L3, r.kern, r.num, batch=8, context_tokens=1000, tp=2)
    np.testing.assert_allclose(step - bare, inf.tp_allreduce_s(L3, 8, 2, r.link))


def _collective_doc(**fit):
    return {"schema_version": 1, "env": {"device": "cuda"}, "settings": {}, "points": [
        {"kind": "collective", "params": {"op": "all_reduce", "n_bytes": 2**20, "nproc": 8}}],
        "collective_fit": {"all_reduce": fit}}


def test_a_measured_collective_fit_replaces_the_catalog_link():
    g = planner.gpu("H100 SXM")
    fits = collective_fits(_collective_doc(alpha_s=25e-6, beta_bytes_per_s=100e9), "synthetic")
    assert fits["all_reduce"].nproc == 8
    store.register_collectives(g.name, fits)
    try:
        link = inf.tp_link(g, 4)
        assert link.latency_s == 25e-6 and link.hop_latency_s == 0
        assert link.bus_bytes_per_s == pytest.approx(100e9 * 2 * 7 / 8)  # algbw slope x nccl-tests factor
        slow = planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM", tensor_parallel=4)
    finally:
        store.reset()
    fast = planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM", tensor_parallel=4)
    assert slow.tpot_s.p50 > fast.tpot_s.p50
    assert any("measured" in a.value for a in slow.assumptions if a.name == "tp_allreduce")


@pytest.mark.parametrize("fit,match", [({"alpha_s": -1, "beta_bytes_per_s": 1e9}, "alpha_s"),
                                       ({"alpha_s": 1e-5}, "beta_bytes_per_s"),
                                       ({"alpha_s": 1e-5, "beta_bytes_per_s": 0}, "beta_bytes_per_s")])
def test_bad_collective_fits_are_refused(fit, match):
    with pytest.raises(ResultsFileError, match=match):
        collective_fits(_collective_doc(**fit))
