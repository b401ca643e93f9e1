"""`python -m benchmarks validate`: calibrate, predict with the decision path, measure, report.

The wiring is checked with measurements replaced by a known device (the performance model at
set rates, plus noise), so the test is fast and exact; one small real run checks that the
torch side measures and the planner side fits or refuses cleanly. No speed assertions.
"""
import json
import re

import numpy as np
import pytest

pytest.importorskip("torch")

from benchmarks import __main__ as cli  # noqa: E402
from benchmarks import validate  # noqa: E402
from planner.calibration.fit import FitError  # noqa: E402
from planner.estimate import calibrated, perf  # noqa: E402

TINY = validate.ValidatePlan(
    "float32", gemm=((64, 64, 64), (256, 256, 256), (1, 1024, 256), (1, 1024, 1024), (1, 4096, 256), (16, 512, 256)),
    bandwidth_bytes=(2**22,), calibration="tiny",
    calibration_points=(("decode", 1, 32), ("decode", 8, 32), ("prefill", 1, 32), ("prefill", 2, 64), ("train", 2, 16)),
    min_run_s=0.02, targets=(("train", "tiny-mha", 2, 32), ("prefill", "tiny-mha", 1, 64), ("prefill", "tiny-mha", 2, 32),
                             ("decode", "tiny-mha", 1, 64), ("decode", "tiny-mha", 4, 64)))
CLOSING = re.compile(r"^median error \d+\.\d%, max error \d+\.\d% over \d+ points$")
# The simulated device: a CPU with these rates (fractions of the peaks below), eager unfused kernels.
DEVICE = perf.Kernels(peak_flops_per_s=100e9, peak_bytes_per_s=20e9, gemm_efficiency=0.8, memory_efficiency=0.5,
                      attention_efficiency=0.8, gemm_half_rows=24.0, gemm_overhead_s=2e-6, layer_overhead_s=1e-4,
                      train_layer_overhead_s=3e-4, fused=False)
MICRO = perf.Kernels(**{**DEVICE.__dict__, "gemm_efficiency": 0.95, "attention_efficiency": 0.95})


def _simulated(kind, params, model=None, noise=1.0):
    num = perf.Numerics(4.0, 4.0, 4.0)
    t = calibrated.predict_point({"kind": kind, "params": params, "model": model}, MICRO if kind == "gemm" else DEVICE,
                                 num) if kind != "bandwidth" else 2 * params["n_bytes"] / 20e9
    t *= noise
    return {"kind": kind, "dtype": "float32", "params": params, "median_s": t * 1.01, "iqr_s": t * 0.01, "min_s": t,
            "max_s": t * 1.02, "repeats": 10, "calls_per_repeat": 1, "model": model, "quantized": None,
            **({"flops_per_s": 2 * params["m"] * params["n"] * params["k"] / t} if kind == "gemm" else {}),
            **({"bytes_per_s": 2 * params["n_bytes"] / t} if kind == "bandwidth" else {}), "other_cpu_fraction": 0.0}


@pytest.fixture()
def simulated(monkeypatch):
    rng = np.random.default_rng(0)
    noise = (lambda: float(np.exp(rng.normal(0, 0.02))))
    monkeypatch.setattr(validate, "other_cpu_fraction", lambda before, after: 0.0)  # a quiet machine: one try each
    monkeypatch.setattr(validate, "stream_gemm", lambda *, m, n, k, **_: _simulated("gemm", {"m": m, "n": n, "k": k},
                                                                                        noise=noise()))
    monkeypatch.setattr(validate.micro, "bandwidth", lambda *, n_bytes, **_: _simulated("bandwidth", {"n_bytes": n_bytes,
                                                                                                       "op": "copy"}))

    def model_point(kind, plan, device, name, batch, length):
        key = {"decode": "context_len", "prefill": "prompt_len", "train": "seq_len"}[kind]
        params = {"batch": batch, key: length} | ({"all_logits": False} if kind == "prefill" else {})
        return _simulated(kind, params, validate.model_config(name).arch(), noise=noise())
    monkeypatch.setattr(validate, "measure_model_point", model_point)
    return validate.run_validation(device="cpu", quick=True, plan=TINY, log=lambda *_: None)


