"""Pretraining estimate: the layout, its predicted MFU, GPU-hours, days and $ as Bands, and the staff."""
from __future__ import annotations

from dataclasses import dataclass, replace

from ..calibration.efficiency import Efficiencies
from ..calibration.store import resolve
from ..catalog.lookup import gpu as lookup_gpu
from ..catalog.lookup import model as lookup_model
from ..catalog.specs import GPUSpec, ModelSpec
from ..core.band import Band
from ..core import limits as L
from ..core import validate as V
from ..core.errors import InputError
from ..core.memo import by_identity
from ..core.validate import require_positive
from ..core.provenance import Assumption
from ..core.results import ResultMixin
from ..core.units import DAYS_PER_MONTH
from . import fp8 as fp8_gemms
from . import perf
from .arithmetic import active_params, total_params, training_flops_per_token
from .layout import MemoryBreakdown, TrainingLayout
from .layout_search import RunShape
from .recipe import TrainingRecipe, searched_recipe
from .training_run import OVERHEAD_BY_BASIS, RUN_OVERHEAD, overhead_band, plan_run, run_time_cost
from .training_step import StepBreakdown, mfu

# Hoffmann et al. 2022 ("Training Compute-Optimal Large Language Models", Table 3):
# the compute-optimal budget is about 20 tokens per parameter.
CHINCHILLA_TOKENS_PER_PARAM = 20.0

# Tokens per optimizer step across the cluster (global batch): Llama 3 405B trained at 4M-16M
# (Dubey et al. 2024, Sec. 3.4.1); the optimizer's update is spread over them.
TOKENS_PER_STEP = 4e6

# Frontier reference (shared/background/what-are-foundation-models.txt): about 50
# researchers for about a year. The cost per researcher-year is an assumption
# (fully loaded US ML salary plus overhead); override it with your own.
USD_PER_ENGINEER_YEAR = 400_000.0


@dataclass(frozen=True)
class Staffing:
    """People on the project and for how long; cost = people x years x loaded cost."""

    researchers: float = V.knob(0.0, V.Real(0.0, L.MAX_PEOPLE, unit="people"))
    months: float = V.knob(0.0, V.Real(0.0, L.MAX_MONTHS, unit="months"))
    usd_per_researcher_year: float = V.knob(USD_PER_ENGINEER_YEAR, V.Real(0.0, L.MAX_USD_PER_ENGINEER_YEAR,
                                                                          unit="$/year"))

    def __post_init__(self):
        V.check_fields(self, "staffing")

    @property
    def cost_usd(self) -> float:
        return self.researchers * self.months / 12.0 * self.usd_per_researcher_year


FRONTIER_STAFFING = Staffing(researchers=50, months=12)
NO_STAFFING = Staffing()  # the default: compute cost only (frozen, so one instance serves every estimate)


@dataclass(frozen=True)
class PretrainingEstimate(ResultMixin):
    model: str
    gpu: str
    n_gpus: int
    min_gpus: int
    tokens: float
    seq_len: int
    total_params: int
    active_params: int
    training_flops: float
    layout: TrainingLayout  # the chosen (or given) parallel layout
    global_batch_tokens: float
    mfu: Band  # model FLOPs utilisation the performance model predicts for a step (before overhead_factor)
    step: StepBreakdown  # seconds of one optimizer step by where they go (p50)
    memory: MemoryBreakdown  # bytes per GPU by component
    gpu_hours: Band
    wall_days: Band
    cost_usd: Band  # compute only
    staff_cost_usd: float
    total_cost_usd: Band  # compute + staff
    calendar_months: Band  # preparation + the run itself
    efficiency_source: str
    assumptions: tuple[Assumption, ...]
    memory_fit: str = ""  # "" when the central memory fits the usable memory; else how tight (MemoryBreakdown.fit_note)


_TOKENS = V.Real(0.0, L.MAX_TOKENS, lo_open=True, unit="tokens", optional=True)  # checks built once, run per call
_N_GPUS = V.Whole(1, L.MAX_GPUS, unit="GPUs", optional=True)
_SEQ_LEN = V.Whole(1, L.MAX_SEQ_LEN, unit="tokens", optional=True)


