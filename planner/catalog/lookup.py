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
from ..core.errors import InputError, PlannerError, UnknownNameError, show
from ..core.provenance import Source
from .specs import GPU_CHECKS, PEAK_FLOPS_CHECK, GPUSpec, MLASpec, ModelSpec

GIB = 2**30

_GPU_KEYS = {"name", "aliases", "vendor", "peak_tflops", "memory_gib", "memory_tb_per_s",
             "interconnect_gb_per_s", "tdp_watts", "usd_per_gpu_hour", "link_kind", "scale_up_domain_size",
             "scale_out_gbit_per_s", "sources", "notes", "launched", "successor"}
_MODEL_KEYS = {f.name for f in fields(ModelSpec)} | {"aliases"}


def _source(d: dict, where: str) -> Source:
    try:
        return Source(url=d["url"], checked=str(d["checked"]), note=d.get("note", ""))
    except (KeyError, TypeError):
        raise PlannerError(f"{where}: a source needs 'url' and 'checked', got {d!r}") from None


def _read(filename: str) -> dict:
    text = resources.files("planner.catalog").joinpath("data", filename).read_text(encoding="utf-8")
    return tomllib.loads(text)


# A file's key -> (GPUSpec field, SI units per file unit, file unit): the files keep the vendors' units.
_FILE_UNITS = {"memory_gib": ("memory_bytes", GIB, "GiB"), "memory_tb_per_s": ("memory_bytes_per_s", 1e12, "TB/s"),
               "interconnect_gb_per_s": ("interconnect_bytes_per_s", 1e9, "GB/s"),
               "tdp_watts": ("tdp_watts", 1.0, "W"), "usd_per_gpu_hour": ("usd_per_gpu_hour", 1.0, "$/GPU-hour"),
               "scale_out_gbit_per_s": ("scale_out_bytes_per_s", 1e9 / 8, "Gbit/s")}
GPU_REQUIRED = ("name", "peak_tflops", "memory_gib", "memory_tb_per_s", "interconnect_gb_per_s", "tdp_watts",
                "usd_per_gpu_hour")


def _file_number(d: dict, key: str, where: str, default=None) -> float:
    """d[key] in the file's unit, checked against GPUSpec's own bounds (converted), then in SI units."""
    field, scale, unit = _FILE_UNITS[key]
    c = GPU_CHECKS[field]
    check = V.Real(c.lo / scale, c.hi / scale, c.lo_open, unit)
    return check(f"{where} field {key}", d.get(key, default)) * scale


def gpu_from_dict(d: dict) -> GPUSpec:
    """Build a GPUSpec from a catalog-style dict (vendor units, see gpus.toml); a missing, non-numeric,
    non-finite or out-of-range figure is an InputError naming the file's key."""
    V.instance("gpu", d, dict, "a table of GPU fields")
    where = f"gpu {show(d.get('name', '?'))}"
    unknown = set(d) - _GPU_KEYS
    if unknown:
        raise PlannerError(f"{where}: unknown field(s) {sorted(map(str, unknown))}; known: {', '.join(sorted(_GPU_KEYS))}")
    missing = [k for k in GPU_REQUIRED if k not in d]
    if missing:
        raise InputError(f"{where} field {missing[0]}", f"missing (a GPU needs {', '.join(GPU_REQUIRED)})")
    peaks = V.instance(f"{where} field peak_tflops", d["peak_tflops"], dict, "a table of dtype -> dense TFLOP/s")
    if not peaks:
        raise InputError(f"{where} field peak_tflops", "needs at least one dtype = dense TFLOP/s (e.g. bf16 = 989)")
    peak_check = V.Real(0.0, PEAK_FLOPS_CHECK.hi / 1e12, lo_open=True, unit="TFLOP/s dense")
    sources = V.instance(f"{where} field sources", d.get("sources", {}), dict, "a table of field -> source")
    return GPUSpec(
        name=V.name_text(f"{where} field name", d["name"]),
        vendor=V.name_text(f"{where} field vendor", d.get("vendor", "")) if d.get("vendor") else "",
        peak_flops={V.name_text(f"{where} field peak_tflops key", k): peak_check(f"{where} field peak_tflops.{k}", v) * 1e12
                    for k, v in peaks.items()},
        memory_bytes=_file_number(d, "memory_gib", where),
        memory_bytes_per_s=_file_number(d, "memory_tb_per_s", where),
        interconnect_bytes_per_s=_file_number(d, "interconnect_gb_per_s", where),
        tdp_watts=_file_number(d, "tdp_watts", where),
        usd_per_gpu_hour=_file_number(d, "usd_per_gpu_hour", where),
        link_kind=d.get("link_kind", ""),
        scale_up_domain_size=d.get("scale_up_domain_size", 1),
        scale_out_bytes_per_s=_file_number(d, "scale_out_gbit_per_s", where, default=0),
        sources={k: _source(v, where) for k, v in sources.items()},
        launched=_launched(d, where),
        successor=V.name_text(f"{where} field successor", d["successor"]) if d.get("successor") else "",
    )


