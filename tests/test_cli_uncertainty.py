"""`planner uncertainty | sensitivity | frontier`: numbers equal to the API's, every format, one-line errors."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pandas as pd
import pytest

import planner
from planner.present import formatting as fmt
from planner.present import uncertainty_text as ut
from planner.present.labels import LETTERS, SHORT
from planner.present.cli import main
from planner.present.cli_uncertainty import tornado_dict
from planner.uncertainty.sensitivity import frontier, tornado
from planner.uncertainty.montecarlo import monte_carlo

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
N = 4000  # samples: enough to exercise every column, quick on two cores


def run(capsys, *args) -> tuple[int, str, str]:
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def plain(obj):
    """What the CLI's JSON of `obj` parses back to (NaN -> null, tuples -> lists)."""
    return json.loads(fmt.dumps_json(obj))


def assert_one_line_error(rc, out, err, *words, code=1):
    assert rc == code
    assert err.startswith("planner: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and out == ""
    for w in words:
        assert w in err, err


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_uncertainty_json_is_the_api_result(capsys, path):
    rc, out, err = run(capsys, "uncertainty", path, "--samples", N, "--format", "json")
    assert rc == 0 and err == ""
    s = planner.load_scenario(path)
    mc = monte_carlo(s, n=N)
    got = json.loads(out)
    assert got == plain(mc.to_dict())
    assert got["seed"] == s.seed and got["n"] == N
    assert sum(got["prob_cheapest"].values()) == pytest.approx(1.0)


def test_uncertainty_seed_option_overrides_the_scenario(capsys):
    path = EXAMPLES[0]
    rc, out, _ = run(capsys, "uncertainty", path, "--samples", N, "--seed", 123, "--format", "json")
    assert rc == 0
    assert json.loads(out) == plain(monte_carlo(planner.load_scenario(path), n=N, seed=123).to_dict())


def test_fixed_estimates_option_is_physics_false(capsys):
    path = ROOT / "examples" / "customer_support.toml"  # has a scratch option: the run's time is read off the table
    rc, out, _ = run(capsys, "uncertainty", path, "--samples", N, "--fixed-estimates", "--format", "json")
    assert rc == 0
    s = planner.load_scenario(path)
    assert json.loads(out) == plain(monte_carlo(s, n=N, physics=False).to_dict())
    assert json.loads(out) != plain(monte_carlo(s, n=N).to_dict())


def test_uncertainty_csv_has_full_precision(capsys):
    path = ROOT / "examples" / "code_completion.toml"
    rc, out, _ = run(capsys, "uncertainty", path, "--samples", N, "--format", "csv")
    assert rc == 0
    got = pd.read_csv(io.StringIO(out), index_col="option")
    want = monte_carlo(planner.load_scenario(path), n=N).summary_frame()
    pd.testing.assert_frame_equal(got, want, check_dtype=False, rtol=1e-12)


@pytest.mark.parametrize("form", ["table", "markdown"])
def test_uncertainty_text_shows_percentiles_probabilities_and_inputs(capsys, form):
    path = ROOT / "examples" / "code_completion.toml"
    rc, out, _ = run(capsys, "uncertainty", path, "--samples", N, "--format", form)
    assert rc == 0
    out = re.sub(r"\\([][])", r"\1", out)  # as read: a Markdown cell's "\[" is "["
    mc = monte_carlo(planner.load_scenario(path), n=N)
    assert f"{N:,} samples, seed {mc.seed}" in out
    for k in mc.options:
        assert fmt.usd(mc.total_usd[k].p90) in out
        assert f"{SHORT[k]} {fmt.percent(mc.prob_cheapest[k])}" in out
    be = mc.break_even_months["self_host"].month
    assert f"month {fmt.months(be)}" in out
    for p, d in mc.inputs.items():
        assert p in out and ut.distribution(d) in out
    assert ("| Option |" in out) == (form == "markdown")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_sensitivity_json_is_the_tornado(capsys, path):
    rc, out, _ = run(capsys, "sensitivity", path, "--format", "json")
    assert rc == 0
    df = tornado(planner.load_scenario(path))
    got = json.loads(out)
    assert got == plain(tornado_dict(df))
    assert [r["input"] for r in got["inputs"]] == list(df.index)
    assert got["recommended"] == df.attrs["recommended"] and got["base_gap_usd"] == df.attrs["base_gap_usd"]
    assert got["inputs"][0]["swing_usd"] == pytest.approx(df["swing_usd"].iloc[0], rel=1e-12)


def test_sensitivity_of_chosen_inputs_in_every_format(capsys):
    path = ROOT / "examples" / "code_completion.toml"
    args = ("sensitivity", path, "--input", "self_host.ops_engineers", "--input", "api.price_scale")
    df = tornado(planner.load_scenario(path), ["self_host.ops_engineers", "api.price_scale"])
    rc, out, _ = run(capsys, *args, "--format", "csv")
    assert rc == 0
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(out), index_col="input"), df, check_dtype=False)
    rc, out, _ = run(capsys, *args)
    assert rc == 0
    assert "self_host.ops_engineers" in out and "workload.requests_per_day" not in out
    assert fmt.usd(df.loc["api.price_scale", "swing_usd"]) in out and ut.tornado_caption(df) in out


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_frontier_json_is_the_api_result(capsys, path):
    rc, out, _ = run(capsys, "frontier", path, "--format", "json")
    assert rc == 0
    f = frontier(planner.load_scenario(path))
    assert json.loads(out) == plain(f.to_dict())


