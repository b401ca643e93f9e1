"""Calibration: a synthetic results file with known numbers -> a profile that reproduces them,
estimates that name their source, bad files refused with a reason naming the file."""
import copy
import dataclasses
import json
import subprocess
import sys

import pytest

import planner
from planner.catalog.engines import engine_profile
from planner.calibration import store
from planner.calibration.fit import FitError
from planner.estimate import calibrated, perf
from planner.catalog.lookup import gpu
from planner.present.cli import main
from planner.calibration.store import resolve
from planner.core.errors import PlannerError

H100 = gpu("H100 SXM")
PEAK, BW = H100.peak_flops["bf16"], H100.memory_bytes_per_s
MODEL = {"name": "1b", "dim": 2048, "n_layers": 16, "n_heads": 32, "n_kv_heads": 8, "head_dim": 64,
         "ffn_dim": 8192, "vocab_size": 32000}  # big enough that its prefill and training are GEMM-bound
# The truth a synthetic run is generated from: the fit must find it again.
TRUTH = {"gemm": 0.62, "gemm_micro": 0.70, "memory": 0.72, "gemm_half_rows": 48.0, "gemm_overhead_s": 4e-6,
         "gemm_row_overhead_s": 0.0, "layer_overhead_s": 2e-5, "train_layer_overhead_s": 6e-5}
GEMMS = [(8192, 8192, 8192), (4096, 4096, 4096), (1024, 1024, 1024), (1, 8192, 8192), (1, 4096, 4096),
         (16, 8192, 2048), (128, 8192, 2048), (64, 4096, 4096)]
MODEL_POINTS = [("decode", {"batch": 1, "context_len": 1024}), ("decode", {"batch": 32, "context_len": 1024}),
                ("prefill", {"batch": 1, "prompt_len": 512, "all_logits": False}),
                ("prefill", {"batch": 4, "prompt_len": 1024, "all_logits": False}),
                ("train", {"batch": 8, "seq_len": 1024}), ("train", {"batch": 4, "seq_len": 2048})]


def _point(kind, params, seconds, quantized=None, model=None, **rates):
    return {"kind": kind, "dtype": "bfloat16", "params": params, "median_s": seconds * 1.02, "iqr_s": seconds * 0.02,
            "min_s": seconds, "max_s": seconds * 1.05, "repeats": 10, "calls_per_repeat": 1, "model": model,
            "quantized": quantized, **rates}


def synthetic(device_name="NVIDIA H100 80GB HBM3", device="cuda", truth=TRUTH, host_s_per_layer=0.0,
              host_fields=None) -> dict:
    """A run whose every time is the performance model's at TRUTH on an H100's datasheet peaks (bf16).

    `host_s_per_layer` > 0 adds batch-1 prefills of 128-512 tokens timed eagerly on a host that
    needs that long to launch one layer's kernels (time: the slower of host and GPU), with
    `host_fields` (mode, calibration) as the suite would label them."""
    num = perf.Numerics()
    kw = dict(peak_flops_per_s=PEAK, peak_bytes_per_s=BW, memory_efficiency=truth["memory"],
              elementwise_efficiency=2.5e12 / BW, gemm_half_rows=truth["gemm_half_rows"],
              gemm_overhead_s=truth["gemm_overhead_s"], layer_overhead_s=truth["layer_overhead_s"],
              train_layer_overhead_s=truth["train_layer_overhead_s"], fused=False)
    micro = perf.Kernels(gemm_efficiency=truth["gemm_micro"], attention_efficiency=truth["gemm_micro"], **kw)
    model = perf.Kernels(gemm_efficiency=truth["gemm"], attention_efficiency=truth["gemm"], **kw)
    points = [_point("gemm", {"m": m, "n": n, "k": k}, t := float(perf.gemm_s(m, n, k, micro, num)),
                     flops_per_s=2 * m * n * k / (t * 1.02)) for m, n, k in GEMMS]
    copy = _point("bandwidth", {"n_bytes": 2**30, "op": "copy"}, 2 * 2**30 / 2.5e12, bytes_per_s=2.5e12)
    points.append(copy | {"median_s": copy["min_s"], "iqr_s": 0.0})
    for kind, params in MODEL_POINTS:
        p = {"kind": kind, "params": params, "model": MODEL}
        t = calibrated.predict_point(p, model, num)
        graph = {"mode": "cuda-graph"} if kind in ("decode", "prefill") else {}
        tokens = params["batch"] * params.get("seq_len", params.get("prompt_len", 1))
        points.append(_point(kind, params, t, model=MODEL, tokens_per_s=tokens / (t * 1.02),
                             flops_per_s=0.5 * PEAK if kind != "decode" else None,
                             bytes_per_s=0.7 * BW if kind == "decode" else None) | graph)
    for prompt_len in (128, 256, 512) if host_s_per_layer else ():
        params = {"batch": 1, "prompt_len": prompt_len, "all_logits": False}
        gpu_s = calibrated.predict_point({"kind": "prefill", "params": params, "model": MODEL}, model, num)
        t = max(gpu_s, MODEL["n_layers"] * host_s_per_layer)
        points.append(_point("prefill", params, t, model=MODEL, tokens_per_s=prompt_len / (t * 1.02),
                             flops_per_s=0.5 * PEAK) | (host_fields or {}))
    dense = next(q for q in points if q["kind"] == "decode")
    points.append(_point("decode", {"batch": 1, "context_len": 1024}, dense["min_s"] / 1.8,
                         quantized="int8-weight-only", model=MODEL, tokens_per_s=1.8 * dense["tokens_per_s"],
                         bytes_per_s=0.6 * BW) | {"mode": "cuda-graph"})
    points.append({"kind": "gemm", "params": {"m": 1, "n": 1, "k": 1}, "skipped": "fp8 needs sm_89+"})
    gate = {"format": "int8-weight-only", "passed": True, "perplexity": 6.36, "reference_perplexity": 6.35,
            "ratio": 1.0016, "max_ratio": 1.01, "bytes_vs_bf16": 0.5, "reason": ""}
    return {"schema_version": 2, "settings": {"quick": False}, "peaks": {}, "quality": {"int8-weight-only": gate},
            "interrupted": False,
            "env": {"device": device, "device_name": device_name, "dtype": "bfloat16",
                    "date_utc": "2026-01-02T03:04:05+00:00", "memory_bytes": 80e9},
            "points": points}


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


