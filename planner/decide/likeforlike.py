"""Like for like: the model each option delivers, its published capability, and the capability floor.

A cost comparison means little when the options deliver different models: an 8B trained from scratch
against a 70B self-hosted, or a small open model against a frontier API. Each option's model carries
its published capability figure (catalog/capability.py: one metric, sourced and dated, or unknown),
and the comparison says where the options differ. With a capability floor ([scenario]
capability_floor) the recommendation is the cheapest option whose figure is known and at or above it.

The scratch option's model is new: it has no published figure. It is credited with the published
figure of the architecture it trains only when it is trained on at least as many tokens as that
model was published with (the "match" token policy); that is an assumption (data quality and
post-training are not modelled), and it says so.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..catalog.capability import capabilities, capability, metric
from ..catalog.lookup import model as lookup_model
from ..catalog.lookup import models as catalog_models
from ..core import arguments as A
from ..core import validate as V
from ..core.results import ResultMixin
from ..estimate.arithmetic import total_params
from .options import OPTIONS
from .scratch import scratch_model

# Judgement: MMLU-Pro figures of one model from different evaluators differ by a few points (prompt
# format, answer extraction; arXiv:2406.01574 Sec. 5 reports ~2 points of prompt sensitivity), so a
# gap above this many points is read as a different class of model, not noise.
CAPABILITY_GAP_POINTS = 5.0


UNKNOWN_TAIL = "; whether it matches the others is not known."  # ends a difference that is only an unknown


@dataclass(frozen=True)
class DeliveredModel(ResultMixin):
    key: str  # option key
    model: str  # catalog name or API model id
    params: float | None  # total parameters; None where not published (an API model)
    capability: float | None  # the metric's figure in percent; None: unknown
    basis: str  # the checkpoint and source of the figure, or why it is unknown
    shortfall: str = ""  # why the option falls below the capability floor; "" when it meets it or none is set


@dataclass(frozen=True)
class ModelMatch(ResultMixin):
    metric: str  # e.g. "MMLU-Pro"
    metric_unit: str
    floor: float | None  # the scenario's capability floor, None: none set
    models: dict[str, DeliveredModel] = field(default_factory=dict)  # available options only
    differences: tuple[str, ...] = ()  # how the options' models differ or may differ; empty: like for like
    like_for_like: bool = field(init=False)  # derived: no differences
    known_to_differ: bool = field(init=False)  # derived: a difference is shown (size, architecture, a capability gap),
    # not only a capability nobody published

    def __post_init__(self):
        object.__setattr__(self, "like_for_like", not self.differences)
        object.__setattr__(self, "known_to_differ", any(not d.endswith(UNKNOWN_TAIL) for d in self.differences))

    @A.checked(key=V.Choice(tuple(OPTIONS)))
    def falls_short(self, key: str) -> str:
        """Why option `key` is below the floor ("" when it meets it, no floor is set or it is unavailable)."""
        d = self.models.get(key)
        return d.shortfall if d is not None else ""


def _params(name: str) -> float:
    return float(total_params(lookup_model(name)))


def _open(key: str, name: str) -> DeliveredModel:
    cap = capability(name)
    basis = (f"{cap.variant}: {cap.source.url} ({cap.source.note}; checked {cap.source.checked})" if cap else
             f"unknown: no published {metric().name} figure for {name}")
    return DeliveredModel(key, name, _params(name), cap.score if cap else None, basis)


def _api(s, price) -> DeliveredModel:
    name = price.model_id if price is not None else s.api.model
    cap = capability(s.api.model, name)
    basis = (f"{cap.variant}: {cap.source.url} ({cap.source.note}; checked {cap.source.checked})" if cap else
             f"unknown: no published {metric().name} figure for {name} in planner/catalog/data/capability.toml")
    return DeliveredModel("api", name, None, cap.score if cap else None, basis)


def _scratch(s, budget) -> DeliveredModel:
    arch = lookup_model(scratch_model(s))
    cap = capability(arch.name)
    published = arch.pretraining_tokens
    if cap is None:
        return DeliveredModel("scratch", arch.name, _params(arch.name), None,
                              f"unknown: a new model, and no published {metric().name} figure for {arch.name} either")
    if budget is None or published <= 0 or budget.tokens < published * (1 - 1e-9):
        return DeliveredModel("scratch", arch.name, _params(arch.name), None,
                              f"unknown: a new model trained on fewer tokens than {arch.name} was published with "
                              f"(policy {budget.policy if budget else '?'}), so {cap.variant}'s {cap.score:g} "
                              "does not carry over")
    return DeliveredModel("scratch", arch.name, _params(arch.name), cap.score,
                          f"assumed: {cap.variant}'s published figure, the same architecture trained on as many "
                          "tokens; data quality and post-training not modelled")


def _size(d: DeliveredModel) -> str:
    return f"{d.model}, {d.params / 1e9:.1f}B parameters" if d.params else d.model


def comparable_open_models(score: float) -> list[tuple[str, float]]:
    """The catalog's open models whose published figure is within CAPABILITY_GAP_POINTS of `score` or above,
    best first: the ones a comparison with a model of that score would be like for like with."""
    names = {m.name for m in catalog_models()}
    return sorted(((c.model, c.score) for c in capabilities()
                   if c.model in names and c.score >= score - CAPABILITY_GAP_POINTS), key=lambda x: -x[1])


def _comparable(score: float, name: str) -> str:
    near = comparable_open_models(score)
    if not near:
        return f" No open model in the catalog has a published {name} figure within {CAPABILITY_GAP_POINTS:g} points."
    return (f" Open models within {CAPABILITY_GAP_POINTS:g} points of {score:g} or above: "
            + ", ".join(f"{m} ({x:g})" for m, x in near) + ".")


def _differences(models: dict[str, DeliveredModel], unit: str, name: str) -> list[str]:
    out = []
    sh, sc = models.get("self_host"), models.get("scratch")
    if sh and sc and sh.model != sc.model:
        out.append(f"{OPTIONS['scratch']} trains {_size(sc)}; {OPTIONS['self_host']} serves {_size(sh)}: not the "
                   "same model (leave [scratch] model unset to train the self-hosted model's architecture).")
    known = [d for d in models.values() if d.capability is not None]
    for i, a in enumerate(known):
        for b in known[i + 1:]:
            if abs(a.capability - b.capability) > CAPABILITY_GAP_POINTS:
                hi, lo = (a, b) if a.capability > b.capability else (b, a)
                out.append(f"{OPTIONS[hi.key]} ({hi.model}, {name} {hi.capability:g}) and {OPTIONS[lo.key]} "
                           f"({lo.model}, {lo.capability:g}) are {hi.capability - lo.capability:.0f} points apart: "
                           f"different classes of model.{_comparable(hi.capability, name)}")
    for d in models.values():
        if d.capability is None:
            out.append(f"{OPTIONS[d.key]} ({d.model}): {name} {d.basis}{UNKNOWN_TAIL}")
    return out


def model_match(s, opts: dict, price, budget) -> ModelMatch:
    """The model each available option delivers, how they differ, and which fall below s.capability_floor."""
    m = metric()
    builders = {"api": lambda: _api(s, price), "self_host": lambda: _open("self_host", lookup_model(s.self_host.model).name),
                "scratch": lambda: _scratch(s, budget)}
    models = {k: build() for k, build in builders.items() if opts[k].available}
    floor = s.capability_floor
    if floor is not None:
        for k, d in models.items():
            why = (f"capability {d.basis}" if d.capability is None else
                   f"{m.name} {d.capability:g} is below the floor of {floor:g}" if d.capability < floor else "")
            if why:
                models[k] = DeliveredModel(d.key, d.model, d.params, d.capability, d.basis, shortfall=why)
    return ModelMatch(metric=m.name, metric_unit=m.unit, floor=floor, models=models,
                      differences=tuple(_differences(models, m.unit, m.name)))
