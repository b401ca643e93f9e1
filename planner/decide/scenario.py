"""Scenario: one workload and the three options to compare, read from and written to TOML.

Loading is strict: an unknown key or a wrong type is refused with the key's
name and the reason; load(save(s)) == s for every scenario.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

from ..core.errors import PlannerError, close_matches
from ..estimate.pretraining import USD_PER_ENGINEER_YEAR  # judgement: fully loaded US ML engineer
from ..estimate.serving import LATENCY_PERCENTILE, MIN_REPLICAS, UTILIZATION_CEILING
from ..estimate.workload import Workload
from .distributions import parse_uncertainty
from .scratch import Programme, check_token_policy
from .sourcing import Hardware, check_sourcing


@dataclass(frozen=True)
class ApiOption:
    """(a) A hosted API."""

    model: str = "gpt-4o-mini"
    provider: str | None = None
    cached_prompt: bool = True  # bill the fixed prompt at the cached-input price where the data has one
    batch: bool = False  # use the provider's batch discount (asynchronous traffic only)
    input_usd_per_mtok: float | None = None  # overrides of the price data
    output_usd_per_mtok: float | None = None
    cached_input_usd_per_mtok: float | None = None
    integration_usd: float = 10_000.0  # one-time: prompt work, evaluation harness, integration (assumption)
    months_to_production: float = 0.5  # assumption


@dataclass(frozen=True)
class SelfHostOption:
    """(b) Open weights, fine-tuned, served on our own (rented) GPUs."""

    model: str = "Llama-3.1-8B"
    gpu: str = "H100 SXM"
    precision: str = "bf16"  # bf16, fp16, fp8, int8 (W8A8), int8-weight-only, int4-weight-only, or "auto" (searched)
    engine: str = "vllm"  # vllm, tensorrt-llm, sglang, torch-compile, roofline (catalog/data/engines.toml)
    kv_cache_dtype: str | None = None  # bf16, fp8, int8; None: the engine's default at the precision
    tensor_parallel: int | None = None  # None: searched (1, 2, 4, 8) for the lowest cost
    max_batch_size: int | None = None  # None: the engine's cap on running sequences
    latency_percentile: str = LATENCY_PERCENTILE  # p50, p90 or p99 of TTFT and TPOT must meet the targets
    usd_per_gpu_hour: float | None = None  # None: the catalog's on-demand price
    finetune_method: str = "lora"  # full | lora | qlora | none
    finetune_tokens: float = 20e6  # training tokens per epoch
    finetune_epochs: float = 3.0
    drops_prompt_overhead: bool = True  # the fine-tune replaces the few-shot prompt
    utilization_ceiling: float | None = UTILIZATION_CEILING  # optional cap on a replica's busy share at the peak
    min_replicas: int = MIN_REPLICAS
    ops_engineers: float = 1.0  # FTE to run the serving stack
    evaluation_usd: float = 20_000.0  # one-time evaluation of the tuned model (assumption)
    setup_months: float = 1.0  # infrastructure before first production (assumption)
    sourcing: str = "on-demand"  # on-demand | reserved-1y | reserved-3y | spot | owned (decide/sourcing.py)

    def __post_init__(self):
        check_sourcing(self.sourcing, "self_host.sourcing")


@dataclass(frozen=True)
class ScratchOption:
    """(c) Pretrain our own model, then serve it like (b)."""

    enabled: bool = True
    model: str = "Llama-3.1-8B"  # the architecture to train
    gpu: str = "H100 SXM"
    tokens: str | float = "match"  # "match" | "chinchilla" | a number of tokens (decide/scratch.py)
    tokens_per_param: float | None = None  # instead of tokens: this many tokens per active parameter
    n_gpus: int | None = None
    researchers: float = 10.0
    months: float = 12.0
    prep_months: float = 3.0  # data preparation and ablations before the final run
    evaluation_usd: float = 100_000.0
    sourcing: str = "on-demand"  # of the training cluster: on-demand | reserved-1y | reserved-3y | spot | owned

    def __post_init__(self):
        check_sourcing(self.sourcing, "scratch.sourcing")
        check_token_policy(self.tokens, self.tokens_per_param)


@dataclass(frozen=True)
class Costs:
    usd_per_engineer_year: float = USD_PER_ENGINEER_YEAR


@dataclass(frozen=True)
class Flags:
    """Non-cost reasons (shared/background/what-are-foundation-models.txt)."""

    proprietary_data: bool = False  # data that must not leave, or that a generic model lacks
    regulatory_isolation: bool = False  # inputs may not go to a third-party API
    labels_over_1000: bool = False  # enough high-quality labels for a fine-tune to beat prompting
    latency_critical: bool = False  # the latency budget rules out long prompts
    frontier_research: bool = False  # the model itself is the product or the research


@dataclass(frozen=True)
class Scenario:
    name: str = "Untitled scenario"
    description: str = ""
    seed: int = 0
    workload: Workload = field(default_factory=lambda: Workload(requests_per_day=10_000, input_tokens=500, output_tokens=300))
    api: ApiOption = field(default_factory=ApiOption)
    self_host: SelfHostOption = field(default_factory=SelfHostOption)
    scratch: ScratchOption = field(default_factory=ScratchOption)
    costs: Costs = field(default_factory=Costs)
    flags: Flags = field(default_factory=Flags)
    hardware: Hardware = field(default_factory=Hardware)
    programme: Programme = field(default_factory=Programme)
    uncertainty: dict = field(default_factory=dict)  # input path -> distribution (see uncertainty.py)

    def replace(self, **changes) -> Scenario:
        return dataclasses.replace(self, **changes)


_SECTIONS = {"workload": Workload, "api": ApiOption, "self_host": SelfHostOption, "scratch": ScratchOption,
             "costs": Costs, "flags": Flags, "hardware": Hardware, "programme": Programme}
_TOP = {"name", "description", "seed"}


def _type_ok(value, hint) -> tuple[bool, object]:
    """Check `value` against a field's annotation; ints are accepted for floats."""
    args = typing.get_args(hint)
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        for a in args:
            ok, v = _type_ok(value, a)
            if ok:
                return ok, v
        return False, value
    if hint is type(None):
        return value is None, value
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    return isinstance(value, hint), value


