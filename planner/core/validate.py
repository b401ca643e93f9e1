"""The one validation layer: small checks that return a clean value or raise a PlannerError.

Every check names the field, quotes the value and says what is allowed:

    self_host.ops_engineers: must be a number in [0, 1e+06] (FTE) or none, got -5

Numbers are Python or numpy ints and floats; a bool is not a number, text is not a
number (`PlannerTypeError`, also a TypeError). NaN, infinities and values past the
bounds in `limits.py` are refused before any work starts.

The checks are frozen objects (`Real`, `Whole`, `Flag`, `Text`, `Choice`, `IsoDate`), so a
dataclass can carry one in each field's metadata (`knob`) and `check_fields` runs them
all: adding a validated field is one line. A function's or method's arguments take the same
checks through `arguments.checked` (core/arguments.py).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from . import limits
from .errors import InputError, PlannerTypeError, close_matches, show

NONE = "none"  # how a scenario file writes "no value" (TOML has no null)


def _g(x: float) -> str:
    return f"{x:g}"


def _is_bool(value) -> bool:
    np = sys.modules.get("numpy")
    return isinstance(value, bool) or (np is not None and isinstance(value, np.bool_))


def _type_error(name: str, value, expected: str) -> PlannerTypeError:
    return PlannerTypeError(name, f"must be {expected}, got {type(value).__name__} {show(value)}",
                            value=value, allowed=expected)


@dataclass(frozen=True)
class Real:
    """A finite real number in [lo, hi] (lo excluded when lo_open); optionally None."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    unit: str = ""
    optional: bool = False

    def allowed(self) -> str:
        lo = "-inf" if self.lo is None else _g(self.lo)
        hi = "inf" if self.hi is None else _g(self.hi)
        text = f"a number in {'(' if self.lo_open else '['}{lo}, {hi}]" + (f" ({self.unit})" if self.unit else "")
        return text + (" or none" if self.optional else "")

    def __call__(self, name: str, value) -> float | None:
        if type(value) is float:  # the common cases skip the abstract-class checks below (a few us each)
            v = value
        else:
            if value is None and self.optional:
                return None
            if type(value) is not int and (_is_bool(value) or not isinstance(value, numbers.Real)):
                raise _type_error(name, value, self.allowed())
            try:
                v = float(value)
            except (OverflowError, ValueError):  # an int past 1.8e308
                v = math.inf if value > 0 else -math.inf
        if not _within(self, v):
            raise InputError(name, f"must be {self.allowed()}, got {show(value)}", value=value, allowed=self.allowed())
        return v + 0.0  # -0.0 -> 0.0


def _within(e: Real, v: float) -> bool:
    return math.isfinite(v) and (e.lo is None or v > e.lo or (v == e.lo and not e.lo_open)) and (e.hi is None or v <= e.hi)


@dataclass(frozen=True)
class Whole:
    """An integer in [lo, hi]; an integral float (8.0, 1e5) is accepted and returned as int."""

    lo: int = 0
    hi: int = 2**63 - 1
    unit: str = ""
    optional: bool = False

    def allowed(self) -> str:
        text = f"a whole number in [{self.lo:,}, {self.hi:,}]" + (f" ({self.unit})" if self.unit else "")
        return text + (" or none" if self.optional else "")

    def __call__(self, name: str, value) -> int | None:
        if type(value) is int:  # the common case skips the abstract-class checks below
            if not self.lo <= value <= self.hi:
                raise InputError(name, f"must be {self.allowed()}, got {show(value)}", value=value,
                                 allowed=self.allowed())
            return value
        if value is None and self.optional:
            return None
        if _is_bool(value) or not isinstance(value, numbers.Real):
            raise _type_error(name, value, self.allowed())
        if not isinstance(value, numbers.Integral):
            f = float(value)
            if not (math.isfinite(f) and f.is_integer()):
                raise InputError(name, f"must be {self.allowed()}, got {show(value)}", value=value,
                                 allowed=self.allowed())
            value = int(f)
        v = int(value)
        if not self.lo <= v <= self.hi:
            raise InputError(name, f"must be {self.allowed()}, got {show(v)}", value=value, allowed=self.allowed())
        return v


@dataclass(frozen=True)
class Flag:
    """True or False (numpy bools too); 0, 1 and "yes" are not flags."""

    def allowed(self) -> str:
        return "true or false"

    def __call__(self, name: str, value) -> bool:
        if not _is_bool(value):
            raise _type_error(name, value, self.allowed())
        return bool(value)


