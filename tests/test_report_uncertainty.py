"""The report's "How sure is the recommendation?" section: Monte Carlo table, P(cheapest), tornado and
frontier charts, uncertain inputs, all equal to the API's for the scenario's seed."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from matplotlib.figure import Figure

import planner
from planner.present import charts
from planner.present import report
from planner.present import formatting as fmt
from planner.present import uncertainty_text as ut
from planner.uncertainty import montecarlo as uncertainty
from planner.present.cli import main
from planner.decide.compare import OPTIONS
from planner.core.errors import PlannerError
from planner.uncertainty.sensitivity import frontier, tornado
from planner.uncertainty.montecarlo import monte_carlo

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"
HEADING = "## How sure is the recommendation?\n"
NAMES = ["customer_support", "regulated_documents"]  # API available / API not available


def section(text: str) -> str:
    return text.split(HEADING, 1)[1].split("\n## ", 1)[0]


def table_rows(text: str, header_start: str) -> list[list[str]]:
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith(header_start))
    block = []
    for ln in lines[start:]:
        if not ln.startswith("|"):
            break
        if not re.fullmatch(r"\|[-:|]+\|", ln):
            block.append([re.sub(r"\\([][])", r"\1", c.strip()) for c in re.split(r"(?<!\\)\|", ln)[1:-1]])  # as read: \[ is [
    return block


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    out = {}
    for name in NAMES:
        path = ROOT / "examples" / f"{name}.toml"
        folder = tmp_path_factory.mktemp("reports") / name
        assert main(["report", str(path), "-o", str(folder)]) == 0
        s = planner.load_scenario(path)
        out[name] = (folder / "report.md").read_text(encoding="utf-8"), folder, s
    return out


@pytest.mark.parametrize("name", NAMES)
def test_section_quotes_the_monte_carlo(reports, name):
    text, _, s = reports[name]
    assert HEADING in text and text.index(HEADING) < text.index("## Serving capacity")
    body = section(text)
    mc = monte_carlo(s, n=report.REPORT_SAMPLES)
    assert f"Monte Carlo over {report.REPORT_SAMPLES:,} samples (seed {s.seed})" in body
    rows = table_rows(body, "| Option |")
    expected = ut.monte_carlo_frame(mc)
    assert rows[0] == list(expected.columns)
    assert rows[1:] == [[str(v) for v in r] for r in expected.itertuples(index=False)]
    best = max(mc.prob_cheapest, key=mc.prob_cheapest.get)
    assert f"is the cheapest in {fmt.percent(mc.prob_cheapest[best])} of samples" in body
    for k, p in mc.prob_cheapest.items():
        assert fmt.percent(p) in body


@pytest.mark.parametrize("name", NAMES)
def test_section_has_tornado_frontier_and_inputs(reports, name):
    text, folder, s = reports[name]
    body = section(text)
    for chart in ("tornado", "frontier"):
        png = report.CHART_FILES[chart]
        assert (folder / png).read_bytes()[:8] == PNG
        assert f"]({png})" in body
    swing = tornado(s)
    rows = table_rows(body, "| Input | P10 |")
    assert [r[0] for r in rows[1:]] == list(swing.index)  # largest swing first
    mc = monte_carlo(s, n=1)  # the inputs do not depend on the sample count
    rows = table_rows(body, "| Input | Distribution |")
    assert rows[0] == ["Input", "Distribution", "Around", "p10", "p50", "p90", "Unit", "Source"]
    assert {r[0]: (r[1], r[2], r[-1]) for r in rows[1:]} == {p: (ut.distribution(d), ut.centre(d), d.source)
                                                              for p, d in mc.inputs.items()}
    for p in s.uncertainty:  # which inputs vary, and around this scenario's value
        assert fmt.md_inline(f"{p} around this scenario's") in body


def test_section_is_deterministic_and_needs_no_files():
    s = planner.load_scenario(ROOT / "examples" / "code_completion.toml")
    c = planner.compare(s)
    first = section(report.report_markdown(c, s, samples=3000))
    assert first == section(report.report_markdown(c, s, samples=3000))
    assert "3,000 samples" in first and "tornado.png" not in first  # no chart files: no image links
    assert fmt.percent(monte_carlo(s, n=3000).prob_cheapest["self_host"]) in first


def test_section_says_why_when_nothing_can_be_sampled(monkeypatch):
    s = planner.load_scenario(ROOT / "examples" / "customer_support.toml")
    c = planner.compare(s)

    def refuse(*_, **__):
        raise PlannerError("no option is available in this scenario: nothing to sample")
    monkeypatch.setattr(uncertainty, "monte_carlo", refuse)
    text = report.report_markdown(c, s)
    assert "Not available for this scenario: no option is available" in section(text)
    assert "## Serving capacity" in text  # the rest of the report is unaffected


@pytest.mark.parametrize("name", ["customer_support", "code_completion"])
def test_sensitivity_figures(name):
    s = planner.load_scenario(ROOT / "examples" / f"{name}.toml")
    fig = charts.tornado_figure(tornado(s))
    assert isinstance(fig, Figure) and len(fig.axes[0].patches) == 2 * len(tornado(s))
    f = frontier(s)
    fig = charts.frontier_figure(f, (s.workload.requests_per_day, 3.0))
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert set(labels) >= {OPTIONS[k] for k in set(f.winner.ravel())}
