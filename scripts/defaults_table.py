"""Write docs/defaults.md from the scenario dataclasses (planner/present/defaults_doc.py)."""
from pathlib import Path

from planner.present.defaults_doc import defaults_markdown

OUT = Path(__file__).resolve().parent.parent / "docs" / "defaults.md"

if __name__ == "__main__":
    OUT.write_text(defaults_markdown(), encoding="utf-8")
    print(f"wrote {OUT}")
