"""What every `planner` command shares: writing its output, passing on only the options given, whole-number flags."""
from __future__ import annotations

import argparse
import sys


def out(text: str) -> None:
    sys.stdout.write(text.rstrip("\n") + "\n")


def given(a, *names) -> dict:
    """Only the options the user gave: every default lives in the planner API, not here."""
    return {n: getattr(a, n) for n in names if getattr(a, n) is not None}


def count(text: str) -> int:
    """argparse type of a whole number; accepts 100000, 1e5 and 100_000 (the API checks the range)."""
    try:
        value = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid whole number: {text[:40]!r}") from None
    if isinstance(value, float):
        if not value.is_integer():
            raise argparse.ArgumentTypeError(f"not a whole number: {text[:40]!r}")
        value = int(value)
    return value
