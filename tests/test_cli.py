"""The `planner` command line: every command on the examples, numbers equal to the API's, one-line errors."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import planner
from planner.present.cli import main
from planner.present.formatting import dumps_json

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))


@pytest.fixture(scope="module")
def api():
    """The Python API's answer for each example, computed once, with the headline recommendation (its P(cheapest))."""
    from planner.uncertainty.risk import with_headline
    return {p.name: with_headline(planner.compare(s := planner.load_scenario(p)), s) for p in EXAMPLES}


def run(capsys, *args) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc, out, err, code=1):
    assert rc == code
    assert err.startswith("planner: error: ") and err.count("\n") == 1 and len(err.splitlines()) == 1, err
    assert "Traceback" not in err and out == ""


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_compare_json_is_the_api_result(capsys, api, path):
    rc, out, err = run(capsys, "compare", path, "--format", "json")
    assert rc == 0 and err == ""
    expected = api[path.name].to_dict()
    assert json.loads(out) == expected
    assert out.strip() == dumps_json(expected)  # sorted keys, stable
    assert "NaN" not in out and "Infinity" not in out


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_compare_csv_carries_full_precision(capsys, api, path):
    rc, out, _ = run(capsys, "compare", path, "--format", "csv")
    assert rc == 0
    got = pd.read_csv(io.StringIO(out), index_col="option")
    pd.testing.assert_frame_equal(got, api[path.name].table(), check_dtype=False)


@pytest.mark.parametrize("fmt", ["table", "markdown"])
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_compare_text_shows_options_break_evens_and_recommendation(capsys, api, path, fmt):
    rc, out, _ = run(capsys, "compare", path, "--format", fmt)
    c = api[path.name]
    assert rc == 0
    assert c.recommendation.headline in out
    assert all(o.label in out for o in c.options.values())
    assert "Break-even" in out
    assert "\x1b[" not in out  # no colour codes


