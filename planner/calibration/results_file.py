"""Benchmark results files (benchmarks/SCHEMA.md): read and validate, standard library only.

The planner reads calibration files with this module and never imports torch or the
benchmarks package; `benchmarks.schema` re-exports these names, so the suite that writes
a file and the planner that reads it check the same rules. Every refusal is a
PlannerError (a ValueError) saying what is wrong; `load_results` names the file.
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from ..core.errors import PlannerError

SCHEMA_VERSION = 1
KINDS = ("gemm", "bandwidth", "train", "prefill", "decode")
# The derived figure every measured point of a kind must carry.
RATE_KEY = {"gemm": "flops_per_s", "bandwidth": "bytes_per_s", "train": "tokens_per_s",
            "prefill": "tokens_per_s", "decode": "tokens_per_s"}
TOP_KEYS = ("schema_version", "env", "settings", "points")
TIMING_KEYS = ("median_s", "min_s", "max_s", "iqr_s")


class ResultsFileError(PlannerError):
    """A results file this reader cannot use: unknown schema, corrupt JSON, no usable points."""


def _positive_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _check_point(i: int, p) -> bool:
    """Raise ResultsFileError if point `i` is malformed; True if it carries a measurement."""
    where = f"points[{i}]"
    if not isinstance(p, dict):
        raise ResultsFileError(f"{where}: expected an object, got {type(p).__name__}")
    if p.get("kind") not in KINDS:
        raise ResultsFileError(f"{where}: kind {p.get('kind')!r} is not one of {KINDS}")
    if not isinstance(p.get("params"), dict):
        raise ResultsFileError(f"{where}: 'params' must be an object of sizes")
    if "skipped" in p:
        if not isinstance(p["skipped"], str) or not p["skipped"]:
            raise ResultsFileError(f"{where}: 'skipped' must be a non-empty reason")
        return False
    for key in (*TIMING_KEYS[:3], RATE_KEY[p["kind"]]):
        if not _positive_number(p.get(key)):
            raise ResultsFileError(f"{where} ({p['kind']}): {key!r} must be a positive number, got {p.get(key)!r}")
    if not (isinstance(p.get("repeats"), int) and p["repeats"] >= 1):
        raise ResultsFileError(f"{where}: 'repeats' must be an integer >= 1, got {p.get('repeats')!r}")
    if not p["min_s"] <= p["median_s"] <= p["max_s"]:
        raise ResultsFileError(f"{where}: median_s {p['median_s']} outside [min_s, max_s]")
    if not isinstance(p.get("dtype"), str):
        raise ResultsFileError(f"{where}: 'dtype' must be a string")
    if p.get("quantized") not in (None, "int8"):
        raise ResultsFileError(f"{where}: 'quantized' must be null or 'int8', got {p.get('quantized')!r}")
    return True


def validate_results(d) -> dict:
    """Return `d` if it is a valid results document, else raise ResultsFileError saying why."""
    if not isinstance(d, dict):
        raise ResultsFileError(f"results must be a JSON object, got {type(d).__name__}")
    if d.get("schema_version") != SCHEMA_VERSION:
        raise ResultsFileError(f"schema_version {d.get('schema_version')!r} is not supported "
                               f"(this reader: {SCHEMA_VERSION}); re-run `python -m benchmarks` or upgrade the planner")
    missing = [k for k in TOP_KEYS if k not in d]
    if missing:
        raise ResultsFileError(f"missing top-level key(s) {missing}")
    if not isinstance(d["points"], list):
        raise ResultsFileError("'points' must be a list")
    if not isinstance(d["env"], dict) or "device" not in d["env"]:
        raise ResultsFileError("'env' must be an object naming the 'device'")
    measured = sum(_check_point(i, p) for i, p in enumerate(d["points"]))
    if measured == 0:
        raise ResultsFileError(f"no usable points: {len(d['points'])} point(s), all skipped or none at all")
    return d


def load_results(path: str | os.PathLike) -> dict:
    """Read and validate a results file; a truncated or non-JSON file is refused, naming the file.

    A missing or unreadable file raises OSError (the CLI prints it as one line).
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise ResultsFileError(f"{path}: not valid JSON (truncated or corrupt?): {e}") from None
    try:
        return validate_results(d)
    except ResultsFileError as e:
        raise ResultsFileError(f"{path}: {e}") from None


def measured_points(d: dict, kind: str | None = None) -> list[dict]:
    """The points that carry a measurement, optionally of one kind."""
    return [p for p in d["points"] if "skipped" not in p and (kind is None or p["kind"] == kind)]
