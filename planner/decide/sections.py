"""The sections of a scenario: the three options, staff costs and the non-cost flags.

Every field is a `knob`: its default, its check (type, bounds, unit; see core/validate.py
and core/limits.py) and what it means. Construction validates every field, so an
impossible value (`ops_engineers = -5`, a NaN GPU price) is refused before any work,
naming `section.field`. A new validated field is one line.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ..catalog.engines import ENGINES
from ..catalog.specs import KV_CACHE_DTYPES, PRECISION_ALIASES, PRECISIONS
from ..core import limits as L
from ..core import validate as V
from ..core.errors import InputError, show
from ..estimate.finetuning import METHODS
from ..estimate.pretraining import USD_PER_ENGINEER_YEAR  # judgement: fully loaded US ML engineer
from ..estimate.recipe import DEFAULT_RECIPE, RecipeCheck, TrainingRecipe
from ..estimate.serving import LATENCY_PERCENTILE, MIN_REPLICAS, UTILIZATION_CEILING
from .estimates import ATTENTION_DP
from .scratch import TOKEN_POLICIES
from .sourcing import SOURCINGS

NAME = V.Text(L.MAX_NAME_CHARS, empty=False)
OPTIONAL_NAME = V.Text(L.MAX_NAME_CHARS, empty=False, optional=True)
USD = V.Real(0.0, L.MAX_USD, unit="$")
MONTHS = V.Real(0.0, L.MAX_MONTHS, unit="months")
PEOPLE = V.Real(0.0, L.MAX_PEOPLE, unit="FTE")
FLAG = V.Flag()
PRICE_PER_MTOK = V.Real(0.0, L.MAX_USD_PER_MTOK, unit="$ per 1M tokens", optional=True)
FINETUNE_METHODS = (*METHODS, "none")
SERVING_PRECISIONS = (*PRECISIONS, *PRECISION_ALIASES, "auto")  # "auto": the weight formats are searched
PERCENTILES = ("p50", "p90", "p99")
SOURCING = V.Choice(SOURCINGS)
_TOKEN_COUNT = V.Real(0.0, L.MAX_TOKENS, lo_open=True, unit="tokens")


@dataclass(frozen=True)
class TokenPolicy:
    """[scratch] tokens: a policy name (decide/scratch.py) or a number of tokens."""

    optional: bool = False

    def allowed(self) -> str:
        return f"{' or '.join(repr(p) for p in TOKEN_POLICIES)}, or {_TOKEN_COUNT.allowed()}"

    def __call__(self, name: str, value):
        if isinstance(value, str) and value in TOKEN_POLICIES:
            return value
        if isinstance(value, str):
            raise InputError(name, f"must be {self.allowed()}, got {show(value)}", value=value,
                               allowed=self.allowed())
        return _TOKEN_COUNT(name, value)


@dataclass(frozen=True)
class Names:
    """One name, or a shortlist of them (a TOML list; "auto" too where `auto`): [self_host] model, gpu, precision."""

    item: object = NAME  # the check of one name
    auto: bool = False  # "auto" alone stands for every GPU

    def allowed(self) -> str:
        one = self.item.allowed() if isinstance(self.item, V.Choice) else "a name"
        return f"{one}, a list of at most {L.MAX_SHORTLIST} of them" + (" or 'auto' (every GPU)" if self.auto else "")

    def __call__(self, name: str, value):
        if self.auto and isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        if isinstance(value, str):
            return self.item(name, value)
        if not isinstance(value, (list, tuple)):
            raise InputError(name, f"must be {self.allowed()}, got {show(value)}", value=value, allowed=self.allowed())
        if not value:
            raise InputError(name, f"an empty shortlist: give {self.allowed()}", value=value, allowed=self.allowed())
        if len(value) > L.MAX_SHORTLIST:
            raise InputError(name, f"a shortlist of {len(value)}: at most {L.MAX_SHORTLIST}", value=value)
        names = tuple(dict.fromkeys(self.item(f"{name}[{i}]", v) for i, v in enumerate(value)))
        return names[0] if len(names) == 1 else names


class _Section:
    section: ClassVar[str] = ""

    def __post_init__(self):
        V.check_fields(self, self.section)


@dataclass(frozen=True)
class ApiOption(_Section):
    """(a) A hosted API."""

    section: ClassVar[str] = "api"
    model: str = V.knob("gpt-4o-mini", NAME, "API model id or name (genai-prices data)")
    provider: str | None = V.knob(None, OPTIONAL_NAME, "provider id; none: the model's vendor")
    cached_prompt: bool = V.knob(True, FLAG, "bill the fixed prompt at the cached-input price where the data has one")
    batch: bool = V.knob(False, FLAG, "use the provider's batch discount (asynchronous traffic only)")
    input_usd_per_mtok: float | None = V.knob(None, PRICE_PER_MTOK, "override of the price data")
    output_usd_per_mtok: float | None = V.knob(None, PRICE_PER_MTOK, "override of the price data")
    cached_input_usd_per_mtok: float | None = V.knob(None, PRICE_PER_MTOK, "override of the price data")
    integration_usd: float = V.knob(10_000.0, USD, "one-time: prompt work, evaluation harness, integration (assumption)")
    months_to_production: float = V.knob(0.5, MONTHS, "assumption")
    prices_as_of: str | None = V.knob(None, V.IsoDate(optional=True),
                                      "the day the (date-dependent) prices are read for; none: today (UTC)")


@dataclass(frozen=True)
class SelfHostOption(_Section):
    """(b) Open weights, fine-tuned, served on our own (rented) GPUs."""

    section: ClassVar[str] = "self_host"
    model: str | tuple[str, ...] = V.knob("Llama-3.1-8B", Names(), "open-weights model: catalog name or an uploaded "
                                          "config's name; a list: the cheapest meeting the targets (decide/shortlist.py)")
    gpu: str | tuple[str, ...] = V.knob("H100 SXM", Names(auto=True), "catalog or custom GPU; a list, or auto: every "
                                        "GPU, searched with the models for the cheapest meeting the targets")
    precision: str | tuple[str, ...] = V.knob("bf16", Names(V.Choice(SERVING_PRECISIONS)),
                                              "bf16, fp16, fp8, int8 (W8A8), int8-weight-only, int4-weight-only, or "
                                              "auto (the best format); a list: each a candidate of the shortlist")
    engine: str = V.knob("vllm", V.Choice(ENGINES), "serving engine (catalog/data/engines.toml)")
    kv_cache_dtype: str | None = V.knob(None, V.Choice(tuple(KV_CACHE_DTYPES), optional=True),
                                        "none: the engine's default at the precision")
    tensor_parallel: int | None = V.knob(None, V.Whole(1, L.MAX_TENSOR_PARALLEL, unit="GPUs", optional=True),
                                         "none: searched (1, 2, 4, 8) for the lowest cost")
    max_batch_size: int | None = V.knob(None, V.Whole(1, L.MAX_BATCH_SIZE, unit="sequences", optional=True),
                                        "none: the engine's cap on running sequences")
    attention_dp: str = V.knob("search", V.Choice(tuple(ATTENTION_DP)),
                               "MoE models: data-parallel attention with expert-parallel experts (SGLang "
                               "--enable-dp-attention, TensorRT-LLM enable_attention_dp); search: with and without, "
                               "the cheaper kept (a dense model: off); on; off")
    latency_percentile: str = V.knob(LATENCY_PERCENTILE, V.Choice(PERCENTILES),
                                     "the percentile of TTFT and TPOT that must meet the targets at the peak")
    usd_per_gpu_hour: float | None = V.knob(
        None, V.Real(0.0, L.MAX_USD_PER_GPU_HOUR, lo_open=True, unit="$/GPU-hour", optional=True),
        "none: the catalog's on-demand price")
    finetune_method: str = V.knob("lora", V.Choice(FINETUNE_METHODS), "full | lora | qlora | none")
    finetune_tokens: float = V.knob(20e6, V.Real(0.0, L.MAX_TOKENS, lo_open=True, unit="tokens"),
                                    "training tokens per epoch (judgement: ~20k examples of ~1k tokens)")
    finetune_epochs: float = V.knob(3.0, V.Real(0.0, L.MAX_EPOCHS, lo_open=True, unit="epochs"), "passes over the data (judgement: a common LoRA recipe)")
    finetune_gpu: str | None = V.knob(None, OPTIONAL_NAME, "none: the serving GPU (under [self_host] sourcing); "
                                      "another GPU is rented on demand for the fine-tune")
    finetune_n_gpus: int | None = V.knob(None, V.Whole(1, L.MAX_GPUS, unit="GPUs", optional=True),
                                         "none: the fewest that fit, in the fastest layout")
    drops_prompt_overhead: bool = V.knob(True, FLAG, "the fine-tune replaces the few-shot prompt")
    utilization_ceiling: float | None = V.knob(
        UTILIZATION_CEILING, V.Real(L.MIN_UTILIZATION, 1.0, unit="fraction", optional=True),
        "none: the simulation alone sizes the fleet; else a cap on a replica's busy share at the peak")
    min_replicas: int = V.knob(MIN_REPLICAS, V.Whole(1, L.MAX_REPLICAS, unit="replicas"), "never fewer replicas (judgement: one can fail or be upgraded)")
    ops_engineers: float | None = V.knob(
        None, V.Real(0.0, L.MAX_PEOPLE, unit="FTE", optional=True),
        "people running the serving stack; none: scales with the fleet, max(1, GPUs held / 250) (decide/assembly.py)")
    evaluation_usd: float = V.knob(20_000.0, USD, "one-time evaluation of the tuned model (assumption)")
    setup_months: float = V.knob(1.0, MONTHS, "infrastructure before first production (assumption)")
    sourcing: str = V.knob("on-demand", SOURCING, "how the serving GPUs are paid for (decide/sourcing.py)")

    def __post_init__(self):
        super().__post_init__()
        if self.usd_per_gpu_hour is not None and (isinstance(self.gpu, tuple) or self.gpu == "auto"):
            raise InputError("self_host.usd_per_gpu_hour", "a quoted price is for one GPU; a shortlist of GPUs is "
                             "priced from the catalog (give one GPU, or remove the quote)", value=self.usd_per_gpu_hour)

    @property
    def training_gpu(self) -> str:
        """The GPU the fine-tune runs on: finetune_gpu, else the serving GPU."""
        return self.finetune_gpu or self.gpu


@dataclass(frozen=True)
class ScratchOption(_Section):
    """(c) Pretrain our own model, then serve it like (b)."""

    section: ClassVar[str] = "scratch"
    enabled: bool = V.knob(True, FLAG, "include this option")
    model: str | None = V.knob(None, OPTIONAL_NAME, "the architecture to train; none: the self-hosted model's, "
                               "so the two self-hosted options deliver the same model")
    gpu: str = V.knob("H100 SXM", NAME, "catalog GPU to train on")
    tokens: str | float = V.knob("match", TokenPolicy(),
                                 "match: the replaced model's published tokens; chinchilla: 20 per parameter; "
                                 "or a number (decide/scratch.py)")
    tokens_per_param: float | None = V.knob(None, V.Real(0.0, 1e6, lo_open=True, unit="tokens/parameter",
                                                         optional=True),
                                            "instead of tokens: this many tokens per active parameter")
    n_gpus: int | None = V.knob(None, V.Whole(1, L.MAX_GPUS, unit="GPUs", optional=True),
                                "none: the fewest finishing in 90 days")
    researchers: float = V.knob(10.0, PEOPLE, "research staff during the project (judgement; a frontier lab: ~50)")
    months: float = V.knob(12.0, MONTHS, "how long the research staff is paid (judgement)")
    prep_months: float = V.knob(3.0, MONTHS, "data preparation and ablations before the final run (judgement)")
    evaluation_usd: float = V.knob(100_000.0, USD, "one-time evaluation (assumption)")
    sourcing: str = V.knob("on-demand", SOURCING, "how the training cluster is paid for (decide/sourcing.py)")
    recipe: TrainingRecipe = V.knob(DEFAULT_RECIPE, RecipeCheck(),
                            "[scratch.recipe]: moe_balance, moe_overlap, moe_dispatcher, tp_overlap, fp8_param_gather, cuda_graphs "
                            "kept while the layout is searched (estimate/recipe.py; default Megatron-Core's)")

    def __post_init__(self):
        super().__post_init__()
        if self.tokens_per_param is not None and self.tokens != "match":
            raise InputError("scratch.tokens_per_param",
                               f"give tokens or tokens_per_param, not both (tokens = {show(self.tokens)})")
        if self.recipe.fp8_recipe != "auto":  # the scratch run trains in bf16: an fp8 scaling recipe would do nothing
            raise InputError("scratch.recipe.fp8_recipe", f"is {self.recipe.fp8_recipe!r} but the scratch option trains "
                                                          "in bf16; leave it out", value=self.recipe.fp8_recipe)


@dataclass(frozen=True)
class Costs(_Section):
    section: ClassVar[str] = "costs"
    usd_per_engineer_year: float = V.knob(
        USD_PER_ENGINEER_YEAR, V.Real(0.0, L.MAX_USD_PER_ENGINEER_YEAR, lo_open=True, unit="$/year"),
        "fully loaded cost of one engineer or researcher (assumption: US ML salary plus overhead)")


@dataclass(frozen=True)
class Flags(_Section):
    """Non-cost reasons (shared/background/what-are-foundation-models.txt)."""

    section: ClassVar[str] = "flags"
    proprietary_data: bool = V.knob(False, FLAG, "data that must not leave, or that a generic model lacks")
    regulatory_isolation: bool = V.knob(False, FLAG, "inputs may not go to a third-party API")
    labels_over_1000: bool = V.knob(False, FLAG, "enough high-quality labels for a fine-tune to beat prompting")
    latency_critical: bool = V.knob(False, FLAG, "the latency budget rules out long prompts")
    frontier_research: bool = V.knob(False, FLAG, "the model itself is the product or the research")