def _validate(model, gpu, tokens, n_gpus, seq_len, layout, fp8, tokens_per_step, overhead_factor, staffing,
              prep_months, efficiencies) -> None:
    """Every argument checked (core/validate.py, bounds in core/limits.py) before any work."""
    V.spec_or_name("model", model, ModelSpec), V.spec_or_name("gpu", gpu, GPUSpec), V.flag("fp8", fp8)
    _TOKENS("tokens", tokens), _N_GPUS("n_gpus", n_gpus), _SEQ_LEN("seq_len", seq_len)
    V.positive("tokens_per_step", tokens_per_step, L.MAX_TOKENS_PER_STEP, "tokens")
    (V.one_of("overhead_factor", overhead_factor, OVERHEAD_BY_BASIS) if isinstance(overhead_factor, str)
     else V.factor("overhead_factor", overhead_factor)), V.nonnegative("prep_months", prep_months, L.MAX_MONTHS, "months")
    V.instance("layout", layout, (TrainingLayout, type(None)), "a TrainingLayout or None")
    V.instance("staffing", staffing, (Staffing, type(None)), "a Staffing or None")
    V.instance("efficiencies", efficiencies, (Efficiencies, type(None)), "an Efficiencies or None")


def _fp8_assumption(g: GPUSpec, layout: TrainingLayout) -> Assumption:
    """The fp8 scaling recipe the step model used, and why (planner/estimate/fp8.py)."""
    setup = fp8_gemms.gemms_for(g, layout.fp8_recipe)
    why = "given" if layout.fp8_recipe != "auto" else "the GPU's default: mxfp8 on Blackwell, per-tensor current scaling elsewhere"
    return Assumption("fp8_recipe", setup.recipe, "", f"{why}; stack linears in fp8 at {setup.peak_ratio:g}x the bf16 peak "
                      f"x {fp8_gemms.FP8_GEMM_SCALE[setup.recipe]:g}, attention and head bf16, casts "
                      f"{fp8_gemms.cast_bytes_per_element(setup.recipe):.3g} bytes per quantised element (planner/estimate/fp8.py)")


@by_identity()  # the catalog's GPU: its peak and price with their sources, built once
def _gpu_assumptions(g: GPUSpec) -> tuple[Assumption, Assumption]:
    return (Assumption("bf16 dense peak", g.peak("bf16"), "FLOP/s", str(g.sources.get("peak_tflops", "catalog"))),
            Assumption("usd_per_gpu_hour", g.usd_per_gpu_hour, "$/GPU-hour",
                       str(g.sources.get("usd_per_gpu_hour", "catalog"))))


