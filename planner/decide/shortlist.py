"""The self-host option over a shortlist: every model x GPU x precision asked for, costed as compare() costs
the option, the cheapest that meets the targets chosen, and a row for each of the others saying what it
costs or why it fails.

    [self_host]
    model = ["Llama-3.1-70B", "Qwen2.5-72B"]   # names from the catalog (or registered)
    gpu = "auto"                               # every catalog GPU (they all have a price) and custom GPU; or a list
    precision = ["bf16", "fp8"]                # each a candidate; "auto": one candidate per model and GPU, at the
                                               # best format the serving search finds

"Cheapest" is the self-hosted option's total over the horizon (p50): the fleet, the fine-tune on that GPU,
its staff and the API bridge until production, so a bigger model pays for its longer fine-tune too. A name
that is not in the catalog is an error before anything is tried; a candidate that cannot work (does not fit,
misses the latency targets, lacks the matrix units, has no server price to own) is kept with the reason.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from itertools import product

import pandas as pd

from ..catalog.lookup import custom_gpus, gpus
from ..catalog.lookup import gpu as lookup_gpu
from ..catalog.lookup import model as lookup_model
from ..core.errors import PlannerError
from ..core.results import ResultMixin

AUTO = "auto"  # [self_host] gpu = "auto": every GPU the planner knows


@dataclass(frozen=True)
class Candidate(ResultMixin):
    """One model on one GPU: what it costs, or why it cannot serve the workload."""

    model: str
    gpu: str
    precision: str  # the plan's (the best format where precision = "auto"); as asked where it fails
    tensor_parallel: int  # 0 where it fails
    replicas: int  # at the month-0 peak (the plan's p50); 0 where it fails
    usd_per_month: float  # the serving fleet at month 0 (plan, p50); NaN where it fails
    total_usd: float  # the self-hosted option over the horizon (p50); inf where it fails
    meets_targets: bool
    why_not: str = ""  # the reason it fails; "" where it meets the targets
    attention_dp: bool = False  # an MoE plan served with DP attention + EP over its tensor_parallel GPUs


@dataclass(frozen=True)
class Shortlist(ResultMixin):
    """Every candidate, the cheapest meeting the targets first and those that fail last."""

    candidates: tuple[Candidate, ...]
    chosen: Candidate | None  # None: no candidate meets the targets
    scenario: object = field(default=None, repr=False, compare=False)  # the Scenario with the chosen model and GPU

    def to_dict(self) -> dict:
        d = super().to_dict()
        d.pop("scenario", None)
        return d

    def table(self) -> pd.DataFrame:
        """One row per candidate: model, GPU, precision, TP, replicas, $/month, total, meets targets or why not."""
        return pd.DataFrame([dataclasses.asdict(c) for c in self.candidates],
                            columns=[f.name for f in dataclasses.fields(Candidate)])

    def why_none(self) -> str:
        """Why the self-hosted option has no candidate: each one's reason, shortest first."""
        reasons = "; ".join(f"{c.model} on {c.gpu}: {c.why_not}" for c in self.candidates[:6])
        more = f" (and {len(self.candidates) - 6} more)" if len(self.candidates) > 6 else ""
        return f"no candidate of the shortlist meets the targets: {reasons}{more}"


def is_shortlist(h) -> bool:
    """[self_host] names several models, GPUs or precisions (or gpu = "auto")."""
    return any(isinstance(v, tuple) for v in (h.model, h.gpu, h.precision)) or h.gpu == AUTO


def _names(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)


def candidates(h) -> list[tuple[str, str, str]]:
    """Every (model, GPU, precision) of the shortlist, names in the catalog's spelling; an unknown model or GPU
    raises UnknownNameError before anything is costed."""
    if h.gpu == AUTO:
        gpu_names = [g.name for g in (*gpus(), *custom_gpus())]
    else:
        gpu_names = [lookup_gpu(g).name for g in _names(h.gpu)]
    models = [lookup_model(m).name for m in _names(h.model)]
    return list(product(dict.fromkeys(models), dict.fromkeys(gpu_names), _names(h.precision)))


def _candidate(model: str, gpu: str, precision: str, evaluate) -> Candidate:
    try:
        opt, plan = evaluate(model, gpu, precision)
    except PlannerError as e:
        return Candidate(model=model, gpu=gpu, precision=precision, tensor_parallel=0, replicas=0,
                         usd_per_month=math.nan, total_usd=math.inf, meets_targets=False, why_not=str(e))
    if not opt.available:
        return Candidate(model=model, gpu=gpu, precision=precision, tensor_parallel=0, replicas=0,
                         usd_per_month=math.nan, total_usd=math.inf, meets_targets=False,
                         why_not=opt.reason_unavailable)
    return Candidate(model=model, gpu=gpu, precision=plan.precision, tensor_parallel=plan.tensor_parallel,
                     replicas=int(plan.replicas.p50), usd_per_month=float(plan.monthly_cost_usd.p50),
                     total_usd=float(opt.total_usd.p50), meets_targets=True, attention_dp=plan.attention_dp)


def search(s, evaluate) -> Shortlist:
    """Cost every candidate of `s`'s [self_host] shortlist with
    `evaluate(model, gpu, precision) -> (OptionResult, ServingPlan)` (compare()'s own builder of the option)
    and choose the cheapest that meets the targets.

    The Shortlist's scenario names the chosen model, GPU and precision as asked ("auto" stays "auto": the same
    serving search, memoized); the first candidate where none meets the targets, so a scratch model still has
    a GPU to be served on.
    """
    h = s.self_host
    asked = candidates(h)
    found = [_candidate(*c, evaluate) for c in asked]
    order = sorted(range(len(found)), key=lambda i: (not found[i].meets_targets, found[i].total_usd))
    best = order[0] if found[order[0]].meets_targets else None
    model, gpu, precision = asked[0 if best is None else best]
    resolved = s.replace(self_host=dataclasses.replace(h, model=model, gpu=gpu, precision=precision))
    return Shortlist(candidates=tuple(found[i] for i in order), chosen=None if best is None else found[best],
                     scenario=resolved)
