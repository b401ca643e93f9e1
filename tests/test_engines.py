"""Engine profiles (catalog/data/engines.toml): sourced data, lookups, and which rates win."""
from __future__ import annotations

import dataclasses
import re

import pytest

import planner
from planner.calibration import store
from planner.calibration.efficiency import DEFAULTS
from planner.catalog.engines import ENGINES, SOURCED, VENDORS, engine_name, engine_profile, engine_profiles
from planner.core.band import Band
from planner.core.errors import PlannerError, UnknownNameError
from planner.estimate.engine import resolve_engine

PROFILES = engine_profiles()
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@pytest.mark.parametrize("p", PROFILES, ids=lambda p: f"{p.name}-{p.vendor}")
def test_every_entry_cites_a_dated_source_for_every_field(p):
    for key in SOURCED:
        src = p.sources[key]
        assert src.url.startswith("http") and DATE.match(src.checked) and src.note, (p.name, p.vendor, key)


@pytest.mark.parametrize("p", PROFILES, ids=lambda p: f"{p.name}-{p.vendor}")
def test_rates_are_fractions_in_order(p):
    for band in (p.memory, p.gemm, p.attention):
        assert 0 < band[0] <= band[1] <= band[2] <= 1
    assert all(0 < f <= 1 for f in p.weight_stream.values())
    assert p.pass_overhead_s >= 0 and p.max_batch_size >= 1 and 0 <= p.memory_reserve_fraction < 1


def test_the_table_covers_every_engine_on_both_vendors_but_trtllm_on_amd():
    have = {(p.name, p.vendor) for p in PROFILES}
    assert have == {(e, v) for e in ENGINES for v in VENDORS} - {("tensorrt-llm", "amd")}
    with pytest.raises(PlannerError, match="NVIDIA GPUs only"):
        engine_profile("tensorrt-llm", planner.gpu("MI300X"))


def test_names_and_aliases():
    assert engine_name("TRT-LLM") == "tensorrt-llm" and engine_name("gpt-fast") == "torch-compile"
    with pytest.raises(UnknownNameError, match="Did you mean: vllm"):
        engine_name("vlm")


def test_roofline_is_ideal():
    setup = resolve_engine("roofline", planner.gpu("H100 SXM"))
    e = setup.efficiencies
    assert e.memory == Band.point(1.0) and e.gemm == Band.point(1.0) and e.pass_overhead_s == 0
    assert setup.stream_factor("int4-weight-only") == 1.0
    real = planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM", engine="vllm")
    ideal = planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM", engine="roofline")
    assert ideal.tpot_s.p90 < real.tpot_s.p10


def test_vendor_batch_caps_follow_vllm_defaults():
    vllm_h100 = resolve_engine("vllm", planner.gpu("H100 SXM"))
    assert (vllm_h100.batch_cap, vllm_h100.chunk_tokens) == (1024, 8192)  # >= 70 GiB, not an A100
    vllm_a100 = resolve_engine("vllm", planner.gpu("A100 80GB SXM"))
    assert (vllm_a100.batch_cap, vllm_a100.chunk_tokens) == (256, 2048)
    assert resolve_engine("vllm", planner.gpu("L4")).batch_cap == 256


def test_amd_runs_slower_than_nvidia_on_vllm():
    amd, nv = resolve_engine("vllm", planner.gpu("MI300X")), resolve_engine("vllm", planner.gpu("H100 SXM"))
    assert amd.efficiencies.memory.p50 < nv.efficiencies.memory.p50 and amd.efficiencies.gemm.p50 < nv.efficiencies.gemm.p50
    assert amd.kv_cache_dtype("fp8") == "fp8" and nv.kv_cache_dtype("fp8") == "bf16"


def test_a_vendor_without_profiles_gets_literature_defaults_and_says_so():
    setup = resolve_engine("vllm", planner.gpu("TPU v5e"))
    assert setup.profile is None and setup.efficiencies is DEFAULTS and setup.rates_from == "literature defaults"
    a = {x.name: x for x in setup.assumptions("bf16", "bf16", False)}
    assert "no vllm profile for google" in a["engine"].source


def test_calibration_wins_over_the_engine_profile_and_keeps_its_scheduler_cost(monkeypatch):
    measured = dataclasses.replace(DEFAULTS, memory=Band.point(0.9), source="calibration: test")
    monkeypatch.setattr(store, "calibrated", lambda name, engine=None: measured if name == "H100 SXM" else None)
    setup = resolve_engine("sglang", planner.gpu("H100 SXM"))
    assert setup.rates_from == "calibration" and setup.efficiencies.memory == Band.point(0.9)
    assert setup.efficiencies.pass_overhead_s == engine_profile("sglang", planner.gpu("H100 SXM")).pass_overhead_s
    assert "win over the engine profile" in {a.name: a for a in setup.assumptions("bf16", "bf16", False)}["engine"].source
    assert resolve_engine("roofline", planner.gpu("H100 SXM")).efficiencies.memory == Band.point(1.0)  # ideal stays ideal
    explicit = resolve_engine("sglang", planner.gpu("H100 SXM"), DEFAULTS)
    assert explicit.rates_from == "explicit" and explicit.efficiencies is DEFAULTS
