"""One-time spends grouped by their phase: spends over the same months (equal fixed months, or the same arrays of
sampled months) are costed as one. costmodel.paid_by and the Monte Carlo's months-first pass (uncertainty/rows.py)
share this grouping."""
from __future__ import annotations

import numpy as np


def spend_phases(spends) -> tuple[list, list]:
    """Spends over the same phase summed as one: (phases with fixed months, phases with sampled months), each a list
    of (start, end, usd summed); paid_by and the Monte Carlo's months-first pass (uncertainty/rows.py) cost them."""
    phases = {}  # (start, end) -> [start, end, usd summed]
    for s in spends:
        key = (_phase_key(s.start_month), _phase_key(s.end_month))
        if key in phases:
            phases[key][2] = phases[key][2] + np.asarray(s.usd, dtype=float)
        else:
            phases[key] = [s.start_month, s.end_month, np.asarray(s.usd, dtype=float)]
    fixed = [(a, b, usd) for a, b, usd in phases.values() if np.ndim(a) == 0 and np.ndim(b) == 0]
    return fixed, [(a, b, usd) for a, b, usd in phases.values() if np.ndim(a) or np.ndim(b)]


def _phase_key(month):
    """A phase's month as a dict key: its value when fixed, the array itself (by identity) when sampled."""
    return float(month) if np.ndim(month) == 0 else ("sampled", id(month))
