"""Published pretraining runs and serving figures with their citations: the data of the published checks."""
from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources

from ..core.errors import PlannerError
from ..core.provenance import Source


# How a run's published GPU-hours were counted: "metered", the GPU time of the lab's training jobs as it reports
# it (Meta's model cards: "Training time is the total GPU time required for training each model"); or
# "allocation", the cluster times the wall-clock of the training period (GPUs x days, as Phi, SmolLM3, StarCoder,
# GPT-NeoX, BLOOM's Jean Zay hours and DeepSeek-V3's 2,664K GPU-hours on 2,048 GPUs in "less than two months"
# count it), which also holds the time the cluster sat idle, restarted or evaluated.
GPU_HOURS_BASES = ("metered", "allocation")
SETS = ("calibration", "validation")  # every published figure is in one, fixed when it was added; defaults come
# from calibration figures only (runs, serving figures, training steps, memory peaks)


@dataclass(frozen=True)
class PublishedRun:
    name: str
    set: str  # calibration | validation, fixed when the run was added (SETS)
    model: str
    gpu: str
    tokens: float
    gpu_hours: float
    seq_len: int
    source: Source
    n_gpus: int = 2048  # the cluster the run used (where published; the data file's note says which)
    n_gpus_note: str = ""
    fp8: bool = False  # GEMMs in fp8
    # the recipe the source states (planner.TrainingRecipe's fields: moe_overlap, moe_balance, moe_dispatcher, ...),
    # applied to the searched layouts; empty: Megatron-Core's defaults. recipe_note: where in the source it is stated
    recipe: tuple[tuple[str, object], ...] = ()
    recipe_note: str = ""
    gpu_hours_basis: str = "metered"  # GPU_HOURS_BASES: how the published GPU-hours were counted


@functools.cache
def published_runs() -> tuple[PublishedRun, ...]:
    """The runs in planner/catalog/data/published_runs.toml, each with its citation."""
    text = resources.files("planner.catalog").joinpath("data", "published_runs.toml").read_text(encoding="utf-8")
    runs = []
    for r in tomllib.loads(text)["run"]:
        src = r["source"]
        if r.get("set") not in SETS:
            raise ValueError(f"published_runs.toml, {r.get('name', '?')}: set must be one of {SETS}, "
                             f"got {r.get('set')!r}")
        if r.get("gpu_hours_basis") not in GPU_HOURS_BASES:
            raise ValueError(f"published_runs.toml, {r.get('name', '?')}: gpu_hours_basis must be one of "
                             f"{GPU_HOURS_BASES}, got {r.get('gpu_hours_basis')!r}")
        runs.append(PublishedRun(name=r["name"], set=r["set"], model=r["model"], gpu=r["gpu"], tokens=float(r["tokens"]),
                                 gpu_hours=float(r["gpu_hours"]), seq_len=int(r["seq_len"]),
                                 source=Source(src["url"], str(src["checked"]), src.get("note", "")),
                                 n_gpus=int(r["n_gpus"]), n_gpus_note=r.get("n_gpus_note", ""), fp8=bool(r.get("fp8")),
                                 recipe=_recipe(r), recipe_note=r.get("recipe_note", ""),
                                 gpu_hours_basis=r["gpu_hours_basis"]))
    return tuple(runs)


def _recipe(r: dict) -> tuple[tuple[str, object], ...]:
    """A run's optional [recipe] table as sorted (field, value) pairs (hashable; the estimate checks each field),
    which must come with a recipe_note saying where the source states it."""
    table = r.get("recipe", {})
    if not isinstance(table, dict):
        raise ValueError(f"published_runs.toml, {r.get('name', '?')}: recipe must be a table, got {table!r}")
    if table and not r.get("recipe_note"):
        raise ValueError(f"published_runs.toml, {r.get('name', '?')}: a recipe needs a recipe_note citing where the "
                         "source states it")
    return tuple(sorted(table.items()))


