"""User-facing errors: every message says what was wrong and what to do instead.

All of them subclass `PlannerError` (a `ValueError`), so edges (CLI, dashboard)
catch one type and print its message instead of a traceback.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable


class PlannerError(ValueError):
    """Base class: the message is meant for the user, not for a debugger."""


class UnknownNameError(PlannerError):
    """A catalog lookup found no entry; the message lists close matches."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        self.kind, self.name = kind, name
        self.suggestions = close_matches(name, known)
        hint = f" Did you mean: {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"unknown {kind} {name!r}.{hint}")


class InputError(PlannerError):
    """An input value is impossible (negative traffic, zero GPUs, ...)."""

    def __init__(self, field: str, reason: str):
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


class DoesNotFitError(PlannerError):
    """The model (and its training or serving state) does not fit in GPU memory."""


class InfeasibleError(PlannerError):
    """A target cannot be met on this hardware (e.g. latency below the physical floor)."""


def close_matches(name: str, known: Iterable[str], n: int = 5) -> list[str]:
    """Closest names by edit similarity, then by substring, case-insensitive."""
    known = list(known)
    lower = {k.lower(): k for k in known}
    hits = difflib.get_close_matches(name.lower(), list(lower), n=n, cutoff=0.5)
    out = [lower[h] for h in hits]
    for k in known:
        if len(out) >= n:
            break
        if name.lower() in k.lower() and k not in out:
            out.append(k)
    return out


def require_positive(field: str, value: float, *, allow_zero: bool = False) -> float:
    """Return `value` if it is a finite number > 0 (or >= 0), else raise InputError."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(field, f"must be a number, got {value!r}") from None
    if v != v or v in (float("inf"), float("-inf")):
        raise InputError(field, f"must be finite, got {value!r}")
    if v < 0 or (v == 0 and not allow_zero):
        raise InputError(field, f"must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return v


def require_fraction(field: str, value: float) -> float:
    """Return `value` if 0 < value <= 1, else raise InputError."""
    v = require_positive(field, value)
    if v > 1:
        raise InputError(field, f"must be a fraction in (0, 1], got {value!r}")
    return v
