"""Serving capacity and cost: tensor parallelism, batch size, replicas, $ per token.

One replica runs continuous batching (Orca, Yu et al. OSDI 2022; vLLM, Kwon et al.
SOSP 2023). Its largest useful batch is set by the KV cache that fits next to the
weights and by the latency targets; replicas are then sized for the peak traffic at
a utilization ceiling, and every paid GPU-hour is charged to the mean traffic.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from ..calibration.efficiency import Efficiencies
from ..calibration.store import resolve
from ..catalog import lookup as catalog
from ..catalog.specs import GPUSpec, ModelSpec
from ..catalog.specs import precision as lookup_precision
from ..core.band import Band
from ..core.errors import InfeasibleError, InputError, require_fraction
from ..core.provenance import Assumption
from ..core.units import HOURS_PER_MONTH, SECONDS_PER_HOUR
from . import inference as inf
from .workload import Workload

# Fleet sizing defaults (judgement): run replicas at most 70% busy at the peak hour, headroom for
# bursts and queueing; never fewer than 2 replicas, so one can fail or be upgraded.
UTILIZATION_CEILING = 0.7
MIN_REPLICAS = 2
TP_DEGREES = (1, 2, 4, 8)  # one NVLink domain of an 8-GPU node
# Schedulers cap concurrent sequences: vLLM's max_num_seqs defaults to 256.
DEFAULT_MAX_BATCH_SIZE = 256
_COST_QUANTILE = {"p10": "p90", "p50": "p50", "p90": "p10"}  # cost quantile -> capacity quantile


@dataclass(frozen=True)
class BatchRow:
    """One row of the batch-size table, at p50 efficiencies."""

    batch: int
    ttft_s: float
    tpot_s: float
    requests_per_s: float  # per replica
    meets_targets: bool


@dataclass(frozen=True)
class ServingPlan:
    model: str
    gpu: str
    precision: str
    tensor_parallel: int
    batch_size: int  # concurrent sequences per replica, the largest meeting the targets
    max_batch_kv: int  # the most sequences whose KV cache fits next to the weights
    limited_by: str  # what stopped the batch growing
    ttft_s: Band  # prefill of one prompt + one decode step of the running batch, no queueing
    tpot_s: Band
    e2e_s: Band
    requests_per_s_per_replica: Band
    replicas: Band
    gpus: Band
    monthly_cost_usd: Band  # month 0 traffic
    usd_per_million_tokens: Band  # input + output tokens, at the traffic's actual utilization
    usd_per_request: Band
    mean_utilization: Band  # mean traffic / capacity of the paid replicas
    peak_rps: float
    mean_rps: float
    usd_per_gpu_hour: float
    utilization_ceiling: float
    min_replicas: int
    table: tuple[BatchRow, ...]
    efficiency_source: str
    assumptions: tuple[Assumption, ...]
    workload: Workload

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def table_frame(self):
        """The batch-size table as a pandas DataFrame."""
        import pandas as pd
        return pd.DataFrame([dataclasses.asdict(r) for r in self.table])


def max_batch_for_kv(m: ModelSpec, g: GPUSpec, precision_name: str, tensor_parallel: int,
                     context_tokens: float) -> int:
    """Sequences at `context_tokens` whose KV cache fits beside the weights on each GPU."""
    free = inf.usable_memory_bytes(g) - inf.memory_per_gpu_bytes(m, precision_name, 0, 0, tensor_parallel)
    per_sequence = float(inf.kv_bytes_per_gpu(m, 1, context_tokens, tensor_parallel, inf.numerics(precision_name).kv_bytes))
    return max(int(free // per_sequence), 0)


def serving_ttft_s(prefill_one_s, tpot_s):
    """p50 time to first token without queueing: a new prompt's prefill waits for the step in flight."""
    return prefill_one_s + tpot_s


def replica_requests_per_s(batch, prefill_one_s, tpot_s, output_tokens: float):
    """Requests per second one replica completes with `batch` sequences in flight.

    Little's law (L = lambda W) with W the replica time each cohort of `batch`
    requests takes: their `batch` prefills plus output_tokens - 1 decode steps.
    Prefills run on the same GPUs between decode steps, so they are counted in
    full; the plain batch / (ttft + output x tpot) leaves them out and
    over-states capacity when prompts are long.
    """
    busy_s = batch * prefill_one_s + max(output_tokens - 1.0, 0.0) * tpot_s
    return batch / busy_s


def replicas_needed(peak_rps, requests_per_s_per_replica, utilization_ceiling: float, min_replicas: int):
    """max(min_replicas, ceil(peak / (capacity x ceiling))), elementwise."""
    raw = np.asarray(peak_rps, dtype=float) / (requests_per_s_per_replica * utilization_ceiling)
    # Round away float noise before ceil, so exactly 3.0 stays 3, not 4.
    return np.maximum(min_replicas, np.ceil(np.round(raw, 9)))


