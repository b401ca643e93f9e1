"""Pretraining estimate: compute, memory-limited minimum GPUs, GPU-hours, days and $ as Bands."""
from __future__ import annotations

import math
from dataclasses import dataclass

from ..calibration.efficiency import Efficiencies
from ..calibration.store import resolve
from ..catalog.lookup import gpu as lookup_gpu
from ..catalog.lookup import model as lookup_model
from ..catalog.specs import GPUSpec, ModelSpec
from ..core.band import Band
from ..core.errors import InputError, require_positive
from ..core.provenance import Assumption
from ..core.results import ResultMixin
from ..core.units import DAYS_PER_MONTH
from .arithmetic import active_params, total_params, training_flops_per_token
from .training import (
    ADAM_MIXED_BYTES_PER_PARAM,
    activation_bytes_per_gpu,
    check_enough_gpus,
    min_gpus_to_fit,
    gpu_seconds_per_token,
    mfu,
    run_time_cost,
)

# Hoffmann et al. 2022 ("Training Compute-Optimal Large Language Models", Table 3):
# the compute-optimal budget is about 20 tokens per parameter.
CHINCHILLA_TOKENS_PER_PARAM = 20.0

# Restarts, hardware failures and evaluation pauses on top of steady-state MFU.
# Llama 3 405B saw 466 interruptions in 54 days and >90% effective training time
# (Dubey et al. 2024, Sec. 3.3.4): about 1/0.9 = 1.1.
OVERHEAD_FACTOR = 1.10

# Tokens per optimizer step across the cluster (global batch): Llama 3 405B trained at 4M-16M
# (Dubey et al. 2024, Sec. 3.4.1); the optimizer's update is spread over them.
TOKENS_PER_STEP = 4e6

# When n_gpus is not given: the fewest (a multiple of 8, one node) finishing in this many days at p50.
DEFAULT_TARGET_DAYS = 90.0

# Frontier reference (shared/background/what-are-foundation-models.txt): about 50
# researchers for about a year. The cost per researcher-year is an assumption
# (fully loaded US ML salary plus overhead); override it with your own.
USD_PER_ENGINEER_YEAR = 400_000.0


@dataclass(frozen=True)
class Staffing:
    """People on the project and for how long; cost = people x years x loaded cost."""

    researchers: float = 0.0
    months: float = 0.0
    usd_per_researcher_year: float = USD_PER_ENGINEER_YEAR

    @property
    def cost_usd(self) -> float:
        return self.researchers * self.months / 12.0 * self.usd_per_researcher_year


FRONTIER_STAFFING = Staffing(researchers=50, months=12)


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
    mfu: Band  # model FLOPs utilisation the performance model predicts for a step (before overhead_factor)
    gpu_hours: Band
    wall_days: Band
    cost_usd: Band  # compute only
    staff_cost_usd: float
    total_cost_usd: Band  # compute + staff
    calendar_months: Band  # preparation + the run itself
    efficiency_source: str
    assumptions: tuple[Assumption, ...]


def _default_n_gpus(min_gpus: int, gpu_hours_p50: float, target_days: float) -> int:
    need = gpu_hours_p50 / (target_days * 24.0)
    return max(min_gpus, 8 * math.ceil(max(need, 1.0) / 8))


