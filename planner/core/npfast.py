"""numpy's where, maximum, minimum and ceil, answered on Python numbers when every argument is one.

The estimates' formulas broadcast over arrays (a column per candidate layout), and the same formulas answer
one layout given as Python ints and floats. On numbers, a numpy call costs about 1 us on the development VM
and returns a 0-d array that makes every later operation a numpy call too. These pick or round, they do no
arithmetic, so the answer on numbers is the value numpy gives (as a Python number: an int stays an int where
numpy would make it a float, which no later product, sum or quotient can tell apart). Arguments are finite
(the validation layer refuses NaN), so Python's max and min agree with numpy's.
"""
from __future__ import annotations

import math

import numpy as np

_NUMBER = frozenset((int, float))  # a bool (or a numpy scalar) takes numpy, whose answer keeps its type


def where(condition, a, b):
    """np.where(condition, a, b); `a if condition else b` for a bool and two numbers."""
    if type(condition) is bool and type(a) in _NUMBER and type(b) in _NUMBER:
        return a if condition else b
    return np.where(condition, a, b)


def maximum(a, b):
    """np.maximum(a, b); max(a, b) for two numbers."""
    if type(a) in _NUMBER and type(b) in _NUMBER:
        return max(a, b)
    return np.maximum(a, b)


def minimum(a, b):
    """np.minimum(a, b); min(a, b) for two numbers."""
    if type(a) in _NUMBER and type(b) in _NUMBER:
        return min(a, b)
    return np.minimum(a, b)


def ceil(x):
    """np.ceil(x); the same float for a number."""
    if type(x) in _NUMBER:
        return float(math.ceil(x))
    return np.ceil(x)


def any_(x) -> bool:
    """np.any(x); bool(x) for a number."""
    return bool(x) if type(x) in _NUMBER else np.any(x)


def any_above(x, bound: float) -> bool:
    """np.any(x > bound); x > bound for a number."""
    return x > bound if type(x) in _NUMBER else np.any(np.asarray(x) > bound)


def all_above(x, bound: float) -> bool:
    """np.all(x > bound); x > bound for a number."""
    return x > bound if type(x) in _NUMBER else np.all(np.asarray(x) > bound)
