"""Shared pieces of the fuzz and property tests: nasty values, a hang guard, a result checker, a counter.

Not a test module (no test_ prefix): test_fuzz.py and test_properties.py import it.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import signal
import time
from collections import Counter

import numpy as np
from hypothesis import HealthCheck, settings

from planner.core.band import Band

CALL_LIMIT_S = 2.0  # no single call may take longer: a hang guard, not a speed test
COUNTS: Counter = Counter()  # boundary -> inputs generated and run


def fuzz_settings(n: int):
    """Deterministic (derandomized) runs of exactly n examples, no deadline (the hang guard times calls)."""
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


class Hang(AssertionError):
    pass


@contextlib.contextmanager
def time_limit(what: str, limit_s: float = CALL_LIMIT_S):
    """Fail if the block runs longer than limit_s: interrupted by SIGALRM if it hangs, checked after if not."""
    def alarm(signum, frame):
        raise Hang(f"{what} ran past {limit_s} s")
    old = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, limit_s + 1.0)
    t0 = time.perf_counter()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    elapsed = time.perf_counter() - t0
    assert elapsed < limit_s, f"{what} took {elapsed:.2f} s (limit {limit_s} s)"


# ---- values a user might type, or a program might pass by mistake ----

def _deep(depth: int, kind: str):
    """A list or dict nested `depth` deep, built without recursion."""
    obj = 1
    for _ in range(depth):
        obj = [obj] if kind == "list" else {"a": obj}
    return obj


NASTY_FLOATS = [math.nan, math.inf, -math.inf, -1.0, -1e-300, 0.0, -0.0, 1e-320, 1e300, 1e16, 1e13, 1.5, 0.5,
                2.0**63, 7e8, 1e-3, 3.0]
NASTY_INTS = [0, -1, -5, 1, 2, 8, 2**31, 2**63, 2**64 + 1, 10**20, 10**400, 10**5000, 100_000_000]
NASTY_TEXT = ["", " ", "nan", "inf", "-5", "1e300", "none", "None", "yes", "\x00", "a\x00b",
              "<img src=x onerror=alert(1)>", "# heading\n| a |", "x" * 10_000, "\ud800", "../../etc/passwd",
              "/dev/zero", "/tmp", "H100 SXM", "Llama-3.1-8B", "bf16", "lora", "gpt-4o-mini"]
NUMPY = [np.float64("nan"), np.float32(3.5), np.int64(-3), np.int64(5), np.bool_(True), np.float64(1e300),
         np.array([1.0, 2.0])]
SCALARS = [*NASTY_FLOATS, *NASTY_INTS, *NASTY_TEXT, *NUMPY, True, False, None, b"bytes", 1 + 2j, object()]
CONTAINERS = [[], [1, 2], ["a"], {}, {"a": 1}, {"dist": "point"}, (1,), {1, 2}, _deep(40, "list"),
              _deep(3000, "list"), _deep(40, "dict"), _deep(3000, "dict")]
NASTY = SCALARS + CONTAINERS


def nasty(rnd):
    """One nasty value; a random float or int now and then, so the pool is not all there is."""
    k = rnd.random()
    if k < 0.1:
        return rnd.uniform(-1e6, 1e6) * 10 ** rnd.randint(-10, 10)
    if k < 0.15:
        return rnd.randint(-(10**9), 10**9)
    return rnd.choice(NASTY)


# ---- results: finite, ordered, no negative cost ----

_NOT_COSTS = ("saving", "gap", "change", "swing", "delta")


def _is_cost(name: str) -> bool:
    return ("usd" in name or "cost" in name) and not any(w in name for w in _NOT_COSTS)


def check_result(obj, path: str = "result", cost: bool = False) -> None:
    """Every number finite and every cost >= 0, Bands ordered; an unavailable option (documented inf/NaN
    markers, null in JSON) is skipped. Walks dataclasses, Bands, dicts, sequences and arrays."""
    stack = [(obj, path, cost)]
    while stack:
        o, p, c = stack.pop()
        if isinstance(o, Band):
            assert o.p10 <= o.p50 <= o.p90 or math.isclose(o.p10, o.p90, rel_tol=1e-9), f"{p}: Band out of order {o}"
            stack += [(o.p10, f"{p}.p10", c), (o.p50, f"{p}.p50", c), (o.p90, f"{p}.p90", c)]
        elif dataclasses.is_dataclass(o) and not isinstance(o, type):
            if getattr(o, "available", True) is False:
                continue  # an unavailable option: inf total, NaN per request, by design
            stack += [(getattr(o, f.name), f"{p}.{f.name}", c or _is_cost(f.name)) for f in dataclasses.fields(o)
                      if f.compare or f.name in ("samples_usd",)]
        elif isinstance(o, dict):
            stack += [(v, f"{p}[{k!r}]", c or _is_cost(str(k))) for k, v in o.items()]
        elif isinstance(o, (list, tuple)):
            stack += [(v, f"{p}[{i}]", c) for i, v in enumerate(o)]
        elif isinstance(o, np.ndarray) and o.dtype.kind == "f":
            assert np.all(np.isfinite(o)), f"{p}: non-finite values in an array"
            assert not c or np.all(o >= 0), f"{p}: negative cost in an array"
        elif isinstance(o, int) and not isinstance(o, bool):
            assert abs(o) < 2**1023, f"{p}: an integer past float range"
            assert not c or o >= 0, f"{p} = {o}: a negative cost"
        elif isinstance(o, (float, np.floating, np.integer)):
            assert math.isfinite(o), f"{p} = {o}: not finite"
            assert not c or o >= 0, f"{p} = {o}: a negative cost"
