"""Silicon calibration (calibration/silicon.py) on a committed slice of aiconfigurator-core's tables.

The slice (tests/data/silicon/, SOURCE.md names the package, version and files) holds a few rows
of H100 SXM / vLLM 0.24.0; every expected value below is the arithmetic written out on those
rows' latencies (ms) and the catalog's H100 SXM peaks, so no test needs the 82 MB package.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

import planner
from planner.calibration import silicon, silicon_tables, store
from planner.calibration.silicon_tables import SiliconError

SLICE = Path(__file__).parent / "data" / "silicon"
ROOT = str(SLICE)
def approx(x, **kw):  # the slice's latencies carry more digits than the 6 written out here
    return pytest.approx(x, **({"rel": 1e-4} | kw))


BF16_PEAK, FP8_PEAK, HBM = 989.4e12, 1978.9e12, 3.35e12  # catalog H100 SXM dense peaks (checked below)


@pytest.fixture(autouse=True)
def _clean_store():
    store.reset()
    yield
    store.reset()


def _gemm_eff(m, n, k, latency_ms, peak=BF16_PEAK):
    return 2.0 * m * n * k / (latency_ms / 1e3 * peak)


def test_catalog_peaks_used_by_the_hand_checks():
    g = planner.gpu("H100 SXM")
    assert (g.peak_flops["bf16"], g.peak_flops["fp8"], g.memory_bytes_per_s) == (BF16_PEAK, FP8_PEAK, HBM)


def test_gemm_efficiency_at_two_shapes():
    eff = silicon.silicon_profile("H100 SXM", "vllm", root=ROOT).fitted
    e8k, e4k = _gemm_eff(8192, 8192, 8192, 1.541708), _gemm_eff(4096, 4096, 4096, 0.166026)
    assert e8k == pytest.approx(0.7208, abs=1e-4) and e4k == pytest.approx(0.8367, abs=1e-4)
    assert eff.gemm.p50 == approx((e8k + e4k) / 2)  # the median of two shapes
    assert eff.gemm.p10 == approx(e8k + 0.1 * (e4k - e8k))
    # fp8 large GEMMs against the fp8 peak, relative to bf16: medians 0.5581 / 0.7787
    f8k, f4k = _gemm_eff(8192, 8192, 8192, 0.836148, FP8_PEAK), _gemm_eff(4096, 4096, 4096, 0.153751, FP8_PEAK)
    assert eff.gemm_scale["fp8"] == approx(((f8k + f4k) / 2) / ((e8k + e4k) / 2))
    # one-row GEMMs stream the weights: 2 bytes x n x k over the time, against the 3.35 TB/s
    m8k, m4k = 2 * 8192**2 / (0.051638e-3 * HBM), 2 * 4096**2 / (0.015045e-3 * HBM)
    assert eff.memory.p50 == approx((m8k + m4k) / 2)
    # fp8 per byte: bf16/fp8 time ratios 1.7128 and 1.0924, median 1.4026, halved (fp8 moves half the bytes)
    assert eff.weight_stream["fp8"] == approx((0.051638 / 0.030148 + 0.015045 / 0.013772) / 2 / 2)
    prof = silicon.silicon_profile("H100 SXM", "vllm", root=ROOT)
    assert prof.env["gemm_fixed_s"] == approx(0.0026684e-3)  # the (1, 128, 128) GEMM's time
    assert eff.gemm_overhead_s == 0.0  # not charged per GEMM: MoE experts run as one grouped kernel
    # (1024, 8192, 8192) runs at 0.847 of peak, above the large-GEMM median: no half-rate length left
    assert eff.gemm_half_rows == 0.0


def test_attention_points():
    p = silicon.silicon_profile("H100 SXM", "vllm", root=ROOT)
    causal_flops = 2.0 * 1 * 32 * 8192**2 * 128  # 4 s^2 d per head, half under the causal mask
    assert p.fitted.attention.p50 == approx(causal_flops / (0.912219e-3 * BF16_PEAK))
    assert p.fitted.attention.p50 == approx(0.609, abs=1e-3)
    kv_bytes = 32 * 8192 * 2 * 8 * 128 * 2  # batch x cached tokens x (K, V) x KV heads x head_dim x bf16
    assert p.decode_mbu.p50 == approx(kv_bytes / (0.354347e-3 * HBM))


def test_moe_point_by_skew():
    rows = {(d, dist, tpe): e for d, dist, tpe, e in silicon.silicon_profile("H100 SXM", "vllm", root=ROOT).env["moe"]}
    flops = 6.0 * 4096 * 14336 * 1024 * 2  # gate, up, down per routed token; 1024 tokens, top-2
    assert rows[("bfloat16", "balanced", 256.0)] == approx(flops / (1.912224e-3 * BF16_PEAK))
    assert rows[("bfloat16", "power_law_1.01", 256.0)] == approx(flops / (2.456563e-3 * BF16_PEAK))


def test_collective_fit_and_it_replaces_the_catalog_link():
    fit = silicon.silicon_profile("H100 SXM", "vllm", root=ROOT).env["collectives"]["all_reduce"]
    assert (fit.nproc, fit.alpha_s) == (8, approx(0.01546e-3))
    assert fit.beta_bytes_per_s == approx(268435456 / (2.11143e-3 - 0.01546e-3))
    silicon.use_silicon("H100 SXM", engine="vllm", root=ROOT)
    from planner.estimate.inference import tp_link
    assert "measured all-reduce" in tp_link(planner.gpu("H100 SXM"), 8).name


def test_use_silicon_says_its_source_and_applies_to_that_engine_only():
    before = planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM", precision="fp8")
    silicon.use_silicon("H100 SXM", engine="vllm", root=ROOT)
    after = planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM", precision="fp8")
    assert after.efficiency_source.startswith("silicon: aiconfigurator-core")
    assert before.efficiency_source.startswith("engine profile") and after.tpot_s.p50 != before.tpot_s.p50
    ws = next(a for a in after.assumptions if a.name == "weight_stream_factor")
    assert ws.value == approx(0.7013, abs=1e-4) and ws.source.startswith("silicon")
    other = planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM", precision="fp8", engine="sglang")
    assert other.efficiency_source.startswith("engine profile")
    silicon.use_silicon(None)
    assert planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM", precision="fp8") == before


def test_own_results_replace_silicon_for_that_gpu():
    prof = silicon.use_silicon("H100 SXM", engine="vllm", root=ROOT)
    own = replace(prof, results_file="mine.json", date_utc="2026-12-01",
                  fitted=replace(prof.fitted, source="calibration: H100 (mine.json, 2026-12-01)"))
    store.register(own)
    assert store.calibrated("H100 SXM", engine="vllm").source.startswith("calibration: H100 (mine.json")
    store.reset(silicon=False)  # what planner.use_results does before registering new results
    assert store.calibrated("H100 SXM", engine="vllm").source.startswith("silicon")


@pytest.mark.parametrize("gpu, engine, version, says", [
    ("MI300X", "vllm", None, "available: H100 SXM"),
    ("H100 SXM", "torch-compile", None, "available: vllm, sglang, tensorrt-llm"),
    ("H100 SXM", "sglang", None, "measured engines there: vllm"),
    ("H100 SXM", "vllm", "0.1.0", "available: 0.24.0"),
])
def test_unknown_system_engine_or_version_lists_what_is_available(gpu, engine, version, says):
    with pytest.raises(SiliconError, match=says.replace(".", r"\.")):
        silicon.silicon_profile(gpu, engine, version, root=ROOT)


def test_changed_schema_names_the_file_and_column(tmp_path):
    shutil.copytree(SLICE / "h100_sxm", tmp_path / "h100_sxm")
    f = tmp_path / "h100_sxm" / "gemm" / "vllm" / "0.24.0" / "gemm_perf.csv"
    f.write_text(f.read_text().replace(",latency", ",latency_ms", 1))
    with pytest.raises(SiliconError, match=r"gemm_perf\.csv: column 'latency' not found"):
        silicon.silicon_profile("H100 SXM", "vllm", root=str(tmp_path))


def _no_extra(monkeypatch):
    """As if aiconfigurator-core were not installed (every other package still found)."""
    real = silicon_tables.importlib.util.find_spec
    monkeypatch.setattr(silicon_tables.importlib.util, "find_spec",
                        lambda name, *a: None if name == silicon_tables.PACKAGE else real(name, *a))


def test_tables_from_before_sliding_windows_read_as_full_window(tmp_path):
    shutil.copytree(SLICE / "h100_sxm", tmp_path / "h100_sxm")
    f = tmp_path / "h100_sxm" / "attention" / "vllm" / "0.24.0" / "context_attention_perf.csv"
    df = pd.read_csv(f).drop(columns=["window_size"])  # as A100's vLLM 0.14.0 tables are
    df.to_csv(f, index=False)
    old = silicon.silicon_profile("H100 SXM", "vllm", root=str(tmp_path))
    assert old.fitted.attention == silicon.silicon_profile("H100 SXM", "vllm", root=ROOT).fitted.attention


def test_missing_extra_is_a_one_line_error(monkeypatch):
    _no_extra(monkeypatch)
    with pytest.raises(SiliconError) as e:
        silicon.use_silicon("H100 SXM", engine="vllm")
    assert "pip install 'fm-planner[silicon]'" in str(e.value) and "\n" not in str(e.value)


def test_import_planner_stays_light():
    code = ("import sys, planner; planner.use_silicon; "
            "print(sorted(m for m in ('aiconfigurator_core', 'pandas', 'pyarrow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).parent.parent)
    assert out.stdout.strip() == "[]"


def test_version_order():
    order = ["0.5.6", "0.5.6.post2", "0.5.10", "1.3.0rc10", "1.3.0rc20", "1.3.0"]
    assert sorted(reversed(order), key=silicon_tables.version_key) == order


def test_readme_holds_the_validation_table_the_script_wrote():
    """scripts/silicon_validation.py --out docs/silicon_validation.md writes it; the README quotes it unchanged."""
    root = Path(__file__).parent.parent
    table = (root / "docs" / "silicon_validation.md").read_text().strip()
    readme = (root / "README.md").read_text()
    assert table in readme.split("<!-- silicon-validation:start -->")[1].split("<!-- silicon-validation:end -->")[0]


def test_dashboard_choice_without_the_extra_is_a_one_line_error(monkeypatch):
    from streamlit.testing.v1 import AppTest
    _no_extra(monkeypatch)
    at = AppTest.from_file(str(Path(__file__).parent.parent / "app.py"), default_timeout=60)
    at.session_state["start"] = "customer_support"
    at.session_state["view"] = "Benchmarks"
    at.run()
    at.button(key="silicon_use").click().run()
    assert not at.exception
    assert any("fm-planner[silicon]" in e.value.replace("\\", "") for e in at.error)  # shown Markdown-escaped
    assert store.silicon_profiles() == {}


def test_cli_silicon_without_the_extra_is_one_line(monkeypatch, capsys):
    from planner.present.cli import main
    _no_extra(monkeypatch)
    code = main(["estimate", "throughput", "--model", "Llama-3.1-8B", "--silicon", "H100 SXM:vllm"])
    err = capsys.readouterr().err.strip()
    assert code == 1 and "fm-planner[silicon]" in err and "\n" not in err


def test_measured_gemm_scale_and_weight_stream_move_only_their_precision():
    base = planner.DEFAULT_EFFICIENCIES
    scaled = replace(base, gemm_scale={"fp8": 0.5}, weight_stream={"fp8": 0.5})
    kw = dict(model="Llama-3.1-8B", gpu="H100 SXM", batch_size=1, prompt_tokens=4096, output_tokens=256)
    for prec, moved in (("fp8", True), ("bf16", False)):
        a = planner.inference_speed(precision=prec, efficiencies=base, **kw)
        b = planner.inference_speed(precision=prec, efficiencies=scaled, **kw)
        assert (b.ttft_s.p50 > a.ttft_s.p50 * 1.3) is moved and (b.tpot_s.p50 > a.tpot_s.p50 * 1.3) is moved


@pytest.mark.parametrize("field, value", [("weight_stream", {"fp8": -1.0}), ("gemm_scale", {"fp8": float("nan")}),
                                          ("weight_stream", [0.5])])
def test_bad_measured_factors_are_refused(field, value):
    with pytest.raises(planner.PlannerError, match=f"efficiency.{field}"):
        replace(planner.DEFAULT_EFFICIENCIES, **{field: value})
