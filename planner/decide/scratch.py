"""Train from scratch as a programme: the token budget it needs, and what it pays besides the final run.

Token policies ([scratch] tokens, tokens_per_param):
- "match" (the default): the published pretraining tokens of the model being replaced (the self-host
  model's, else the scratch architecture's own), so the options compare like for like. Unknown: Chinchilla,
  with a warning in the assumptions.
- "chinchilla": 20 tokens per active parameter (Hoffmann et al. 2022, arXiv:2203.15556): compute-optimal
  for the loss a training budget buys, not for the cost of serving. Open models trained far past it
  (Llama 3.1 8B on ~15T tokens, ~1,900 per parameter) to be cheaper to serve at a given quality.
- a number of tokens, or tokens_per_param x the active parameters.

Besides the final run a programme pays for ablations and failed runs, a data pipeline (compute and
people), data licences, post-training to a usable assistant and evaluation (data/programme.toml, each a
band; [programme] overrides). Calendar: preparation, the run at its layout's speed, post-training and
evaluation; each cost is paid in its phase (assembly.scratch_spends).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..catalog import costs as facts
from ..catalog.lookup import gpu as lookup_gpu
from ..catalog.lookup import model as lookup_model
from ..core import arguments as A
from ..core import validate as V
from ..core.band import Band
from ..core.errors import InputError
from ..core.provenance import Assumption
from ..core.results import ResultMixin
from ..core.units import HOURS_PER_MONTH
from ..estimate.arithmetic import active_params
from ..estimate.pretraining import (
    CHINCHILLA_TOKENS_PER_PARAM,
    PretrainingEstimate,
    Staffing,
)
from .assembly import (
    scratch_compute_usd,
    scratch_months_to_production,
    scratch_one_time_usd,
    scratch_spends,
)
from .costmodel import Spend
from .estimates import pretrain_estimate
from .sourcing import GpuRate, gpu_rate

TOKEN_POLICIES = ("match", "chinchilla")


def _knob(doc: str):
    return V.knob(None, V.Real(0.0, 1e12, optional=True), doc + "; none: data/programme.toml's band")


@dataclass(frozen=True)
class Programme:
    """[programme]: what pretraining pays besides the final run; None takes data/programme.toml's band."""

    ablation_fraction: float | None = _knob("x the final run's compute")
    failed_run_fraction: float | None = _knob("x the final run's compute")
    data_acquisition_usd: float | None = _knob("licences, purchases ($)")
    data_pipeline_gpu_hours_per_ttok: float | None = _knob("processing, filtering, dedup, tokenisation "
                                                          "(GPU-hours per trillion tokens)")
    data_engineers: float | None = _knob("FTE during preparation")
    post_training_compute_fraction: float | None = _knob("SFT and preference tuning, x the final run")
    post_training_data_usd: float | None = _knob("instruction and preference data ($)")
    post_training_months: float | None = _knob("months of post-training")
    evaluation_months: float | None = _knob("months of evaluation")

    def __post_init__(self):
        V.check_fields(self, "programme")

    @A.checked()  # the name is checked below, against the fields (defined after this class body)
    def band(self, name: str) -> tuple[Band, str, str]:
        """(value, unit, source) of one programme cost: the scenario's point, else the data's band."""
        name = V.one_of("name", name, _PROGRAMME)
        f = facts.programme_facts()[name]
        given = getattr(self, name)
        return (Band.point(float(given)), f.unit, "scenario [programme]") if given is not None else (
            f.value, f.unit, str(f.source))


_PROGRAMME = tuple(f.name for f in dataclasses.fields(Programme))  # each a band in data/programme.toml


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def check_token_policy(tokens, tokens_per_param) -> None:
    """[scratch] tokens is 'match', 'chinchilla' or a number of tokens; tokens_per_param replaces 'match'."""
    if not (tokens in TOKEN_POLICIES or (_number(tokens) and 0 < tokens < 1e16)):
        raise InputError("scratch.tokens", f"must be 'match', 'chinchilla' or a number of tokens in (0, 1e16), "
                                           f"got {tokens!r}")
    r = tokens_per_param
    if r is not None and not (_number(r) and 0 < r < 1e6):
        raise InputError("scratch.tokens_per_param", f"must be a number in (0, 1e6) or left out, got {r!r}")
    if r is not None and tokens != "match":
        raise InputError("scratch.tokens_per_param", f"give tokens or tokens_per_param, not both (tokens = {tokens!r})")


@dataclass(frozen=True)
class TokenBudget(ResultMixin):
    policy: str  # match | chinchilla | tokens | tokens_per_param
    tokens: float
    tokens_per_param: float  # tokens / active parameters of the model trained
    basis: str  # what the budget is and where it comes from
    warning: str = ""  # why the policy fell back, when it did


