"""Regenerate the README's figures from the code, so that none of them is typed by hand.

    python scripts/readme_figures.py --table        # the examples table (compare() of examples/*.toml)
    python scripts/readme_figures.py --checks       # the published checks' tables (training, steps, serving, memory)
    python scripts/readme_figures.py --screenshot   # docs/screenshot.png (headless Chromium, the browser test)

The table sits between the README's `examples-table` markers, with API prices read for the
day the golden files record (tests/golden/price-data.json); tests/test_readme.py fails when it
differs from what compare() gives. scripts/refresh_lock.sh runs `--table` after a new lock.
The screenshot is taken by tests/test_browser.py on the dashboard's default page
(it needs /usr/bin/chromium: scripts/install_browser.sh).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PRICE_DATA = ROOT / "tests" / "golden" / "price-data.json"  # the locked price data's version and day
START, END = "<!-- examples-table:start (scripts/readme_figures.py) -->", "<!-- examples-table:end -->"


def readme_with_table(text: str, table: str) -> str:
    """The README text with the block between the markers replaced by `table`."""
    head, found, rest = text.partition(START)
    _, found_end, tail = rest.partition(END)
    if not (found and found_end):
        raise SystemExit(f"README.md has no {START} ... {END} block")
    return f"{head}{START}\n{table}\n{END}{tail}"


def write_table() -> None:
    sys.path.insert(0, str(ROOT))
    from planner.present.summary import examples_markdown
    day = json.loads(PRICE_DATA.read_text(encoding="utf-8"))["prices_as_of"]  # the golden files' day
    text = README.read_text(encoding="utf-8")
    new = readme_with_table(text, examples_markdown(ROOT / "examples", prices_as_of=day))
    README.write_text(new, encoding="utf-8")
    print("README.md: examples table " + ("unchanged" if new == text else "rewritten"))


def _block(module: str, check: str):
    """A published check's README block: planner.estimate.<module>.readme_block of its <check>() table."""
    def block() -> str:
        import importlib
        mod = importlib.import_module(f"planner.estimate.{module}")
        return mod.readme_block(getattr(mod, check)())
    return block


def _accuracy_block() -> str:
    from planner.estimate import accuracy
    return accuracy.markdown_table(accuracy.summary())


CHECKS = {"accuracy-summary": _accuracy_block, "published-runs": _block("published_check", "check_published_runs"),
          "serving-published": _block("serving_check", "check"),
          "published-steps": _block("step_check", "check_published_steps"),
          "published-memory": _block("memory_check", "check_published_memory")}


def write_checks() -> None:
    """Rewrite each published check's table between its README markers from the check's own output."""
    text = README.read_text(encoding="utf-8")
    new = text
    for marker, block in CHECKS.items():
        start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
        head, _, tail = new.partition(start)
        _, _, tail = tail.partition(end)
        new = f"{head}{start}\n{block()}\n{end}{tail}"
    README.write_text(new, encoding="utf-8")
    print("README.md: published checks " + ("unchanged" if new == text else "rewritten"))


def write_screenshot() -> None:
    out = ROOT / "docs" / "screenshot.png"
    env = {**os.environ, "PLANNER_SCREENSHOT": str(out)}
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                    "tests/test_browser.py::test_default_page_renders_without_exceptions"],
                   cwd=ROOT, env=env, check=True)
    print(f"{out.relative_to(ROOT)}: taken")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--table", action="store_true", help="the examples table in README.md")
    p.add_argument("--screenshot", action="store_true", help="docs/screenshot.png")
    p.add_argument("--checks", action="store_true", help="the published checks' tables in README.md")
    a = p.parse_args()
    if not (a.table or a.screenshot or a.checks):
        p.error("say --table, --checks, --screenshot or any of them")
    if a.table:
        write_table()
    if a.checks:
        write_checks()
    if a.screenshot:
        write_screenshot()


if __name__ == "__main__":
    main()
