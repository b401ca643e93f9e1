"""The torch-free results boundary: a good document passes; bad files and impossible physics are
refused with a ResultsFileError naming the file, the point and the reason; files are written
atomically with normal permissions; schema v1 files are still read."""
import copy
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.measure.schema import (SCHEMA_VERSION, OutPathError, ResultsFileError, busbw_factor, calibration_points,
                               check_out_path, load_results, measured_points, quant_format, validate_results,
                               write_results)
from planner.core.errors import PlannerError

REFERENCE = Path(__file__).parent.parent / "benchmarks" / "reference" / "cpu-amd-epyc.json"


def _gemm(m=8, median_s=1e-3, **extra):
    return {"kind": "gemm", "dtype": "float32", "params": {"m": m, "n": 8, "k": 8}, "median_s": median_s,
            "iqr_s": 1e-4, "min_s": median_s * 0.9, "max_s": median_s * 2, "repeats": 10,
            "flops_per_s": 2.0 * m * 64 / median_s, "quantized": None, **extra}


GOOD = {"schema_version": SCHEMA_VERSION, "env": {"device": "cpu"}, "settings": {"quick": True},
        "points": [_gemm(), {"kind": "gemm", "params": {"m": 8, "n": 8, "k": 8}, "skipped": "fp8 needs sm_89+"}]}


def _doc(*points, env=None, **top):
    return {**copy.deepcopy(GOOD), "points": list(points), **({"env": env} if env else {}), **top}


def _refused(d, match):
    with pytest.raises(ResultsFileError, match=match):
        validate_results(d)


def test_a_good_document_validates():
    assert validate_results(copy.deepcopy(GOOD))["schema_version"] == 2
    assert len(measured_points(GOOD, "gemm")) == 1


def test_the_bundled_v1_reference_run_is_still_read():
    d = load_results(REFERENCE)
    assert d["schema_version"] == 1 and len(measured_points(d)) > 20
    assert {quant_format(p) for p in d["points"]} == {None, "int8-weight-only"}  # v1 "int8" was weight-only


def test_schema_module_does_not_import_torch():
    code = "import benchmarks.measure.schema, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("version", [0, 3, "1", None, True])
def test_unsupported_schema_version_is_refused(version):
    _refused({**GOOD, "schema_version": version}, "schema_version")


def test_no_usable_points_is_refused():
    _refused(_doc(GOOD["points"][1]), "no usable points")
    _refused(_doc(), "no usable points")


@pytest.mark.parametrize("change, reason", [
    ({"kind": "matmul"}, "kind"),
    ({"median_s": -1.0}, "median_s"),
    ({"min_s": -1e-3}, "min_s"),
    ({"iqr_s": -1.0}, "iqr_s"),
    ({"flops_per_s": float("nan")}, "flops_per_s"),
    ({"repeats": 0}, "repeats"),
    ({"repeats": True}, "repeats"),
    ({"max_s": 5e-4}, "outside"),
    ({"quantized": "int8"}, "quantized"),  # v2 names the format precisely
    ({"quantized": "int4"}, "quantized"),
    ({"mode": "graph"}, "mode"),
    ({"calibration": "no"}, "calibration"),
    ({"flops_per_s": 1.0e6}, "inconsistent with its time and sizes"),
    ({"params": {"m": 8, "n": 8}}, "params.k"),
])
def test_a_malformed_point_is_refused_naming_it(change, reason):
    d = _doc(_gemm(), _gemm(**change) if "kind" not in change else {**_gemm(), **change})
    with pytest.raises(ResultsFileError, match=reason) as e:
        validate_results(d)
    assert str(e.value).startswith("points[1]")


def test_impossible_physics_on_a_catalog_gpu_is_refused():
    h100 = {"device": "cuda", "device_name": "NVIDIA H100 80GB HBM3"}
    t = 2 * 8192**3 / 1.2e15  # a bf16 GEMM at 1.2 PFLOP/s: above the 989 TFLOP/s dense datasheet peak
    fast = {**_gemm(), "dtype": "bfloat16", "params": {"m": 8192, "n": 8192, "k": 8192}, "median_s": t,
            "min_s": t, "max_s": t, "flops_per_s": 1.2e15}
    _refused(_doc(fast, env=h100), r"MFU 1.21 > 1: .* above the catalog H100 SXM dense bf16 peak")
    n = 2**30  # a copy at 8 TB/s against 3.35 TB/s of HBM3
    copy_ = {**_gemm(), "kind": "bandwidth", "params": {"n_bytes": n, "op": "copy"}, "median_s": 2 * n / 8e12,
             "min_s": 2 * n / 8e12, "max_s": 1.0, "bytes_per_s": 8e12}
    _refused(_doc(copy_, env=h100), r"MBU 2.39 > 1: .* above the catalog H100 SXM memory bandwidth")
    validate_results(_doc(copy_))  # on a CPU there is no datasheet: the same figure is not refused


