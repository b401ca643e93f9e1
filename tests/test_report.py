"""`planner report`: the Markdown, its charts, the numbers it quotes, and all-or-nothing writing."""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from matplotlib.figure import Figure

import planner
from planner.present import charts
from planner.present import formatting as fmt
from planner.present import report
from planner.present.cli import main
from planner.present.formatting import COMPARISON_COLUMNS, comparison_frame

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    """One report per example, written through the CLI: (folder, Comparison)."""
    out = {}
    for path in EXAMPLES:
        folder = tmp_path_factory.mktemp("reports") / path.stem
        assert main(["report", str(path), "-o", str(folder)]) == 0
        out[path.stem] = folder, planner.compare(planner.load_scenario(path))
    return out


def _table_after(text: str, heading: str) -> list[list[str]]:
    """The first Markdown table under `heading`, as rows of cells (header row first, no rule)."""
    body = text.split(f"## {heading}\n", 1)[1].splitlines()
    start = next(i for i, ln in enumerate(body) if ln.startswith("|"))
    rest = body[start:]
    block = rest[:next((i for i, ln in enumerate(rest) if not ln.startswith("|")), len(rest))]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", ln)[1:-1]] for ln in block if not re.fullmatch(r"\|[-:|]+\|", ln)]


def _usd(text: str) -> float:
    m = re.fullmatch(r"(-?)\$([\d.]+)([kMBT]?)", text)
    scale = {"": 1, "k": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}[m.group(3)]
    return (-1 if m.group(1) else 1) * float(m.group(2)) * scale


@pytest.mark.parametrize("name", [p.stem for p in EXAMPLES])
def test_report_has_charts_assumptions_and_provenance(reports, name):
    folder, c = reports[name]
    text = (folder / "report.md").read_text(encoding="utf-8")
    for png in report.CHART_FILES.values():
        assert (folder / png).read_bytes()[:8] == PNG
        assert f"]({png})" in text
    for section in ("The question", "Recommendation", "Comparison", "Break-even", "Serving capacity",
                    "Training estimates", "Prompt vs fine-tune", "Assumptions", "Provenance"):
        assert f"\n## {section}\n" in text
    headline, _ = planner.recommendation(planner.load_scenario(EXAMPLES[[p.stem for p in EXAMPLES].index(name)]),
                                         comparison=c)
    assert fmt.md_inline(headline.headline) in text and headline.samples == report.REPORT_SAMPLES
    rows = _table_after(text, "Assumptions")
    assert rows[0] == ["Name", "Value", "Unit", "Source"]
    assert [r[0] for r in rows[1:]] == [a.name for a in c.assumptions]
    digest = hashlib.sha256((folder / "scenario.toml").read_bytes()).hexdigest()
    assert digest == hashlib.sha256(next(p for p in EXAMPLES if p.stem == name).read_bytes()).hexdigest()
    assert f"`{digest}`" in text
    info = planner.price_data_info()
    assert info["data_date"] in text and f"planner {planner.__version__}" in text
    assert "literature defaults" in text or "calibrat" in text  # which efficiencies were used


@pytest.mark.parametrize("name", [p.stem for p in EXAMPLES])
def test_report_comparison_table_equals_the_api(reports, name):
    folder, c = reports[name]
    rows = _table_after((folder / "report.md").read_text(encoding="utf-8"), "Comparison")
    expected = comparison_frame(c.table())
    assert rows[0] == list(expected.columns)
    assert rows[1:] == [[str(v) for v in r] for r in expected.itertuples(index=False)]
    # and the text is the API's number to three significant figures
    table = c.table()
    header = rows[0]
    for row in rows[1:]:
        raw = table.loc[row[0]]
        for col, (title, _) in COMPARISON_COLUMNS.items():
            cell = row[header.index(title)]
            if not raw["available"]:
                assert cell == "n/a"
            elif cell.startswith("$"):
                scale = 1000 if "1k req" in title else 1
                assert _usd(cell) == pytest.approx(raw[col] * scale, rel=5e-3, abs=1e-9)


def test_report_markdown_is_pure_and_reusable():
    s = planner.load_scenario(ROOT / "examples" / "customer_support.toml")
    c = planner.compare(s)
    text = report.report_markdown(c, s)
    assert text.startswith(f"# {s.name}") and "not recorded" in text  # no sha256 without a file
    with_charts = report.report_markdown(c, s, chart_files={"cumulative_cost": "a.png"}, scenario_sha256="abc")
    assert "](a.png)" in with_charts and "`abc`" in with_charts


@pytest.mark.parametrize("make", [charts.cumulative_cost_figure, charts.cost_vs_traffic_figure])
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_chart_functions_return_figures(make, path):
    fig = make(planner.compare(planner.load_scenario(path)))
    assert isinstance(fig, Figure) and fig.axes


def test_crossings_and_break_evens_are_marked():
    s = planner.load_scenario(ROOT / "examples" / "customer_support.toml")
    c = planner.compare(s.replace(workload=s.workload.with_(requests_per_day=2e6)))  # self-hosting pays off early
    month = next(b.crossing_month for b in c.break_evens if b.crossing_month is not None)
    texts = [t.get_text() for t in charts.cumulative_cost_figure(c).axes[0].texts]
    assert any(f"month {month:.1f}" in t for t in texts)
    texts = [t.get_text() for t in charts.cost_vs_traffic_figure(c).axes[0].texts]
    assert any("req/day" in t and "=" in t for t in texts) and any("this scenario" in t for t in texts)