@dataclass(frozen=True)
class Text:
    """Text of at most max_chars characters: one line unless multiline; never lone surrogates or NULs."""

    max_chars: int = limits.MAX_NAME_CHARS
    multiline: bool = False
    empty: bool = True
    optional: bool = False

    def allowed(self) -> str:
        what = "text" if self.multiline else "one line of text"
        return f"{'non-empty ' if not self.empty else ''}{what} of at most {self.max_chars:,} characters" \
            + (" or none" if self.optional else "")

    def __call__(self, name: str, value) -> str | None:
        if value is None and self.optional:
            return None
        if not isinstance(value, str):
            raise _type_error(name, value, self.allowed())
        v = value.replace("\r\n", "\n").replace("\r", "\n") if self.multiline else value
        bad = _bad_char(v, self.multiline)
        if len(v) > self.max_chars or (not self.empty and not v.strip()) or bad:
            why = f"contains the control character {bad!r}" if bad else f"got {show(value)}"
            raise InputError(name, f"must be {self.allowed()}; {why}", value=value, allowed=self.allowed())
        return v


def _bad_char(text: str, multiline: bool) -> str:
    """The first character a name or description may not hold (controls, line separators, lone surrogates), else ''."""
    if text.isprintable():  # no control, separator or surrogate character (each is unprintable): skip the loop
        return ""
    allowed = "\n\t\u2028\u2029" if multiline else "\t"
    for ch in text:
        if (ch < " " or "\x7f" <= ch <= "\x9f" or ch in "\u2028\u2029" or "\ud800" <= ch <= "\udfff") \
                and ch not in allowed:
            return ch
    return ""


@dataclass(frozen=True)
class Choice:
    """One of a fixed set of names, case-insensitive; returned in the set's spelling."""

    options: tuple[str, ...]
    optional: bool = False

    def allowed(self) -> str:
        return "one of " + ", ".join(self.options) + (" or none" if self.optional else "")

    def __call__(self, name: str, value) -> str | None:
        if value is None and self.optional:
            return None
        if not isinstance(value, str):
            raise _type_error(name, value, self.allowed())
        for o in self.options:
            if value.strip().lower() == o.lower():
                return o
        near = close_matches(value, self.options)
        hint = f"; did you mean {', '.join(near)}?" if near else ""
        raise InputError(name, f"must be {self.allowed()}, got {show(value)}{hint}", value=value,
                         allowed=self.allowed())


@dataclass(frozen=True)
class IsoDate:
    """A calendar date written as ISO text (YYYY-MM-DD), between 2000-01-01 and 2100-12-31; returned as text."""

    optional: bool = False

    def allowed(self) -> str:
        return "a date as YYYY-MM-DD from 2000-01-01 to 2100-12-31" + (" or none" if self.optional else "")

    def __call__(self, name: str, value) -> str | None:
        from datetime import date
        if value is None and self.optional:
            return None
        if isinstance(value, date):  # TOML reads an unquoted date as a datetime.date
            value = value.isoformat()
        if not isinstance(value, str):
            raise _type_error(name, value, self.allowed())
        try:
            day = date.fromisoformat(value.strip()) if len(value) <= 10 else None
        except ValueError:
            day = None
        if day is None or not date(2000, 1, 1) <= day <= date(2100, 12, 31):
            raise InputError(name, f"must be {self.allowed()}, got {show(value)}", value=value,
                             allowed=self.allowed())
        return day.isoformat()


# ---- one-call helpers for function arguments ----

# The one-call helpers build each check once (frozen, so shared): a check object costs more to build than to run.
_real, _whole, _text = (functools.lru_cache(maxsize=512, typed=True)(c) for c in (Real, Whole, Text))


def number(name: str, value, *, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
           unit: str = "") -> float:
    return _real(lo, hi, lo_open, unit)(name, value)


def positive(name: str, value, hi: float | None = None, unit: str = "") -> float:
    """A finite number > 0 (and <= hi)."""
    return _real(0.0, hi, True, unit)(name, value)


def nonnegative(name: str, value, hi: float | None = None, unit: str = "") -> float:
    return _real(0.0, hi, False, unit)(name, value)


def fraction(name: str, value) -> float:
    """0 < value <= 1."""
    return _real(0.0, 1.0, True)(name, value)


