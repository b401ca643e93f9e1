"""User-facing errors: every message says what was wrong and what to do instead.

All of them subclass `PlannerError` (a `ValueError`), so edges (CLI, dashboard)
catch one type and print its message instead of a traceback. A value of the wrong
Python type raises `PlannerTypeError`, which is also a `TypeError`.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable

_SHOW_CHARS = 80  # longest value quoted in a message


class PlannerError(ValueError):
    """Base class: the message is meant for the user, not for a debugger."""


class UnknownNameError(PlannerError):
    """A catalog lookup found no entry; the message lists close matches."""

    def __init__(self, kind: str, name: str, known: Iterable[str]):
        self.kind, self.name = kind, name
        self.suggestions = close_matches(name, known)
        hint = f" Did you mean: {', '.join(self.suggestions)}?" if self.suggestions else ""
        super().__init__(f"unknown {kind} {show(name)}.{hint}")


class InputError(PlannerError):
    """An input value is impossible (negative traffic, zero GPUs, ...): names the field, the value and what is allowed."""

    def __init__(self, field: str, reason: str, *, value=None, allowed: str = ""):
        self.field, self.reason, self.value, self.allowed = field, reason, value, allowed
        super().__init__(f"{_text(field)}: {_text(reason)}")


class PlannerTypeError(InputError, TypeError):
    """A value of the wrong Python type (text for a number, a bool for a count, ...)."""


class DoesNotFitError(PlannerError):
    """The model (and its training or serving state) does not fit in GPU memory."""


class InfeasibleError(PlannerError):
    """A target cannot be met on this hardware (e.g. latency below the physical floor)."""


def _text(x) -> str:
    return x if isinstance(x, str) else show(x)


def show(value) -> str:
    """repr(value) cut to a readable length; safe for huge ints (their repr can itself raise)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return f"<an integer of about {int(value.bit_length() * 0.30103)} digits>"
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - a broken __repr__ must not hide the real error
        return f"<a {type(value).__name__}>"
    return text if len(text) <= _SHOW_CHARS else f"{text[:_SHOW_CHARS - 15]}... ({len(text)} chars)"


def close_matches(name: str, known: Iterable[str], n: int = 5) -> list[str]:
    """Closest names by edit similarity, then by substring, case-insensitive."""
    known = list(known)
    name = (name if isinstance(name, str) else show(name))[:200]  # a long name matches nothing: not worth the time
    lower = {k.lower(): k for k in known}
    hits = difflib.get_close_matches(name.lower(), list(lower), n=n, cutoff=0.5)
    out = [lower[h] for h in hits]
    for k in known:
        if len(out) >= n:
            break
        if name and name.lower() in k.lower() and k not in out:
            out.append(k)
    return out

