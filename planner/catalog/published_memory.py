"""Published peak GPU memory at stated setups (data/published_memory.toml): the data of the memory check."""
from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources

from .published import SETS
from ..core.provenance import Source

METHODS = ("full", "lora", "qlora", "pretraining")
SHARDING = ("none", "fsdp")
FIGURES = ("allocated", "reserved", "device", "unstated")  # torch max_memory_allocated / _reserved, nvidia-smi
UNIT_BYTES = {"GB": 1e9, "GiB": 2.0**30}
_REQUIRED = ("name", "set", "model", "gpu", "method", "n_gpus", "seq_len", "micro_batch", "recompute", "optimizer",
             "peak", "unit", "figure", "source")
_OPTIONAL = {"card_memory_gib": 0.0, "tp": 1, "pp": 1, "cp": 1, "sharding": "none", "offload": "none",
             "lora_rank": 16, "lora_targets": "all-linear", "double_quant": True, "chunked_loss": False,
             "optimizer_in_backward": False, "fp8": False, "qlora_stack": "peft"}


@dataclass(frozen=True)
class PublishedMemory:
    """One published peak-memory figure per GPU and the setup it was measured at."""

    name: str
    set: str  # calibration | validation, fixed when the figure was added
    model: str
    gpu: str
    method: str
    n_gpus: int
    seq_len: int
    micro_batch: int
    recompute: str
    optimizer: str
    peak: float
    unit: str
    figure: str  # allocated | reserved | device | unstated
    source: Source
    card_memory_gib: float = 0.0  # the card's memory where it differs from the catalog GPU's (0: the catalog's)
    tp: int = 1
    pp: int = 1
    cp: int = 1
    sharding: str = "none"
    offload: str = "none"
    lora_rank: int = 16
    lora_targets: str = "all-linear"
    double_quant: bool = True
    chunked_loss: bool = False
    optimizer_in_backward: bool = False
    fp8: bool = False
    qlora_stack: str = "peft"  # how the NF4 linears are computed (planner/estimate/qlora_memory.py STACKS)

    @property
    def peak_bytes(self) -> float:
        return self.peak * UNIT_BYTES[self.unit]


def _check(r: dict) -> None:
    name = r.get("name", "?")
    missing = [k for k in _REQUIRED if k not in r]
    unknown = set(r) - set(_REQUIRED) - set(_OPTIONAL)
    if missing or unknown:
        raise ValueError(f"published_memory.toml, {name}: missing {missing}, unknown {sorted(unknown)}")
    for field, allowed in (("set", SETS), ("method", METHODS), ("sharding", SHARDING), ("figure", FIGURES),
                           ("unit", tuple(UNIT_BYTES))):
        if r.get(field, _OPTIONAL.get(field)) not in allowed:
            raise ValueError(f"published_memory.toml, {name}: {field} must be one of {allowed}, got {r.get(field)!r}")


def _figure(r: dict) -> PublishedMemory:
    _check(r)
    src = r["source"]
    fields = {**_OPTIONAL, **{k: v for k, v in r.items() if k != "source"}}
    return PublishedMemory(**fields, source=Source(src["url"], str(src["checked"]), src.get("note", "")))


@functools.cache
def published_memory() -> tuple[PublishedMemory, ...]:
    """The figures in planner/catalog/data/published_memory.toml, each with its set and citation."""
    text = resources.files("planner.catalog").joinpath("data", "published_memory.toml").read_text(encoding="utf-8")
    figures = tuple(_figure(r) for r in tomllib.loads(text).get("figure", []))
    names = [f.name for f in figures]
    if len(set(names)) != len(names):
        raise ValueError("published_memory.toml: figure names must be unique")
    return figures
