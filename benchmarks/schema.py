"""Results files: validate, load and write atomically. Standard library only (no torch).

The reader and validator live in the planner (planner/results_file.py), which reads
calibration files without the benchmark dependencies; they are re-exported here so the
suite that writes a file and the planner that reads it check the same rules. Refusals
are planner.core.errors.PlannerError, a ValueError.

The format is documented in benchmarks/SCHEMA.md; bump SCHEMA_VERSION (in
planner/results_file.py) on any change that an older reader would misread.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from planner.calibration.results_file import (KINDS, RATE_KEY, SCHEMA_VERSION, TIMING_KEYS, TOP_KEYS,  # noqa: F401
                                  load_results, measured_points, validate_results)


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
