"""One answer per question (issue 27): the dashboard's headline, its Uncertainty tab and the report agree,
and the sidebar shows, edits and turns off the scenario's uncertain inputs."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import planner
from dashboard import state as S
from dashboard.views import md, metric_label
from planner.decide.distributions import entries
from planner.present import formatting as fmt
from planner.present.report import REPORT_SAMPLES, report_markdown

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = planner.load_scenario(ROOT / "examples" / "customer_support.toml")
ODDS = re.compile(r"the cheapest in (?:only )?([<>]?[\d.]+%) of ([\d,]+) Monte Carlo samples")


@pytest.fixture
def at():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state["start"] = "customer_support"  # the example with an [uncertainty] table (the picker)
    return at.run()


def shown_scenario(at) -> planner.Scenario:
    return planner.loads_scenario(at.session_state["current_toml"])


def headline(at) -> str:
    hits = [s.value for s in at.success if "Recommended:" in s.value]
    assert len(hits) == 1, [s.value for s in at.success]
    return hits[0].split("\n\n")[0].strip("*")


def section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    return text[start:text.index("\n## ", start + 1)]


def test_the_examples_uncertainty_is_shown_as_such(at):
    assert not at.exception and not at.error
    table = entries(DEFAULT.uncertainty)
    assert [e.label for e in at.expander if e.label.startswith("Uncertain inputs")] == [f"Uncertain inputs ({len(table)})"]
    for path, entry in table.items():
        assert at.checkbox(key=S.PREFIX + S.UNC_ON + path).value is True
        assert at.text_input(key=S.PREFIX + S.UNC + path).value == S.entry_text(entry)
    assert any(f"{len(table)} from the loaded scenario's [uncertainty] table" in c.value for c in at.caption)
    assert shown_scenario(at) == DEFAULT  # shown, untouched: the same scenario


def test_an_entry_can_be_turned_off_edited_added_and_is_refused_when_wrong(at):
    at.checkbox(key="w.unc_on.api.price_scale").uncheck().run()
    assert "api.price_scale" not in entries(shown_scenario(at).uncertainty)
    at.text_input(key="w.unc.workload.requests_per_day").input('{ dist = "lognormal", sigma = 1.2 }').run()
    assert entries(shown_scenario(at).uncertainty)["workload.requests_per_day"] == {"dist": "lognormal", "sigma": 1.2}
    at.selectbox(key="unc_add").set_value("self_host.ops_engineers").run()
    assert not at.exception and not at.error
    assert entries(shown_scenario(at).uncertainty)["self_host.ops_engineers"] == {"dist": "lognormal", "sigma": 0.3}
    at.text_input(key="w.unc.workload.requests_per_day").input('{ dist = "lognormal", median = 40000, sigma = 0.6 }')
    at.run()
    assert not at.exception
    error = re.sub(r"\\(.)", r"\1", at.error[0].value)  # as the viewer reads it: Markdown escapes removed
    assert "Impossible input" in error and "workload.requests_per_day" in error
    assert "relative = false" in error


def test_loading_another_scenario_replaces_its_uncertain_inputs(at):
    text = (ROOT / "examples" / "code_completion.toml").read_text()
    at.text_area(key="scenario_text").input(text)
    at.button(key="load_pasted").click().run()
    assert not at.exception and not at.error
    s = planner.load_scenario(ROOT / "examples" / "code_completion.toml")
    assert shown_scenario(at) == s
    shown = [t.key[len(S.PREFIX + S.UNC):] for t in at.text_input if (t.key or "").startswith(S.PREFIX + S.UNC)]
    assert sorted(shown) == sorted(entries(s.uncertainty))  # the customer-support example's growth entry is gone


@pytest.mark.parametrize("requests_per_day", [5e6, 3e5])  # self-hosting clearly; the API by a close call
def test_headline_tab_and_report_agree_after_a_traffic_change(at, requests_per_day):
    """The question of issue 27: at the sidebar's traffic, which option is cheapest and how sure?"""
    at.number_input(key="w.requests_per_day").set_value(requests_per_day).run()
    at.session_state["view"] = "Uncertainty"
    at.run()
    assert not at.exception and not at.error
    s = shown_scenario(at)
    assert s.workload.requests_per_day == requests_per_day
    shown = headline(at)
    rec, mc = planner.recommendation(s)
    assert shown == md(rec.headline)
    odds, samples = ODDS.search(re.sub(r"\\(.)", r"\1", shown)).groups()
    assert int(samples.replace(",", "")) == mc.n == REPORT_SAMPLES
    # the tab, at its default sample count, shows the headline's run: the same P(cheapest) for the choice
    tab = [m.value for m in at.metric if m.label == metric_label(rec.choice, "P(cheapest)")]
    assert tab == [odds] == [fmt.percent(mc.prob_cheapest[rec.choice])]
    # ...and its uncertain inputs are centred on the sidebar's traffic, not on the file's 40,000
    inputs = next(d.value for d in at.dataframe if "Around" in d.value.columns).set_index("Input")
    assert inputs.loc["workload.requests_per_day", "p50"] == fmt.quantity(requests_per_day)
    assert fmt.quantity(requests_per_day) in inputs.loc["workload.requests_per_day", "Around"]
    # the report of the same scenario: the same headline, and "How sure" names the same option at the same odds
    text = report_markdown(planner.compare(s), s)
    assert fmt.md_inline(rec.headline) in section(text, "Recommendation")
    sure = section(text, "How sure is the recommendation?")
    assert fmt.md_inline(f"{fmt.quantity(requests_per_day)}") in sure
    best = max(mc.prob_cheapest, key=mc.prob_cheapest.get)
    assert f"**{planner.compare(s).options[best].label} is the cheapest in {fmt.percent(mc.prob_cheapest[best])}" in sure
    if best != rec.choice:  # a different option is likelier the cheapest: the headline must say it is not safe
        assert not rec.safe and "only" in shown
    assert ("not a safe bet" in shown) == (rec.by_cost and not rec.safe)
