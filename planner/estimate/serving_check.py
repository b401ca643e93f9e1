"""Default serving estimates against the published figures in catalog/data/serving_published.toml.

`python -m planner.estimate.serving_check` prints one row per figure and the summary: median
|error| and how many published values fall inside the estimate's p10-p90 band. Every figure
there is IN-SAMPLE (the engine profiles were set with them in view): the score says the model
is consistent with what it was set on, not how accurate it is on figures it has not seen.
Estimates use the public functions (planner.max_throughput, planner.inference_speed) with the
engine profiles, never a per-figure fit.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..catalog.published import PublishedServingFigure, published_serving_figures
from ..core.band import Band
from .inference import inference_speed
from .throughput import max_throughput

KINDS = ("throughput", "request_tokens_per_s", "tpot_s")
LABEL = "IN-SAMPLE"


def estimate(f: PublishedServingFigure) -> Band:
    """The planner's default estimate of one figure's quantity."""
    common = dict(model=f.model, gpu=f.gpu, precision=f.precision, engine=f.engine, kv_cache_dtype=f.kv_cache_dtype,
                  tensor_parallel=f.tensor_parallel, prompt_tokens=f.prompt_tokens, output_tokens=f.output_tokens)
    if f.kind == "throughput":
        return max_throughput(**common).tokens_per_s
    r = inference_speed(batch_size=f.batch_size, **common)
    if f.kind == "tpot_s":
        return r.tpot_s
    return r.e2e_s.map(lambda s: f.output_tokens / s)


def check() -> pd.DataFrame:
    """One row per figure: published value, estimate p50 [p10-p90], error, inside the band."""
    rows = []
    for f in published_serving_figures():
        e = estimate(f)
        rows.append({"figure": f.id, "kind": f.kind, "engine": f.engine, "published": f.value, "estimate_p50": e.p50,
                     "estimate_p10": e.p10, "estimate_p90": e.p90, "error": e.p50 / f.value - 1.0,
                     "inside_band": e.contains(f.value), "source": f.source.url})
    return pd.DataFrame(rows)


def summary_line(df: pd.DataFrame) -> str:
    err = np.abs(df["error"].to_numpy()) * 100
    return (f"{LABEL}: median |error| {np.median(err):.1f}%, max {err.max():.1f}% over {len(df)} figures; "
            f"{int(df['inside_band'].sum())} of {len(df)} inside the p10-p90 band")


def markdown_table(df: pd.DataFrame) -> str:
    lines = ["| figure (IN-SAMPLE) | kind | published | estimate p50 [p10-p90] | error | inside |",
             "|---|---|---:|---:|---:|:---:|"]
    for r in df.itertuples():
        lines.append(f"| {r.figure} | {r.kind} | {r.published:,.4g} | {r.estimate_p50:,.4g} "
                     f"[{r.estimate_p10:,.4g}-{r.estimate_p90:,.4g}] | {r.error:+.1%} | {'yes' if r.inside_band else 'no'} |")
    return "\n".join(lines)


def main() -> None:
    df = check()
    print(markdown_table(df))
    print()
    print(summary_line(df))
    print("Every figure above was in view when the engine profiles were set: in-sample, not evidence of accuracy.")


if __name__ == "__main__":
    main()
