"""Months as "YYYY-MM": a GPU's launch (gpus.toml), a plan's start and a successor's launch (a scenario's [trends])."""
from __future__ import annotations

import re
from datetime import date

from ..core.errors import InputError, show

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def month_text(name: str, value) -> str:
    """A month as "YYYY-MM" (a TOML date or "YYYY-MM-DD" keeps its month), from 2000-01 to 2100-12."""
    if isinstance(value, date):
        value = value.isoformat()
    if isinstance(value, str) and len(value) == 10:  # a day: it must be a real one
        try:
            value = date.fromisoformat(value).isoformat()[:7]
        except ValueError:
            pass
    m = _MONTH.match(value) if isinstance(value, str) else None
    if m is None or not (2000 <= int(m[1]) <= 2100 and 1 <= int(m[2]) <= 12):
        raise InputError(name, f"must be a month as YYYY-MM from 2000-01 to 2100-12, got {show(value)}", value=value,
                         allowed="a month as YYYY-MM")
    return m[0]


def months_between(start: str, end: str) -> int:
    """Whole months from `start` to `end` (both "YYYY-MM"); negative when `end` is earlier."""
    (y0, m0), (y1, m1) = (map(int, s.split("-")) for s in (start, end))
    return (y1 - y0) * 12 + (m1 - m0)
