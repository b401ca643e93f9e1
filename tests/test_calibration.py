"""Calibration: a synthetic results file with known numbers -> a profile that reproduces them,
estimates that name their source, bad files refused with a reason naming the file."""
import copy
import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

import planner
from planner.calibration import profiles as calibration
from planner.calibration import store
from planner.estimate import roofline
from planner.estimate.arithmetic import prefill_flops
from planner.catalog.lookup import gpu
from planner.present.cli import main
from planner.calibration.efficiency import DEFAULTS
from planner.calibration.store import resolve
from planner.core.errors import PlannerError
from planner.catalog.specs import ModelSpec

H100 = gpu("H100 SXM")
PEAK, BW = H100.peak_flops["bf16"], H100.memory_bytes_per_s
MODEL = {"name": "small", "dim": 512, "n_layers": 8, "n_heads": 8, "n_kv_heads": 4, "head_dim": 64,
         "ffn_dim": 1376, "vocab_size": 8192}


def _point(kind, params, median_s, iqr_s=0.0, quantized=None, **rates):
    return {"kind": kind, "dtype": "bfloat16", "params": params, "median_s": median_s, "iqr_s": iqr_s,
            "min_s": median_s - iqr_s, "max_s": median_s + iqr_s, "repeats": 7, "calls_per_repeat": 1,
            "model": None if kind in ("gemm", "bandwidth") else MODEL, "quantized": quantized, **rates}


def synthetic(device_name="NVIDIA H100 80GB HBM3", device="cuda") -> dict:
    """Known numbers: GEMM 600 TFLOP/s, copy 3 TB/s, MFU 0.40 and 0.50, MBU 0.70, int8 1.8x faster."""
    return {
        "schema_version": 1, "settings": {"quick": False}, "peaks": {}, "quality": {}, "interrupted": False,
        "env": {"device": device, "device_name": device_name, "dtype": "bfloat16", "date_utc": "2026-01-02T03:04:05+00:00",
                "memory_bytes": 80e9},
        "points": [
            _point("gemm", {"m": 8192, "n": 8192, "k": 8192}, 2 * 8192**3 / 600e12, iqr_s=1e-4, flops_per_s=600e12),
            _point("bandwidth", {"n_bytes": 2**30, "op": "copy"}, 2 * 2**30 / 3e12, bytes_per_s=3e12),
            _point("train", {"batch": 8, "seq_len": 2048}, 1.0, tokens_per_s=16384, flops_per_s=0.40 * PEAK),
            _point("prefill", {"batch": 1, "prompt_len": 512}, 0.01, tokens_per_s=51200, flops_per_s=0.50 * PEAK),
            _point("decode", {"batch": 1, "context_len": 1024}, 0.002, tokens_per_s=500, bytes_per_s=0.70 * BW),
            _point("decode", {"batch": 1, "context_len": 1024}, 0.002 / 1.8, quantized="int8",
                   tokens_per_s=900, bytes_per_s=0.60 * BW),
            {"kind": "gemm", "params": {"m": 1, "n": 1, "k": 1}, "skipped": "fp8 needs sm_89+"},
        ],
    }