@dataclass(frozen=True)
class PublishedServingFigure:
    """One published serving figure (data/serving_published.toml; kinds described there)."""

    id: str
    kind: str  # throughput | request_tokens_per_s | tpot_s
    model: str
    gpu: str
    precision: str
    engine: str
    tensor_parallel: int
    prompt_tokens: float
    output_tokens: float
    value: float
    source: Source
    batch_size: int = 1
    kv_cache_dtype: str | None = None
    set: str = ""  # calibration | validation, fixed when the figure was added (required in the data file)
    attention_dp: bool = False  # MoE served with data-parallel attention and expert-parallel experts




@functools.cache
def published_serving_figures() -> tuple[PublishedServingFigure, ...]:
    """The figures in planner/catalog/data/serving_published.toml, each with its citation and its set."""
    text = resources.files("planner.catalog").joinpath("data", "serving_published.toml").read_text(encoding="utf-8")
    out = []
    for f in tomllib.loads(text)["figure"]:
        src = f.pop("source")
        if f.get("set") not in SETS:
            raise PlannerError(f"serving_published.toml figure {f.get('id', '?')!r}: set must be one of "
                               f"{SETS}, got {f.get('set')!r}")
        out.append(PublishedServingFigure(**f, source=Source(src["url"], str(src["checked"]), src.get("note", ""))))
    return tuple(out)


STEP_PRECISIONS = ("bf16", "fp8")
_LAYOUT_KEYS = ("tp", "pp", "cp", "ep", "etp", "virtual_stages", "micro_batch", "recompute", "zero_stage", "moe_balance",
                "moe_overlap", "fp8_param_gather", "tp_overlap", "moe_dispatcher", "cuda_graphs")


@dataclass(frozen=True)
class PublishedStep:
    """One published training-step throughput at its stated layout (data/published_steps.toml)."""

    name: str
    set: str  # calibration | validation, fixed when the figure was added
    model: str
    gpu: str
    precision: str
    n_gpus: int
    seq_len: int
    global_batch: int
    layout: tuple[tuple[str, object], ...]  # (key, value) pairs of TrainingLayout fields
    tokens_per_s_per_gpu: float
    source: Source
    fp8_recipe: str = ""
    moe: bool = False  # filled from the catalog model when loaded


def _step(r: dict) -> PublishedStep:
    from .lookup import model as lookup_model  # the catalog reads the models' data file

    name = r.get("name", "?")
    if r.get("set") not in SETS:
        raise ValueError(f"published_steps.toml, {name}: set must be one of {SETS}, got {r.get('set')!r}")
    if r.get("precision") not in STEP_PRECISIONS:
        raise ValueError(f"published_steps.toml, {name}: precision must be one of {STEP_PRECISIONS}")
    unknown = set(r.get("layout", {})) - set(_LAYOUT_KEYS)
    if unknown:
        raise ValueError(f"published_steps.toml, {name}: unknown layout keys {sorted(unknown)}")
    src = r["source"]
    return PublishedStep(name=name, set=r["set"], model=r["model"], gpu=r["gpu"], precision=r["precision"],
                         n_gpus=int(r["n_gpus"]), seq_len=int(r["seq_len"]), global_batch=int(r["global_batch"]),
                         layout=tuple(sorted(r.get("layout", {}).items())),
                         tokens_per_s_per_gpu=float(r["tokens_per_s_per_gpu"]),
                         source=Source(src["url"], str(src["checked"]), src.get("note", "")),
                         fp8_recipe=r.get("fp8_recipe", ""), moe=lookup_model(r["model"]).is_moe)


@functools.cache
def published_steps() -> tuple[PublishedStep, ...]:
    """The figures in planner/catalog/data/published_steps.toml, each with its set and citation."""
    text = resources.files("planner.catalog").joinpath("data", "published_steps.toml").read_text(encoding="utf-8")
    return tuple(_step(r) for r in tomllib.loads(text).get("step", []))