def test_frontier_over_chosen_inputs_csv_and_map(capsys):
    path = ROOT / "examples" / "code_completion.toml"
    axes = ("--x", "api.price_scale", "--y", "self_host.ops_engineers")
    f = frontier(planner.load_scenario(path), x="api.price_scale", y="self_host.ops_engineers")
    rc, out, _ = run(capsys, "frontier", path, *axes, "--format", "csv")
    assert rc == 0
    pd.testing.assert_frame_equal(pd.read_csv(io.StringIO(out)), f.long_frame(), check_dtype=False)
    rc, out, _ = run(capsys, "frontier", path, *axes)
    assert rc == 0
    rows = [ln.split(" | ", 1)[1] for ln in out.splitlines() if " | " in ln]
    letters = {v: k for k, v in LETTERS.items()}
    assert [[letters[ch] for ch in row] for row in rows[::-1]] == f.winner.tolist()  # top row: the highest y


BAD_UNCERTAINTY = {
    "unknown input": ('"workload.request_per_day" = {dist = "uniform", low = 1, high = 2}',
                      ["workload.request_per_day", "did you mean", "workload.requests_per_day"]),
    "negative traffic": ('"workload.requests_per_day" = {dist = "uniform", low = -5, high = 2}', ["> 0"]),
    "mode outside": ('"api.price_scale" = {dist = "triangular", low = 1, mode = 3, high = 2}', ["mode"]),
    "fraction above 1": ('"self_host.utilization_ceiling" = {dist = "uniform", low = 0.5, high = 1.5}', ["fraction"]),
}


@pytest.mark.parametrize("command", ["uncertainty", "sensitivity", "frontier"])
@pytest.mark.parametrize("case", BAD_UNCERTAINTY, ids=lambda c: c.replace(" ", "-"))
def test_impossible_distribution_is_one_line(capsys, tmp_path, command, case):
    line, words = BAD_UNCERTAINTY[case]
    text = (ROOT / "examples" / "customer_support.toml").read_text().split("[uncertainty]")[0]
    bad = tmp_path / "bad.toml"
    bad.write_text(f"{text}[uncertainty]\n{line}\n")
    assert_one_line_error(*run(capsys, command, bad), *words)


@pytest.mark.parametrize("args, words", [
    (["frontier", "{ex}", "--x", "workload.request_per_day"], ["did you mean workload.requests_per_day"]),
    (["frontier", "{ex}", "--y", "gpu_price"], ["gpu_price", "unknown input"]),
    (["frontier", "{ex}", "--x", "api.price_scale", "--y", "api.price_scale"], ["two different inputs"]),
    (["sensitivity", "{ex}", "--input", "self_host.usd_per_gpu_hr"], ["did you mean self_host.usd_per_gpu_hour"]),
    (["uncertainty", "{ex}", "--samples", "0"], ["samples", "in [1, 10,000,000]"]),
    (["uncertainty", "missing.toml"], ["missing.toml"]),
])
def test_bad_arguments_are_one_line(capsys, args, words):
    ex = str(ROOT / "examples" / "customer_support.toml")
    assert_one_line_error(*run(capsys, *(a.format(ex=ex) for a in args)), *words)


@pytest.mark.parametrize("args", [["uncertainty", "x.toml", "--samples", "many"], ["frontier"],
                                  ["sensitivity", "x.toml", "--format", "xml"]])
def test_usage_errors_exit_2(capsys, args):
    assert_one_line_error(*run(capsys, *args), code=2)
