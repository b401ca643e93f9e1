"""Published pretraining runs and serving figures with their citations: the data of the published checks."""
from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources

from ..core.provenance import Source


@dataclass(frozen=True)
class PublishedRun:
    name: str
    model: str
    gpu: str
    tokens: float
    gpu_hours: float
    seq_len: int
    source: Source
    n_gpus: int = 2048  # the cluster the run used (where published; the data file's note says which)
    n_gpus_note: str = ""
    fp8: bool = False  # GEMMs in fp8


@functools.cache
def published_runs() -> tuple[PublishedRun, ...]:
    """The runs in planner/catalog/data/published_runs.toml, each with its citation."""
    text = resources.files("planner.catalog").joinpath("data", "published_runs.toml").read_text(encoding="utf-8")
    runs = []
    for r in tomllib.loads(text)["run"]:
        src = r["source"]
        runs.append(PublishedRun(name=r["name"], model=r["model"], gpu=r["gpu"], tokens=float(r["tokens"]),
                                 gpu_hours=float(r["gpu_hours"]), seq_len=int(r["seq_len"]),
                                 source=Source(src["url"], str(src["checked"]), src.get("note", "")),
                                 n_gpus=int(r["n_gpus"]), n_gpus_note=r.get("n_gpus_note", ""), fp8=bool(r.get("fp8"))))
    return tuple(runs)


@dataclass(frozen=True)
class PublishedServingFigure:
    """One published serving figure (data/serving_published.toml; kinds described there)."""

    id: str
    kind: str  # throughput | request_tokens_per_s | tpot_s
    model: str
    gpu: str
    precision: str
    engine: str
    tensor_parallel: int
    prompt_tokens: float
    output_tokens: float
    value: float
    source: Source
    batch_size: int = 1
    kv_cache_dtype: str | None = None


@functools.cache
def published_serving_figures() -> tuple[PublishedServingFigure, ...]:
    """The figures in planner/catalog/data/serving_published.toml, each with its citation."""
    text = resources.files("planner.catalog").joinpath("data", "serving_published.toml").read_text(encoding="utf-8")
    out = []
    for f in tomllib.loads(text)["figure"]:
        src = f.pop("source")
        out.append(PublishedServingFigure(**f, source=Source(src["url"], str(src["checked"]), src.get("note", ""))))
    return tuple(out)
