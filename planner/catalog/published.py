"""Published pretraining runs (GPU-hours, tokens, hardware) with their citations: the data of the published-runs check."""
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
