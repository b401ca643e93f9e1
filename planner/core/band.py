"""`Band`: an uncertain quantity summarised by its 10th, 50th and 90th percentiles.

Arithmetic between Bands assumes the operands are comonotone (driven by the same
uncertain input, e.g. one MFU draw). Then the percentiles of a sum or product of
positive quantities are the sums or products of the percentiles, exactly; for
independent inputs this overstates the spread, which errs on the side of caution.
Division by a Band swaps p10 and p90 (a higher MFU gives fewer GPU-hours).
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np

from . import arguments as A
from . import validate as V
from .errors import InputError, PlannerTypeError, show


@dataclass(frozen=True)
class Band:
    p10: float
    p50: float
    p90: float

    def __post_init__(self):
        for name in ("p10", "p50", "p90"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise PlannerTypeError(f"Band.{name}", f"must be a number, got {type(v).__name__} {show(v)}")
            if isinstance(v, int) and abs(v) > 2**1023:  # past float range: refuse rather than overflow
                raise InputError(f"Band.{name}", f"is too large, got {show(v)}")
            object.__setattr__(self, name, float(v))  # one number type: numpy ints and floats compare safely
        vals = (self.p10, self.p50, self.p90)
        if any(v != v for v in vals):  # infinities are allowed: an unavailable option costs inf
            raise InputError("Band", f"has NaN: {vals}")
        if not self.p10 <= self.p50 <= self.p90:
            # Tolerate float round-off from arithmetic, reject real disorder.
            tol = 1e-9 * max(abs(v) for v in vals) if all(abs(v) < float("inf") for v in vals) else 0.0
            if self.p10 - self.p50 > tol or self.p50 - self.p90 > tol:
                raise InputError("Band", f"percentiles out of order: {vals}")

    @classmethod
    @A.checked()  # the value is checked as p10, p50 and p90 (infinities allowed: an unavailable option costs inf)
    def point(cls, value: float) -> Band:
        """A certain value: all three percentiles equal."""
        return cls(value, value, value)

    @classmethod
    def _sorted(cls, values: list[float]) -> Band:
        """A Band from three Python floats in any order: the estimates' hot path, which skips the checks a
        sorted triple of non-NaN floats passes by construction; anything else takes the checked constructor."""
        if len(values) == 3:
            lo, mid, hi = values
            if type(lo) is float and type(mid) is float and type(hi) is float and lo == lo and mid == mid and hi == hi:
                if lo > mid:  # three compare-and-swaps: sorted(), stable, without its call
                    lo, mid = mid, lo
                if mid > hi:
                    mid, hi = hi, mid
                    if lo > mid:
                        lo, mid = mid, lo
                band = object.__new__(cls)
                band.__dict__.update(p10=lo, p50=mid, p90=hi)  # frozen: set as the dataclass's __init__ does
                return band
        for v in values:
            cls.point(v)  # a non-number or NaN: the checked constructor's error
        return cls(*sorted(values))

    @classmethod
    @A.checked(samples=A.Many(V.Real(), max_size=2**31))  # a Monte Carlo's totals: any finite numbers
    def from_samples(cls, samples) -> Band:
        """The 10th, 50th and 90th percentiles of `samples` (a number or a numpy array, NaN and inf refused)."""
        p10, p50, p90 = np.percentile(np.asarray(samples, dtype=float), [10, 50, 90])
        return cls(float(p10), float(p50), float(p90))

    @property
    def spread(self) -> float:
        """Relative half-width (p90 - p10) / (2 p50); 0 for a point."""
        return 0.0 if self.p50 == 0 else (self.p90 - self.p10) / (2 * abs(self.p50))

    def _combine(self, other, op) -> Band:
        o = _operand(other)
        return Band._sorted([op(self.p10, o.p10), op(self.p50, o.p50), op(self.p90, o.p90)])

    def __add__(self, other) -> Band:
        if type(other) is float and other == other:  # a plain number: no Band built for it (same sums)
            return Band._sorted([self.p10 + other, self.p50 + other, self.p90 + other])
        o = _operand(other)
        return Band._sorted([self.p10 + o.p10, self.p50 + o.p50, self.p90 + o.p90])

    __radd__ = __add__

    def __mul__(self, other) -> Band:
        if type(other) is float and other == other:  # a plain number: no Band built for it (same products)
            return Band._sorted([self.p10 * other, self.p50 * other, self.p90 * other])
        o = _operand(other)
        return Band._sorted([self.p10 * o.p10, self.p50 * o.p50, self.p90 * o.p90])

    __rmul__ = __mul__

    def __truediv__(self, other) -> Band:
        if 0.0 in (other.p10, other.p50, other.p90) if isinstance(other, Band) else _operand(other).p50 == 0.0:
            raise InputError("other", f"a Band is divided by zero: {show(other)}")
        if isinstance(other, Band):
            # x / y with y comonotone: the high x pairs with the high y.
            return Band._sorted([self.p10 / other.p90, self.p50 / other.p50, self.p90 / other.p10])
        return self._combine(other, lambda a, b: a / b)

    def __rtruediv__(self, other: float) -> Band:
        if 0.0 in (self.p10, self.p50, self.p90):
            raise InputError("other", f"divided by a Band that holds zero: {self}")
        _operand(other)
        return Band(*sorted((other / self.p90, other / self.p50, other / self.p10)))

    @A.checked(fn=A.Func())
    def map(self, fn) -> Band:
        """Apply a monotone function to each percentile (increasing or decreasing)."""
        vals = (fn(self.p10), fn(self.p50), fn(self.p90))
        for v in vals:
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise PlannerTypeError("fn", f"must return a number, returned {type(v).__name__} {show(v)}")
        return Band(*sorted(vals))

    @A.checked(value=V.Real())
    def contains(self, value: float) -> bool:
        return self.p10 <= value <= self.p90

    def to_dict(self) -> dict:
        return {"p10": self.p10, "p50": self.p50, "p90": self.p90}

    def __format__(self, spec: str) -> str:
        spec = spec or ".3g"
        return f"{self.p50:{spec}} [{self.p10:{spec}}-{self.p90:{spec}}]"

    def __str__(self) -> str:
        return format(self)


def _operand(other) -> Band:
    """The other side of Band arithmetic: a Band, or a number (NaN refused by Band); else PlannerTypeError."""
    if isinstance(other, Band):
        return other
    if type(other) is float:  # the common case: a plain float needs no type checks (a NaN takes Band's check)
        return Band._sorted([other, other, other])
    if isinstance(other, bool) or not isinstance(other, numbers.Real):
        raise PlannerTypeError("other", f"a Band combines with a number or a Band, got {type(other).__name__} "
                                        f"{show(other)}")
    return Band(other, other, other)