def test_existing_report_needs_force(tmp_path, capsys):
    path = EXAMPLES[0]
    out = tmp_path / "r"
    assert main(["report", str(path), "-o", str(out)]) == 0
    (out / "report.md").write_text("edited by hand", encoding="utf-8")
    capsys.readouterr()
    assert main(["report", str(path), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("planner: error: ") and err.count("\n") == 1 and "--force" in err
    assert (out / "report.md").read_text(encoding="utf-8") == "edited by hand"
    assert main(["report", str(path), "-o", str(out), "--force"]) == 0
    assert (out / "report.md").read_text(encoding="utf-8").startswith("# ")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]  # no temp folders left beside it


def test_force_never_deletes_other_work(tmp_path, capsys):
    out = tmp_path / "notes"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work", encoding="utf-8")
    assert main(["report", str(EXAMPLES[0]), "-o", str(out), "--force"]) == 1
    assert "thesis.tex" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["thesis.tex"]


def test_empty_existing_folder_is_used(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    assert main(["report", str(EXAMPLES[0]), "-o", str(out)]) == 0
    assert (out / "report.md").exists()


def test_unwritable_output_folder(tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    rc = main(["report", str(EXAMPLES[0]), "-o", str(blocker / "report")])
    err = capsys.readouterr().err
    assert rc == 1 and err.count("\n") == 1 and "is a file, not a folder" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]


def test_failure_while_writing_leaves_nothing_half_written(tmp_path, monkeypatch, capsys):
    path = EXAMPLES[0]
    out = tmp_path / "r"

    def broken(_):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(charts, "cost_vs_traffic_figure", broken)
    assert main(["report", str(path), "-o", str(out)]) == 1
    assert "No space left" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    # an earlier report survives a failed --force rewrite untouched
    monkeypatch.undo()
    assert main(["report", str(path), "-o", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(charts, "cost_vs_traffic_figure", broken)
    assert main(["report", str(path), "-o", str(out), "--force"]) == 1
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r"]


def test_a_report_runs_the_comparison_once(tmp_path, monkeypatch):
    """The report, its Monte Carlo, tornado and frontier share one compare() (it was five)."""
    import planner.decide.compare as dc
    import planner.present.report as rp
    import planner.uncertainty.montecarlo as mc
    calls = []
    real = dc.compare

    def counting(s):
        calls.append(s.name)
        return real(s)
    monkeypatch.setattr(rp, "compare", counting)
    monkeypatch.setattr(mc, "compare", counting)
    rp.write_report(EXAMPLES[0], tmp_path / "report")
    assert len(calls) == 1


def test_report_zip_is_the_folder_write_report_writes(tmp_path):
    """The dashboard's download: the same writer, so the same files and the same Markdown (charts included)."""
    import io
    import zipfile
    s = planner.Scenario(name="Zip check", description="the dashboard's download")
    folder = report.write_report(s, tmp_path / "r")
    z = zipfile.ZipFile(io.BytesIO(report.report_zip(planner.compare(s), s)))
    assert sorted(z.namelist()) == sorted(f"report/{p.name}" for p in folder.iterdir())
    strip = lambda t: re.sub(r"(?i)generated .*\n", "", t)  # noqa: E731  (the time stamp)
    assert strip(z.read("report/report.md").decode()) == strip((folder / "report.md").read_text())
    assert z.read("report/cumulative_cost.png").startswith(PNG)
    assert "](cumulative_cost.png)" in z.read("report/report.md").decode()
    with pytest.raises(planner.PlannerTypeError, match="comparison"):
        report.report_zip("not a comparison", s)


def _beside(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("fails", ["set_aside", "swap_in"])
def test_failed_force_rewrite_into_a_folder_it_cannot_move_leaves_no_temporary_files(tmp_path, monkeypatch, capsys,
                                                                                     fails):
    """`report -o DIR --force` where DIR cannot be replaced (as root no folder is unwritable, so the move is made
    to fail the way a folder without write permission makes it): one line, the earlier report intact, no
    `.DIR.tmp-*` or `.DIR.old-*` folder left beside it."""
    out = tmp_path / "r"
    out.mkdir()
    (out / report.REPORT_MD).write_text("the earlier report", encoding="utf-8")  # charts aside: what --force replaces
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(report, "_render", lambda c, s, folder, *_: (folder / report.REPORT_MD).write_text("new"))
    real = report.os.replace

    def refuse(src, dst):
        moving = Path(src) == out if fails == "set_aside" else Path(dst) == out and ".tmp-" in Path(src).name
        if moving:
            raise PermissionError(13, "Permission denied", str(src))
        return real(src, dst)
    monkeypatch.setattr(report.os, "replace", refuse)
    assert main(["report", str(EXAMPLES[0]), "-o", str(out), "--force"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("planner: error: ") and len(err.splitlines()) == 1 and "Permission denied" in err
    assert _beside(tmp_path) == ["r"]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_failed_report_removes_the_folders_it_made(tmp_path, monkeypatch, capsys):
    def full(*_):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(report, "_render", full)
    assert main(["report", str(EXAMPLES[0]), "-o", str(tmp_path / "a" / "b" / "r"), "--force"]) == 1
    assert len(capsys.readouterr().err.splitlines()) == 1
    assert _beside(tmp_path) == []  # a/ and a/b/ were made for the report: gone with it


def test_force_into_a_path_under_a_file(tmp_path, capsys):
    (tmp_path / "a-file").write_text("x", encoding="utf-8")
    assert main(["report", str(EXAMPLES[0]), "-o", str(tmp_path / "a-file" / "r"), "--force"]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "is a file, not a folder" in err
    assert _beside(tmp_path) == ["a-file"]