def test_the_fit_recovers_the_rates_a_run_was_made_from(tmp_path):
    p = planner.calibrate(write(tmp_path, synthetic()))
    assert p.gpu == "H100 SXM" and p.device_name == "NVIDIA H100 80GB HBM3"
    eff = p.efficiencies()
    assert eff.gemm.p50 == pytest.approx(TRUTH["gemm"], rel=0.02)
    assert eff.memory.p50 == pytest.approx(TRUTH["memory"], rel=0.02)
    assert eff.gemm_half_rows == pytest.approx(TRUTH["gemm_half_rows"], rel=0.1)
    assert eff.layer_overhead_s == pytest.approx(TRUTH["layer_overhead_s"], rel=0.1)
    assert eff.train_layer_overhead_s == pytest.approx(TRUTH["train_layer_overhead_s"], rel=0.1)
    assert eff.gemm.p90 - eff.gemm.p10 < 0.01  # noise-free points: a narrow band
    assert eff.source == "calibration: NVIDIA H100 80GB HBM3 (synthetic.json, 2026-01-02)"
    assert "fitted" in eff.citations["gemm"] and not eff.fused  # the eager reference model
    assert p.int8_decode_speedup.p50 == pytest.approx(1.8)  # the descriptive summary stays


@pytest.mark.parametrize("fields", [{"mode": "eager", "calibration": False}, {}], ids=["marked", "older-file"])
def test_host_bound_eager_gpu_prefills_never_calibrate(tmp_path, fields):
    # Short batch-1 prompts timed eagerly at 250 us of host time per layer (the launches of ~60
    # kernels): the suite marks them, and a file from before prefill graphs (no mode) is read alike.
    doc = synthetic(host_s_per_layer=250e-6, host_fields=fields)
    eff = planner.calibrate(write(tmp_path, doc)).efficiencies()
    assert eff.layer_overhead_s == pytest.approx(TRUTH["layer_overhead_s"], rel=0.1)
    assert eff.gemm_half_rows == pytest.approx(TRUTH["gemm_half_rows"], rel=0.1)
    # The same points presented as graph-captured would be fitted, and the fit fails on them.
    with pytest.raises(FitError, match="prefill 1b"):
        planner.calibrate(write(tmp_path, synthetic(host_s_per_layer=250e-6, host_fields={"mode": "cuda-graph"})))


def test_one_disturbed_point_does_not_drag_the_fit(tmp_path):
    doc = synthetic()
    slow = next(q for q in doc["points"] if q["kind"] == "gemm" and q["params"]["m"] == 4096)
    for key in ("min_s", "median_s", "max_s", "iqr_s"):
        slow[key] *= 1.6  # a neighbour took the machine for this point
    slow["flops_per_s"] /= 1.6  # the results reader refuses a rate that disagrees with its time
    eff = planner.calibrate(write(tmp_path, doc)).efficiencies()
    assert eff.gemm.p50 == pytest.approx(TRUTH["gemm"], rel=0.05)
    assert eff.memory.p50 == pytest.approx(TRUTH["memory"], rel=0.05)


def test_rates_past_physics_are_refused_naming_the_points(tmp_path):
    doc = synthetic(truth={**TRUTH, "gemm_micro": 1.3})  # GEMMs faster than the datasheet peak
    # The results reader refuses them before any fit (MFU above 1 against the catalog's dense peak).
    with pytest.raises(PlannerError, match=r"points\[\d+\] \(gemm\): MFU 1\.\d+ > 1: .* dense bf16 peak"):
        planner.calibrate(write(tmp_path, doc))