def pretraining(*, model: str | ModelSpec, gpu: str | GPUSpec, tokens: float | None = None,
                n_gpus: int | None = None, seq_len: int | None = None, overhead_factor: float = OVERHEAD_FACTOR,
                staffing: Staffing | None = None, prep_months: float = 3.0,
                efficiencies: Efficiencies | None = None) -> PretrainingEstimate:
    """Estimate a pretraining run of `model` on `gpu`.

    tokens: training tokens (default 20 per parameter, Chinchilla).
    n_gpus: cluster size (default: fewest, in nodes of 8, that finish in 90 days at p50).
    seq_len: training sequence length (default min(context_length, 4096)).
    """
    m, g = lookup_model(model), lookup_gpu(gpu)
    n_total, n_active = total_params(m), active_params(m)
    tokens = CHINCHILLA_TOKENS_PER_PARAM * n_active if tokens is None else require_positive("tokens", tokens)
    seq_len = int(require_positive("seq_len", seq_len)) if seq_len is not None else min(m.context_length, 4096)
    require_positive("overhead_factor", overhead_factor)
    if overhead_factor < 1:
        raise InputError("overhead_factor", f"must be >= 1 (it adds lost time), got {overhead_factor}")
    eff = resolve(g.name, efficiencies)
    flops = training_flops_per_token(m, seq_len) * tokens
    state = ADAM_MIXED_BYTES_PER_PARAM * n_total
    what = f"pretraining {m.name}"
    min_gpus = min_gpus_to_fit(state_bytes=state, replicated_bytes=0.0,
                               activation_bytes=activation_bytes_per_gpu(m, seq_len), gpu=g, what=what)
    per_token = gpu_seconds_per_token(m, g, eff, seq_len=seq_len)
    probe = run_time_cost(tokens=tokens, seconds_per_token=per_token, gpu=g, n_gpus=1, overhead_factor=overhead_factor)
    if n_gpus is None:
        n_gpus = _default_n_gpus(min_gpus, probe.gpu_hours.p50, DEFAULT_TARGET_DAYS)
    elif isinstance(n_gpus, bool) or int(require_positive("n_gpus", n_gpus)) != n_gpus:
        raise InputError("n_gpus", f"must be a positive whole number, got {n_gpus!r}")
    n_gpus = int(n_gpus)
    check_enough_gpus(n_gpus, min_gpus, state_bytes=state, gpu=g, what=what)
    per_token = gpu_seconds_per_token(m, g, eff, seq_len=seq_len, trainable_params_per_gpu=n_total / n_gpus,
                                      tokens_per_step_per_gpu=TOKENS_PER_STEP / n_gpus)
    run = run_time_cost(tokens=tokens, seconds_per_token=per_token, gpu=g, n_gpus=n_gpus, overhead_factor=overhead_factor)
    predicted_mfu = mfu(training_flops_per_token(m, seq_len), per_token, g.peak("bf16"))
    staff = staffing or Staffing()
    return PretrainingEstimate(
        model=m.name, gpu=g.name, n_gpus=n_gpus, min_gpus=min_gpus, tokens=float(tokens), seq_len=seq_len,
        total_params=n_total, active_params=n_active, training_flops=flops, mfu=predicted_mfu,
        gpu_hours=run.gpu_hours, wall_days=run.wall_days, cost_usd=run.cost_usd,
        staff_cost_usd=staff.cost_usd, total_cost_usd=run.cost_usd + staff.cost_usd,
        calendar_months=run.wall_days * (1 / DAYS_PER_MONTH) + prep_months,
        efficiency_source=eff.source,
        assumptions=(
            Assumption("tokens", float(tokens), "tokens", "given" if tokens is not None else "20 x active params (Hoffmann et al. 2022, arXiv:2203.15556)"),
            Assumption("seq_len", seq_len, "tokens", "min(context length, 4096)"),
            Assumption("predicted_mfu", predicted_mfu, "fraction of dense bf16 peak",
                       "performance model (planner/estimate/perf.py): selective recomputation, one 1-sequence micro-batch per GPU, fully sharded data parallel, communication overlapped"),
            *eff.assumptions(),
            Assumption("bf16 dense peak", g.peak("bf16"), "FLOP/s", str(g.sources.get("peak_tflops", "catalog"))),
            Assumption("overhead_factor", overhead_factor, "x", "Llama 3 (arXiv:2407.21783, Sec. 3.3.4): >90% effective training time"),
            Assumption("optimizer state", ADAM_MIXED_BYTES_PER_PARAM, "bytes/param", "ZeRO (arXiv:1910.02054), mixed-precision Adam"),
            Assumption("usd_per_gpu_hour", g.usd_per_gpu_hour, "$/GPU-hour", str(g.sources.get("usd_per_gpu_hour", "catalog"))),
            Assumption("staff", staff.cost_usd, "$", f"{staff.researchers:g} researchers x {staff.months:g} months x ${staff.usd_per_researcher_year:,.0f}/yr (assumption)"),
            Assumption("prep_months", prep_months, "months", "data and infrastructure preparation (assumption)"),
        ),
    )
