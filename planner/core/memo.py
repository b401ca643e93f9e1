"""`by_identity`: a cache for pure functions of objects that are immutable in use but unhashable.

Catalog specs, engine profiles and efficiencies hold dicts, and Kernels hold numpy arrays, so
functools.lru_cache cannot key on them; they are built once and never changed, so their identity
is as good a key (and cheaper than hashing a 30-field spec). Numbers, text and None key by value.
The cache holds the arguments it keyed on, so an id cannot be reused by another object while the
entry lives. For the estimates' sub-lookups (kernels of a GPU at a precision, an engine's setup on a
GPU, a replica's assumptions): never a public call's whole answer.
"""
from __future__ import annotations

import functools

_BY_VALUE = frozenset((str, int, float, bool, type(None)))


def by_identity(maxsize: int = 256):
    """Decorator: cache `fn(*args)` (calls with keyword arguments are not cached) keyed on the value of each number, text or
    None argument and the identity of every other; at `maxsize` entries the cache starts again."""
    def wrap(fn):
        cache: dict = {}

        @functools.wraps(fn)
        def inner(*args, **kwargs):
            if kwargs:  # keyword calls are rare here: answered uncached rather than keyed on a dict
                return fn(*args, **kwargs)
            key = tuple([a if type(a) is str else (type(a), a) if type(a) in _BY_VALUE else id(a)  # by type: 1,
                         for a in args])  # 1.0 and True are equal keys otherwise; text never equals an id
            hit = cache.get(key)
            if hit is not None:
                return hit[1]
            out = fn(*args)
            if len(cache) >= maxsize:
                cache.clear()
            cache[key] = (args, out)  # holds the arguments: their ids stay theirs while the entry lives
            return out
        inner.cache_clear = cache.clear
        inner.cache_size = cache.__len__  # entries held (a test checks that repeated estimates add none)
        return inner
    return wrap
