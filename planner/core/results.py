"""Shared behaviour of result dataclasses: a plain-dict view and a pandas view."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from .band import Band


def built(cls, **fields):
    """A frozen dataclass of every one of its fields, already the right types, set as its __init__ sets them but
    without the per-field object.__setattr__ calls (an estimate's hot path); a field left out: the constructor."""
    if len(fields) != len(cls.__dataclass_fields__) or hasattr(cls, "__post_init__"):  # checks to run: as built
        return cls(**fields)
    out = object.__new__(cls)
    out.__dict__.update(fields)
    return out


def as_plain(obj):
    """Recursively turn dataclasses, Bands, numpy values and tuples into JSON-ready data (non-finite -> None)."""
    if isinstance(obj, Band):
        return as_plain(obj.to_dict())  # an unavailable option's Band holds inf
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: as_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): as_plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [as_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return [as_plain(v) for v in obj.tolist()]
    if isinstance(obj, np.generic):
        return as_plain(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None  # JSON has no NaN or infinity: an unavailable option's cost is null

    return obj


class ResultMixin:
    """Mixed into frozen result dataclasses: `to_dict()` and `to_frame()`."""

    def to_dict(self) -> dict:
        return as_plain(self)

    def to_frame(self) -> pd.DataFrame:
        """One row per numeric quantity: p10, p50, p90 (equal for certain numbers)."""
        rows = []
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, Band):
                rows.append((f.name, v.p10, v.p50, v.p90))
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                rows.append((f.name, v, v, v))
        return pd.DataFrame(rows, columns=["quantity", "p10", "p50", "p90"]).set_index("quantity")

    def assumptions_frame(self) -> pd.DataFrame:
        items = getattr(self, "assumptions", ())
        return pd.DataFrame([a.to_dict() for a in items], columns=["name", "value", "unit", "source"])