def _latency_grid(m, g, prec, tp, batches, w: Workload, eff: Efficiencies) -> dict[str, np.ndarray]:
    """ttft, tpot and requests/s per replica, shape (len(batches), 3) for (p10, p50, p90) efficiencies."""
    prefill_one = inf.prefill_s(m, g, prec, 1, w.prompt_tokens, tp, eff)
    ctx = inf.mean_decode_context(w.prompt_tokens, w.output_tokens)
    b = np.asarray(batches, dtype=float)[:, None]
    tpot, _ = inf.decode_step_s(m, g, prec, b, ctx, tp, eff)
    ttft = serving_ttft_s(prefill_one, tpot)
    return {"ttft": ttft, "tpot": tpot, "e2e": inf.e2e_s(ttft, tpot, w.output_tokens),
            "rps": replica_requests_per_s(b, prefill_one, tpot, w.output_tokens)}


def _meets(grid: dict[str, np.ndarray], w: Workload) -> np.ndarray:
    """Which rows meet both targets at p50 (column 1)."""
    ok = np.ones(grid["tpot"].shape[0], dtype=bool)
    if w.ttft_target_s is not None:
        ok &= grid["ttft"][:, 1] <= w.ttft_target_s
    if w.tpot_target_s is not None:
        ok &= grid["tpot"][:, 1] <= w.tpot_target_s
    return ok


def _fitting_degrees(m, g, prec, context, max_tensor_parallel) -> list[int]:
    degrees = [tp for tp in TP_DEGREES if tp <= max_tensor_parallel]
    fits = [tp for tp in degrees if max_batch_for_kv(m, g, prec, tp, context) >= 1]
    if not fits:  # raise the DoesNotFitError that names the memory needed
        inf.check_fits(m, g, prec, 1, context, max(degrees))
    return fits


def _infeasible(m, g, prec, w: Workload, grids: dict[int, dict]) -> InfeasibleError:
    """The error for targets no TP degree meets at batch 1, naming the physical floor."""
    first, best = min(grids), max(grids)

    def floor(key: str, tp: int) -> float:  # batch 1, p50 efficiencies, in ms
        return grids[tp][key][0, 1] * 1e3

    where = f"{m.name} {prec} on {first}x {g.name}"
    if w.tpot_target_s is not None and grids[best]["tpot"][0, 1] > w.tpot_target_s:
        why, key, target = "weights must be read once per token", "tpot", w.tpot_target_s
        helps = "more tensor parallelism, a lower precision (int8, fp8, int4) or a GPU with more memory bandwidth"
    else:
        why, key, target = "the prompt's prefill is compute-bound", "ttft", w.ttft_target_s
        helps = "a shorter prompt, more tensor parallelism, a lower precision or a GPU with a higher peak"
    also = f"; {floor(key, best):.1f} ms at tensor_parallel={best}" if best != first else ""
    return InfeasibleError(
        f"{key} target {target * 1e3:.3g} ms is below the floor of {floor(key, first):.1f} ms for {where} "
        f"({why}; batch 1, p50 efficiencies{also}). What would help: {helps}.")


def _choose(m, g, prec, w, eff, max_tensor_parallel, max_batch_size):
    """Smallest TP whose batch 1 fits and meets the targets; its KV limit and latency grid."""
    context = w.prompt_tokens + w.output_tokens
    grids = {}
    for tp in _fitting_degrees(m, g, prec, context, max_tensor_parallel):
        kv_limit = max_batch_for_kv(m, g, prec, tp, context)
        grid = _latency_grid(m, g, prec, tp, np.arange(1, min(kv_limit, max_batch_size) + 1), w, eff)
        if _meets(grid, w)[0]:
            return tp, kv_limit, grid
        grids[tp] = grid
    raise _infeasible(m, g, prec, w, grids)


def _limited_by(ok: np.ndarray, grid: dict, w: Workload, kv_limit: int, max_batch_size: int) -> str:
    n = int(ok.sum())
    if n == len(ok):
        return "KV-cache memory" if kv_limit <= max_batch_size else f"max_batch_size={max_batch_size}"
    if w.tpot_target_s is not None and grid["tpot"][n, 1] > w.tpot_target_s:
        return "tpot target"
    return "ttft target"


def _table(grid: dict, ok: np.ndarray, chosen: int) -> tuple[BatchRow, ...]:
    n = len(ok)
    shown = sorted({*(2 ** np.arange(int(math.log2(n)) + 1)).tolist(), n, chosen})
    return tuple(BatchRow(b, float(grid["ttft"][b - 1, 1]), float(grid["tpot"][b - 1, 1]),
                          float(grid["rps"][b - 1, 1]), bool(ok[b - 1])) for b in shown)


