"""Checks on the arguments of functions and methods (those on returned objects too): one decorator.

`@checked(arg=check, ...)` runs the checks of `validate` (Real, Whole, Text, ...) and those here
(`Many`: a number or a numpy array of them; `Kind`: an instance of a class; `Func`: a function)
on the named arguments before the body runs and passes the clean values on; an unknown, missing
or extra argument is a PlannerTypeError too. So `Comparison.cost_vs_traffic`, `ApiPrice.cost_usd`
and the rest refuse bad input the way the public functions do.
"""
from __future__ import annotations

import functools
import inspect
import math
import numbers
import sys
from dataclasses import dataclass

from . import limits
from .errors import InputError, PlannerTypeError, show
from .validate import Real, _is_bool, _type_error, _within, instance


@dataclass(frozen=True)
class Many:
    """One number (back as a float) or a numpy array of numbers (back as floats), each passing `each`.

    A list or tuple is refused, not guessed at: its items may be anything ("1e4", True, [2]) and
    numpy would read "1e4" as a number. Pass np.asarray(values) to sweep.
    """

    each: Real
    max_size: int = limits.MAX_GRID_POINTS
    optional: bool = False
    max_ndim: int = 8

    def allowed(self) -> str:
        return f"{self.each.allowed()}, or a numpy array of such numbers (1 to {self.max_size:,} of them)" \
            + (" or none" if self.optional else "")

    def __call__(self, name: str, value):
        if value is None and self.optional:
            return None
        np = sys.modules.get("numpy")
        if np is None or not isinstance(value, np.ndarray):
            if _is_bool(value) or not isinstance(value, numbers.Real):
                raise _type_error(name, value, self.allowed())
            return self.each(name, value)
        if type(value) is not np.ndarray or value.dtype.kind not in "iuf":  # bool, complex, text, object, masked
            raise _type_error(name, value, self.allowed() + f" (got dtype {value.dtype})")
        if value.ndim == 0:
            return self.each(name, value.item())
        if not 0 < value.size <= self.max_size or value.ndim > self.max_ndim:
            raise InputError(name, f"must be {self.allowed()} in at most {self.max_ndim} dimensions, got an array of "
                                   f"shape {value.shape}", value=value, allowed=self.allowed())
        arr = np.asarray(value, dtype=float)
        lo, hi = float(arr.min()), float(arr.max())  # one pass each; a NaN anywhere makes both NaN
        if not (_within(self.each, lo) and _within(self.each, hi)):
            i = next(i for i, v in np.ndenumerate(arr) if not _within(self.each, v))  # the first bad one, to name it
            raise InputError(name, f"must be {self.allowed()}; {name}[{', '.join(map(str, i))}] is {show(value[i].item())}",
                             value=value, allowed=self.allowed())
        return arr + 0.0 if lo == 0.0 else arr  # -0.0 -> 0.0


@dataclass(frozen=True)
class Kind:
    """An instance of `kinds` (a class or a tuple of them), returned as it is; `expected` names it."""

    kinds: type | tuple[type, ...]
    expected: str
    optional: bool = False

    def allowed(self) -> str:
        return self.expected + (" or none" if self.optional else "")

    def __call__(self, name: str, value):
        return None if value is None and self.optional else instance(name, value, self.kinds, self.allowed())


@dataclass(frozen=True)
class Func:
    """Something callable (a function, a lambda, a class such as float)."""

    def __call__(self, name: str, value):
        return value if callable(value) else instance(name, value, (), "a function")


def checked(**checks):
    """Decorator: run `checks` (argument name -> check) on a function's or method's arguments before its
    body and pass the clean values on; an unknown, missing or extra argument is a PlannerTypeError too."""
    def wrap(fn):
        sig = inspect.signature(fn)
        unknown = set(checks) - set(sig.parameters)
        if unknown:
            raise TypeError(f"checked: {fn.__qualname__} has no argument {', '.join(sorted(unknown))}")  # a typo here

        params = list(sig.parameters.values())
        positional = all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)
        at = [(i, p.name, checks[p.name]) for i, p in enumerate(params) if p.name in checks]

        @functools.wraps(fn)
        def inner(*args, **kwargs):
            if positional and not kwargs and len(args) == len(params):  # every argument given in order: no bind
                args = list(args)
                for i, name, check in at:
                    args[i] = check(name, args[i])
                return fn(*args)
            try:
                bound = sig.bind(*args, **kwargs)
            except TypeError as e:
                names = ", ".join(p for p in sig.parameters if p not in ("self", "cls"))
                raise PlannerTypeError(fn.__qualname__, f"{e} (arguments: {names})") from None
            given = bound.arguments
            for name, check in checks.items():
                if name in given:
                    given[name] = check(name, given[name])
            return fn(*bound.args, **bound.kwargs)
        return inner
    return wrap


def broadcast(name: str, *values, max_size: int = limits.MAX_GRID_POINTS) -> tuple[int, ...]:
    """The shape numpy broadcasts `values` (numbers or arrays) to; refused where they do not fit or it is too big."""
    try:
        shape = sys.modules["numpy"].broadcast_shapes(*(sys.modules["numpy"].shape(v) for v in values))
    except ValueError:
        raise InputError(name, "are arrays of shapes that do not broadcast together") from None
    if math.prod(shape) > max_size:
        raise InputError(name, f"broadcast to {math.prod(shape):,} values; at most {max_size:,}")
    return shape
