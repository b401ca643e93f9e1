"""NVIDIA aiconfigurator-core's measured kernel tables: where they are, which exist, reading one.

aiconfigurator-core (Apache-2.0, `pip install 'fm-planner[silicon]'`) ships per-operation
latencies measured on real GPUs as Parquet files, laid out as
`systems/data/<system>/<op>/<engine>/<version>/<table>.parquet` (latencies in milliseconds).
Nothing here imports the package: its folder is found with importlib's spec finder, only when a
caller asks for silicon calibration (planner.use_silicon), so `import planner` stays light.
Tables are read once per process (functools.lru_cache) and only the columns used.

Tests point `root=` at a small slice in tests/data/silicon/ (CSV files of the same columns).
"""
from __future__ import annotations

import functools
import importlib.util
import re
from pathlib import Path

from ..core.errors import PlannerError

PACKAGE = "aiconfigurator_core"
EXTRA_HINT = "pip install 'fm-planner[silicon]' (aiconfigurator-core>=0.12)"

# catalog GPU name -> aiconfigurator system folder (systems/*.yaml); GPUs outside the catalog
# (B300, GB300, A30, B60, RTX Pro 6000) have no datasheet peaks here to measure efficiency against.
SYSTEMS = {"A100 80GB SXM": "a100_sxm", "H100 SXM": "h100_sxm", "H100 PCIe": "h100_pcie", "H200 SXM": "h200_sxm",
           "B200": "b200_sxm", "GB200": "gb200", "L4": "l4", "L40S": "l40s"}
# planner engine name (catalog/engines.py) -> aiconfigurator backend folder
ENGINES = {"vllm": "vllm", "sglang": "sglang", "tensorrt-llm": "trtllm"}

# op -> (folder, file stem, the columns read); a table missing one of them is refused by name.
TABLES = {
    "gemm": ("gemm", "gemm_perf", ("gemm_dtype", "m", "n", "k", "latency")),
    "context_attention": ("attention", "context_attention_perf",
                          ("batch_size", "isl", "num_heads", "num_key_value_heads", "head_dim", "attn_dtype",
                           "kv_cache_dtype", "window_size", "latency")),
    "generation_attention": ("attention", "generation_attention_perf",
                             ("batch_size", "num_heads", "num_key_value_heads", "head_dim", "kv_cache_dtype",
                              "step", "window_size", "latency")),
    "moe": ("moe", "moe_perf", ("moe_dtype", "num_tokens", "hidden_size", "inter_size", "topk", "num_experts",
                                "moe_tp_size", "moe_ep_size", "distribution", "latency")),
    "nccl": ("comm", "nccl_perf", ("op_name", "nccl_dtype", "num_gpus", "message_size", "latency")),
    "custom_allreduce": ("comm", "custom_allreduce_perf", ("num_gpus", "message_size", "latency", "kernel_source")),
}

# Columns older tables lack, and the value they mean there: A100's vLLM 0.14.0 attention tables predate
# sliding-window measurements (every row a full window).
OPTIONAL = {"window_size": 0}


class SiliconError(PlannerError):
    """The silicon tables cannot be used: the extra is missing, a name is unknown, a schema changed."""


def data_root(root: str | Path | None = None) -> Path:
    """The `systems/data` folder of the installed aiconfigurator-core, or `root` when given."""
    if root is not None:
        p = Path(root)
        if not p.is_dir():
            raise SiliconError(f"silicon tables: {p} is not a folder")
        return p
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SiliconError(f"silicon calibration needs the optional extra: {EXTRA_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "systems" / "data"


def system_for(gpu_name: str, root: Path) -> str:
    """The system folder of a catalog GPU name (or a system folder name itself); error lists the known."""
    available = sorted(p.name for p in root.iterdir() if (p / "gemm").is_dir())  # 0.12 ships empty l4, h100_pcie
    name = SYSTEMS.get(str(gpu_name), str(gpu_name).lower())
    if name not in available:
        known = [g for g, s in SYSTEMS.items() if s in available]
        raise SiliconError(f"no silicon tables for GPU {gpu_name!r}; available: {', '.join(known)} "
                           f"(aiconfigurator systems on disk: {', '.join(available)})")
    return name


def backend_for(engine: str) -> str:
    if engine not in ENGINES:
        raise SiliconError(f"no silicon tables for engine {engine!r}; available: {', '.join(ENGINES)}")
    return ENGINES[engine]


def version_key(v: str) -> tuple:
    """Release order of engine versions: 1.3.0rc20 before 1.3.0, 0.5.6.post2 after 0.5.6."""
    nums = [int(x) for x in re.findall(r"\d+", v.split("rc")[0].split(".post")[0].split(".dev")[0])]
    stage = 0 if ("rc" in v or "dev" in v) else (2 if "post" in v else 1)
    tail = [int(x) for x in re.findall(r"\d+", v[len(v.split("rc")[0].split(".post")[0].split(".dev")[0]):])]
    return (*nums, stage, *tail)


def versions(root: Path, system: str, op: str, backend: str) -> list[str]:
    """Versions measured for one op, oldest first ([] if none)."""
    folder, stem, _ = TABLES[op]
    base = root / system / folder / (backend if op != "nccl" else "nccl")
    if not base.is_dir():
        return []
    found = [d.name for d in base.iterdir() if _table_file(d, stem) is not None]
    return sorted(found, key=version_key)


def _table_file(folder: Path, stem: str) -> Path | None:
    for ext in (".parquet", ".csv"):
        if (folder / f"{stem}{ext}").is_file():
            return folder / f"{stem}{ext}"
    return None


def table_path(root: Path, system: str, op: str, backend: str, version: str) -> Path:
    folder, stem, _ = TABLES[op]
    path = _table_file(root / system / folder / (backend if op != "nccl" else "nccl") / version, stem)
    if path is None:
        raise SiliconError(f"no {op} table for {system}/{backend} {version}")
    return path


@functools.lru_cache(maxsize=64)
def read_table(path: Path, op: str):
    """One table's used columns as a pandas DataFrame (latency in seconds); cached per process.
    A table without one of the columns (a changed schema) is refused, naming the file and column."""
    import pandas as pd
    columns = TABLES[op][2]
    if path.suffix == ".csv":
        header = pd.read_csv(path, nrows=0).columns
    else:
        import pyarrow.parquet as pq
        header = pq.read_schema(path).names
    missing = [c for c in columns if c not in header and c not in OPTIONAL]
    if missing:
        raise SiliconError(f"{path}: column {missing[0]!r} not found (the table's schema changed; this reader "
                           f"knows aiconfigurator-core 0.12's). Columns present: {', '.join(header)}")
    present = [c for c in columns if c in header]
    df = pd.read_csv(path, usecols=present) if path.suffix == ".csv" else pd.read_parquet(path, columns=present)
    df = df.assign(**{c: v for c, v in OPTIONAL.items() if c in columns and c not in header})
    df = df.assign(latency_s=df["latency"].astype(float) / 1e3)  # the tables record milliseconds
    return df[df["latency_s"] > 0]
