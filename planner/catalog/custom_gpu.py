"""A GPU not in the catalog, from a small TOML or JSON spec in the catalog's own format and units.

    name = "My ASIC"
    peak_tflops = { bf16 = 500, fp8 = 1000 }   # dense, per dtype the GPU has matrix units for
    memory_gib = 96
    memory_tb_per_s = 4.0
    interconnect_gb_per_s = 900                # scale-up link, both directions (PCIe cards: the PCIe figure)
    tdp_watts = 700
    usd_per_gpu_hour = 2.5                     # on-demand price (an owned-sunk fleet does not use it)
    # optional: vendor, link_kind, scale_up_domain_size, scale_out_gbit_per_s, sources, notes,
    #           launched = "YYYY-MM", successor = "a catalog (or registered) GPU"

A file holds one GPU (the keys at the top), or several as `[[custom_gpu]]` tables (a scenario's
own section). Each is held to GPUSpec's checks (catalog/specs.py) in the file's units, and a
datasheet figure may not be zero here (the catalog's 0 = unknown does not apply to a spec one
writes). The file is read through core/files.py (size, encoding and nesting refused first).
"""
from __future__ import annotations

from pathlib import Path

from ..core import files
from ..core import validate as V
from ..core.errors import InputError, PlannerError
from .lookup import check_successor, gpu_from_dict, register_gpu
from .specs import GPUSpec

SECTION = "custom_gpu"  # a scenario's [[custom_gpu]] tables; also accepted in a GPU file
_DATASHEET = ("tdp_watts", "interconnect_gb_per_s")  # 0 means "unknown" in the catalog; a datasheet has them


def custom_gpu(table: dict, where: str = "custom GPU") -> GPUSpec:
    """A GPUSpec from one table in the catalog's format; any bad figure is an InputError naming the key."""
    V.instance(where, table, dict, "a table of GPU fields")
    try:
        spec = gpu_from_dict(table)
    except PlannerError as e:
        e.args = (f"{where}: {e}",)
        raise e from None
    for key in _DATASHEET:
        if table[key] == 0:
            raise InputError(f"{where}: gpu {spec.name!r} field {key}", "must be > 0 (the datasheet figure), got 0")
    check_successor(spec, f"{where}: gpu {spec.name!r}")
    return spec


def gpu_tables(data, where: str) -> list[dict]:
    """The GPU tables of parsed TOML/JSON: one GPU at the top level, or a list under `custom_gpu`."""
    if isinstance(data, dict) and SECTION in data:
        extra = sorted(set(data) - {SECTION})
        if extra:
            raise PlannerError(f"{where}: give one GPU's keys or [[{SECTION}]] tables, not both (found {extra})")
        data = data[SECTION]
    tables = data if isinstance(data, list) else [data]
    if not tables:
        raise PlannerError(f"{where}: no GPU in the file")
    for i, t in enumerate(tables):
        V.instance(f"{where} [{i}]", t, dict, "a table of GPU fields")
    return tables


def loads_gpu_file(text: str, where: str = "GPU spec", *, fmt: str = "toml") -> list[dict]:
    """The checked GPU tables of a spec's text (TOML or JSON); each builds a GPUSpec or raises."""
    V.one_of("format", fmt, ("toml", "json"))
    data = files.loads_json(text, where) if fmt == "json" else files.loads_toml(text, where)
    tables = gpu_tables(data, where)
    for i, t in enumerate(tables):
        custom_gpu(t, where if len(tables) == 1 else f"{where} [{i}]")
    return tables


def read_gpu_file(path) -> list[dict]:
    """The checked GPU tables of a .toml or .json file."""
    p = files.as_path(path, "GPU spec file")
    text = files.read_text(p, "GPU spec file")
    return loads_gpu_file(text, str(p), fmt="json" if Path(p).suffix.lower() == ".json" else "toml")


def register_gpu_file(path) -> list[GPUSpec]:
    """Read a GPU spec file and make each GPU findable by name; the specs registered."""
    return [register_gpu(custom_gpu(t, str(path))) for t in read_gpu_file(path)]
