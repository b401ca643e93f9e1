"""Default memory per GPU against published peaks measured at their stated setups.

`python -m planner.estimate.memory_check` prints the table the README quotes, with the calibration set
(in-sample: defaults may have been set looking at it) and the validation set (nothing was set from it)
scored separately, and counts the setups that ran but the planner would refuse. The data and its rules are
in planner/catalog/data/published_memory.toml. Each figure is compared with the estimate's figure of the same
kind (MemoryBreakdown.figure: allocated, reserved or device); a figure whose kind the source does not state (the
torchtune README's) is compared with `allocated`: judgement, from the calibration rows of that source, which the
reserved figure overshoots.
"""
from __future__ import annotations

from dataclasses import replace

import pandas as pd

from ..catalog.lookup import gpu as lookup_gpu
from ..catalog.lookup import model as lookup_model
from ..catalog.published_memory import PublishedMemory, published_memory
from .arithmetic import total_params
from .finetuning import _check_choice, lora_params, run_shape
from .layout import MemoryBreakdown, TrainingLayout
from .layout_search import RunShape, memory_of
from .qlora_memory import STACKS
from .set_summary import per_set_lines

UNSTATED_AS = "allocated"
GIB = 2.0**30


def layout_of(f: PublishedMemory) -> TrainingLayout:
    """The published setup as a TrainingLayout: data parallelism is what the model-parallel sizes leave."""
    return TrainingLayout(tp=f.tp, pp=f.pp, cp=f.cp, dp=f.n_gpus // (f.tp * f.pp * f.cp),
                          zero_stage=3 if f.sharding == "fsdp" else 0, micro_batch=f.micro_batch,
                          recompute=f.recompute, optimizer=f.optimizer, offload=f.offload, fp8=f.fp8)


def shape_of(f: PublishedMemory) -> RunShape:
    """What is trained, as the estimate's run shape (finetuning.run_shape for the fine-tunes)."""
    m = lookup_model(f.model)
    if f.method == "pretraining":
        return RunShape(model=m, seq_len=f.seq_len, global_batch=f.n_gpus * f.micro_batch, fp8=f.fp8)
    trainable = total_params(m) if f.method == "full" else lora_params(m, f.lora_rank, f.lora_targets)
    return run_shape(m, method=f.method, seq_len=f.seq_len, trainable=trainable, optimizer=f.optimizer,
                     offload=f.offload, double_quant=f.double_quant, chunked_loss=f.chunked_loss,
                     micro_batch=f.micro_batch, optimizer_in_backward=f.optimizer_in_backward,
                     qlora_stack=_check_choice("qlora_stack", f.qlora_stack, tuple(STACKS)))


def estimate_memory(f: PublishedMemory) -> MemoryBreakdown:
    """The planner's memory per GPU at the published setup, on the card it ran on (its memory where stated)."""
    g = lookup_gpu(f.gpu)
    if f.card_memory_gib:
        g = replace(g, memory_bytes=f.card_memory_gib * GIB)
    return memory_of(shape_of(f), g, layout_of(f))


def check_published_memory() -> pd.DataFrame:
    """One row per published figure: its set, the figure compared, published and estimated GB, the error, and
    whether the planner would refuse the setup (even the optimistic end over the card) although it ran."""
    rows = []
    for f in published_memory():
        mem = estimate_memory(f)
        kind = UNSTATED_AS if f.figure == "unstated" else f.figure
        est = mem.figure(kind)
        rows.append({"name": f.name, "set": f.set, "method": f.method, "n_gpus": f.n_gpus, "figure": f.figure,
                     "published_gb": f.peak_bytes / 1e9, "estimate_gb": est / 1e9,
                     "error": est / f.peak_bytes - 1.0, "refused": not mem.fits, "source": f.source.url})
    return pd.DataFrame(rows, columns=["name", "set", "method", "n_gpus", "figure", "published_gb", "estimate_gb",
                                       "error", "refused", "source"])


def summary_lines(df: pd.DataFrame) -> list[str]:
    """Median and max |error|, figures within 10% and 'refused but ran', per set."""
    return per_set_lines(df, lambda part, err: f"{int((err <= 10).sum())} within 10%; refused but ran: "
                                               f"{int(part['refused'].sum())}")


def markdown_table(df: pd.DataFrame) -> str:
    lines = ["| figure | set | method | GPUs | which | published GB | estimate GB | error | refused |",
             "|---|---|---|---:|---|---:|---:|---:|:---:|"]
    for r in df.itertuples():
        lines.append(f"| {r.name} | {r.set} | {r.method} | {r.n_gpus:,} | {r.figure} | {r.published_gb:.1f} | "
                     f"{r.estimate_gb:.1f} | {r.error:+.0%} | {'REFUSED' if r.refused else 'no'} |")
    return "\n".join(lines)


def readme_block(df: pd.DataFrame) -> str:
    """What the README holds between its published-memory markers: the table and the per-set summaries."""
    return markdown_table(df) + "\n\n```\n" + "\n".join(summary_lines(df)) + "\n```"


def main() -> None:
    df = check_published_memory()
    print(markdown_table(df))
    print()
    print("\n".join(summary_lines(df)))


if __name__ == "__main__":
    main()