def scratch_model(s) -> str:
    """The architecture scenario `s`'s scratch option trains: [scratch] model, else the self-hosted model."""
    return s.scratch.model if s.scratch.model is not None else s.self_host.model


def _published(name: str):
    m = lookup_model(name)
    return m if m.pretraining_tokens > 0 else None


def _holding(*attrs: str, expected: str):
    """A check of an object from a module above this one (the Scenario, its sections): by the fields it holds."""
    def check(name: str, value):
        return value if all(hasattr(value, a) for a in attrs) else V.instance(name, value, (), expected)
    return check


@A.checked(scratch=_holding("model", "tokens", "tokens_per_param", expected="a planner.ScratchOption"),
           replaced_model=V.Text(empty=False), model=V.Text(empty=False, optional=True))
def token_budget(scratch, replaced_model: str, model: str | None = None) -> TokenBudget:
    """The scratch option's training tokens under its policy (see the module docstring). `model`: the
    architecture trained (default [scratch] model, else the model it replaces)."""
    model = model or scratch.model or replaced_model
    m = lookup_model(model)
    n = active_params(m)
    tokens, ratio = scratch.tokens, scratch.tokens_per_param
    check_token_policy(tokens, ratio)
    if ratio is not None:
        return TokenBudget("tokens_per_param", ratio * n, ratio, f"{ratio:g} tokens per active parameter (given)")
    if _number(tokens):
        return TokenBudget("tokens", float(tokens), tokens / n, "given in the scenario")
    chin = TokenBudget("chinchilla", CHINCHILLA_TOKENS_PER_PARAM * n, CHINCHILLA_TOKENS_PER_PARAM,
                       "20 tokens per active parameter (Hoffmann et al. 2022): compute-optimal for loss, "
                       "not for inference cost")
    if tokens == "chinchilla":
        return chin
    for ref, whose in ((_published(replaced_model), "the model it replaces"), (_published(model), "its own")):
        if ref is not None:
            src = ref.pretraining_source.url if ref.pretraining_source else "catalog"
            return TokenBudget("match", ref.pretraining_tokens, ref.pretraining_tokens / n,
                               f"{ref.name}'s published pretraining tokens ({whose}; {src})")
    return dataclasses.replace(chin, policy="match", warning=f"no published pretraining tokens for {replaced_model} or {m.name}: "
                                             "fell back to Chinchilla (20 per parameter), far fewer than open models use")


@dataclass(frozen=True)
class ScratchCosts(ResultMixin):
    """The scratch option's programme: its final run, what it pays besides, and when it is done."""

    budget: TokenBudget
    rate: GpuRate  # the training GPU-hour under [scratch] sourcing
    pretrain: PretrainingEstimate
    run_gpu_hours: Band  # the final run (spot: with its interruption overhead)
    wall_days: Band
    experiments_fraction: Band  # ablations + failed runs + post-training compute, x the final run
    pipeline_gpu_hours: Band
    min_gpu_hours: float  # a reservation bills its whole term
    data_engineers: Band
    fixed_usd: Band  # data licences + post-training data
    after_months: Band  # post-training + evaluation
    one_time_usd: Band
    months_to_production: Band
    parts: dict[str, float] = field(default_factory=dict)  # $ (p50) by component; they sum to one_time_usd.p50
    assumptions: tuple[Assumption, ...] = ()
    spends: tuple[Spend, ...] = ()  # the parts (p50) with the months they are paid in
    programme: dict[str, float] = field(default_factory=dict)  # p50 of each [programme] figure used


