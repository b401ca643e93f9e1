"""Where a number came from: sources on catalog entries, assumptions on estimates."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Source:
    """A citation: where a number was read and when that was checked (ISO date)."""

    url: str
    checked: str
    note: str = ""

    def __str__(self) -> str:
        note = f"; {self.note}" if self.note else ""
        return f"{self.url} (checked {self.checked}{note})"


@dataclass(frozen=True)
class Assumption:
    """One input or default an estimate used, for the report's assumptions table."""

    name: str
    value: object
    unit: str
    source: str

    def to_dict(self) -> dict:
        return asdict(self)
