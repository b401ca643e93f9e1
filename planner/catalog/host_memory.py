"""Host memory per GPU by catalog GPU (data/host_memory.toml): what CPU offload may fill."""
from __future__ import annotations

import functools
import tomllib
from importlib import resources

from ..core.provenance import Source


@functools.cache
def host_memory() -> dict[str, tuple[float, Source]]:
    """GPU name -> (host bytes per GPU, source). A GPU absent here has no host-memory figure."""
    text = resources.files("planner.catalog").joinpath("data", "host_memory.toml").read_text(encoding="utf-8")
    out = {}
    for h in tomllib.loads(text).get("host", []):
        src = h["source"]
        out[h["gpu"]] = (float(h["host_bytes_per_gpu"]), Source(src["url"], str(src["checked"]), src.get("note", "")))
    return out