def test_a_recorded_fraction_above_one_or_inconsistent_is_refused():
    p = {**_gemm(), "kind": "train", "params": {"batch": 1, "seq_len": 10}, "tokens_per_s": 10 / 1e-3,
         "flops_per_s": 6e8, "peak_flops_per_s": 1.0, "mfu": 6e8}
    _refused(_doc(_gemm(), p), "MFU 6e.08 > 1")
    _refused(_doc(_gemm(), {**p, "mfu": 0.5}), "is not flops_per_s / peak_flops_per_s")


def test_above_the_runs_own_best_is_refused_where_peaks_are_measured():
    train = {**_gemm(), "kind": "train", "params": {"batch": 1, "seq_len": 10}, "tokens_per_s": 10 / 1e-3,
             "flops_per_s": 5e9}
    peaks = {"flops_per_s": 1e9, "flops_source": "best float32 FLOP/s measured in this run"}
    env = {"device": "cpu", "dtype": "float32"}
    _refused(_doc(_gemm(), train, env=env, peaks=peaks), r"MFU 5 > 1: .* above the run's own best")
    validate_results(_doc(_gemm(), train, env=env, peaks={**peaks, "flops_per_s": 5e9}))


@pytest.mark.parametrize("key, value", [("flops_per_s", 1e18), ("bytes_per_s", 1e16)])
def test_absurd_rates_are_refused_everywhere(key, value):
    p = _gemm(**{key: value}) if key == "bytes_per_s" else None
    d = _doc(p) if p else _doc({**_gemm(), "median_s": 2 * 512 / value, "min_s": 1e-16, "flops_per_s": value})
    _refused(d, "no device reaches it")


def _collective(op="all_reduce", n_bytes=2**20, nproc=2, median_s=1e-3, **extra):
    algbw = n_bytes / median_s
    return {"kind": "collective", "dtype": "float32", "params": {"op": op, "n_bytes": n_bytes, "nproc": nproc},
            "backend": "gloo", "median_s": median_s, "iqr_s": 0.0, "min_s": median_s, "max_s": median_s,
            "repeats": 10, "algbw_bytes_per_s": algbw, "busbw_bytes_per_s": algbw * busbw_factor(op, nproc),
            "quantized": None, **extra}


@pytest.mark.parametrize("op, n, factor", [("all_reduce", 8, 1.75), ("all_gather", 8, 0.875),
                                           ("reduce_scatter", 4, 0.75), ("all_to_all", 2, 0.5)])
def test_bus_bandwidth_factors_follow_nccl_tests(op, n, factor):
    assert busbw_factor(op, n) == factor
    validate_results(_doc(_collective(op, nproc=n)))


def test_a_collective_with_a_wrong_bus_bandwidth_or_fit_is_refused():
    _refused(_doc(_collective(busbw_bytes_per_s=5e9)), "busbw_bytes_per_s .* inconsistent")
    _refused(_doc(_collective(), collective_fit={"all_reduce": {"alpha_s": -1.0, "beta_bytes_per_s": 1e9}}),
             "alpha_s must be >= 0")


def test_quantised_points_need_a_passed_gate():
    q = {**_gemm(), "kind": "decode", "params": {"batch": 1, "context_len": 8}, "tokens_per_s": 1 / 1e-3,
         "quantized": "int8-weight-only"}
    _refused(_doc(q), "does not record a passed gate")
    gate = {"passed": True, "perplexity": 3.01, "reference_perplexity": 3.0}
    validate_results(_doc(q, quality={"int8-weight-only": gate}))


def test_eager_cuda_decode_is_never_a_calibration_point():
    dec = {**_gemm(), "kind": "decode", "params": {"batch": 1, "context_len": 8}, "tokens_per_s": 1 / 1e-3}
    d = _doc(dec | {"mode": "cuda-graph"}, dec | {"mode": "eager", "calibration": False},
             env={"device": "cuda", "device_name": "some GPU"})
    assert [p["mode"] for p in calibration_points(validate_results(d))] == ["cuda-graph"]
    v1 = {**d, "schema_version": 1, "points": [dec]}  # v1 decoded eagerly on CUDA
    assert calibration_points(v1) == [] and calibration_points({**v1, "env": {"device": "cpu"}}) == [dec]