def test_a_fit_that_leaves_points_far_off_is_refused(tmp_path):
    doc = synthetic()
    for q in doc["points"]:
        if q.get("model") and not q.get("quantized") and q["kind"] == "decode":
            for key in ("min_s", "median_s", "max_s", "iqr_s"):
                q[key] *= 4
            q["tokens_per_s"] /= 4  # the results reader refuses a rate that disagrees with its time
            q["bytes_per_s"] /= 4
    with pytest.raises(FitError, match="does not fit these measurements.*decode 1b"):
        planner.calibrate(write(tmp_path, doc))


def test_a_run_without_model_points_fits_what_it_can(tmp_path):
    doc = synthetic()
    doc["points"] = [q for q in doc["points"] if q["kind"] in ("gemm", "bandwidth")]
    eff = planner.calibrate(write(tmp_path, doc)).efficiencies()
    assert eff.gemm.p50 == pytest.approx(TRUTH["gemm_micro"], rel=0.02)  # no model: the micro-benchmarks' rate
    assert eff.layer_overhead_s == 0.0


def test_estimates_name_their_source(tmp_path):
    p = planner.use_results(write(tmp_path, synthetic()))[0]
    on_h100 = planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM")
    on_a100 = planner.inference_speed(model="Llama-3.1-8B", gpu="A100 80GB SXM")
    assert on_h100.efficiency_source == p.source  # a calibration profile wins over the engine profile
    assert on_a100.efficiency_source == "engine profile: vllm on nvidia"
    assert planner.pretraining(model="Llama-3.1-8B", gpu="H100 SXM").efficiency_source == p.source


def test_the_profile_changes_the_estimate(tmp_path):
    before = planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM").decode_step_s.p50
    profile = planner.use_results(write(tmp_path, synthetic()))[0]
    after = planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM").decode_step_s.p50
    assert after != before
    # The registered profile is exactly the fitted efficiencies, plus the engine's scheduler cost per
    # step (the benchmarks time compiled forwards, not a serving scheduler).
    vllm = engine_profile("vllm", planner.gpu("H100 SXM"))
    fitted = dataclasses.replace(profile.efficiencies(), pass_overhead_s=vllm.pass_overhead_s)
    explicit = planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM", efficiencies=fitted)
    assert after == explicit.decode_step_s.p50


def test_nothing_is_calibrated_until_a_caller_asks(tmp_path, monkeypatch):
    monkeypatch.setenv(store.ENV_VAR, str(write(tmp_path, synthetic())))
    store.reset()
    # The library never reads the variable on its own: an estimate stays on the literature defaults.
    assert resolve("H100 SXM").source == "literature defaults"
    assert planner.inference_speed(model="Llama-3.1-8B", gpu="H100 SXM").efficiency_source == "engine profile: vllm on nvidia"
    # The edges (CLI, dashboard) call use_results_from_env; only then the file applies.
    assert [p.gpu for p in calibrated.use_results_from_env()] == ["H100 SXM"]
    assert resolve("H100 SXM").source.startswith("calibration: NVIDIA H100")
    monkeypatch.setenv(store.ENV_VAR, "")  # empty: no calibration at all
    store.reset()
    assert calibrated.use_results_from_env() == [] and resolve("H100 SXM").source == "literature defaults"


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
    doc = synthetic(device_name="AMD EPYC", device="cpu")
    p = planner.calibrate(write(tmp_path, doc))
    assert p.gpu is None and p.peak_source.startswith("the best GEMM")
    # the peak is the best GEMM at its fastest repeat, the statistic the fit times points by
    gemms = [q for q in doc["points"] if q["kind"] == "gemm" and q.get("flops_per_s") and q["dtype"] == "bfloat16"]
    assert p.peak_flops_per_s == pytest.approx(max(q["flops_per_s"] * q["median_s"] / q["min_s"] for q in gemms))
    assert any(q["median_s"] > q["min_s"] for q in gemms)  # else the check above cannot tell the two apart
    spec = p.gpu_spec()  # the peaks the fitted efficiencies are fractions of
    assert spec.peak_flops["bf16"] == pytest.approx(p.peak_flops_per_s)
    assert spec.memory_bytes_per_s == pytest.approx(p.peak_bytes_per_s) and spec.memory_bytes == 80e9


@pytest.mark.parametrize("break_it, reason", [
    (lambda d: d.update(schema_version=3), "schema_version 3 is not supported"),
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
    assert "H100 SXM" in out and "training MFU" in out and "fitted efficiency.gemm" in out
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
    import benchmarks.measure.schema as bs
    from planner.calibration import results_file as rf
    assert bs.validate_results is rf.validate_results and bs.SCHEMA_VERSION == rf.SCHEMA_VERSION
