"""The per-set summary line the published checks share: median and max |error| over each set (calibration is
IN-SAMPLE, validation held out), and what each check adds after it."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from ..catalog.published import SETS


def per_set_lines(df: pd.DataFrame, tail: Callable[[pd.DataFrame, np.ndarray], str]) -> list[str]:
    """One line per set: its label, median and max |error| (in %) and count, then `tail(rows, |error| in %)`."""
    out = []
    for name in SETS:
        part = df[df["set"] == name]
        label = "IN-SAMPLE calibration" if name == "calibration" else "VALIDATION (nothing set from these)"
        if part.empty:
            out.append(f"{label}: no figures")
            continue
        err = np.abs(part["error"].to_numpy()) * 100
        out.append(f"{label}: median |error| {np.median(err):.1f}%, max {err.max():.1f}% over {len(part)} figures; "
                   + tail(part, err))
    return out
