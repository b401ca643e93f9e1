"""Scenario <-> sidebar widget values, and the parsers behind the uploaders. No streamlit here.

The sidebar shows friendlier units than the scenario stores (ms, %, millions of
tokens, $k); each `Field` names the scenario field and the factor between the two.
A widget value that still equals the converted scenario value maps back to the
scenario value exactly, so an untouched page computes exactly the loaded scenario.
"""
from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass

import planner
from planner.catalog.custom_gpu import loads_gpu_file
from planner.catalog.hf_config import parse_config_text
from planner.catalog.specs import KV_CACHE_DTYPES as _KV_DTYPES
from planner.core import files
from planner.core.errors import PlannerError
from planner.core.limits import MAX_FILE_BYTES, MAX_TOKENS
from planner.decide.distributions import INPUTS, entries
from planner.decide.scenario import input_check
from planner.decide.sections import ATTENTION_DP as _ATTENTION_DP
from planner.decide.sections import FINETUNE_METHODS as _METHODS
from planner.decide.sections import SERVING_PRECISIONS as _SERVING_PRECISIONS
from planner.decide.shortlist import AUTO, is_shortlist

MAX_UPLOAD_BYTES = MAX_FILE_BYTES  # uploads are small text files; refuse anything larger unread
PREFIX = "w."  # session-state keys of the sidebar widgets
UNC, UNC_ON = "unc.", "unc_on."  # PREFIX + UNC + input path: its [uncertainty] entry as inline TOML; UNC_ON: vary it
# A new entry's text: relative (x the scenario's value); a fraction's stays at or below x1 so it cannot pass 1.
NEW_ENTRY = '{ dist = "lognormal", sigma = 0.3 }'
NEW_FRACTION_ENTRY = '{ dist = "triangular", low = 0.8, mode = 1.0, high = 1.0, relative = true }'
# Every name a scenario may hold has its option, so a loaded scenario always shows (sections.py's sets).
PRECISIONS = ("bf16", "fp16", "fp8", "int8", "int8-weight-only", "int4-weight-only", "auto",
              *(p for p in _SERVING_PRECISIONS if p not in ("bf16", "fp16", "fp8", "int8", "int8-weight-only",
                                                         "int4-weight-only", "auto")))
PRECISION_LABELS = {"fp8": "fp8 (W8A8)", "int8": "int8 (W8A8)", "int8-weight-only": "int8 weight-only (W8A16)",
                    "int4-weight-only": "int4 weight-only (W4A16)", "auto": "auto: the cheapest meeting the targets"}
ENGINES = ("vllm", "tensorrt-llm", "sglang", "torch-compile", "roofline")
ATTENTION_DP = tuple(_ATTENTION_DP)  # [self_host] attention_dp: searched for an MoE model, forced on, off
ATTENTION_DP_LABELS = {"search": "search (MoE)", "on": "on (MoE only)"}  # short: the sidebar box is narrow
KV_DEFAULT = "engine default"  # the sidebar's name for kv_cache_dtype = None
KV_CACHE_DTYPES = (KV_DEFAULT, "bf16", "fp8", "int8", *(d for d in _KV_DTYPES if d not in ("bf16", "fp8", "int8")))
PERCENTILES = ("p50", "p90", "p99")
SAME_AS_SELF_HOST = "same as self-host"  # the sidebar's name for [scratch] model = None: train the self-hosted model
FINETUNE_METHODS = ("lora", "qlora", *(m for m in _METHODS if m not in ("lora", "qlora")))
FT_GPU_DEFAULT = "the serving GPU"  # the sidebar's name for finetune_gpu = None
SINGLE = ("sh_model", "sh_gpu", "sh_precision")  # one of each, replaced by the shortlist's widgets when it is on
# The scratch option's token policy as two widgets: the policy and, for the last two, an amount.
# Where an amount policy starts when picked (judgement): 1T tokens; 20 per parameter (Hoffmann et al. 2022).
TOKEN_AMOUNTS = {"tokens": 1000.0, "tokens_per_param": 20.0}
TOKEN_POLICIES = {"match": "as the replaced model", "chinchilla": "Chinchilla (20/param)",
                  "tokens": "billions of tokens", "tokens_per_param": "tokens per parameter"}