def _type_name(hint) -> str:
    return " or ".join("none" if a is type(None) else a.__name__ for a in (typing.get_args(hint) or (hint,)))


def _build(cls, table: dict, where: str):
    if not isinstance(table, dict):
        raise PlannerError(f"[{where}] must be a table, got {type(table).__name__}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in table.items():
        if key not in hints:
            near = close_matches(key, names)
            hint = f"; did you mean {', '.join(near)}?" if near else f"; known keys: {', '.join(names)}"
            raise PlannerError(f"[{where}] unknown key {key!r}{hint}")
        ok, v = _type_ok(value, hints[key])
        if not ok:
            raise PlannerError(f"[{where}] {key} must be {_type_name(hints[key])}, got {value!r}")
        kwargs[key] = v
    return cls(**kwargs)


def scenario_from_dict(data: dict) -> Scenario:
    """Build a Scenario from parsed TOML; unknown keys and wrong types are errors naming the key."""
    top = {}
    for key, value in data.items():
        if key in _SECTIONS:
            top[key] = _build(_SECTIONS[key], value, key)
        elif key == "uncertainty":
            if not isinstance(value, dict):
                raise PlannerError("[uncertainty] must be a table of input -> distribution")
            parse_uncertainty(value)  # refuse impossible distributions at load, naming the input
            top[key] = value
        elif key in _TOP:
            ok, v = _type_ok(value, typing.get_type_hints(Scenario)[key])
            if not ok:
                raise PlannerError(f"{key} must be {_type_name(typing.get_type_hints(Scenario)[key])}, got {value!r}")
            top[key] = v
        else:
            near = close_matches(key, [*_SECTIONS, *_TOP, "uncertainty"])
            raise PlannerError(f"unknown key {key!r}" + (f"; did you mean {', '.join(near)}?" if near else ""))
    return Scenario(**top)


def load_scenario(path: str | os.PathLike) -> Scenario:
    """Read a scenario TOML file; any problem is a PlannerError naming the file and the key."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlannerError(f"{p}: no such scenario file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise PlannerError(f"{p}: cannot read: {e}") from None
    return loads_scenario(text, where=str(p))


def loads_scenario(text: str, where: str = "scenario") -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise PlannerError(f"{where}: not valid TOML: {e}") from None
    try:
        return scenario_from_dict(data)
    except PlannerError as e:
        raise PlannerError(f"{where}: {e}") from None


def scenario_to_dict(s: Scenario) -> dict:
    """Plain data for TOML: None values are left out (TOML has no null; None is each field's default)."""
    def strip(d):
        return {k: (strip(v) if isinstance(v, dict) else v) for k, v in d.items() if v is not None}
    out = {"name": s.name, "description": s.description, "seed": s.seed}
    for key in _SECTIONS:
        out[key] = strip(dataclasses.asdict(getattr(s, key)))
    if s.uncertainty:
        out["uncertainty"] = s.uncertainty
    return out


def dumps_scenario(s: Scenario) -> str:
    return tomli_w.dumps(scenario_to_dict(s))


def save_scenario(s: Scenario, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write atomically; refuse to replace an existing file unless overwrite=True."""
    p = Path(path)
    if p.exists() and not overwrite:
        raise PlannerError(f"{p} exists; pass overwrite=True (or --force) to replace it")
    text = dumps_scenario(s)
    fd, tmp = tempfile.mkstemp(dir=p.parent if str(p.parent) else ".", prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return p
