"""Measured collectives (benchmarks `collectives`, SCHEMA.md): a latency and a bandwidth per op.

A results file of a collectives run carries points of kind "collective" (`params`: op,
n_bytes, nproc) and a top-level `collective_fit`: per op, `alpha_s` (latency) and
`beta_bytes_per_s` from the least-squares fit t = alpha + n_bytes / beta (or, in the shape the
planner's issue describes, `busbw_bytes_per_s` directly). `collective_fits(doc)` reads them as
raw `CollectiveFit`s; estimate/inference.py turns one into a communication Link, which then
replaces the catalog's link for that GPU's tensor-parallel all-reduce.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..catalog.collectives import COLLECTIVE_OPS
from .results_file import ResultsFileError

OPS = COLLECTIVE_OPS


@dataclass(frozen=True)
class CollectiveFit:
    """One op's measured fit: t = alpha_s + n_bytes / beta_bytes_per_s over `nproc` ranks."""

    op: str
    nproc: int
    alpha_s: float
    beta_bytes_per_s: float | None  # algorithm bandwidth slope (n_bytes / time), the benchmark's fit
    busbw_bytes_per_s: float | None  # bus bandwidth, when the file gives it
    source: str


def _positive(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _nproc(doc: dict, op: str) -> int:
    ranks = [p["params"].get("nproc") for p in doc.get("points", [])
             if p.get("kind") == "collective" and "skipped" not in p and p.get("params", {}).get("op") == op]
    ranks = [n for n in ranks if isinstance(n, int) and n >= 2]
    return max(ranks) if ranks else 0


def collective_fits(doc: dict, source: str = "") -> dict[str, CollectiveFit]:
    """op -> CollectiveFit from a results document's `collective_fit`; {} when it has none.

    Refused (ResultsFileError naming the op): a fit without a positive latency (>= 0) and
    bandwidth, or one whose rank count is unknown (no `nproc` in the fit or its points).
    """
    fits = doc.get("collective_fit") or {}
    if not isinstance(fits, dict):
        raise ResultsFileError("'collective_fit' must be an object of op -> fit")
    out = {}
    for op, f in fits.items():
        where = f"collective_fit[{op!r}]"
        if op not in OPS or not isinstance(f, dict):
            raise ResultsFileError(f"{where}: op must be one of {OPS} with an object fit")
        alpha, beta, busbw = f.get("alpha_s"), f.get("beta_bytes_per_s"), f.get("busbw_bytes_per_s")
        nproc = f.get("nproc") or _nproc(doc, op)
        if not (isinstance(alpha, (int, float)) and math.isfinite(alpha) and alpha >= 0):
            raise ResultsFileError(f"{where}: alpha_s must be a number >= 0, got {alpha!r}")
        if not (_positive(beta) or _positive(busbw)):
            raise ResultsFileError(f"{where}: needs beta_bytes_per_s or busbw_bytes_per_s > 0")
        if not (isinstance(nproc, int) and nproc >= 2):
            raise ResultsFileError(f"{where}: no rank count (nproc) in the fit or its collective points")
        out[op] = CollectiveFit(op=op, nproc=nproc, alpha_s=float(alpha),
                                beta_bytes_per_s=float(beta) if _positive(beta) else None,
                                busbw_bytes_per_s=float(busbw) if _positive(busbw) else None, source=source)
    return out
