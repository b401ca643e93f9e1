"""Default serving estimates against the published figures in catalog/data/serving_published.toml.

`python -m planner.estimate.serving_check` prints one row per figure and a summary per set: median
|error| and how many published values fall inside the estimate's p10-p90 band. Each figure was put
in one set when it was added, before its error was seen: "calibration" figures are IN-SAMPLE (the
engine profiles were set with them in view: their score says the model is consistent with what it
was set on), "validation" figures were held out (no default was set while looking at them: their
score is the honest one). Estimates use the public functions (planner.max_throughput,
planner.inference_speed) with the engine profiles, never a per-figure fit.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..catalog.published import SETS, PublishedServingFigure, published_serving_figures
from ..core.band import Band
from .inference import inference_speed
from .throughput import max_throughput

KINDS = ("throughput", "request_tokens_per_s", "tpot_s")
LABELS = {"calibration": "CALIBRATION (IN-SAMPLE)", "validation": "VALIDATION (held out)"}


def estimate(f: PublishedServingFigure) -> Band:
    """The planner's default estimate of one figure's quantity."""
    common = dict(model=f.model, gpu=f.gpu, precision=f.precision, engine=f.engine, kv_cache_dtype=f.kv_cache_dtype,
                  tensor_parallel=f.tensor_parallel, prompt_tokens=f.prompt_tokens, output_tokens=f.output_tokens,
                  attention_dp=f.attention_dp)
    if f.kind == "throughput":
        return max_throughput(**common, num_requests=f.num_requests).tokens_per_s
    r = inference_speed(batch_size=f.batch_size, **common)
    if f.kind == "tpot_s":
        return r.tpot_s
    return r.e2e_s.map(lambda s: f.output_tokens / s)


def check() -> pd.DataFrame:
    """One row per figure: its set, published value, estimate p50 [p10-p90], error, inside the band."""
    rows = []
    for f in published_serving_figures():
        e = estimate(f)
        rows.append({"figure": f.id, "set": f.set, "kind": f.kind, "engine": f.engine, "published": f.value,
                     "estimate_p50": e.p50, "estimate_p10": e.p10, "estimate_p90": e.p90,
                     "error": e.p50 / f.value - 1.0, "inside_band": e.contains(f.value), "source": f.source.url})
    return pd.DataFrame(rows)


def summary_line(df: pd.DataFrame) -> str:
    """One line per set (calibration, then validation): median and max |error|, figures inside the band."""
    lines = []
    for name in SETS:
        part = df[df["set"] == name]
        if part.empty:
            continue
        err = np.abs(part["error"].to_numpy()) * 100
        lines.append(f"{LABELS[name]}: median |error| {np.median(err):.1f}%, max {err.max():.1f}% over {len(part)} "
                     f"figures; {int(part['inside_band'].sum())} of {len(part)} inside the p10-p90 band")
    return "\n".join(lines)


def markdown_table(df: pd.DataFrame) -> str:
    lines = ["| figure | set | kind | published | estimate p50 [p10-p90] | error | inside |",
             "|---|---|---|---:|---:|---:|:---:|"]
    for name in SETS:
        for r in df[df["set"] == name].itertuples():
            lines.append(f"| {r.figure} | {r.set} | {r.kind} | {r.published:,.4g} | {r.estimate_p50:,.4g} "
                         f"[{r.estimate_p10:,.4g}-{r.estimate_p90:,.4g}] | {r.error:+.1%} | "
                         f"{'yes' if r.inside_band else 'no'} |")
    return "\n".join(lines)


def readme_block(df: pd.DataFrame) -> str:
    """What the README holds between its serving-published markers: the table and the per-set summary."""
    return markdown_table(df) + "\n\n```\n" + summary_line(df) + "\n```"


def main() -> None:
    df = check()
    print(markdown_table(df))
    print()
    print(summary_line(df))
    print("Calibration figures were in view when the engine profiles were set: in-sample, not evidence of accuracy.")


if __name__ == "__main__":
    main()