def _assumptions(m, g, prec, tp, eff, utilization_ceiling, min_replicas, max_batch_size):
    return (*inf.common_assumptions(m, g, prec, tp, eff),
            Assumption("utilization_ceiling", utilization_ceiling, "fraction of replica capacity at peak",
                       "headroom for bursts and queueing"),
            Assumption("min_replicas", min_replicas, "replicas", "redundancy: survive one replica failing"),
            Assumption("hours_per_month", HOURS_PER_MONTH, "h", "8760 / 12, cloud billing convention"),
            Assumption("max_batch_size", max_batch_size, "sequences", "vLLM max_num_seqs default 256"),
            Assumption("batch_choice", "largest batch meeting ttft and tpot targets at p50", "",
                       "queueing delay ignored"))


def _validate(utilization_ceiling, min_replicas, max_tensor_parallel, max_batch_size) -> None:
    require_fraction("utilization_ceiling", utilization_ceiling)
    for name, v in (("min_replicas", min_replicas), ("max_tensor_parallel", max_tensor_parallel),
                    ("max_batch_size", max_batch_size)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise InputError(name, f"must be a whole number >= 1, got {v!r}")


def serving(*, model: str | ModelSpec, gpu: str | GPUSpec, precision: str = "bf16", workload: Workload,
            utilization_ceiling: float = UTILIZATION_CEILING, min_replicas: int = MIN_REPLICAS, max_tensor_parallel: int = 8,
            max_batch_size: int = DEFAULT_MAX_BATCH_SIZE,
            efficiencies: Efficiencies | None = None) -> ServingPlan:
    """Replicas, GPUs and cost to serve `workload` with `model` on `gpu` at `precision`."""
    _validate(utilization_ceiling, min_replicas, max_tensor_parallel, max_batch_size)
    m, g = catalog.model(model), catalog.gpu(gpu)
    prec, eff, w = lookup_precision(precision).name, resolve(g.name, efficiencies), workload
    tp, kv_limit, grid = _choose(m, g, prec, w, eff, max_tensor_parallel, max_batch_size)
    ok = _meets(grid, w)
    b = int(ok.sum())  # targets are met by a prefix of batch sizes: latency grows with batch
    capacity = grid["rps"][b - 1]  # (p10, p50, p90) efficiencies
    replicas = replicas_needed(w.peak_rps, capacity, utilization_ceiling, min_replicas)
    usd_per_hour = replicas * tp * g.usd_per_gpu_hour
    usd_per_request = usd_per_hour / (w.mean_rps * SECONDS_PER_HOUR)
    band = inf.to_band
    return ServingPlan(
        model=m.name, gpu=g.name, precision=prec, tensor_parallel=tp, batch_size=b, max_batch_kv=kv_limit,
        limited_by=_limited_by(ok, grid, w, kv_limit, max_batch_size),
        ttft_s=band(grid["ttft"][b - 1]), tpot_s=band(grid["tpot"][b - 1]), e2e_s=band(grid["e2e"][b - 1]),
        requests_per_s_per_replica=band(capacity), replicas=band(replicas), gpus=band(replicas * tp),
        monthly_cost_usd=band(usd_per_hour * HOURS_PER_MONTH),
        usd_per_million_tokens=band(usd_per_request / w.tokens_per_request * 1e6),
        usd_per_request=band(usd_per_request), mean_utilization=band(w.mean_rps / (replicas * capacity)),
        peak_rps=w.peak_rps, mean_rps=w.mean_rps, usd_per_gpu_hour=g.usd_per_gpu_hour,
        utilization_ceiling=utilization_ceiling, min_replicas=min_replicas, table=_table(grid, ok, b),
        efficiency_source=eff.source,
        assumptions=_assumptions(m, g, prec, tp, eff, utilization_ceiling, min_replicas, max_batch_size),
        workload=w,
    )


def _capacity(plan: ServingPlan, quantile: str) -> float:
    try:
        return getattr(plan.requests_per_s_per_replica, _COST_QUANTILE[quantile])
    except KeyError:
        raise InputError("quantile", f"must be one of p10, p50, p90, got {quantile!r}") from None


def replicas_for(plan: ServingPlan, peak_rps, quantile: str = "p50") -> np.ndarray:
    """Replicas the plan's configuration needs at each peak rate (any array shape, no loop).

    `quantile` is of the replica count: "p90" uses the p10 (slow) capacity.
    """
    peak = np.asarray(peak_rps, dtype=float)
    if not np.all(np.isfinite(peak)) or np.any(peak < 0):
        raise InputError("peak_rps", "must be finite and >= 0 everywhere")
    return replicas_needed(peak, _capacity(plan, quantile), plan.utilization_ceiling, plan.min_replicas)


def monthly_cost_usd_for(plan: ServingPlan, peak_rps, quantile: str = "p50") -> np.ndarray:
    """Monthly GPU cost at each peak rate: replicas x TP x $/GPU-hour x 730 h."""
    gpus = replicas_for(plan, peak_rps, quantile) * plan.tensor_parallel
    return gpus * plan.usd_per_gpu_hour * HOURS_PER_MONTH
