"""One Monte Carlo chunk's array pass with months along the first axis (months x samples): each option's
cumulative curve, totals, $/request and crossing months.

The cost formulas are decide/costmodel.py's own: they broadcast, so with the months a column (months, 1) and
each sampled input a row (samples,), every monthly cost comes out (months, samples). What this layout buys (issue
23, the Monte Carlo's 1M samples/s): the running cost is summed a contiguous row at a time, the spends over fixed
phases are one matrix product, and a crossing's first month is a maximum down the rows; the chunks can be larger
(CHUNK) with the arrays still in cache. chunks.py's (samples x months) pass is the reference the tests hold this
equal to.
"""
from __future__ import annotations

import numpy as np

from ..decide.costmodel import _share_paid, before_production, one_time_spends
from ..decide.phases import _phase_key, spend_phases  # noqa: F401  (_phase_key: tests/test_montecarlo_rows.py)
from .chunks import total_requests


def chunk_results(engine, values: dict[str, np.ndarray], n: int, work: dict | None = None, wanted=None):
    """Totals (n, options), all-in $/request (n, options) and the pairwise crossing months {(a, b): (n,)} for one
    chunk of n samples (engine: montecarlo's Engine; values: the chunk's sampled columns). work: the curves' and
    crossings' (months x samples) arrays, kept by the caller from chunk to chunk (a fresh array of that size costs
    more in page faults than the arithmetic on it); nothing returned is a view of them. wanted: the pairs whose
    crossing months to compute (None: all)."""
    work = {} if work is None else work
    v = engine.values(values, (-1,))
    months = engine.months[:, None]  # (T, 1)
    models, bridge, api_monthly, requests = engine.models(v, months)
    cums = {}
    for key, model in models.items():
        monthly = api_monthly if key == "api" else \
            fleet_monthly(model, requests, months, v["workload.peak_to_mean"], bridge, api_monthly)
        cums[key] = cumulative_rows(one_time_spends(model), monthly, n, _buffer(work, key, (len(months) + 1, n)),
                                    _buffer(work, "share", (len(months) + 1, n)))
    totals = np.stack([c[-1] for c in cums.values()], axis=1)
    served = total_requests(v["workload.requests_per_day"], v["workload.monthly_growth"], engine.months)
    per_request = totals / np.reshape(served, (-1, 1))
    keys = engine.keys
    d = _buffer(work, "difference", (len(months) + 1, n))
    pairs = {(a, b): crossing_rows(cums[a], cums[b], d) for i, a in enumerate(keys) for b in keys[i + 1:]
             if wanted is None or (a, b) in wanted}
    return totals, per_request, pairs


def _buffer(work: dict, name: str, shape: tuple) -> np.ndarray:
    """work's array for `name` of this shape (kept there), not zeroed."""
    if (name, shape) not in work:
        work[(name, shape)] = np.empty(shape)
    return work[(name, shape)]


def fleet_monthly(model, requests, months, peak_to_mean, bridge, bridge_monthly) -> np.ndarray:
    """costmodel.monthly_costs of a fleet, months first: the months before production (the bridge's, or nothing)
    are costed on the rows before the latest sample's production only; the months are 0 .. T - 1."""
    own = model._monthly(requests, peak_to_mean, months)
    early = min(int(np.ceil(np.max(model.months_to_production))), own.shape[0])  # month m < production: m < early
    if early:
        head = before_production(model, own[:early], requests[:early], months[:early], bridge,
                                 None if bridge_monthly is None else bridge_monthly[:early])
        if head.shape[1:] != own.shape[1:]:  # own a point (no traffic input sampled), production sampled
            own = np.broadcast_to(own, (own.shape[0],) + head.shape[1:]).copy()
        own[:early] = head
    return own


def cumulative_rows(spends, monthly, n: int, out: np.ndarray | None = None,
                    scratch: np.ndarray | None = None) -> np.ndarray:
    """costmodel.cumulative with months first: (T + 1, n), row 0 what is paid at t = 0, row k + 1 at the end of
    month k (one-time spends paid over their phases, after the horizon counted at its end); in `out` if given
    (scratch: paid_rows' working array)."""
    monthly = np.broadcast_to(monthly, (monthly.shape[0], n))
    out, steps = paid_rows(spends, monthly.shape[0], n, out, scratch)
    running = np.zeros(n)  # the spends already paid in full, plus the running cost paid so far
    for k in range(monthly.shape[0] + 1):  # a contiguous row at a time
        if k in steps:
            running += steps[k]
        if k:
            running += monthly[k - 1]
        out[k] += running
    return out


