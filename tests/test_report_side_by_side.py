"""write_report with several scenarios: a "Side by side" section, its user text inert, bad input refused first."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import planner
from planner.core.errors import PlannerError
from planner.core.units import usd
from planner.present.report import REPORT_MD, write_report

ROOT = Path(__file__).resolve().parent.parent
BASE = planner.load_scenario(ROOT / "examples" / "customer_support.toml")
EVIL = "![x](https://evil.example/p.png) <img src=https://evil.example/q.png> [a](https://evil.example)"


def section(text: str) -> str:
    return text.split("## Side by side", 1)[1].split("\n## ", 1)[0]


def test_report_with_other_scenarios_has_a_side_by_side_section(tmp_path):
    more = dataclasses.replace(BASE, name=EVIL, workload=dataclasses.replace(BASE.workload, requests_per_day=90_000))
    planner.save_scenario(BASE, tmp_path / "b.toml")
    out = write_report(BASE, tmp_path / "r", compare_with=[more, tmp_path / "b.toml"])
    text = section((out / REPORT_MD).read_text())
    assert "| workload.requests\\_per\\_day | 40000 | 90000 | 40000 |" in text  # this report, 2., b.toml
    assert usd(planner.compare(more).options["api"].total_usd.p50) in text
    assert "evil.example" in text  # the name is shown...
    assert not re.search(r"(?<!\\)!(?<!\\)\[|<img|(?<!\\)\]\(", text)  # ...as text: no image, link or HTML


def test_without_others_there_is_no_section(tmp_path):
    out = write_report(BASE, tmp_path / "r")
    assert "## Side by side" not in (out / REPORT_MD).read_text()


def test_bad_other_scenarios_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(PlannerError, match="missing.toml"):
        write_report(BASE, tmp_path / "r", compare_with=[tmp_path / "missing.toml"])
    with pytest.raises(PlannerError, match="compare_with"):
        write_report(BASE, tmp_path / "r", compare_with="b.toml")
    with pytest.raises(PlannerError, match=r"compare_with\[0\]"):
        write_report(BASE, tmp_path / "r", compare_with=[42])
    assert not (tmp_path / "r").exists()


def test_a_model_and_scenario_name_holding_markup_stay_text_in_the_whole_report():
    """Tables (md_cell), the scratch section's lines and the title: no image, link or HTML from a name; the
    fenced copy of the scenario at the end is code, so it is left out of the check."""
    import json

    from planner.catalog.lookup import register_model
    from planner.present.report import report_markdown
    cfg = json.loads((ROOT / "tests" / "data" / "hf_configs" / "qwen2.5-7b.json").read_text())
    cfg["_name_or_path"] = EVIL
    spec = planner.model_from_hf_config(cfg)
    register_model(spec)
    s = dataclasses.replace(BASE, name=EVIL, self_host=dataclasses.replace(BASE.self_host, model=spec.name))
    text = report_markdown(planner.compare(s), s, samples=200).split("```toml")[0]
    assert text.count("evil.example") >= 3
    assert not re.search(r"(?<!\\)!(?<!\\)\[|<img|(?<!\\)\]\(", text)