@dataclass(frozen=True)
class Field:
    key: str  # widget key, without PREFIX
    section: str  # Scenario attribute: workload, api, self_host, scratch, costs, flags
    name: str  # field of that section
    scale: float = 1.0  # widget value = scenario value x scale
    zero_is_none: bool = False  # the widget shows None as 0
    kind: type = float
    none_label: str = ""  # a text widget shows None as this


TEXTS = ("name", "description")  # the scenario's own text fields, edited as they are (the report's title and quote)
FIELDS = (
    Field("requests_per_day", "workload", "requests_per_day"),
    Field("input_tokens", "workload", "input_tokens"),
    Field("output_tokens", "workload", "output_tokens"),
    Field("prompt_overhead_tokens", "workload", "prompt_overhead_tokens"),
    Field("reasoning_tokens", "workload", "reasoning_tokens"),
    Field("peak_to_mean", "workload", "peak_to_mean"),
    Field("ttft_ms", "workload", "ttft_target_s", 1e3, zero_is_none=True),
    Field("tpot_ms", "workload", "tpot_target_s", 1e3, zero_is_none=True),
    Field("growth_pct", "workload", "monthly_growth", 100.0),
    Field("horizon_months", "workload", "horizon_months", kind=int),
    Field("api_cached_prompt", "api", "cached_prompt", kind=bool),
    Field("api_batch", "api", "batch", kind=bool),
    Field("sh_model", "self_host", "model", kind=str),
    Field("sh_gpu", "self_host", "gpu", kind=str),
    Field("sh_usd_per_gpu_hour", "self_host", "usd_per_gpu_hour", zero_is_none=True),
    Field("sh_precision", "self_host", "precision", kind=str),
    Field("sh_engine", "self_host", "engine", kind=str),
    Field("sh_kv_cache_dtype", "self_host", "kv_cache_dtype", kind=str, none_label=KV_DEFAULT),
    Field("sh_attention_dp", "self_host", "attention_dp", kind=str),
    Field("sh_latency_percentile", "self_host", "latency_percentile", kind=str),
    Field("ft_method", "self_host", "finetune_method", kind=str),
    Field("ft_mtokens", "self_host", "finetune_tokens", 1e-6),
    Field("ft_epochs", "self_host", "finetune_epochs"),
    Field("ft_gpu", "self_host", "finetune_gpu", kind=str, none_label=FT_GPU_DEFAULT),
    Field("ft_n_gpus", "self_host", "finetune_n_gpus", zero_is_none=True),
    Field("ops_engineers", "self_host", "ops_engineers", zero_is_none=True),  # 0: scales with the fleet
    Field("sh_sourcing", "self_host", "sourcing", kind=str),
    Field("sc_enabled", "scratch", "enabled", kind=bool),
    Field("sc_model", "scratch", "model", kind=str, none_label=SAME_AS_SELF_HOST),
    Field("sc_gpu", "scratch", "gpu", kind=str),
    Field("sc_sourcing", "scratch", "sourcing", kind=str),
    Field("sc_researchers", "scratch", "researchers"),
    Field("sc_months", "scratch", "months"),
    Field("kusd_per_engineer_year", "costs", "usd_per_engineer_year", 1e-3),
    Field("hw_region", "hardware", "region", kind=str),
    *(Field(f"flag_{f.name}", "flags", f.name, kind=bool) for f in dataclasses.fields(planner.Flags)),
)


def precision_label(name: str) -> str:
    """The precision select's text: the scenario's name, with what it quantizes."""
    return PRECISION_LABELS.get(name, name)