def test_eager_cuda_prefill_is_never_a_calibration_point_even_in_older_files():
    pre = {**_gemm(), "kind": "prefill", "params": {"batch": 1, "prompt_len": 128}, "tokens_per_s": 128 / 1e-3}
    d = _doc(pre | {"mode": "cuda-graph", "calibration": True}, pre | {"mode": "eager", "calibration": False},
             env={"device": "cuda", "device_name": "some GPU"})
    assert [p["mode"] for p in calibration_points(validate_results(d))] == ["cuda-graph"]
    # Files from before prefill graphs timed GPU prefill eagerly and marked it a calibration point.
    older = {**d, "points": [pre | {"mode": "eager", "calibration": True}, pre]}
    assert calibration_points(validate_results(older)) == []
    on_cpu = {**older, "env": {"device": "cpu"}}  # a CPU runs prefill eagerly: those calibrate
    assert len(calibration_points(on_cpu)) == 2


# ---- the file boundary ----

@pytest.mark.parametrize("content, reason", [
    (b"\x00\x01binary", "binary data"),
    ('{"schema_version": 2, "x": "\u00e9"}'.encode("latin-1"), "not UTF-8"),
    (b"[" * 5000 + b"]" * 5000, "nested too deep"),
    (b'{"a":' * 100 + b"1" + b"}" * 100, "nested too deep"),
    (b'{"schema_version": 2, "env": {"device": "cpu"}, "points": [], "settings": {}, "x": NaN}', "NaN"),
    (b'{"schema_version": 2, "x": 1e999}', "not a finite number"),
    (b'{"schema_version": 2, "x": ' + b"9" * 5000 + b"}", "not valid JSON"),
    (b'{"schema_version": 2, "env": {"dev', "truncated"),
])
def test_bad_files_are_refused_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ResultsFileError, match=reason) as e:
        load_results(path)
    assert str(e.value).startswith(str(path)) and isinstance(e.value, PlannerError)


def test_paths_that_are_not_results_files_are_refused(tmp_path, monkeypatch):
    with pytest.raises(ResultsFileError, match="is a directory"):
        load_results(tmp_path)
    with pytest.raises(ResultsFileError, match="no such file"):
        load_results(tmp_path / "missing.json")
    with pytest.raises(ResultsFileError, match="cannot read"):
        load_results("bad\x00name.json")
    with pytest.raises(ResultsFileError, match="must be a file path"):
        load_results(42)
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 10)
    monkeypatch.setattr("planner.calibration.results_file.MAX_FILE_BYTES", 5)
    with pytest.raises(ResultsFileError, match="larger than the 5-byte limit"):
        load_results(big)


@settings(max_examples=300, deadline=2000, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                    max_leaves=30))
def test_any_json_value_gives_a_document_or_a_results_file_error(value):
    for d in (value, {**GOOD, "points": [value]}, {**GOOD, "env": value}, {**GOOD, "points": [{**_gemm(), "params": value}]}):
        try:
            validate_results(d)
        except ResultsFileError:
            pass


# ---- writing ----

def test_write_is_atomic_with_normal_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_results(GOOD, tmp_path / "sub" / "r.json")
    finally:
        os.umask(old)
    assert load_results(path) == json.loads(json.dumps(GOOD))
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]  # no temp file left behind


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = write_results(GOOD, tmp_path / "r.json")
    with pytest.raises(ValueError):
        write_results({**GOOD, "points": [{"x": float("nan")}]}, path)  # allow_nan=False refuses NaN
    assert load_results(path) == json.loads(json.dumps(GOOD))
    assert len(list(tmp_path.iterdir())) == 1


def test_out_paths_are_checked_before_any_work(tmp_path):
    assert check_out_path(tmp_path / "new" / "deeper" / "r.json").parent.is_dir()
    (tmp_path / "file").write_text("x")
    for bad, reason in [(tmp_path, "is a directory"), (tmp_path / "file" / "r.json", "cannot write there"),
                        (tmp_path / "bad\x00.json", "cannot write there")]:
        with pytest.raises(OutPathError, match=reason):
            check_out_path(bad)
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir(mode=0o555)
        with pytest.raises(OutPathError, match="cannot write there"):
            check_out_path(ro / "r.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "new"] + (["ro"] if os.geteuid() else [])