def test_the_decision_path_recovers_a_known_device(simulated):
    text = validate.report_text(simulated)
    assert CLOSING.match(text.splitlines()[-1]) and text.splitlines()[-1].endswith(f"over {len(TINY.targets)} points")
    assert simulated["summary"]["median_error"] < 0.05  # 2% noise, the device is the model: predictions land
    assert simulated["efficiencies"]["gemm"]["p50"] == pytest.approx(0.8 * 100e9 / simulated["gpu_spec"]["peak_flops"]["fp32"],
                                                                     rel=0.1)


def test_predictions_are_for_sizes_the_calibration_did_not_see(simulated):
    assert TINY.calibration not in {r["config"] for r in simulated["rows"]}


def test_predictions_use_the_public_estimate_functions(simulated, monkeypatch):
    import planner
    calls = []
    real = planner.inference_speed
    monkeypatch.setattr(planner, "inference_speed", lambda **kw: calls.append(kw) or real(**kw))
    eff, spec = validate.fit({"schema_version": 1, "env": simulated["env"], "settings": {},
                              "points": simulated["calibration_points"]})
    t = validate.predict_s("decode", "tiny-mha", 4, 64, eff, spec, "float32")
    assert calls and calls[0]["efficiencies"] is eff and t == pytest.approx(simulated["rows"][-1]["predicted_s"])


def test_the_report_is_written_as_json_and_markdown(simulated, tmp_path):
    from benchmarks.measure.schema import write_results
    path = write_results(simulated, tmp_path / "validate-cpu.json")
    back = json.loads(path.read_text())
    assert back["schema"] == validate.VALIDATE_SCHEMA and back["env"]["device"] == "cpu"
    table = validate.report_markdown(simulated).split("```")[1].strip().splitlines()
    assert CLOSING.match(table[-1])


def test_best_of_keeps_each_points_fastest_pass(monkeypatch):
    fast, slow = {"min_s": 1.0, "median_s": 3.0}, {"min_s": 2.0, "median_s": 2.1}
    runs = iter([slow, fast, fast, slow])
    monkeypatch.setattr(validate, "undisturbed", lambda task: dict(next(runs)))
    assert validate.best_of([None, None], 2) == [fast, fast]


def test_a_disturbed_point_is_measured_again(monkeypatch):
    shares = iter([0.5, 0.3, 0.05])
    monkeypatch.setattr(validate, "other_cpu_fraction", lambda before, after: next(shares))
    calls = []
    p = validate.undisturbed(lambda: calls.append(1) or {"min_s": 1.0})
    assert len(calls) == 3 and p["other_cpu_fraction"] == 0.05
    shares = iter([0.5, 0.4, 0.45])
    assert validate.undisturbed(lambda: {"min_s": 1.0})["other_cpu_fraction"] == 0.4  # the least disturbed of three


def test_a_real_small_run_measures_and_fits_or_refuses_cleanly():
    """Real torch timings on this machine: either a report, or a FitError that names the points."""
    try:
        v = validate.run_validation(device="cpu", quick=True, plan=TINY, log=lambda *_: None)
    except FitError as e:
        assert "Points that disagree most" in str(e)
        return
    assert CLOSING.match(validate.report_text(v).splitlines()[-1])
    assert all(r["measured_s"] > 0 and r["predicted_s"] > 0 for r in v["rows"])


def test_cli_has_the_validate_subcommand(capsys):
    with pytest.raises(SystemExit):
        cli.main(["validate", "--help"])
    out = capsys.readouterr().out
    assert "--quick" in out and "--device" in out and "--out" in out
