"""A training recipe: the knobs of a run besides its sizes, fixed by the user while the layout search picks the sizes.

`TrainingLayout` (layout.py) holds sizes and recipe knobs together. A searched run takes its sizes from the
search (layout_search.py) and its recipe from here: how evenly the router balances experts, whether the MoE
all-to-alls hide behind compute, how tokens cross nodes, whether tensor-parallel collectives overlap the GEMMs,
whether fp8 weights are gathered in fp8, and the fp8 scaling recipe. The defaults are TrainingLayout's, which
are Megatron-Core's defaults (all-to-all on the critical path, aux-loss balancing); a published run that states
its recipe (DeepSeek-V3: DualPipe, aux-loss-free balancing, DeepEP-style dispatch, block-wise fp8) is timed with it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..core import arguments as A
from ..core import validate as V
from ..catalog.specs import GPUSpec
from ..core.errors import InputError, PlannerTypeError
from . import fp8 as fp8_gemms
from .fp8 import RECIPES as FP8_RECIPES
from .layout import MOE_BALANCE, MOE_DISPATCHERS, TrainingLayout

_DEFAULT = TrainingLayout()
FLAG_WORDS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}  # a flag as text


@dataclass(frozen=True)
class TrainingRecipe:
    """The recipe knobs applied to every layout a search tries (TrainingLayout's fields of the same names)."""

    moe_balance: str = V.knob(_DEFAULT.moe_balance, V.Choice(MOE_BALANCE),
                              "how evenly tokens reach experts: aux-loss, aux-free (DeepSeek-V3) or forced")
    moe_overlap: bool = V.knob(_DEFAULT.moe_overlap, V.Flag(),
                               "MoE all-to-alls hidden behind another micro-batch's compute (DualPipe, Megatron's "
                               "--overlap-moe-expert-parallel-comm)")
    moe_dispatcher: str = V.knob(_DEFAULT.moe_dispatcher, V.Choice(MOE_DISPATCHERS),
                                 "how tokens cross nodes: alltoall (NCCL) or deepep (once per node, then NVLink)")
    cuda_graphs: bool = V.knob(_DEFAULT.cuda_graphs, V.Flag(),
                               "the whole forward-backward in a CUDA graph (full_iteration; static MoE shapes): "
                               "MoE layers do not wait on the host")
    tp_overlap: bool = V.knob(_DEFAULT.tp_overlap, V.Flag(), "tensor-parallel collectives overlapped with the GEMMs")
    fp8_param_gather: bool = V.knob(_DEFAULT.fp8_param_gather, V.Flag(), "with fp8: weights all-gathered in fp8")
    fp8_recipe: str = V.knob(_DEFAULT.fp8_recipe, V.Choice(("auto", *FP8_RECIPES)),
                             "with fp8: the scaling recipe (auto: the GPU's default, fp8.py)")

    def __post_init__(self):
        V.check_fields(self, "recipe")

    @A.checked(layout=A.Kind(TrainingLayout, "a planner.TrainingLayout"))
    def apply(self, layout: TrainingLayout) -> TrainingLayout:
        """`layout` with this recipe's knobs (its sizes kept)."""
        return dataclasses.replace(layout, **dataclasses.asdict(self))

    def is_default(self) -> bool:
        return self == DEFAULT_RECIPE

    def describe(self) -> str:
        """The knobs that differ from the defaults, or 'Megatron-Core defaults'."""
        changed = [f"{k}={v}" for k, v in dataclasses.asdict(self).items() if getattr(DEFAULT_RECIPE, k) != v]
        return ", ".join(changed) if changed else "Megatron-Core defaults"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    __str__ = describe


DEFAULT_RECIPE = TrainingRecipe()
FIELDS = tuple(f.name for f in dataclasses.fields(TrainingRecipe))


def recipe_from(value, name: str = "recipe") -> TrainingRecipe:
    """None (the defaults), a TrainingRecipe, or a dict of its fields (unknown keys refused, each value checked)."""
    if value is None:
        return DEFAULT_RECIPE
    if isinstance(value, TrainingRecipe):
        return value
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise PlannerTypeError(name, f"keys must be field names ({', '.join(FIELDS)}), got {key!r}")
        try:
            return V.replace(DEFAULT_RECIPE, dict(value), name)
        except InputError as e:  # a field's check names it recipe.<field>: name it where it was given
            if name == "recipe" or not e.field.startswith("recipe."):
                raise
            raise type(e)(name + e.field[len("recipe"):], e.reason, value=e.value, allowed=e.allowed) from None
    return V.instance(name, value, (TrainingRecipe, dict, type(None)), "a TrainingRecipe, a dict of its fields or None")


@dataclass(frozen=True)
class RecipeCheck:
    """A scenario knob's check (core/validate.py's protocol): a table of TrainingRecipe fields -> a TrainingRecipe."""

    def allowed(self) -> str:
        return "a table of " + ", ".join(FIELDS)

    def __call__(self, name: str, value) -> TrainingRecipe:
        return recipe_from(value, name)


def searched_recipe(recipe, *, fp8: bool, gpu: GPUSpec, layout: TrainingLayout | None = None) -> TrainingRecipe:
    """The recipe a search applies (recipe_from), refused beside a given layout (which carries its own knobs), and
    where it names an fp8 scaling recipe without fp8 or one `gpu` cannot run."""
    r = recipe_from(recipe)
    if recipe is not None and layout is not None:
        raise InputError("recipe", "applies to searched layouts; a given layout carries its own recipe fields "
                                   "(moe_overlap=..., fp8_recipe=... on the TrainingLayout): set them there or drop layout")
    if r.fp8_recipe != "auto" and not fp8:
        raise InputError("recipe.fp8_recipe", f"is {r.fp8_recipe!r} but fp8 is off; pass fp8=True (or fp8_recipe='auto')",
                         value=r.fp8_recipe)
    if fp8:
        try:
            fp8_gemms.gemms_for(gpu, r.fp8_recipe)
        except InputError as e:
            raise InputError("recipe.fp8_recipe", e.reason, value=r.fp8_recipe) from None
    return r


def parse_recipe(text: str, name: str = "recipe") -> TrainingRecipe:
    """A recipe from 'field=value,field=value' (the CLI's --recipe): true/false for the flags, names otherwise."""
    fields = {f.name: f for f in dataclasses.fields(TrainingRecipe)}
    values: dict = {}
    for part in (p.strip() for p in str(text).split(",") if p.strip()):
        key, sep, raw = part.partition("=")
        key, raw = key.strip(), raw.strip()
        if not sep or not raw:
            raise InputError(name, f"expects field=value pairs separated by commas, got {part!r}")
        if key not in fields:
            V.replace(DEFAULT_RECIPE, {key: raw}, f"{name}")  # refuses, naming the known fields
        if isinstance(getattr(DEFAULT_RECIPE, key), bool):
            if raw.lower() not in FLAG_WORDS:
                raise InputError(f"{name}.{key}", f"must be true or false, got {raw!r}")
            values[key] = FLAG_WORDS[raw.lower()]
        else:
            values[key] = raw
    return recipe_from(values, name)
