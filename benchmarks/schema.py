"""Results files: validate, load and write atomically. Standard library only (no torch),
so the planner can read calibration files without the benchmark dependencies.

The format is documented in benchmarks/SCHEMA.md; bump SCHEMA_VERSION on any change
that an older reader would misread.
"""
from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

SCHEMA_VERSION = 1
KINDS = ("gemm", "bandwidth", "train", "prefill", "decode")
# The derived figure every measured point of a kind must carry.
RATE_KEY = {"gemm": "flops_per_s", "bandwidth": "bytes_per_s", "train": "tokens_per_s",
            "prefill": "tokens_per_s", "decode": "tokens_per_s"}
TOP_KEYS = ("schema_version", "env", "settings", "points")
TIMING_KEYS = ("median_s", "min_s", "max_s", "iqr_s")


def _positive_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0


def _check_point(i: int, p) -> bool:
    """Raise ValueError if point `i` is malformed; True if it carries a measurement."""
    where = f"points[{i}]"
    if not isinstance(p, dict):
        raise ValueError(f"{where}: expected an object, got {type(p).__name__}")
    if p.get("kind") not in KINDS:
        raise ValueError(f"{where}: kind {p.get('kind')!r} is not one of {KINDS}")
    if not isinstance(p.get("params"), dict):
        raise ValueError(f"{where}: 'params' must be an object of sizes")
    if "skipped" in p:
        if not isinstance(p["skipped"], str) or not p["skipped"]:
            raise ValueError(f"{where}: 'skipped' must be a non-empty reason")
        return False
    for key in (*TIMING_KEYS[:3], RATE_KEY[p["kind"]]):
        if not _positive_number(p.get(key)):
            raise ValueError(f"{where} ({p['kind']}): {key!r} must be a positive number, got {p.get(key)!r}")
    if not (isinstance(p.get("repeats"), int) and p["repeats"] >= 1):
        raise ValueError(f"{where}: 'repeats' must be an integer >= 1, got {p.get('repeats')!r}")
    if not p["min_s"] <= p["median_s"] <= p["max_s"]:
        raise ValueError(f"{where}: median_s {p['median_s']} outside [min_s, max_s]")
    if not isinstance(p.get("dtype"), str):
        raise ValueError(f"{where}: 'dtype' must be a string")
    if p.get("quantized") not in (None, "int8"):
        raise ValueError(f"{where}: 'quantized' must be null or 'int8', got {p.get('quantized')!r}")
    return True


def validate_results(d) -> dict:
    """Return `d` if it is a valid results document, else raise ValueError saying why."""
    if not isinstance(d, dict):
        raise ValueError(f"results must be a JSON object, got {type(d).__name__}")
    if d.get("schema_version") != SCHEMA_VERSION:
        raise ValueError(f"schema_version {d.get('schema_version')!r} is not supported (this reader: {SCHEMA_VERSION})")
    missing = [k for k in TOP_KEYS if k not in d]
    if missing:
        raise ValueError(f"missing top-level key(s) {missing}")
    if not isinstance(d["points"], list):
        raise ValueError("'points' must be a list")
    if not isinstance(d["env"], dict) or "device" not in d["env"]:
        raise ValueError("'env' must be an object naming the 'device'")
    measured = sum(_check_point(i, p) for i, p in enumerate(d["points"]))
    if measured == 0:
        raise ValueError(f"no usable points: {len(d['points'])} point(s), all skipped or none at all")
    return d


def load_results(path: str | os.PathLike) -> dict:
    """Read and validate a results file; a truncated or non-JSON file raises ValueError."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        d = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{path}: not valid JSON (truncated or corrupt?): {e}") from None
    try:
        return validate_results(d)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def write_results(d: dict, path: str | os.PathLike) -> Path:
    """Write JSON atomically: a temp file in the same folder, then os.replace."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(d, f, indent=1, allow_nan=False)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def measured_points(d: dict, kind: str | None = None) -> list[dict]:
    """The points that carry a measurement, optionally of one kind."""
    return [p for p in d["points"] if "skipped" not in p and (kind is None or p["kind"] == kind)]