def write(tmp_path, doc, name="synthetic.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


@pytest.fixture(autouse=True)
def fresh_profiles(monkeypatch):
    monkeypatch.delenv(store.ENV_VAR, raising=False)
    store.reset()
    yield
    store.reset()


def test_profile_reproduces_the_numbers_it_was_made_from(tmp_path):
    p = planner.calibrate(write(tmp_path, synthetic()))
    assert p.gpu == "H100 SXM" and p.device_name == "NVIDIA H100 80GB HBM3"
    gemm = p.gemm_flops_per_s["bfloat16"]
    assert gemm.p50 == pytest.approx(600e12)
    work = 2 * 8192**3
    assert gemm.p10 == pytest.approx(work / (work / 600e12 + 0.5e-4))  # rate at median + IQR/2
    assert p.copy_bytes_per_s.p50 == pytest.approx(3e12)
    assert p.train_mfu.p50 == pytest.approx(0.40)
    assert p.prefill.p50 == pytest.approx(0.50)
    assert p.decode_mbu.p50 == pytest.approx(0.70)  # the dense point; int8 points are not MBU of the dense model
    assert p.int8_decode_speedup.p50 == pytest.approx(1.8)
    eff = p.efficiencies()
    assert (eff.train_mfu.p50, eff.prefill.p50, eff.decode_mbu.p50) == pytest.approx((0.40, 0.50, 0.70))
    assert eff.decode_compute == DEFAULTS.decode_compute  # not measured: the default, and it says so
    assert "literature default" in eff.citations["decode_compute"]
    assert eff.source == "calibration: NVIDIA H100 80GB HBM3 (synthetic.json, 2026-01-02)"


def test_a_measurement_missing_from_the_file_falls_back_to_the_default(tmp_path):
    doc = synthetic()
    doc["points"] = [q for q in doc["points"] if q["kind"] != "train"]
    eff = planner.calibrate(write(tmp_path, doc)).efficiencies()
    assert eff.train_mfu == DEFAULTS.train_mfu and "not measured" in eff.citations["train_mfu"]


def test_estimates_name_their_source(tmp_path):
    p = planner.use_results(write(tmp_path, synthetic()))[0]
    on_h100 = planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM")
    on_a100 = planner.inference_speed(model="Llama-3.1-8B", gpu="A100 80GB SXM")
    assert on_h100.efficiency_source == p.source
    assert on_a100.efficiency_source == "literature defaults"
    assert planner.pretraining(model="Llama-3.1-8B", gpu="H100 SXM").efficiency_source == p.source


def test_the_profile_changes_the_estimate(tmp_path):
    before = planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM").decode_step_s.p50
    planner.use_results(write(tmp_path, synthetic()))
    after = planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM").decode_step_s.p50
    # Memory-bound at batch 1: time scales as 1 / MBU (default p50 0.68, measured 0.70).
    assert after == pytest.approx(before * DEFAULTS.decode_mbu.p50 / 0.70, rel=1e-6)


def test_nothing_is_calibrated_until_a_caller_asks(tmp_path, monkeypatch):
    monkeypatch.setenv(store.ENV_VAR, str(write(tmp_path, synthetic())))
    store.reset()
    # The library never reads the variable on its own: an estimate stays on the literature defaults.
    assert resolve("H100 SXM").source == "literature defaults"
    assert planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM").efficiency_source == "literature defaults"
    # The edges (CLI, dashboard) call use_results_from_env; only then the file applies.
    assert [p.gpu for p in store.use_results_from_env()] == ["H100 SXM"]
    assert resolve("H100 SXM").source.startswith("calibration: NVIDIA H100")
    monkeypatch.setenv(store.ENV_VAR, "")  # empty: no calibration at all
    store.reset()
    assert store.use_results_from_env() == [] and resolve("H100 SXM").source == "literature defaults"


def test_cli_reads_the_environment_variable(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(store.ENV_VAR, str(write(tmp_path, synthetic())))
    assert main(["estimate", "serve", "--gpu", "H100 SXM", "--requests-per-day", "1000",
                 "--input-tokens", "500", "--output-tokens", "200"]) == 0
    assert "calibration: NVIDIA H100 80GB HBM3" in capsys.readouterr().out


def test_a_folder_skips_cpu_runs_and_validate_reports(tmp_path):
    write(tmp_path, synthetic(device_name="AMD EPYC", device="cpu"), "cpu-amd-epyc.json")
    (tmp_path / "validate-cpu.json").write_text("{not a results file")
    assert planner.use_results(tmp_path, strict=False) == []
    report = store.load_report()
    assert [why for _, why in report] == ["no catalog GPU for 'AMD EPYC'"]
    write(tmp_path, synthetic(), "h100.json")
    assert [p.gpu for p in planner.use_results(tmp_path)] == ["H100 SXM"]


def test_a_cpu_profile_describes_the_cpu_as_a_gpu_spec(tmp_path):
    p = planner.calibrate(write(tmp_path, synthetic(device_name="AMD EPYC", device="cpu")))
    assert p.gpu is None and p.train_mfu.p50 == pytest.approx(0.40 * PEAK / 600e12)  # of the measured peak
    spec = p.gpu_spec()
    assert spec.peak_flops["bf16"] == pytest.approx(p.gemm_flops_per_s["bfloat16"].p90)
    assert spec.memory_bytes_per_s == pytest.approx(3e12) and spec.memory_bytes == 80e9


@pytest.mark.parametrize("break_it, reason", [
    (lambda d: d.update(schema_version=2), "schema_version 2 is not supported"),
    (lambda d: d.update(points=[d["points"][-1]]), "no usable points"),
])
def test_bad_input_is_refused_naming_the_file(tmp_path, break_it, reason):
    doc = copy.deepcopy(synthetic())
    break_it(doc)
    path = write(tmp_path, doc, "bad.json")
    with pytest.raises(PlannerError, match=reason) as e:
        planner.calibrate(path)
    assert "bad.json" in str(e.value)
    with pytest.raises(PlannerError, match=reason):
        planner.use_results(tmp_path)  # strict: a folder the user named


def test_truncated_file_is_refused(tmp_path):
    path = tmp_path / "cut.json"
    path.write_text(json.dumps(synthetic())[:200])
    with pytest.raises(PlannerError, match="cut.json: not valid JSON .truncated or corrupt"):
        planner.calibrate(path)


def test_a_bad_committed_file_is_skipped_not_fatal(tmp_path):
    (tmp_path / "cut.json").write_text("{")
    planner.use_results(tmp_path, strict=False)
    assert "not valid JSON" in store.load_report()[0][1]
    assert resolve("H100 SXM").source == "literature defaults"


def test_cli_calibrate_prints_the_profile_and_refuses_bad_files(tmp_path, capsys):
    assert main(["calibrate", str(write(tmp_path, synthetic()))]) == 0
    out = capsys.readouterr().out
    assert "H100 SXM" in out and "training MFU" in out and "0.4" in out
    (tmp_path / "cut.json").write_text("{")
    assert main(["calibrate", str(tmp_path / "cut.json")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cut.json" in err and "truncated" in err


def test_cli_results_option_calibrates_an_estimate(tmp_path, capsys):
    path = write(tmp_path, synthetic())
    assert main(["estimate", "serve", "--gpu", "H100 SXM", "--results", str(path), "--requests-per-day", "1000",
                 "--input-tokens", "500", "--output-tokens", "200"]) == 0
    assert "calibration: NVIDIA H100 80GB HBM3" in capsys.readouterr().out


def test_planner_reads_results_without_torch_or_benchmarks(tmp_path):
    path = write(tmp_path, synthetic())
    code = (f"import sys, planner, planner.calibration.store as s; planner.calibrate({str(path)!r}); s.resolve('H100 SXM');"
            "print(sorted(m for m in ('torch', 'benchmarks') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_benchmarks_schema_reuses_the_planner_reader():
    import benchmarks.schema as bs
    from planner.calibration import results_file as rf
    assert bs.validate_results is rf.validate_results and bs.SCHEMA_VERSION == rf.SCHEMA_VERSION


# ---- the layer-wise roofline used by `python -m benchmarks validate` ----

RATES = roofline.DeviceRates(name="test", gemm_flops_per_s=1e12, gemm_bytes_per_s=1e11, gemm_overhead_s=1e-5,
                             gemm_half_rows=0.0, bytes_per_s=5e10, bytes_per_element=2.0)


def test_gemm_time_is_overhead_plus_the_slower_of_compute_and_memory():
    # 4096^3: 2 x 4096^3 / 1e12 = 0.137 s compute; 3 x 4096^2 x 2 B / 1e11 = 1.0 ms memory.
    assert roofline.gemm_s(4096, 4096, 4096, RATES) == pytest.approx(1e-5 + 2 * 4096**3 / 1e12)
    # 1 x 4096 x 4096: memory-bound, (4096 + 4096^2 + 4096) x 2 B / 1e11.
    assert roofline.gemm_s(1, 4096, 4096, RATES) == pytest.approx(1e-5 + (2 * 4096 + 4096**2) * 2 / 1e11)


def test_gemm_half_rows_halves_the_rate_of_a_gemm_that_many_rows_tall():
    r = dataclasses.replace(RATES, gemm_half_rows=32.0, gemm_overhead_s=0.0, gemm_bytes_per_s=1e30)
    assert 2 * 32 * 4096 * 4096 / roofline.gemm_s(32, 4096, 4096, r) == pytest.approx(0.5e12)


def test_fit_gemm_recovers_the_rates_it_was_made_from():
    truth = dataclasses.replace(RATES, gemm_half_rows=24.0, gemm_bytes_per_s=1e10)  # batch 1 memory-bound
    shapes = [(n, n, n) for n in (64, 256, 1024, 4096)] + [(1, 4096, 4096), (8, 8192, 2048), (64, 4096, 1024)]
    times = [float(roofline.gemm_s(*s, truth)) for s in shapes]
    fit = roofline.fit_gemm(shapes, times, 2.0)
    assert fit["gemm_flops_per_s"] == pytest.approx(1e12, rel=1e-2)
    assert fit["gemm_bytes_per_s"] == pytest.approx(1e10, rel=1e-2)
    assert fit["gemm_overhead_s"] == pytest.approx(1e-5, rel=5e-2)
    assert fit["gemm_half_rows"] == pytest.approx(24.0, rel=5e-2)


def test_fit_in_model_reproduces_its_calibration_points():
    m = ModelSpec(name="t", n_layers=4, dim=512, n_heads=8, n_kv_heads=4, ffn_dim=1376, vocab_size=8192)
    truth = dataclasses.replace(RATES, layer_overhead_s=2e-4, train_layer_overhead_s=1e-3, compute_efficiency=0.7)
    dec = (1, 128, float(roofline.decode_pass_s(m, truth, batch=1, context_tokens=128)))
    pre = (2, 256, float(roofline.prefill_pass_s(m, truth, batch=2, prompt_tokens=256)))
    tr = (4, 64, float(roofline.train_step_s(m, truth, batch=4, seq_len=64)))
    got = roofline.fit_in_model(m, RATES, decode=dec, prefill=pre, train=tr)
    assert got.layer_overhead_s == pytest.approx(2e-4, rel=1e-2)
    assert got.compute_efficiency == pytest.approx(0.7, rel=1e-2)
    assert got.train_layer_overhead_s == pytest.approx(1e-3, rel=1e-2)


def test_layerwise_prefill_approaches_flops_over_peak_for_a_large_prompt():
    m = ModelSpec(name="t", n_layers=4, dim=1024, n_heads=16, n_kv_heads=8, ffn_dim=2816, vocab_size=32000)
    t = roofline.prefill_pass_s(m, RATES, batch=8, prompt_tokens=2048)
    # GEMMs dominate: within 15% of the planner's FLOP count at the fitted peak (attention, traffic on top).
    assert 1.0 < t / (8 * prefill_flops(m, 2048) / 1e12) < 1.15
    assert np.all(np.diff([roofline.decode_pass_s(m, RATES, batch=b, context_tokens=512) for b in (1, 8, 64)]) > 0)