def scratch_costs(s, budget: TokenBudget | None = None) -> ScratchCosts:
    """Cost and calendar of the scratch option of scenario `s` (its budget by default)."""
    c, usd_year, prog = s.scratch, s.costs.usd_per_engineer_year, s.programme
    arch = scratch_model(s)
    budget = budget or token_budget(c, s.self_host.model, arch)
    rate = gpu_rate(lookup_gpu(c.gpu), c.sourcing, s.hardware, usd_per_engineer_year=usd_year, use="training",
                    where="scratch.sourcing")
    pre = pretrain_estimate(arch, c.gpu, rate.usd_per_gpu_hour, budget.tokens, c.n_gpus, c.prep_months,
                            Staffing(c.researchers, c.months, usd_year), None if c.recipe.is_default() else c.recipe)
    b = {name: prog.band(name) for name in _PROGRAMME}
    v = {name: x[0] for name, x in b.items()}
    hours, days = pre.gpu_hours * rate.time_factor, pre.wall_days * rate.time_factor
    experiments = v["ablation_fraction"] + v["failed_run_fraction"] + v["post_training_compute_fraction"]
    pipeline = v["data_pipeline_gpu_hours_per_ttok"] * (budget.tokens / 1e12)
    floor = pre.n_gpus * rate.term_hours
    compute = scratch_compute_usd(run_gpu_hours=hours, experiments_fraction=experiments, pipeline_gpu_hours=pipeline,
                                  usd_per_gpu_hour=rate.usd_per_gpu_hour, min_gpu_hours=floor)
    fixed = v["data_acquisition_usd"] + v["post_training_data_usd"]
    one_time = scratch_one_time_usd(compute_usd=compute, researchers=c.researchers, months=c.months,
                                    usd_per_engineer_year=usd_year, evaluation_usd=c.evaluation_usd,
                                    data_engineers=v["data_engineers"], prep_months=c.prep_months, fixed_usd=fixed)
    after = v["post_training_months"] + v["evaluation_months"]
    ttp = scratch_months_to_production(wall_days=days, prep_months=c.prep_months, after_months=after)
    p50 = {k: x.p50 for k, x in v.items()}
    spends = programme_spends(s, p50, rate, run_gpu_hours=hours.p50, wall_days=days.p50,
                              pipeline_gpu_hours=pipeline.p50, min_gpu_hours=floor)
    parts = {x.what: float(x.usd) for x in spends}
    notes = [Assumption("scratch.tokens", budget.tokens, "tokens", f"policy {budget.policy!r}: {budget.basis}")]
    if budget.warning:
        notes.append(Assumption("scratch.tokens WARNING", budget.policy, "", budget.warning))
    notes += [Assumption(f"programme.{k}", x[0], x[1], x[2]) for k, x in b.items()]
    return ScratchCosts(budget=budget, rate=rate, pretrain=pre, run_gpu_hours=hours, wall_days=days,
                        experiments_fraction=experiments, pipeline_gpu_hours=pipeline, min_gpu_hours=floor,
                        data_engineers=v["data_engineers"], fixed_usd=fixed, after_months=after, one_time_usd=one_time,
                        months_to_production=ttp, parts=parts, assumptions=(*notes, *rate.assumptions),
                        spends=spends, programme=p50)


def programme_spends(s, p50: dict, rate: GpuRate, **given) -> tuple[Spend, ...]:
    """The scratch programme's one-time costs with the months they are paid in (assembly.scratch_spends): the
    run's figures (`given`: run_gpu_hours, wall_days, pipeline_gpu_hours, min_gpu_hours), the [programme]
    figures `p50`, the training `rate` (its price and reserved term), and the scenario's [scratch] and staff
    cost unless `given` replaces them (the Monte Carlo engine passes arrays of sampled values)."""
    c = s.scratch
    args = dict(usd_per_gpu_hour=rate.usd_per_gpu_hour, term_months=rate.term_hours / HOURS_PER_MONTH,
                researchers=c.researchers, months=c.months, usd_per_engineer_year=s.costs.usd_per_engineer_year,
                prep_months=c.prep_months, evaluation_usd=c.evaluation_usd, data_engineers=p50["data_engineers"],
                ablation_fraction=p50["ablation_fraction"], failed_run_fraction=p50["failed_run_fraction"],
                post_training_fraction=p50["post_training_compute_fraction"],
                post_training_months=p50["post_training_months"], evaluation_months=p50["evaluation_months"],
                data_licences_usd=p50["data_acquisition_usd"], post_training_data_usd=p50["post_training_data_usd"])
    return scratch_spends(**{**args, **given})


@dataclass(frozen=True)
class PolicyCost(ResultMixin):
    policy: str
    tokens: float
    one_time_usd: float  # p50
    months_to_production: float  # p50
    chosen: bool


@A.checked(s=_holding("scratch", "self_host", "workload", expected="a planner.Scenario"),
           chosen=A.Kind(ScratchCosts, "a ScratchCosts (from compare()) or None", optional=True))
def policy_costs(s, chosen: ScratchCosts | None = None) -> tuple[PolicyCost, ...]:
    """The scratch option's one-time cost and months at each token policy (match, chinchilla, and the scenario's
    own if it is neither), so a reader sees the spread. Each is laid out afresh (pretraining is re-planned)."""
    chosen = chosen or scratch_costs(s)
    out = [PolicyCost(chosen.budget.policy, chosen.budget.tokens, chosen.one_time_usd.p50,
                      chosen.months_to_production.p50, True)]
    for policy in TOKEN_POLICIES:
        alt = dataclasses.replace(s.scratch, tokens=policy, tokens_per_param=None)
        budget = token_budget(alt, s.self_host.model, scratch_model(s))
        if any(abs(p.tokens - budget.tokens) <= 1e-9 * budget.tokens for p in out):
            continue
        sc = scratch_costs(s, budget)
        out.append(PolicyCost(budget.policy, budget.tokens, sc.one_time_usd.p50, sc.months_to_production.p50, False))
    return tuple(out)