def paid_rows(spends, horizon_months: int, n: int, out: np.ndarray | None = None,
              scratch: np.ndarray | None = None) -> tuple[np.ndarray, dict]:
    """costmodel.paid_by with months first, as (rows, steps): paid by t = 0 .. horizon_months is rows[t] plus every
    steps[k] with k <= t (spends paid in full from row k on; at the horizon's end every spend counts in full).

    Spends over one phase are summed first; the phases with fixed months are one (T + 1, phases) @ (phases, n)
    product (one phase: the outer product, which is what the matrix product is with one term); a phase with
    sampled months is costed on the rows where some sample is part-way through it only, in `scratch` ((T + 1, n),
    kept by the caller; else a new array)."""
    T = horizon_months
    fixed, sampled = spend_phases(spends)
    out = np.empty((T + 1, n)) if out is None else out
    steps = {}
    if not fixed:
        out[...] = 0.0
    else:
        t = np.arange(T + 1, dtype=float)[:, None]
        shares = np.asarray(_share_paid(t, np.array([a for a, _, _ in fixed]), np.array([b for _, b, _ in fixed])),
                            dtype=float)  # (T + 1, phases)
        shares[-1] = 1.0  # after the horizon: counted at its end
        if len(fixed) == 1:
            np.multiply(shares, np.broadcast_to(fixed[0][2], (n,)), out=out)
        else:
            np.matmul(shares, np.stack([np.broadcast_to(usd, (n,)) for _, _, usd in fixed]), out=out)
    for a, b, usd in sampled:
        a, b = np.broadcast_arrays(np.reshape(a, -1), np.reshape(b, -1))
        # rows t <= min(a) pay none of it; rows t >= max(b) (and the last) all of it: a step, added by the caller
        first, full = max(int(np.floor(a.min())), 0), min(int(np.ceil(max(a.max(), b.max()))), T)
        if first < full:
            _add_paid(out[first:full], np.arange(first, full, dtype=float)[:, None], a, b, np.reshape(usd, -1),
                      None if scratch is None else scratch[:full - first])
        steps[full] = steps[full] + usd if full in steps else np.broadcast_to(usd, (n,)).copy()
    return out, steps


def _add_paid(rows: np.ndarray, t: np.ndarray, a: np.ndarray, b: np.ndarray, usd: np.ndarray, scratch=None):
    """rows += costmodel._share_paid(t, a, b) x usd, in place: the share's steps (a lump: t >= a) add usd where
    they are 1 (x 1 is usd, + 0 x usd is nothing: usd is finite); a ramp's share is built in `scratch`."""
    width = np.maximum(b - a, 0.0)
    ramp = width > 0
    if not ramp.any():  # usd x the step (0 or 1: usd or +0), not a masked add (4x slower on these arrays)
        rows += np.multiply(usd, t >= a)
        return
    share = np.subtract(t, a, out=np.empty(rows.shape) if scratch is None else scratch)
    with np.errstate(over="ignore"):  # a phase too short for float resolution: +-inf, clipped to a step
        share /= np.where(ramp, width, 1.0)
    np.clip(share, 0.0, 1.0, out=share)
    if not ramp.all():
        np.copyto(share, t >= a, where=~ramp)
    share *= usd
    rows += share


def crossing_rows(cum_a: np.ndarray, cum_b: np.ndarray, d: np.ndarray | None = None) -> np.ndarray:
    """crossing.crossing_months with months first ((T + 1, n) curves): the month A falls to B, else B to A,
    interpolated within the month; NaN: never. d: where to put their difference (else a new array)."""
    d = np.subtract(cum_a, cum_b, out=d)
    above, below = d > 0, d < 0
    months = d.shape[0] - 1
    j_down, j_up = _first_step(above, months), _first_step(below, months)  # d is never NaN: its inputs are checked
    any_down = j_down < months
    crossed = any_down | (j_up < months)
    j = np.where(any_down, j_down, np.minimum(j_up, months - 1))
    flat = d.reshape(-1)  # d is contiguous (made by the subtraction): a view
    at = j.astype(np.intp) * d.shape[1] + np.arange(d.shape[1])  # d[j, column] in flat: 2x faster than d[j, cols]
    d0, d1 = flat[at], flat[at + d.shape[1]]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(crossed, j + d0 / (d0 - d1), np.nan)


def _first_step(mask: np.ndarray, none: int) -> np.ndarray:
    """The first row k where each column of `mask` (rows, n) steps from True to False (row k True, k + 1 not);
    `none` where it never does. A mask true nowhere or everywhere, or with no such step at all (one option dearer
    throughout in every sample of the chunk), skips the passes that find the first."""
    if not mask.any() or mask.all():
        return np.full(mask.shape[1], none)
    step = np.greater(mask[:-1], mask[1:])
    return _first(step) if step.any() else np.full(mask.shape[1], none)


def _first(mask: np.ndarray) -> np.ndarray:
    """The first row index where each column of `mask` (rows, n) is True; rows where none is: a maximum down the
    rows of (rows - index) where True (contiguous rows, unlike argmax along the first axis)."""
    rows = mask.shape[0]
    weight = np.arange(rows, 0, -1, dtype=np.int16 if rows < 2**15 else np.int64)[:, None]
    return rows - (mask * weight).max(axis=0)
