"""A frozen dataclass field computed when first read: `Deferred` holds the computation, `LazyField` the field.

For a costly part of a result that many callers never read (a serving plan's latency at the peak, one more
simulated run). The field stays a dataclass field: `fields()`, `to_dict()`, `==`, `repr`, `replace`, `copy`
and `pickle` all see the value, computed on the first read and then kept in place of the computation, so a
reader gets exactly what an eager result would hold, whenever it reads. The computation must be pure
(deterministic in its captured inputs): that is what makes computing it later the same as computing it now.
"""
from __future__ import annotations

import threading


def _value(v):
    return v


class Deferred:
    """A pure computation `fn()` run once, on first call (thread-safe: concurrent readers wait for one run)."""

    __slots__ = ("_fn", "_lock", "_done", "_v")

    def __init__(self, fn):
        self._fn, self._lock, self._done, self._v = fn, threading.Lock(), False, None

    def __call__(self):
        if not self._done:
            with self._lock:
                if not self._done:
                    self._v, self._fn, self._done = self._fn(), None, True  # the inputs go once the value is known
        return self._v

    def __reduce__(self):  # pickle and deepcopy hold the value, never the computation (nor its lock)
        return _value, (self(),)


class LazyField:
    """A dataclass field's default that accepts a Deferred as its value: read, it is computed once and kept.

    Stored in the instance's __dict__ under the field's own name, so a dataclass built without __init__
    (core/results.built) reads alike; frozen dataclasses still refuse assignment after construction."""

    def __init__(self, default=None):
        self.default = default

    def __set_name__(self, owner, name):
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:  # the class's access: dataclasses read the field's default here
            return self.default
        v = obj.__dict__.get(self.name, self.default)
        if type(v) is Deferred:
            v = v()
            obj.__dict__[self.name] = v
        return v

    def __set__(self, obj, value):  # only dataclass __init__ gets here on a frozen class (object.__setattr__)
        obj.__dict__[self.name] = value


def is_pending(obj, name: str) -> bool:
    """Whether `obj`'s lazy field `name` has not been computed yet (for tests and timing; reading it would)."""
    v = obj.__dict__.get(name)
    return type(v) is Deferred and not v._done
