"""The README's front door: its two commands and its Python example must work as written."""
import re
from pathlib import Path

import planner

ROOT = Path(__file__).parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_two_setup_commands_at_the_top():
    first_block = README.split("```")[1]
    commands = [ln for ln in first_block.splitlines()[1:] if ln.strip()]
    assert len(commands) == 2
    assert "streamlit run app.py" in commands[0]
    assert "scripts/test.sh" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "readme_command" in ci  # CI runs this very line (tests/test_dependencies.py checks how)


def test_python_example_runs(monkeypatch):
    block = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr("builtins.print", lambda *a, **k: None)
    namespace = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert isinstance(namespace["c"], planner.Comparison)
    assert abs(sum(namespace["mc"].prob_cheapest.values()) - 1) < 1e-9


def test_published_table_is_current():
    from planner.estimate.published_check import check_published_runs, summary_line
    assert summary_line(check_published_runs()) in README


def test_published_steps_table_is_current():
    """The training-step check's table (python -m planner.estimate.step_check), calibration and validation apart."""
    from planner.estimate.step_check import check_published_steps, readme_block
    block = README.split("<!-- published-steps:start -->")[1].split("<!-- published-steps:end -->")[0]
    assert block.strip() == readme_block(check_published_steps()).strip()


def test_serving_check_table_is_current():
    from planner.estimate.serving_check import check, summary_line
    assert summary_line(check()) in README


def test_memory_check_table_is_current():
    """The marked memory table is memory_check's output (python -m planner.estimate.memory_check regenerates it)."""
    from planner.estimate.memory_check import check_published_memory, markdown_table, summary_lines
    df = check_published_memory()
    block = README.split("<!-- published-memory:start -->")[1].split("<!-- published-memory:end -->")[0].strip()
    assert block == markdown_table(df) + "\n\n```\n" + "\n".join(summary_lines(df)) + "\n```"


def test_accuracy_summary_is_current():
    """The summary of every check, calibration and validation apart (python -m planner.estimate.accuracy)."""
    from planner.estimate import accuracy
    block = README.split("<!-- accuracy-summary:start -->")[1].split("<!-- accuracy-summary:end -->")[0].strip()
    assert block == accuracy.markdown_table(accuracy.summary())


def test_examples_table_is_compare_of_the_examples():
    """The README's examples table is generated (scripts/readme_figures.py --table); stale figures fail here."""
    import sys
    sys.path.insert(0, str(ROOT / "scripts"))
    from pricedata import require_locked_price_data
    from readme_figures import END, START
    from planner.present.summary import examples_markdown
    day = require_locked_price_data()["prices_as_of"]
    block = README.split(START)[1].split(END)[0].strip()
    assert block == examples_markdown(ROOT / "examples", prices_as_of=day), \
        "README's examples table is stale: run `python scripts/readme_figures.py --table`"
    n = len(list((ROOT / "examples").glob("*.toml")))
    assert sum(line.startswith("|") for line in block.splitlines()) == 2 + n  # header, rule, one row each
    assert sum(line.startswith("- `") and "With prices frozen" in line for line in block.splitlines()) == n


def test_defaults_page_is_current():
    """docs/defaults.md is generated from the dataclasses (one copy of the defaults): regenerate with
    `python scripts/defaults_table.py`."""
    from planner.present.defaults_doc import defaults_markdown
    assert (ROOT / "docs" / "defaults.md").read_text(encoding="utf-8") == defaults_markdown()
    assert "docs/defaults.md" in README


def test_every_numeric_default_says_where_it_comes_from():
    import dataclasses
    from planner.decide.scenario import _SECTIONS
    marks = ("judgement", "assumption", "http", "arxiv", "none:", "decide/", "catalog", "data/", "scenario")
    bare = []
    for key, cls in _SECTIONS.items():
        for f in dataclasses.fields(cls):
            d = f.default
            if isinstance(d, (int, float)) and not isinstance(d, bool) and d != 0:
                if not any(m in f.metadata.get("doc", "").lower() for m in marks):
                    bare.append(f"{key}.{f.name}")
    assert not bare, f"defaults without a source or 'judgement': {bare}"
