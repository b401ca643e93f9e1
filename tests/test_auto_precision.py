"""precision = "auto" everywhere it is offered: compare, the CLI, the report and the Monte Carlo.

"auto" searches the weight formats the GPU runs and keeps the cheapest configuration meeting the
targets; every result says which format it chose. (The dashboard's side: tests/test_app.py.)
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import planner
from planner.estimate.search import AUTO_PRECISIONS
from planner.present.cli import main
from planner.present.report import report_markdown

ROOT = Path(__file__).resolve().parent.parent
BASE = planner.load_scenario(ROOT / "examples" / "customer_support.toml")
# Enough traffic that the formats need different fleets (bf16: 9 H100s, fp8: 7 at the last month).
BUSY = BASE.replace(workload=BASE.workload.with_(requests_per_day=3_000_000), uncertainty={})


def _at(s: planner.Scenario, precision: str) -> planner.Scenario:
    return s.replace(self_host=replace(s.self_host, precision=precision))


@pytest.fixture(scope="module")
def auto():
    return planner.compare(_at(BUSY, "auto"))


def test_auto_compares_and_says_what_it_chose(auto):
    opt = auto.options["self_host"]
    assert opt.available and auto.options["scratch"].available
    assert auto.serving_plan.precision in AUTO_PRECISIONS
    assert f"auto: {auto.serving_plan.precision}, the cheapest" in opt.detail
    assert any(a.name == "precision" and a.value == auto.serving_plan.precision for a in auto.assumptions)


def test_auto_is_the_cheapest_format_meeting_the_targets(auto):
    fixed = {p: planner.compare(_at(BUSY, p)).options["self_host"].total_usd.p50 for p in AUTO_PRECISIONS}
    assert auto.options["self_host"].total_usd.p50 == pytest.approx(min(fixed.values()), rel=1e-9)
    assert min(fixed.values()) < fixed["bf16"]  # the case tests something: bf16 is not the answer here
    assert auto.serving_plan.precision != "bf16"


def test_auto_on_a_gpu_without_fp8_searches_what_it_has():
    s = _at(BUSY, "auto").replace(self_host=replace(_at(BUSY, "auto").self_host, gpu="A100 80GB SXM"))
    c = planner.compare(s)
    assert c.options["self_host"].available
    assert c.serving_plan.precision != "fp8"  # an A100 has no fp8 matrix units


def test_cli_compare_and_report_accept_auto(tmp_path, capsys):
    path = tmp_path / "auto.toml"
    planner.save_scenario(_at(BASE, "auto"), path)
    assert main(["compare", str(path)]) == 0
    assert "auto: " in capsys.readouterr().out
    assert main(["report", str(path), "-o", str(tmp_path / "report")]) == 0
    text = (tmp_path / "report" / "report.md").read_text()
    assert "at the cheapest precision meeting the targets (" in text
    assert "at auto," not in text


def test_report_markdown_names_the_chosen_format(auto):
    text = report_markdown(auto, _at(BUSY, "auto"), samples=500)
    assert f"the cheapest precision meeting the targets ({auto.serving_plan.precision})" in text


def test_monte_carlo_and_tornado_accept_auto():
    s = _at(BASE, "auto")
    c = planner.compare(s)
    mc = planner.monte_carlo(s, n=2000, comparison=c)
    assert sum(mc.prob_cheapest.values()) == pytest.approx(1.0)
    assert mc.point_total_usd["self_host"] == pytest.approx(c.options["self_host"].total_usd.p50, rel=1e-9)
    assert not planner.tornado(s, comparison=c).empty