def pretraining(*, model: str | ModelSpec, gpu: str | GPUSpec, tokens: float | None = None,
                n_gpus: int | None = None, seq_len: int | None = None, layout: TrainingLayout | None = None,
                fp8: bool = False, tokens_per_step: float = TOKENS_PER_STEP, overhead_factor=RUN_OVERHEAD,
                staffing: Staffing | None = None, prep_months: float = 3.0,
                efficiencies: Efficiencies | None = None,
                recipe: TrainingRecipe | dict | None = None) -> PretrainingEstimate:
    """Estimate a pretraining run of `model` on `gpu`.

    tokens: training tokens (default 20 per parameter, Chinchilla).
    n_gpus: cluster size (default: the fewest, in nodes of 8, that finish in 90 days at p50).
    layout: a TrainingLayout to evaluate as given (default: the fastest that fits, searched).
    seq_len: training sequence length (default min(context_length, 4096)).
    fp8: the linear layers' GEMMs in fp8 with their casts (Transformer Engine / DeepSeek-V3 style; attention and
         the head stay bf16; the scaling recipe is layout.fp8_recipe, default per GPU: planner/estimate/fp8.py).
    tokens_per_step: the global batch in tokens (grown with the cluster as large runs do, to 16M).
    overhead_factor: restarts, failures and pauses a model of one step cannot see (a Band or a number), or how the
            GPU-hours are counted: "allocation" (the cluster x the run's wall-clock, what a rented cluster bills) or
            "metered" (job GPU time, as Meta's cards count it), each basis's factor from its calibration runs.
    recipe: a TrainingRecipe (or a dict of its fields: moe_balance, moe_overlap, moe_dispatcher, tp_overlap,
            fp8_param_gather, fp8_recipe) applied to every searched layout (default: Megatron-Core's defaults);
            with layout= set the same fields on the layout instead.
    """
    _validate(model, gpu, tokens, n_gpus, seq_len, layout, fp8, tokens_per_step, overhead_factor, staffing,
              prep_months, efficiencies)
    m, g = lookup_model(model), lookup_gpu(gpu)
    if layout is not None and fp8 != layout.fp8:  # fp8 by either: the step model reads the layout's flag
        fp8, layout = True, replace(layout, fp8=True)
    n_total, n_active = total_params(m), active_params(m)
    tokens_source = "given" if tokens is not None else "20 x active params (Hoffmann et al. 2022, arXiv:2203.15556)"
    tokens = CHINCHILLA_TOKENS_PER_PARAM * n_active if tokens is None else require_positive("tokens", tokens)
    seq_len = int(require_positive("seq_len", seq_len)) if seq_len is not None else min(m.context_length, 4096)
    require_positive("tokens_per_step", tokens_per_step)
    overhead = overhead_band(overhead_factor)
    if n_gpus is not None and (isinstance(n_gpus, bool) or int(require_positive("n_gpus", n_gpus)) != n_gpus):
        raise InputError("n_gpus", f"must be a positive whole number, got {n_gpus!r}")
    eff = resolve(g.name, efficiencies)
    if fp8:
        g.peak("fp8")  # a GPU without fp8 tensor cores: a clear error before any work
    run_recipe = searched_recipe(recipe, fp8=fp8, gpu=g, layout=layout)
    kern = perf.kernels_for(g.peak("bf16"), g.memory_bytes_per_s, eff)  # fp8 linears: fp8.py, inside the step model
    shape = RunShape(model=m, seq_len=seq_len, global_batch=max(1, round(tokens_per_step / seq_len)), fp8=fp8,
                     recipe=run_recipe)
    plan = plan_run(shape, g, kern, tokens=tokens, n_gpus=n_gpus, layout=layout)
    n = plan.layout.n_gpus
    run = run_time_cost(tokens=tokens, seconds_per_token=plan.gpu_seconds_per_token, gpu=g, n_gpus=n, overhead=overhead)
    flops_per_token, (peak, price) = training_flops_per_token(m, seq_len), _gpu_assumptions(g)
    predicted_mfu = mfu(flops_per_token, plan.gpu_seconds_per_token, peak.value)
    staff = staffing or NO_STAFFING
    return PretrainingEstimate(
        model=m.name, gpu=g.name, n_gpus=n, min_gpus=plan.min_gpus, tokens=float(tokens), seq_len=seq_len,
        total_params=n_total, active_params=n_active, training_flops=flops_per_token * tokens,
        layout=plan.layout, global_batch_tokens=plan.choice.global_batch * seq_len, mfu=predicted_mfu,
        step=plan.choice.step.breakdown, memory=plan.memory,
        gpu_hours=run.gpu_hours, wall_days=run.wall_days, cost_usd=run.cost_usd,
        staff_cost_usd=staff.cost_usd, total_cost_usd=run.cost_usd + staff.cost_usd,
        calendar_months=run.wall_days * (1 / DAYS_PER_MONTH) + prep_months,
        efficiency_source=eff.source, memory_fit=plan.memory.fit_note(),
        assumptions=(
            Assumption("tokens", float(tokens), "tokens", tokens_source),
            Assumption("seq_len", seq_len, "tokens", "min(context length, 4096)"),
            Assumption("layout", plan.layout.describe(), "", "given" if layout is not None else
                       "the fastest fitting layout searched (planner/estimate/layout_search.py)"),
            *([] if layout is not None else [Assumption("recipe", run_recipe.describe(), "", "given, applied to every "
                                                        "searched layout" if recipe is not None else "Megatron-Core's "
                                                        "defaults: MoE all-to-all on the critical path, aux-loss balancing "
                                                        "(planner/estimate/recipe.py)")]),
            Assumption("predicted_mfu", predicted_mfu, "fraction of dense bf16 peak",
                       "model FLOPs / (dense bf16 peak x step time), also for fp8 runs (fp8 GEMMs are not counted "
                       "against the fp8 peak, so an fp8 run can pass 100%): performance model (planner/estimate/perf.py, "
                       "fp8.py) + the layout's communication and pipeline bubble (planner/estimate/training_step.py)"),
            *eff.assumptions(),
            peak,
            *([_fp8_assumption(g, plan.layout)] if fp8 else []),
            Assumption("overhead_factor", overhead, "x", "whole-run factor (restarts, failures, stalls, evaluation, extra stages): p10/p50/p90 of published/step-model "
                       "GPU-hours over the calibration runs of published_runs.toml"),
            price,
            Assumption("staff", staff.cost_usd, "$", f"{staff.researchers:g} researchers x {staff.months:g} months x ${staff.usd_per_researcher_year:,.0f}/yr (assumption)"),
            Assumption("prep_months", prep_months, "months", "data and infrastructure preparation (assumption)"),
        ),
    )
