"""Catalog lookups: GPUs and open-weights models, loaded from TOML data with sources.

Data files live in planner/catalog/data/. Units in the files are the vendors' (GiB, TB/s,
TFLOP/s) so a reader can check them against the cited page; they are converted to
SI here, once.
"""
from __future__ import annotations

import functools
import tomllib
from dataclasses import fields
from importlib import resources

from ..core import validate as V
from ..core.errors import PlannerError, UnknownNameError
from ..core.provenance import Source
from .specs import GPUSpec, MLASpec, ModelSpec

GIB = 2**30

_GPU_KEYS = {"name", "aliases", "vendor", "peak_tflops", "memory_gib", "memory_tb_per_s",
             "interconnect_gb_per_s", "tdp_watts", "usd_per_gpu_hour", "link_kind", "scale_up_domain_size",
             "scale_out_gbit_per_s", "sources", "notes"}
_MODEL_KEYS = {f.name for f in fields(ModelSpec)} | {"aliases"}


def _source(d: dict, where: str) -> Source:
    try:
        return Source(url=d["url"], checked=str(d["checked"]), note=d.get("note", ""))
    except (KeyError, TypeError):
        raise PlannerError(f"{where}: a source needs 'url' and 'checked', got {d!r}") from None


def _read(filename: str) -> dict:
    text = resources.files("planner.catalog").joinpath("data", filename).read_text(encoding="utf-8")
    return tomllib.loads(text)


def gpu_from_dict(d: dict) -> GPUSpec:
    """Build a GPUSpec from a catalog-style dict (vendor units, see gpus.toml)."""
    where = f"gpu {d.get('name', '?')!r}"
    unknown = set(d) - _GPU_KEYS
    if unknown:
        raise PlannerError(f"{where}: unknown field(s) {sorted(unknown)}")
    try:
        return GPUSpec(
            name=d["name"],
            vendor=d.get("vendor", ""),
            peak_flops={k: float(v) * 1e12 for k, v in d["peak_tflops"].items()},
            memory_bytes=float(d["memory_gib"]) * GIB,
            memory_bytes_per_s=float(d["memory_tb_per_s"]) * 1e12,
            interconnect_bytes_per_s=float(d["interconnect_gb_per_s"]) * 1e9,
            tdp_watts=float(d["tdp_watts"]),
            usd_per_gpu_hour=float(d["usd_per_gpu_hour"]),
            link_kind=d.get("link_kind", ""),
            scale_up_domain_size=d.get("scale_up_domain_size", 1),
            scale_out_bytes_per_s=float(d.get("scale_out_gbit_per_s", 0)) * 1e9 / 8,
            sources={k: _source(v, where) for k, v in d.get("sources", {}).items()},
        )
    except KeyError as e:
        raise PlannerError(f"{where}: missing field {e.args[0]!r}") from None


def model_from_dict(d: dict) -> ModelSpec:
    """Build a ModelSpec from a catalog-style dict (see models.toml)."""
    where = f"model {d.get('name', '?')!r}"
    unknown = set(d) - _MODEL_KEYS
    if unknown:
        raise PlannerError(f"{where}: unknown field(s) {sorted(unknown)}")
    kw = {k: v for k, v in d.items() if k != "aliases"}
    if "mla" in kw:
        kw["mla"] = MLASpec(**kw["mla"])
    for key in ("source", "pretraining_source"):
        if key in kw:
            kw[key] = _source(kw[key], where)
    try:
        return ModelSpec(**kw)
    except TypeError as e:
        raise PlannerError(f"{where}: {e}") from None


def _index(entries: list[dict], build) -> tuple[dict, dict]:
    by_key, canonical = {}, {}
    for d in entries:
        spec = build(d)
        canonical[spec.name] = spec
        for key in [spec.name, *d.get("aliases", [])]:
            by_key[key.lower()] = spec
    return by_key, canonical


@functools.cache
def _gpus() -> tuple[dict, dict]:
    return _index(_read("gpus.toml")["gpu"], gpu_from_dict)


@functools.cache
def _models() -> tuple[dict, dict]:
    return _index(_read("models.toml")["model"], model_from_dict)


def gpu(name: str | GPUSpec) -> GPUSpec:
    """A GPU by catalog name or alias (case-insensitive); a GPUSpec passes through."""
    if isinstance(name, GPUSpec):
        return name
    V.name_text("name", name)  # text, one line: a number, a list or 10**5000 is refused, not str()-ed
    by_key, canonical = _gpus()
    try:
        return by_key[str(name).strip().lower()]
    except KeyError:
        raise UnknownNameError("GPU", str(name), canonical) from None


# Specs a user supplied at run time (e.g. an uploaded config.json), by lower-case name.
# In memory only: a scenario file naming one loads again only where it is registered.
_USER_MODELS: dict[str, ModelSpec] = {}


def register_model(spec: ModelSpec) -> ModelSpec:
    """Make a user's ModelSpec findable by its name, so a Scenario (which names models) can use it.

    A catalog name or alias cannot be taken over: every estimate quoting it would change.
    Registering a user spec again under the same name replaces the earlier one.
    """
    if not isinstance(spec, ModelSpec):
        raise PlannerError(f"register_model needs a ModelSpec, got {type(spec).__name__}")
    key = spec.name.strip().lower()
    if key in _models()[0]:
        raise PlannerError(f"model name {spec.name!r} is already in the catalog; give the custom model another name")
    _USER_MODELS[key] = spec
    return spec


def model(name: str | ModelSpec) -> ModelSpec:
    """An open-weights model by catalog name or alias (case-insensitive), else a registered user
    model; a ModelSpec passes through."""
    if isinstance(name, ModelSpec):
        return name
    V.name_text("name", name)
    by_key, canonical = _models()
    key = str(name).strip().lower()
    try:
        return by_key[key] if key in by_key else _USER_MODELS[key]
    except KeyError:
        raise UnknownNameError("model", str(name), [*canonical, *(m.name for m in _USER_MODELS.values())]) from None


def gpus() -> list[GPUSpec]:
    """Every catalog GPU, in file order."""
    return list(_gpus()[1].values())


def models() -> list[ModelSpec]:
    """Every catalog model, in file order."""
    return list(_models()[1].values())
