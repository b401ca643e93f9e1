"""How a pretraining run scales: GPU-hours, days and MFU against the number of GPUs.

Each count is laid out afresh by the layout search, so the curve shows what real scaling shows:
wall-clock falls with more GPUs while GPU-hours rise, as communication and pipeline bubbles
take a larger share of each step.
"""
from __future__ import annotations

from ..core import limits as L
from ..core import validate as V
from ..core.errors import DoesNotFitError, InputError

MAX_COUNTS = 64  # GPU counts in one curve: each is a pretraining estimate with its own layout search


def default_counts(min_gpus: int, largest: int = 16384) -> list[int]:
    """Powers of two from the fewest GPUs that fit (at least 8) up to `largest`."""
    n, out = max(8, 1 << (max(min_gpus, 1) - 1).bit_length()), []
    while n <= largest:
        out.append(n)
        n *= 2
    return out


def pretraining_scaling(*, model, gpu, tokens: float | None = None, gpu_counts=None, **kwargs):
    """One row per GPU count: the chosen layout, predicted MFU, GPU-hours, days and cost (p50 [p10-p90])
    of `planner.pretraining` at that count (other keyword arguments as pretraining's). Counts on which no
    layout fits are left out."""
    import pandas as pd

    from .pretraining import pretraining
    if gpu_counts is not None:  # checked before any estimate: each count runs a layout search (~0.1 s)
        V.instance("gpu_counts", gpu_counts, (list, tuple, range), "a list of GPU counts")
        if not 1 <= len(gpu_counts) <= MAX_COUNTS:
            raise InputError("gpu_counts", f"must list 1 to {MAX_COUNTS} GPU counts, got {len(gpu_counts):,}")
        gpu_counts = [V.whole("gpu_counts", n, 1, L.MAX_GPUS, "GPUs") for n in gpu_counts]
    base = pretraining(model=model, gpu=gpu, tokens=tokens, **kwargs)
    counts = default_counts(base.min_gpus) if gpu_counts is None else list(gpu_counts)
    if not counts or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in counts):
        raise InputError("gpu_counts", f"must be a non-empty list of whole numbers >= 1, got {gpu_counts!r}")
    rows = []
    for n in counts:
        try:
            e = pretraining(model=model, gpu=gpu, tokens=base.tokens, n_gpus=n, **kwargs)
        except DoesNotFitError:
            continue
        rows.append({"n_gpus": n, "layout": e.layout.describe(), "mfu_p50": e.mfu.p50,
                     "gpu_hours_p10": e.gpu_hours.p10, "gpu_hours_p50": e.gpu_hours.p50, "gpu_hours_p90": e.gpu_hours.p90,
                     "wall_days_p10": e.wall_days.p10, "wall_days_p50": e.wall_days.p50, "wall_days_p90": e.wall_days.p90,
                     "cost_usd_p50": e.cost_usd.p50})
    if not rows:
        raise DoesNotFitError(f"{base.model} fits in no layout at any of {counts} x {base.gpu}")
    return pd.DataFrame(rows).set_index("n_gpus")
