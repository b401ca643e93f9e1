"""The torch-free results validator: accepts a good document, refuses bad ones with a reason."""
import copy
import json
import sys

import pytest

from benchmarks.schema import SCHEMA_VERSION, load_results, measured_points, validate_results, write_results

GOOD = {
    "schema_version": SCHEMA_VERSION,
    "env": {"device": "cpu"},
    "settings": {"quick": True},
    "points": [
        {"kind": "gemm", "dtype": "float32", "params": {"m": 8, "n": 8, "k": 8}, "median_s": 1e-3,
         "iqr_s": 1e-4, "min_s": 9e-4, "max_s": 2e-3, "repeats": 5, "flops_per_s": 1.0e6, "quantized": None},
        {"kind": "gemm", "params": {"m": 8, "n": 8, "k": 8}, "skipped": "fp8 needs sm_89+"},
    ],
}


def _bad(**changes):
    d = copy.deepcopy(GOOD)
    d.update(changes)
    return d


def test_a_good_document_validates():
    assert validate_results(copy.deepcopy(GOOD))["schema_version"] == 1
    assert len(measured_points(GOOD, "gemm")) == 1


def test_schema_module_does_not_import_torch():
    import subprocess
    code = "import benchmarks.schema, sys; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("version", [0, 2, "1", None])
def test_wrong_schema_version_is_refused(version):
    with pytest.raises(ValueError, match="schema_version"):
        validate_results(_bad(schema_version=version))


def test_no_usable_points_is_refused():
    with pytest.raises(ValueError, match="no usable points"):
        validate_results(_bad(points=[GOOD["points"][1]]))
    with pytest.raises(ValueError, match="no usable points"):
        validate_results(_bad(points=[]))


@pytest.mark.parametrize("change, reason", [
    ({"kind": "matmul"}, "kind"),
    ({"median_s": -1.0}, "median_s"),
    ({"flops_per_s": float("nan")}, "flops_per_s"),
    ({"repeats": 0}, "repeats"),
    ({"median_s": 5.0}, "outside"),
    ({"quantized": "int4"}, "quantized"),
])
def test_a_malformed_point_is_refused(change, reason):
    d = copy.deepcopy(GOOD)
    d["points"][0].update(change)
    with pytest.raises(ValueError, match=reason):
        validate_results(d)


def test_missing_top_level_key_is_refused():
    d = copy.deepcopy(GOOD)
    del d["env"]
    with pytest.raises(ValueError, match="env"):
        validate_results(d)


def test_truncated_file_is_refused(tmp_path):
    path = write_results(GOOD, tmp_path / "r.json")
    text = path.read_text()
    path.write_text(text[: len(text) // 2])
    with pytest.raises(ValueError, match="truncated"):
        load_results(path)


def test_write_is_atomic_and_round_trips(tmp_path):
    path = write_results(GOOD, tmp_path / "sub" / "r.json")
    assert load_results(path) == json.loads(json.dumps(GOOD))
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]  # no temp file left behind


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = write_results(GOOD, tmp_path / "r.json")
    with pytest.raises(ValueError):
        write_results(_bad(points=[{"x": float("nan")}]), path)  # allow_nan=False refuses NaN
    assert load_results(path) == json.loads(json.dumps(GOOD))
    assert len(list(tmp_path.iterdir())) == 1
