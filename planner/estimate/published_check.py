"""Default pretraining estimates against published runs: how far off, and inside the band?

`python -m planner.estimate.published_check` prints the table the README quotes. Estimates use
the literature defaults (planner/calibration/efficiency.py), never a per-run fit: one MFU
distribution for every model and GPU. Each run belongs to the calibration set (defaults may be set
from it) or the validation set (never used to set anything), fixed when the run was added; the
summary reports the two apart.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..calibration.efficiency import DEFAULTS
from ..catalog.published import SETS, published_runs
from ..core.band import Band
from .pretraining import pretraining
from .training_run import OVERHEAD_BY_BASIS, RUN_OVERHEAD


def check_published_runs() -> pd.DataFrame:
    """One row per run: published GPU-hours, the default estimate's band, the error, inside or not. A run whose
    source states its recipe (published_runs.toml's recipe table) is searched with it; the others with the defaults.
    Each run's whole-run factor is its GPU-hours basis's (training_run.OVERHEAD_BY_BASIS: metered or allocation)."""
    rows = []
    for run in published_runs():
        overhead = OVERHEAD_BY_BASIS[run.gpu_hours_basis]
        est = pretraining(model=run.model, gpu=run.gpu, tokens=run.tokens, seq_len=run.seq_len, n_gpus=run.n_gpus,
                          fp8=run.fp8, efficiencies=DEFAULTS, recipe=dict(run.recipe) or None, overhead_factor=overhead)
        g = est.gpu_hours
        rows.append({"run": run.name, "set": run.set, "basis": run.gpu_hours_basis, "gpu": run.gpu, "n_gpus": run.n_gpus, "layout": est.layout.describe(),
                     "published_gpu_hours": run.gpu_hours, "mfu_p50": est.mfu.p50,
                     "estimate_p50": g.p50, "estimate_p10": g.p10, "estimate_p90": g.p90,
                     "step_only_p50": g.p50 / overhead.p50,  # the bands multiply p50 by p50
                     "error": g.p50 / run.gpu_hours - 1.0, "inside_band": g.contains(run.gpu_hours),
                     "source": f"{run.source.url} ({run.source.note.split(';')[0]})"})
    return pd.DataFrame(rows)


def whole_run_overhead(df: pd.DataFrame, basis: str | None = None) -> Band:
    """The whole-run factor the calibration runs imply: published GPU-hours over the step model's (before any
    overhead), its 10th/50th/90th percentiles over the calibration set (p10 at least 1), of one GPU-hours basis
    or (None) of all. Validation runs never enter. RUN_OVERHEAD and OVERHEAD_BY_BASIS (training_run.py) hold
    these, rounded; tests/test_published_runs.py checks they agree."""
    cal = df[(df["set"] == "calibration") & ((df["basis"] == basis) if basis else True)]
    ratio = (cal["published_gpu_hours"] / cal["step_only_p50"]).to_numpy()
    p10, p50, p90 = np.quantile(ratio, [0.10, 0.50, 0.90])
    return Band(max(1.0, p10), max(1.0, p50), max(1.0, p90))


def summary_line(df: pd.DataFrame) -> str:
    """The error summary of every run, then of each set apart (calibration, validation)."""
    parts = [_summary(df, "all")]
    parts += [_summary(df[df["set"] == name], name) for name in SETS if (df["set"] == name).any()]
    return "\n".join(parts)


def _summary(df: pd.DataFrame, label: str) -> str:
    err = np.abs(df["error"].to_numpy()) * 100
    inside = int(df["inside_band"].sum())
    return (f"{label}: median error {np.median(err):.1f}%, max error {err.max():.1f}% over {len(df)} runs; "
            f"{inside} of {len(df)} published values inside the p10-p90 band; "
            f"median signed error {np.median(df['error'].to_numpy()) * 100:+.1f}%")


def markdown_table(df: pd.DataFrame) -> str:
    lines = ["| run | set | basis | GPU | published GPU-h | estimate p50 [p10-p90] | error | inside band |",
             "|---|---|---|---|---:|---:|---:|:---:|"]
    for r in df.itertuples():
        lines.append(f"| {r.run} | {r.set} | {r.basis} | {r.gpu} | {r.published_gpu_hours:,.0f} | {r.estimate_p50:,.0f} "
                     f"[{r.estimate_p10:,.0f}-{r.estimate_p90:,.0f}] | {r.error:+.1%} | {'yes' if r.inside_band else 'no'} |")
    return "\n".join(lines)


def readme_block(df: pd.DataFrame) -> str:
    """What the README holds between its published-runs markers: the table, the MFU line and the summary."""
    g = DEFAULTS.gemm
    mfu_line = (f"GEMM efficiency band (p10/p50/p90): {g.p10:.2f}/{g.p50:.2f}/{g.p90:.2f}; "
                f"predicted MFU p50 by run: {', '.join(f'{v:.2f}' for v in df['mfu_p50'])}")
    w = whole_run_overhead(df)
    factor_line = (f"whole-run factor the calibration set implies (p10/p50/p90): {w.p10:.2f}/{w.p50:.2f}/{w.p90:.2f}; "
                   f"RUN_OVERHEAD: {RUN_OVERHEAD.p10:.2f}/{RUN_OVERHEAD.p50:.2f}/{RUN_OVERHEAD.p90:.2f}; by GPU-hours basis: "
                   + ", ".join(f"{b} {OVERHEAD_BY_BASIS[b].p10:.2f}/{OVERHEAD_BY_BASIS[b].p50:.2f}/"
                               f"{OVERHEAD_BY_BASIS[b].p90:.2f}" for b in OVERHEAD_BY_BASIS))
    return f"{markdown_table(df)}\n\n```\n{mfu_line}\n{summary_line(df)}\n{factor_line}\n```"


def main() -> None:
    print(readme_block(check_published_runs()))


if __name__ == "__main__":
    main()
