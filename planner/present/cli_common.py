"""What every `planner` command shares: writing its output, and passing on only the options given."""
from __future__ import annotations

import sys


def out(text: str) -> None:
    sys.stdout.write(text.rstrip("\n") + "\n")


def given(a, *names) -> dict:
    """Only the options the user gave: every default lives in the planner API, not here."""
    return {n: getattr(a, n) for n in names if getattr(a, n) is not None}
