"""Every published check in one table: the median error of each group, calibration and validation apart.

The calibration figures are in-sample (defaults may have been set looking at them); the validation
figures were held out when they were added, and nothing was set from them. `python -m
planner.estimate.accuracy` prints the table the README quotes at the top of "How accurate is it?".
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..catalog.lookup import model as lookup_model
from ..catalog.published import SETS, published_serving_figures
from .memory_check import check_published_memory
from .published_check import check_published_runs
from .serving_check import check as check_serving
from .step_check import check_published_steps
from .training_run import RUN_OVERHEAD


def _groups() -> list[tuple[str, str, pd.DataFrame]]:
    """(check, group, its rows with `set` and `error`) for every check and group."""
    out = []
    runs = check_published_runs()
    out.append(("whole pretraining runs (GPU-hours)", "each run at its GPU-hours basis's factor", runs))
    out.append(("whole pretraining runs (GPU-hours)", "default factor (RUN_OVERHEAD, all bases)",
                runs.assign(error=runs["step_only_p50"] * RUN_OVERHEAD.p50 / runs["published_gpu_hours"] - 1.0)))
    steps = check_published_steps()
    for (moe, prec), g in steps.groupby(["moe", "precision"]):
        out.append(("training steps at published layouts (tokens/s/GPU)", f"{'MoE' if moe else 'dense'} {prec}", g))
    serving = check_serving()
    moe_by_id = {f.id: lookup_model(f.model).is_moe for f in published_serving_figures()}
    serving = serving.assign(moe=serving["figure"].map(moe_by_id))
    for moe, g in serving.groupby("moe"):
        out.append(("serving (throughput, latency)", "MoE" if moe else "dense", g))
    memory = check_published_memory()
    for method, g in memory.groupby("method"):
        out.append(("memory per GPU (peak)", method, g))
    return out


def summary() -> pd.DataFrame:
    """One row per check and group: count and median |error| (and median signed error) in each set."""
    rows = []
    for check, group, df in _groups():
        row = {"check": check, "group": group}
        for s in SETS:
            err = df.loc[df["set"] == s, "error"].to_numpy(dtype=float)
            row[f"{s}_n"] = len(err)
            row[f"{s}_median_abs"] = float(np.median(np.abs(err))) if len(err) else float("nan")
            row[f"{s}_median_signed"] = float(np.median(err)) if len(err) else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def _cell(n: int, median_abs: float, median_signed: float) -> str:
    return "-" if n == 0 else f"{median_abs:.0%} ({median_signed:+.0%}), n={n}"


def markdown_table(df: pd.DataFrame) -> str:
    lines = ["| check | group | calibration, IN-SAMPLE: median abs error (signed) | validation, held out: median abs error (signed) |",
             "|---|---|--:|--:|"]
    for r in df.itertuples():
        lines.append(f"| {r.check} | {r.group} | {_cell(r.calibration_n, r.calibration_median_abs, r.calibration_median_signed)} "
                     f"| {_cell(r.validation_n, r.validation_median_abs, r.validation_median_signed)} |")
    return "\n".join(lines)


def main() -> None:
    print(markdown_table(summary()))


if __name__ == "__main__":
    main()