def require_positive(field: str, value, *, allow_zero: bool = False) -> float:
    """A finite number > 0 (or >= 0 with allow_zero), as a float."""
    return _real(0.0, None, not allow_zero)(field, value)


require_fraction = fraction


def whole(name: str, value, lo: int = 1, hi: int = 2**63 - 1, unit: str = "") -> int:
    return _whole(lo, hi, unit)(name, value)


def flag(name: str, value) -> bool:
    return _FLAG(name, value)


_FLAG = Flag()


def name_text(name: str, value, *, optional: bool = False) -> str | None:
    """A catalog or user name: one non-empty line of at most MAX_NAME_CHARS."""
    if value is None and optional:
        return None
    if type(value) is str and len(value) <= limits.MAX_NAME_CHARS and value.isprintable() and not value.isspace() \
            and value:  # what the Text check passes, without building its key (asked several times per estimate)
        return value
    return (_NAME_OPTIONAL if optional else _NAME)(name, value)


_NAME, _NAME_OPTIONAL = Text(limits.MAX_NAME_CHARS, empty=False), Text(limits.MAX_NAME_CHARS, empty=False, optional=True)


def one_of(name: str, value, options) -> str:
    return Choice(tuple(options))(name, value)


def instance(name: str, value, kinds: type | tuple[type, ...], expected: str):
    """`value` if it is an instance of `kinds`, else PlannerTypeError naming what was expected."""
    if not isinstance(value, kinds):
        raise _type_error(name, value, expected)
    return value


def factor(name: str, value, lo: float = 1.0, hi: float = limits.MAX_OVERHEAD_FACTOR):
    """A multiplier given as a number or a Band (p10/p50/p90), every percentile in [lo, hi]."""
    band = sys.modules.get(f"{__package__}.band")  # not imported: band.py checks its arguments with this module
    if band is not None and isinstance(value, band.Band):
        for v in (value.p10, value.p90):
            number(name, v, lo=lo, hi=hi, unit="x")
        return value
    return number(name, value, lo=lo, hi=hi, unit="x")


def spec_or_name(name: str, value, spec_type: type):
    """A catalog name (text) or a spec object of `spec_type` (ModelSpec, GPUSpec)."""
    if isinstance(value, spec_type):
        return value
    return name_text(name, value) if isinstance(value, str) else instance(
        name, value, spec_type, f"a name or a {spec_type.__name__}")


def path(name: str, value) -> Path:
    """A file-system path given as text or os.PathLike: no NUL byte, not empty, at most MAX_PATH_CHARS."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str):
        raise _type_error(name, value, "a file path (text or pathlib.Path)")
    if not value or "\x00" in value or len(value) > limits.MAX_PATH_CHARS or _bad_char(value, False):
        raise InputError(name, f"is not a usable file path: {show(value)} (empty, too long or holding control "
                               "characters)", value=value, allowed="a file path")
    return Path(value)


# ---- dataclass fields carrying their check ----

def knob(default, check, doc: str = ""):
    """A dataclass field whose value `check_fields` validates; `doc` says what it means (with units)."""
    return dataclasses.field(default=default, metadata={"check": check, "doc": doc})


def check_fields(obj, section: str) -> None:
    """Validate every `knob` field of a (frozen) dataclass in place, naming fields `section.field`."""
    for f in dataclasses.fields(obj):
        check = f.metadata.get("check")
        if check is not None:
            object.__setattr__(obj, f.name, check(f"{section}.{f.name}" if section else f.name, getattr(obj, f.name)))


def replace(obj, changes: dict, what: str):
    """dataclasses.replace, with an unknown field name refused (naming the known ones) instead of a bare TypeError."""
    known = [f.name for f in dataclasses.fields(obj) if f.init]
    for key in changes:
        if key not in known:
            near = close_matches(str(key), known)
            raise PlannerTypeError(f"{what}.{key}", "is not a field" + (f"; did you mean {', '.join(near)}?" if near
                                                                        else f"; fields: {', '.join(known)}"))
    return dataclasses.replace(obj, **changes)


def describe(cls) -> list[tuple[str, str, str]]:
    """(field, allowed values, meaning) for every `knob` of a dataclass: the reference table of a section."""
    return [(f.name, f.metadata["check"].allowed(), f.metadata.get("doc", ""))
            for f in dataclasses.fields(cls) if "check" in f.metadata]