def _launched(d: dict, where: str) -> str:
    from .months import month_text
    return month_text(f"{where} field launched", d["launched"]) if d.get("launched") else ""


def check_successor(spec: GPUSpec, where: str) -> None:
    """A successor must be a GPU one can look up (the catalog's, or a registered custom GPU)."""
    if spec.successor:
        try:
            gpu(spec.successor)
        except UnknownNameError as e:
            raise InputError(f"{where} field successor", f"names no GPU in the catalog: {e}",
                             value=spec.successor, allowed="a catalog GPU or a registered custom GPU") from None


def model_from_dict(d: dict) -> ModelSpec:
    """Build a ModelSpec from a catalog-style dict (see models.toml)."""
    where = f"model {d.get('name', '?')!r}"
    unknown = set(d) - _MODEL_KEYS
    if unknown:
        raise PlannerError(f"{where}: unknown field(s) {sorted(unknown)}")
    kw = {k: v for k, v in d.items() if k != "aliases"}
    if "mla" in kw:
        kw["mla"] = _mla(kw["mla"], where)
    for key in ("source", "pretraining_source"):
        if key in kw:
            kw[key] = _source(kw[key], where)
    try:
        return ModelSpec(**kw)
    except TypeError as e:
        raise PlannerError(f"{where}: {e}") from None


def _mla(d, where: str) -> MLASpec:
    """An MLASpec from a catalog table: exactly its five fields (values are checked by ModelSpec)."""
    fields = set(MLASpec.__dataclass_fields__)
    if not isinstance(d, dict) or set(d) != fields:
        got = sorted(d) if isinstance(d, dict) else type(d).__name__
        raise PlannerError(f"{where} field mla: needs exactly {sorted(fields)}, got {got}")
    return MLASpec(**d)


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
    by_key, canonical = _index(_read("gpus.toml")["gpu"], gpu_from_dict)
    for g in canonical.values():  # every successor is another catalog GPU
        if g.successor and g.successor.strip().lower() not in by_key:
            raise InputError(f"gpus.toml: gpu {show(g.name)} field successor",
                             f"names no catalog GPU, got {show(g.successor)}", value=g.successor)
    return by_key, canonical


@functools.cache
def _models() -> tuple[dict, dict]:
    return _index(_read("models.toml")["model"], model_from_dict)


def gpu(name: str | GPUSpec) -> GPUSpec:
    """A GPU by catalog name or alias (case-insensitive), else a registered custom GPU; a GPUSpec passes through."""
    if isinstance(name, GPUSpec):
        return name
    V.name_text("name", name)  # text, one line: a number, a list or 10**5000 is refused, not str()-ed
    by_key, canonical = _gpus()
    key = str(name).strip().lower()
    try:
        return by_key[key] if key in by_key else _USER_GPUS[key]
    except KeyError:
        raise UnknownNameError("GPU", str(name), [*canonical, *(g.name for g in _USER_GPUS.values())]) from None


# Custom GPUs (a scenario's [[custom_gpu]], a --gpu-file, a dashboard upload), by lower-case name; in memory only.
_USER_GPUS: dict[str, GPUSpec] = {}


def register_gpu(spec: GPUSpec) -> GPUSpec:
    """Make a custom GPUSpec findable by its name (a Scenario names GPUs). A catalog name or alias cannot be
    taken over; registering a name again replaces the earlier spec."""
    V.instance("custom GPU", spec, GPUSpec, "a GPUSpec")
    key = spec.name.strip().lower()
    if key in _gpus()[0]:
        raise PlannerError(f"GPU name {spec.name!r} is already in the catalog; give the custom GPU another name")
    _USER_GPUS[key] = spec
    return spec


def custom_gpus() -> list[GPUSpec]:
    """The custom GPUs registered in this process."""
    return list(_USER_GPUS.values())


def custom_gpus_key() -> tuple:
    """What a memoized estimate must key on besides a GPU's name: every custom GPU's full spec."""
    return tuple(sorted((k, repr(g)) for k, g in _USER_GPUS.items()))


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