def bounds(key: str) -> tuple[float, float]:
    """The widget's (min, max): its scenario field's bounds (planner/core/limits.py) in the widget's unit,
    so every value a scenario may hold can be shown, and none past the bounds can be typed."""
    if key == "sc_amount":  # billions of tokens or tokens per parameter: one widget, the wider of the two ranges
        return 0.0, max(MAX_TOKENS / 1e9, input_check("scratch.tokens_per_param").hi)
    f = next(f for f in FIELDS if f.key == key)
    check = input_check(f"{f.section}.{f.name}")
    if f.kind is int:
        return check.lo, check.hi
    return (0.0 if f.zero_is_none else (check.lo or 0.0) * f.scale), check.hi * f.scale


def api_key(provider: str, model: str) -> str:
    """Select-box value for one hosted model."""
    return f"{provider}|{model}"


def api_label(provider: str, model: str, name: str) -> str:
    """The select box's text for one hosted model: it leads with the provider's model id, so typing an id
    ('gpt-4.1') finds the model however its display name is spelt ('gpt 4.1'); the name follows only where it
    says more than the id. Short enough to read in the sidebar; the prices show below it."""
    def words(t: str) -> str:
        return re.sub(r"[-_/:\s]+", " ", t.lower()).strip()
    named = "" if words(name) in words(model) else f" ({name})"
    return f"{model}{named} · {provider}"


def _canonical(lookup, name: str) -> str:
    """The catalog's spelling of `name`; an unknown name stays as typed (the comparison reports it)."""
    try:
        return lookup(name).name
    except PlannerError:
        return name


def _to_widget(f: Field, v):
    if f.kind is str and v is None:
        return f.none_label
    if f.kind is str:
        return _canonical(planner.model if f.name == "model" else planner.gpu, v) if f.name in ("model", "gpu") else v
    if f.kind in (bool, int):
        return f.kind(v)
    return 0.0 if v is None else float(v) * f.scale


def widget_values(s: planner.Scenario) -> dict:
    """Session-state values for every sidebar widget, from a scenario (keys with PREFIX)."""
    out = {PREFIX + f.key: _to_widget(f, getattr(getattr(s, f.section), f.name)) for f in FIELDS if f.key not in SINGLE}
    out.update({PREFIX + k: getattr(s, k) for k in TEXTS})
    out.update({PREFIX + k: v for k, v in shortlist_widgets(s.self_host).items()})
    out[PREFIX + "api_model"] = api_value(s)
    out[PREFIX + "sc_policy"], out[PREFIX + "sc_amount"] = token_widgets(s.scratch)
    out[PREFIX + "capability_floor"] = 0.0 if s.capability_floor is None else float(s.capability_floor)
    for path, entry in entries(s.uncertainty).items():
        out[PREFIX + UNC + path], out[PREFIX + UNC_ON + path] = entry_text(entry), True
    return out


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a TOML basic string
    return repr(v)


def entry_text(entry) -> str:
    """One [uncertainty] entry as the inline TOML a user would write: { dist = "lognormal", sigma = 0.6 }."""
    if not isinstance(entry, dict):
        return _toml_value(entry)
    return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in entry.items()) + " }"


def new_entry_text(path: str) -> str:
    return NEW_FRACTION_ENTRY if INPUTS[path].domain == "fraction" else NEW_ENTRY


def uncertain_paths(values: dict) -> list[str]:
    """The input paths the sidebar holds an [uncertainty] entry for, in INPUTS order."""
    held = {k[len(PREFIX + UNC):] for k in values if k.startswith(PREFIX + UNC)}
    return [p for p in INPUTS if p in held] + sorted(held - set(INPUTS))


def _uncertainty(values: dict) -> dict:
    """The [uncertainty] table the sidebar describes: each entry switched on, parsed from its text."""
    out = {}
    for path in uncertain_paths(values):
        if values.get(PREFIX + UNC_ON + path, True):
            text = values[PREFIX + UNC + path]
            data = files.loads_toml(f"entry = {text}", f"uncertainty.{path}")
            if set(data) != {"entry"}:
                raise PlannerError(f"uncertainty.{path}: write one inline table, such as {NEW_ENTRY}; got {text!r}")
            out[path] = data["entry"]
    return out


