"""Results files: validate, load, and write atomically where the user said. Standard library only.

The reader and validator live in the planner (planner/calibration/results_file.py), which
reads calibration files without the benchmark dependencies; they are re-exported here so
the suite that writes a file and the planner that reads it check the same rules. Refusals
are ResultsFileError, a planner.core.errors.PlannerError (a ValueError).

The format is documented in benchmarks/SCHEMA.md; bump SCHEMA_VERSION (in
results_file.py) on any change that an older reader would misread.
"""
from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

from planner.calibration.results_file import (INT8_WEIGHT_ONLY, KINDS, RATE_KEY, SCHEMA_VERSION,  # noqa: F401
                                              TIMING_KEYS, TOP_KEYS, ResultsFileError, busbw_factor,
                                              calibration_points, check_point, limits_for, load_results, measured_points,
                                              quant_format, validate_results)


class OutPathError(ValueError):
    """An output path that cannot be written; the message says why, in one line."""


def check_out_path(path: str | os.PathLike) -> Path:
    """The output path, if a file can be written there; else OutPathError. Creates missing parents.

    Checked before a run starts, so a bad --out costs nothing: a directory, a parent that is a
    file, a read-only folder, a name with a NUL byte are all refused now, not after the suite.
    """
    try:
        p = Path(path)
        if p.is_dir():
            raise OutPathError(f"--out {path}: is a directory; give a file name such as {p / 'results.json'}")
        if p.exists() and not os.access(p, os.W_OK):
            raise OutPathError(f"--out {path}: the file exists and is not writable")
        p.parent.mkdir(parents=True, exist_ok=True)
        probe = p.parent / f".{p.name}.{secrets.token_hex(4)}.probe"
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        os.close(fd)
        probe.unlink()
    except OutPathError:
        raise
    except (OSError, ValueError) as e:  # permissions, a parent that is a file, a NUL byte, a long name
        raise OutPathError(f"--out {path}: cannot write there: {getattr(e, 'strerror', None) or e}") from None
    return p


def write_results(d: dict, path: str | os.PathLike) -> Path:
    """Write JSON atomically: a temp file in the same folder, then os.replace.

    The file gets the usual permissions (0666 less the umask, so 0644 by default); an
    interrupted or failed write leaves the previous file as it was and no temp file behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(d, indent=1, allow_nan=False) + "\n"  # fails before anything is written
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
