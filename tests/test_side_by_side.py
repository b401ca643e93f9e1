"""Several scenarios side by side: `planner compare a.toml b.toml`, planner.present.side_by_side."""
from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import pandas as pd
import pytest

import planner
from planner.core.units import usd
from planner.present import side_by_side as sbs
from planner.present.cli import main

ROOT = Path(__file__).resolve().parent.parent
BASE = planner.load_scenario(ROOT / "examples" / "customer_support.toml")
MORE = dataclasses.replace(BASE, workload=dataclasses.replace(BASE.workload, requests_per_day=90_000))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("sbs")
    planner.save_scenario(BASE, d / "a.toml")
    planner.save_scenario(MORE, d / "b.toml")
    return d / "a.toml", d / "b.toml"


def run(capsys, *args):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def test_only_the_inputs_that_differ_are_listed():
    df = sbs.inputs_that_differ({"a": BASE, "b": MORE})
    assert df.to_dict(orient="records") == [{"input": "workload.requests_per_day", "a": "40000", "b": "90000"}]
    assert sbs.inputs_that_differ({"a": BASE, "b": BASE}).empty
    # a field left at its default in one file and set in the other is a difference only if the values differ
    assert sbs.inputs_that_differ({"a": planner.Scenario(), "b": dataclasses.replace(planner.Scenario())}).empty


def test_totals_give_each_option_and_the_difference_to_the_first():
    ca, cb = planner.compare(BASE), planner.compare(MORE)
    df = sbs.totals_side_by_side({"a": ca, "b": cb}).set_index("option")
    api = ca.options["api"]
    assert df.loc[api.label, "a"].startswith(usd(api.total_usd.p50))
    delta = cb.options["api"].total_usd.p50 - api.total_usd.p50
    assert delta > 0 and f"(+{usd(delta)}" in df.loc[api.label, "b"]  # more traffic: the API costs more
    assert df.loc["horizon, months"].tolist() == [str(BASE.workload.horizon_months)] * 2
    rec = ca.options[ca.recommendation.choice].label
    assert df.loc[rec, "a"].split(" (")[0].endswith("*")


def test_cli_compare_several_prints_them_together(capsys, files):
    rc, out, err = run(capsys, "compare", *files)
    assert rc == 0 and err == ""
    assert "2 scenarios side by side" in out and "Inputs that differ (1)" in out
    assert "workload.requests_per_day" in out and "90000" in out
    for c in (planner.compare(BASE), planner.compare(MORE)):
        assert usd(c.options["api"].total_usd.p50) in out


def test_cli_compare_several_json_and_csv(capsys, files):
    rc, out, _ = run(capsys, "compare", *files, "--format", "json")
    d = json.loads(out)
    assert rc == 0 and list(d["scenarios"]) == ["a.toml", "b.toml"]
    assert d["inputs_that_differ"] == [{"input": "workload.requests_per_day", "a.toml": "40000", "b.toml": "90000"}]
    rc, out, _ = run(capsys, "compare", *files, "--format", "csv")
    got = pd.read_csv(io.StringIO(out), index_col=["scenario", "option"])
    pd.testing.assert_frame_equal(got.loc["b.toml"], planner.compare(MORE).table(), check_dtype=False)


def test_same_file_names_get_their_paths_and_a_missing_file_is_one_line(capsys, files, tmp_path):
    assert sbs.labels_for(["x/a.toml", "y/a.toml", "b.toml"]) == ["x/a.toml", "y/a.toml", "b.toml"]
    rc, out, err = run(capsys, "compare", files[0], tmp_path / "missing.toml")
    assert rc == 1 and out == "" and "missing.toml" in err and err.count("\n") == 1
