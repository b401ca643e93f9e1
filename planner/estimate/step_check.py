"""Default training-step estimates against published step throughputs at their stated layouts.

`python -m planner.estimate.step_check` prints the table the README quotes, with the calibration
set (in-sample: defaults may have been set looking at it) and the validation set (nothing was set
from it) scored separately. The data and its rules are in planner/catalog/data/published_steps.toml.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..calibration.efficiency import DEFAULTS
from ..catalog.published import PublishedStep, published_steps
from .layout import TrainingLayout
from .pretraining import pretraining
from .set_summary import per_set_lines


def layout_of(step: PublishedStep) -> TrainingLayout:
    """The published layout as a TrainingLayout: data parallelism is what the other axes leave."""
    lay = dict(step.layout)
    per_replica = lay.get("tp", 1) * lay.get("pp", 1) * lay.get("cp", 1)
    return TrainingLayout(**lay, dp=step.n_gpus // per_replica, global_batch=step.global_batch,
                          fp8=step.precision == "fp8", fp8_recipe=step.fp8_recipe or "auto")


def estimate_tokens_per_s_per_gpu(step: PublishedStep) -> float:
    """The planner's default (uncalibrated) p50 throughput of one GPU at the published layout."""
    est = pretraining(model=step.model, gpu=step.gpu, n_gpus=step.n_gpus, seq_len=step.seq_len,
                      layout=layout_of(step), fp8=step.precision == "fp8", tokens=1e12, overhead_factor=1.0,
                      efficiencies=DEFAULTS)
    return est.global_batch_tokens / est.step.total_s / est.n_gpus


def check_published_steps() -> pd.DataFrame:
    """One row per published figure: its set, the published and estimated tokens/s per GPU, the error."""
    rows = []
    for s in published_steps():
        est = estimate_tokens_per_s_per_gpu(s)
        rows.append({"name": s.name, "set": s.set, "model": s.model, "gpu": s.gpu, "precision": s.precision,
                     "n_gpus": s.n_gpus, "moe": s.moe, "published": s.tokens_per_s_per_gpu, "estimate": est,
                     "error": est / s.tokens_per_s_per_gpu - 1.0, "source": s.source.url})
    return pd.DataFrame(rows, columns=["name", "set", "model", "gpu", "precision", "n_gpus", "moe", "published",
                                       "estimate", "error", "source"])


def summary_lines(df: pd.DataFrame) -> list[str]:
    """Median and max |error| per set, and per group (dense/MoE x bf16/fp8) inside each set."""
    return per_set_lines(df, lambda part, err: ", ".join(
        f"{'MoE' if moe else 'dense'} {prec} {np.median(np.abs(g['error'])) * 100:.0f}% (n={len(g)})"
        for (moe, prec), g in part.groupby(["moe", "precision"])))


def fp8_pair_lines(df: pd.DataFrame) -> list[str]:
    """fp8 / bf16 throughput where a source published both at one layout: published and estimated speed-ups."""
    steps, out = {s.name: s for s in published_steps()}, []
    key = (lambda s: (s.model, s.gpu, s.n_gpus, s.seq_len, s.global_batch, s.layout))  # noqa: E731
    bf16 = {key(steps[r.name]): r for r in df.itertuples() if r.precision == "bf16"}
    for r in df.itertuples():
        b = bf16.get(key(steps[r.name])) if r.precision == "fp8" else None
        if b is not None:
            out.append(f"fp8/bf16 at one layout, {r.name} ({r.set}): published {r.published / b.published:.2f}x, "
                       f"estimate {r.estimate / b.estimate:.2f}x")
    return out


def markdown_table(df: pd.DataFrame) -> str:
    lines = ["| figure | set | GPUs | published tok/s/GPU | estimate | error |", "|---|---|---:|---:|---:|---:|"]
    for r in df.itertuples():
        lines.append(f"| {r.name} | {r.set} | {r.n_gpus:,} | {r.published:,.0f} | {r.estimate:,.0f} | {r.error:+.1%} |")
    return "\n".join(lines)


def readme_block(df: pd.DataFrame) -> str:
    """What the README holds between its published-steps markers: the table and the per-set summaries."""
    return markdown_table(df) + "\n\n```\n" + "\n".join(summary_lines(df)) + "\n```"


def main() -> None:
    df = check_published_steps()
    print(readme_block(df))
    print("\n".join(fp8_pair_lines(df)))


if __name__ == "__main__":
    main()