def shortlist_widgets(h) -> dict:
    """The model, GPU and precision widgets: one of each, or the shortlist's multi-selects (and "every GPU")."""
    models = [_canonical(planner.model, m) for m in _names(h.model)]
    gpus = [] if h.gpu == AUTO else [_canonical(planner.gpu, g) for g in _names(h.gpu)]
    precisions = list(_names(h.precision))
    return {"sh_search": is_shortlist(h), "sh_models": models, "sh_gpus": gpus, "sh_all_gpus": h.gpu == AUTO,
            "sh_precisions": precisions, "sh_model": models[0], "sh_gpu": gpus[0] if gpus else planner.SelfHostOption().gpu,
            "sh_precision": precisions[0]}


def _names(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


_SEARCH = ("sh_models", "sh_gpus", "sh_all_gpus", "sh_precisions")


def _model_gpu_precision(h, values: dict) -> dict:
    """[self_host] model, gpu and precision from the widgets: the single selects, or the shortlist's; {} when
    untouched (the scenario's exact spelling stays). A widget streamlit dropped (not drawn on the last run)
    takes the scenario's value."""
    old = shortlist_widgets(h)
    values = {**{PREFIX + k: v for k, v in old.items()}, **values}
    search = values[PREFIX + "sh_search"]
    if search == old["sh_search"] and all(values[PREFIX + k] == old[k] for k in (_SEARCH if search else SINGLE)):
        return {}
    if not search:
        return {f: values[PREFIX + k] for f, k in zip(("model", "gpu", "precision"), SINGLE)}
    return {"model": tuple(values[PREFIX + "sh_models"]), "precision": tuple(values[PREFIX + "sh_precisions"]),
            "gpu": AUTO if values[PREFIX + "sh_all_gpus"] else tuple(values[PREFIX + "sh_gpus"])}


def token_widgets(c) -> tuple[str, float]:
    """(policy, amount) widgets for [scratch] tokens / tokens_per_param; the amount is 0 for match and chinchilla."""
    if c.tokens_per_param is not None:
        return "tokens_per_param", float(c.tokens_per_param)
    if isinstance(c.tokens, str):
        return c.tokens, 0.0
    return "tokens", float(c.tokens) / 1e9


def _token_fields(policy: str, amount: float) -> dict:
    """[scratch] tokens / tokens_per_param from the two widgets; an amount policy needs an amount > 0."""
    if policy in ("tokens", "tokens_per_param") and not amount > 0:
        raise PlannerError(f"scratch tokens: {TOKEN_POLICIES[policy]} needs an amount above 0")
    if policy == "tokens":
        return {"tokens": float(amount) * 1e9, "tokens_per_param": None}
    if policy == "tokens_per_param":
        return {"tokens": "match", "tokens_per_param": float(amount)}
    return {"tokens": policy, "tokens_per_param": None}


def scenario_from_values(base: planner.Scenario, values: dict) -> planner.Scenario:
    """The scenario the sidebar describes: `base` with each widget's value written back.

    Raises PlannerError (e.g. InputError from Workload) for an impossible combination.
    """
    changes: dict[str, dict] = {}
    picked = _model_gpu_precision(base.self_host, values)
    if picked:
        changes["self_host"] = picked
    for f in FIELDS:
        if f.key in SINGLE:
            continue
        old = getattr(getattr(base, f.section), f.name)
        v = values[PREFIX + f.key]
        if v == _to_widget(f, old):
            continue  # untouched: keep the scenario's exact value (and its alias spelling)
        if f.kind is float:
            v = None if (f.zero_is_none and v == 0) else float(v) / f.scale
        elif f.none_label and v == f.none_label:
            v = None
        changes.setdefault(f.section, {})[f.name] = f.kind(v) if f.kind is not float and v is not None else v
    tokens = (values[PREFIX + "sc_policy"], values[PREFIX + "sc_amount"])
    if tokens != token_widgets(base.scratch):
        changes["scratch"] = {**changes.get("scratch", {}), **_token_fields(*tokens)}
    floor = values[PREFIX + "capability_floor"]  # the widget shows "no floor" as 0
    top = {} if floor == (base.capability_floor or 0.0) else {"capability_floor": float(floor) or None}
    provider, model = values[PREFIX + "api_model"].split("|", 1)
    if values[PREFIX + "api_model"] != api_value(base):
        # Another model: the file's price overrides belonged to the old one.
        changes["api"] = {**changes.get("api", {}), "model": model, "provider": provider, "input_usd_per_mtok": None,
                          "output_usd_per_mtok": None, "cached_input_usd_per_mtok": None}
    if "workload" in changes:
        changes["workload"] = base.workload.with_(**changes["workload"])  # validates
    sections = {k: (v if k == "workload" else dataclasses.replace(getattr(base, k), **v)) for k, v in changes.items()}
    texts = {k: values[PREFIX + k] for k in TEXTS if values.get(PREFIX + k, getattr(base, k)) != getattr(base, k)}
    unc = _uncertainty(values)
    if unc != entries(base.uncertainty):  # untouched: keep the file's own table (its nesting and order)
        sections["uncertainty"] = unc
    return base.replace(**sections, **top, **texts)


def api_value(s: planner.Scenario) -> str:
    """Select-box value of the scenario's hosted model (raises PlannerError if it has no price)."""
    price = planner.api_price(s.api.model, s.api.provider)
    return api_key(price.provider_id, price.model_id)


def parse_scenario(data: bytes | str, what: str = "uploaded scenario") -> planner.Scenario:
    """A scenario from uploaded or pasted TOML (size, encoding, nesting checked by planner.core.files);
    its hosted API model must be priced too."""
    text = files.check_text(data, what, MAX_UPLOAD_BYTES) if isinstance(data, str) \
        else files.decode(data, what, MAX_UPLOAD_BYTES)
    s = planner.loads_scenario(text, where=what)
    try:
        planner.api_price(s.api.model, s.api.provider)
    except PlannerError as e:
        raise PlannerError(f"{what}: [api] {e}") from None
    return s


def parse_hf_config(data: bytes, what: str = "config.json") -> tuple[planner.ModelSpec, str]:
    """A ModelSpec from an uploaded Hugging Face config.json (JSON data only), and its JSON text.

    The name is the config's `_name_or_path`, else the file name `what` without .json;
    a name the catalog already uses gets " (uploaded)" appended, so it cannot shadow
    the catalog entry.
    """
    cfg = parse_config_text(files.decode(data, what, MAX_UPLOAD_BYTES), what)
    named = isinstance(cfg.get("_name_or_path"), str) and cfg["_name_or_path"]
    spec = planner.model_from_hf_config(cfg, name=None if named else what.removesuffix(".json"))
    if _canonical(planner.model, spec.name) != spec.name or spec.name in {m.name for m in planner.models()}:
        spec = dataclasses.replace(spec, name=f"{spec.name} (uploaded)")
    return spec, json.dumps(cfg, sort_keys=True)


def parse_gpu_spec(data: bytes, what: str = "gpu.toml") -> list[dict]:
    """The checked GPU tables of an uploaded custom GPU spec (TOML, or JSON by its name; catalog/custom_gpu.py)."""
    text = files.decode(data, what, MAX_UPLOAD_BYTES)
    return loads_gpu_file(text, what, fmt="json" if what.lower().endswith(".json") else "toml")


def with_custom_gpus(s: planner.Scenario, tables: list[dict]) -> planner.Scenario:
    """`s` with these custom GPUs in its [[custom_gpu]] (one of the same name replaced), so a saved scenario keeps them."""
    names = {t["name"].strip().lower() for t in tables}
    kept = [t for t in s.custom_gpu if t["name"].strip().lower() not in names]
    return s.replace(custom_gpu=(*kept, *tables))