def test_python_dash_m_runs_in_a_subprocess(api):
    path = EXAMPLES[0]
    done = subprocess.run([sys.executable, "-m", "planner", "compare", str(path), "--format", "json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == api[path.name].to_dict()
    bad = subprocess.run([sys.executable, "-m", "planner", "compare", "no-such-file.toml"],
                         capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith("planner: error: ")


def test_version(capsys):
    rc, out, _ = run(capsys, "--version")
    assert rc == 0 and out.strip() == f"planner {planner.__version__}"


@pytest.mark.parametrize("command", ["models", "gpus"])
def test_catalogs_list_every_entry_with_sources(capsys, command):
    entries = planner.models() if command == "models" else planner.gpus()
    rc, out, _ = run(capsys, command)
    assert rc == 0
    assert all(e.name in out for e in entries)
    assert "https://" in out and "checked" in out
    rc, out, _ = run(capsys, command, "--format", "json")
    assert rc == 0 and len(json.loads(out)) == len(entries)


def test_prices_search_and_data_date(capsys):
    rc, out, _ = run(capsys, "prices", "gpt-4.1-mini")
    assert rc == 0
    assert "gpt-4.1-mini" in out and planner.price_data_info()["data_date"] in out
    rc, out, _ = run(capsys, "prices", "claude", "--format", "csv", "--limit", "3")
    got = pd.read_csv(io.StringIO(out))
    expected = planner.search_api_models("claude", limit=3)
    assert list(got["model"]) == list(expected["model"])
    assert got["input_usd_per_mtok"].tolist() == pytest.approx(expected["input_usd_per_mtok"].tolist())


def test_estimate_pretrain_prints_bands_with_units(capsys):
    args = ["estimate", "pretrain", "--model", "Llama-3.1-8B", "--gpu", "H100 SXM", "--tokens", "15e12", "--n-gpus", "1024"]
    rc, out, _ = run(capsys, *args)
    assert rc == 0
    est = planner.pretraining(model="Llama-3.1-8B", gpu="H100 SXM", tokens=15e12, n_gpus=1024)
    assert "days" in out and "$" in out and "[" in out
    rc, out, _ = run(capsys, *args, "--format", "json")
    assert json.loads(out) == json.loads(dumps_json(est.to_dict()))


def test_estimate_finetune_and_serve_match_the_api(capsys):
    rc, out, _ = run(capsys, "estimate", "finetune", "--method", "lora", "--tokens", "20e6", "--epochs", "3",
                     "--format", "json")
    assert rc == 0
    ft = planner.finetuning(model="Llama-3.1-8B", gpu="H100 SXM", method="lora", tokens=20e6, epochs=3)
    assert json.loads(out)["cost_usd"] == ft.cost_usd.to_dict()
    args = ["estimate", "serve", "--requests-per-day", "50000", "--input-tokens", "500", "--output-tokens", "300",
            "--precision", "fp8"]
    rc, out, _ = run(capsys, *args)
    assert rc == 0 and "TTFT" in out and "ms" in out and "meets" in out
    rc, out, _ = run(capsys, *args, "--format", "json")
    plan = planner.serving(model="Llama-3.1-8B", gpu="H100 SXM", precision="fp8",
                           workload=planner.Workload(requests_per_day=50000, input_tokens=500, output_tokens=300))
    assert json.loads(out)["gpus"] == plan.gpus.to_dict()


def test_estimate_serve_with_an_engine_prints_the_frontier(capsys):
    args = ["estimate", "serve", "--model", "Llama-3.1-70B", "--requests-per-day", "1e6", "--input-tokens", "600",
            "--output-tokens", "250", "--precision", "fp8,int4-weight-only", "--engine", "tensorrt-llm",
            "--kv-cache-dtype", "fp8", "--latency-percentile", "p99", "--frontier"]
    rc, out, _ = run(capsys, *args)
    assert rc == 0 and "tensorrt-llm / fp8" in out and "Configurations searched" in out and "<-" in out
    assert "int4-weight-only" in out and "p99 latency within the targets" in out
    rc, out, _ = run(capsys, *args[:-1], "--format", "json")
    d = json.loads(out)
    plan = planner.serving(model="Llama-3.1-70B", gpu="H100 SXM", precision=["fp8", "int4-weight-only"],
                           engine="tensorrt-llm", kv_cache_dtype="fp8", latency_percentile="p99",
                           workload=planner.Workload(requests_per_day=1e6, input_tokens=600, output_tokens=250))
    assert d["gpus"] == plan.gpus.to_dict() and d["tensor_parallel"] == plan.tensor_parallel
    assert len(d["frontier"]) == len(plan.frontier)


def test_estimate_throughput_matches_the_api(capsys):
    args = ["estimate", "throughput", "--precision", "fp8", "--engine", "tensorrt-llm", "--prompt-tokens", "1000",
            "--output-tokens", "1000", "--tensor-parallel", "1"]
    rc, out, _ = run(capsys, *args)
    assert rc == 0 and "Output tokens/s per GPU" in out and "tensorrt-llm / fp8" in out
    rc, out, _ = run(capsys, *args, "--format", "json")
    t = planner.max_throughput(model="Llama-3.1-8B", gpu="H100 SXM", precision="fp8", engine="tensorrt-llm",
                               prompt_tokens=1000, output_tokens=1000, tensor_parallel=1)
    assert json.loads(out)["tokens_per_s"] == t.tokens_per_s.to_dict()


def _write(tmp_path, name, text) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.fixture
def bad_files(tmp_path):
    good = (ROOT / "examples" / "customer_support.toml").read_text(encoding="utf-8")
    return {"missing": tmp_path / "nope.toml",
            "malformed": _write(tmp_path, "bad.toml", 'name = "x"\n[workload\n'),
            "unknown_key": _write(tmp_path, "key.toml", 'name = "x"\n[workload]\nrequests_per_dya = 5\n'),
            "unknown_model": _write(tmp_path, "model.toml", good.replace('"Llama-3.1-8B"', '"Llama-3.1-8"'))}


@pytest.mark.parametrize("case, words", [("missing", "no such scenario file"), ("malformed", "not valid TOML"),
                                         ("unknown_key", "did you mean requests_per_day"),
                                         ("unknown_model", "Did you mean: Llama-3.1-8B")])
@pytest.mark.parametrize("command", ["compare", "report"])
def test_bad_scenario_is_one_line_and_writes_nothing(capsys, tmp_path, bad_files, case, words, command):
    out_dir = tmp_path / "out"
    extra = ["-o", out_dir] if command == "report" else []
    rc, out, err = run(capsys, command, bad_files[case], *extra)
    assert_one_line_error(rc, out, err)
    assert words in err
    assert not out_dir.exists()


@pytest.mark.parametrize("args", [["compare"], ["frobnicate"], ["estimate", "pretrain", "--model", "Llama-3.1-8B",
                                                                "--n-gpus", "3.5"], ["report", "x.toml"]])
def test_usage_errors_exit_2_with_one_line(capsys, args):
    rc, out, err = run(capsys, *args)
    assert_one_line_error(rc, out, err, code=2)


@pytest.mark.parametrize("args, words", [
    (["estimate", "pretrain", "--model", "Lama-3.1-8B"], "Did you mean"),
    (["estimate", "serve", "--gpu", "H100", "--requests-per-day", "-5", "--input-tokens", "1", "--output-tokens", "1"],
     "requests_per_day"),
    (["prices", "zzzzqqqq"], "no API model matches"),
    (["estimate", "throughput", "--engine", "tensorrt-llm", "--gpu", "MI300X"], "NVIDIA GPUs only"),
    (["estimate", "throughput", "--engine", "vlm"], "Did you mean: vllm"),
    (["estimate", "serve", "--requests-per-day", "5", "--input-tokens", "1", "--output-tokens", "1",
      "--kv-cache-dtype", "fp4"], "kv_cache_dtype"),
    (["calibrate", "no-such-results.json"], ""),
])
def test_errors_in_estimates_and_catalogs(capsys, args, words):
    rc, out, err = run(capsys, *args)
    assert_one_line_error(rc, out, err)
    assert words in err


# ---- every error is one line, whatever its text holds ----

LOGNORMALS = ['median = 40000, sigma = 0', 'p10 = 4e4, p90 = 4e4', 'p10 = 1e-300, p90 = 1e-299',
              'median = 1e-320, sigma = 1', 'median = 40000, sigma = -1', 'median = 40000, sigma = 5e-324',
              'median = 1e11, sigma = 40', 'median = 0, sigma = 0']


@pytest.mark.parametrize("dist", LOGNORMALS)
@pytest.mark.parametrize("command", [["compare"], ["uncertainty", "--samples", "50"], ["sensitivity"]])
def test_lognormal_traffic_down_to_sigma_zero_errs_in_one_line(capsys, tmp_path, dist, command):
    """A lognormal whose sigma (or spread) reaches 0, or whose tail reaches 0 or infinity: fine, or one line."""
    text = (ROOT / "examples" / "customer_support.toml").read_text(encoding="utf-8")
    line = next(x for x in text.splitlines() if x.startswith('"workload.requests_per_day"'))
    path = _write(tmp_path, "s.toml", text.replace(line, f'"workload.requests_per_day" = {{ dist = "lognormal", {dist} }}'))
    rc, out, err = run(capsys, command[0], path, *command[1:])
    if rc != 0:
        assert_one_line_error(rc, out, err)
    else:
        assert err == ""


@pytest.mark.parametrize("args", [["compare", "x.toml", "--fo\no"], ["compare", "x.toml", "--x\u2028y"],
                                  ["compare", "x.toml", "a\rb"], ["nope\x1cx"], ["estimate", "pretrain", "--model", "a\nb"],
                                  ["compare", "/tmp/a\nb.toml"], ["prices", "a\u2029b"]])
def test_arguments_holding_line_breaks_err_in_one_line(capsys, args):
    rc, out, err = run(capsys, *args)
    assert rc in (1, 2)
    assert_one_line_error(rc, out, err, code=rc)


@pytest.mark.parametrize("error", [planner.PlannerError("first\nsecond"), OSError(2, "No such\nfile", "a\nb.toml"),
                                   OSError(13, "Permission denied", "x\u2028y"), ValueError("a bug\r\nits detail"),
                                   planner.PlannerError("")])
def test_every_error_kind_is_one_line(capsys, error):
    from planner.present.cli_common import fail
    rc = fail(error, debug=False)
    assert_one_line_error(rc, "", capsys.readouterr().err, code=rc)
