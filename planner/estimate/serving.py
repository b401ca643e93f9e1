"""Serving capacity and cost: precision, tensor parallelism, batch, replicas, $ per token.

One replica runs continuous batching (Orca, Yu et al. OSDI 2022; vLLM, Kwon et al. SOSP 2023)
on an engine (catalog/data/engines.toml). search.py tries every precision asked for and every
tensor-parallel degree whose weights fit (for an MoE model, each degree also with data-parallel
attention and expert-parallel experts over its GPUs, moe_serving.py); for each, the largest batch meeting the latency
targets without queueing (analytic, p50 rates), then a simulated replica under Poisson arrivals
(simulate.py) for the highest request rate at which the chosen percentile (default p90) of TTFT
and TPOT still meets the targets. Replicas are sized for the peak at that rate (optionally capped
by a utilisation ceiling), and the configuration with the lowest monthly cost wins; every paid
GPU-hour is charged to the mean traffic.
"""
from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass

import numpy as np

from ..calibration.efficiency import Efficiencies
from ..catalog import lookup as catalog
from ..catalog.specs import GPUSpec, ModelSpec
from ..core.band import Band
from ..core import limits as L
from ..core import arguments as A
from ..core import validate as V
from ..core.errors import InfeasibleError, InputError
from ..core.lazy import Deferred, LazyField
from ..core.provenance import Assumption
from ..core.units import HOURS_PER_MONTH, SECONDS_PER_HOUR
from . import inference as inf
from . import load as ld
from . import moe_serving as moe
from . import search as sr
from .engine import EngineSetup, resolve_engine
from .search import FrontierRow
from .workload import Workload

# Fleet sizing: never fewer than 2 replicas, so one can fail or be upgraded (judgement).
MIN_REPLICAS = 2
# No longer the sizing rule (the simulation is): an optional cap on a replica's busy share at the
# peak. None means the simulated rate alone sizes the fleet.
UTILIZATION_CEILING = None
LATENCY_PERCENTILE = "p90"
TP_DEGREES = sr.TP_DEGREES
_COST_QUANTILE = {"p10": "p90", "p50": "p50", "p90": "p10"}  # cost quantile -> capacity quantile


@dataclass(frozen=True)
class BatchRow:
    """One row of the chosen configuration's batch-size table, at p50 efficiencies."""

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
    batch_size: int  # the engine's cap on running sequences: the largest batch meeting the targets
    max_batch_kv: int  # the most sequences whose KV cache fits next to the weights
    limited_by: str  # what stopped the batch growing
    ttft_s: Band  # prefill of one prompt + one decode step of the running batch, no queueing
    tpot_s: Band
    e2e_s: Band
    requests_per_s_per_replica: Band  # offline capacity at the batch cap (simulated p50, spread from the rates)
    replicas: Band
    gpus: Band
    monthly_cost_usd: Band  # month 0 traffic
    usd_per_million_tokens: Band  # input + output tokens, at the traffic's actual utilization
    usd_per_request: Band
    mean_utilization: Band  # mean traffic / capacity of the paid replicas
    peak_rps: float
    mean_rps: float
    usd_per_gpu_hour: float
    utilization_ceiling: float  # the busy share of capacity a replica is sized to at the peak
    min_replicas: int
    table: tuple[BatchRow, ...]
    efficiency_source: str
    assumptions: tuple[Assumption, ...]
    workload: Workload
    engine: str = "vllm"
    kv_cache_dtype: str = "bf16"
    prefill_s: Band = Band.point(0.0)  # one prompt's prefill
    latency_percentile: str = LATENCY_PERCENTILE
    max_requests_per_s_per_replica: float = 0.0  # simulated: targets met at the percentile (p50 rates)
    # percentiles at the month-0 peak, per replica: one more simulated run, made when first read (core/lazy.py)
    load_latency: ld.LoadLatency | None = LazyField()
    utilization_cap: float | None = None  # the caller's optional ceiling
    frontier: tuple[FrontierRow, ...] = LazyField(())  # every configuration searched: made when first read
    chunked_prefill: bool = True
    attention_dp: bool = False  # MoE: data-parallel attention + expert-parallel experts over the tensor_parallel GPUs

    @property
    def parallelism(self) -> str:
        """How a replica's GPUs share the model: "TP8", or "DP attention + EP8" (moe_serving.py)."""
        return f"DP attention + EP{self.tensor_parallel}" if self.attention_dp else f"TP{self.tensor_parallel}"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def table_frame(self):
        """The batch-size table as a pandas DataFrame."""
        import pandas as pd
        return pd.DataFrame([dataclasses.asdict(r) for r in self.table])

    def frontier_frame(self):
        """The configurations searched (precision, TP, DP attention, batch) with throughput, latency and $/Mtok."""
        import pandas as pd
        return pd.DataFrame([dataclasses.asdict(r) for r in self.frontier])


def replicas_needed(peak_rps, requests_per_s_per_replica, utilization_ceiling: float, min_replicas: int):
    """max(min_replicas, ceil(peak / (capacity x ceiling))), elementwise."""
    raw = np.asarray(peak_rps, dtype=float) / (requests_per_s_per_replica * utilization_ceiling)
    # Round away float noise before ceil, so exactly 3.0 stays 3, not 4.
    return np.maximum(min_replicas, np.ceil(np.round(raw, 9)))


def _infeasible(m, g, w: Workload, cands: list[sr.Candidate], percentile: str) -> InfeasibleError:
    """The error for targets no configuration meets, naming the physical floor."""
    if any(c.batch for c in cands):  # met without queueing, missed under load at the percentile
        return InfeasibleError(
            f"{m.name} on {g.name}: the {percentile} latency under load misses the targets (ttft "
            f"{w.ttft_target_s} s, tpot {w.tpot_target_s} s) even at a trickle of traffic, though batch 1 meets "
            f"them without queueing. What would help: looser targets, a lower latency_percentile, more tensor "
            f"parallelism or a faster GPU.")
    first = min(cands, key=lambda c: c.tp)
    best = max(cands, key=lambda c: c.tp)

    def floor(key: str, c) -> float:  # batch 1, p50 efficiencies, in ms
        return c.grid[key][0, 1] * 1e3

    where = f"{m.name} {first.precision} on {first.tp}x {g.name}"
    if w.tpot_target_s is not None and best.grid["tpot"][0, 1] > w.tpot_target_s:
        why, key, target = "weights must be read once per token", "tpot", w.tpot_target_s
        helps = "more tensor parallelism, a lower precision (fp8, int8, int4-weight-only) or a GPU with more memory bandwidth"
    else:
        why, key, target = "the prompt's prefill is compute-bound", "ttft", w.ttft_target_s
        helps = "a shorter prompt, more tensor parallelism, a lower precision or a GPU with a higher peak"
    also = f"; {floor(key, best):.1f} ms at tensor_parallel={best.tp}" if best.tp != first.tp else ""
    return InfeasibleError(
        f"{key} target {target * 1e3:.3g} ms is below the floor of {floor(key, first):.1f} ms for {where} "
        f"({why}; batch 1, p50 efficiencies{also}). What would help: {helps}.")


def _limited_by(c: sr.Candidate, w: Workload, cap: int) -> str:
    n = int(c.ok.sum())
    if n == len(c.ok):
        return "KV-cache memory" if c.kv_limit <= cap else f"max_batch_size={cap}"
    if w.tpot_target_s is not None and c.grid["tpot"][n, 1] > w.tpot_target_s:
        return "tpot target"
    return "ttft target"


def _table(c: sr.Candidate) -> tuple[BatchRow, ...]:
    n = len(c.ok)
    shown = sorted({*(2 ** np.arange(int(math.log2(n)) + 1)).tolist(), n, c.batch})
    return tuple(BatchRow(b, float(c.grid["ttft"][b - 1, 1]), float(c.grid["tpot"][b - 1, 1]),
                          float(c.grid["rps"][b - 1, 1]), bool(c.ok[b - 1])) for b in shown)


def _assumptions(c, setup, kv_requested, u, cap, ceiling, min_replicas, percentile, sigma):
    return (*inf.common_assumptions(c.replica, setup, kv_requested),
            Assumption("latency_percentile", percentile, "", "replicas sized so this percentile of TTFT and TPOT "
                       "meets the targets at the peak (simulated continuous batching, Poisson arrivals)"),
            Assumption("sizing_utilization", u, "fraction of a replica's offline capacity at the peak",
                       "the simulated rate meeting the targets" + (f", capped at {ceiling:g}" if ceiling else "")
                       + f"; at most {sr.MAX_LOAD_FRACTION:g} (judgement)"),
            Assumption("length_distribution", "fixed" if not sigma else f"lognormal, sigma {sigma:g}", "",
                       "prompt and output lengths in the simulation"),
            Assumption("load_balancing", "random (each replica sees Poisson arrivals at peak / replicas)", "",
                       "judgement: pooled queues would do better"),
            Assumption("min_replicas", min_replicas, "replicas", "redundancy: survive one replica failing"),
            Assumption("hours_per_month", HOURS_PER_MONTH, "h", "8760 / 12, cloud billing convention"),
            Assumption("max_batch_size", cap, "sequences", "the engine's scheduler cap (or the caller's)"),
            Assumption("batch_choice", "largest batch meeting ttft and tpot targets at p50 without queueing", "",
                       "the search's cap on running sequences; the simulation decides the load"))


def _validate(model, gpu, precision, workload, engine, kv_cache_dtype, utilization_ceiling, min_replicas,
              max_tensor_parallel, max_batch_size, tensor_parallel, latency_percentile, chunked_prefill,
              efficiencies, attention_dp=None, peak_latency=True) -> None:
    """Every argument checked (core/validate.py, bounds in core/limits.py) before any work."""
    V.spec_or_name("model", model, ModelSpec), V.spec_or_name("gpu", gpu, GPUSpec)
    for name in precision if isinstance(precision, (list, tuple)) and 0 < len(precision) <= 16 else [precision]:
        V.name_text("precision", name)
    V.instance("workload", workload, Workload, "a planner.Workload")
    V.name_text("engine", engine), V.name_text("kv_cache_dtype", kv_cache_dtype, optional=True)
    V.Real(L.MIN_UTILIZATION, 1.0, unit="fraction", optional=True)("utilization_ceiling", utilization_ceiling)
    V.whole("min_replicas", min_replicas, 1, L.MAX_REPLICAS)
    V.whole("max_tensor_parallel", max_tensor_parallel, 1, L.MAX_TENSOR_PARALLEL)
    V.Whole(1, L.MAX_BATCH_SIZE, optional=True)("max_batch_size", max_batch_size)
    V.Whole(1, L.MAX_TENSOR_PARALLEL, optional=True)("tensor_parallel", tensor_parallel)
    V.one_of("latency_percentile", latency_percentile, ld.PERCENTILES)
    if chunked_prefill is not None:
        V.flag("chunked_prefill", chunked_prefill)
    if attention_dp is not None:
        V.flag("attention_dp", attention_dp)
    V.flag("peak_latency", peak_latency)
    V.instance("efficiencies", efficiencies, (Efficiencies, type(None)), "an Efficiencies or None")


def serving(*, model, gpu, precision="bf16", workload: Workload, engine: str = "vllm",
            kv_cache_dtype: str | None = None, tensor_parallel: int | None = None, max_batch_size: int | None = None,
            latency_percentile: str = LATENCY_PERCENTILE, utilization_ceiling: float | None = UTILIZATION_CEILING,
            min_replicas: int = MIN_REPLICAS, max_tensor_parallel: int = 8, chunked_prefill: bool | None = None,
            efficiencies: Efficiencies | None = None, attention_dp: bool | None = None,
            peak_latency: bool = True) -> ServingPlan:
    """Replicas, GPUs and cost to serve `workload` with `model` on `gpu`.

    precision: one name, a list, or "auto" (searched); tensor_parallel / max_batch_size pin the
    degree and the cap on running sequences (default: searched / the engine's cap);
    latency_percentile: the percentile of TTFT and TPOT that must meet the targets at the peak;
    utilization_ceiling: an optional cap on a replica's busy share; chunked_prefill: turn the engine's
    chunked prefill on or off (None: the engine's default); attention_dp: an MoE model with data-parallel attention
    and expert-parallel experts over the tensor_parallel GPUs (True), plain tensor parallelism (False), or both
    searched (None; a dense model has only the latter). The simulation draws prompt and output
    lengths as the workload says (`length_sigma`: 0 fixed, else lognormal). plan.load_latency, the percentiles
    at the peak, is one more simulated run, made when first read (the same value whenever it is read; plan.frontier
    likewise); peak_latency: False leaves it out (None); nothing else in the plan changes.
    """
    _validate(model, gpu, precision, workload, engine, kv_cache_dtype, utilization_ceiling, min_replicas,
              max_tensor_parallel, max_batch_size, tensor_parallel, latency_percentile, chunked_prefill, efficiencies,
              attention_dp, peak_latency)
    m, g, w = catalog.model(model), catalog.gpu(gpu), workload
    setup = resolve_engine(engine, g, efficiencies)
    if chunked_prefill is not None:
        if not isinstance(chunked_prefill, bool):
            raise InputError("chunked_prefill", f"must be true, false or None (the engine's default), got {chunked_prefill!r}")
        setup = dataclasses.replace(setup, chunked_prefill=chunked_prefill)
    cap = max_batch_size or setup.batch_cap
    degrees = [tensor_parallel] if tensor_parallel else [d for d in TP_DEGREES if d <= max_tensor_parallel]
    moe.split(m, 1, bool(attention_dp))  # True on a dense model: the InputError naming attention_dp
    dp_options = sr.attention_dp_options(m, attention_dp)
    cands = sr.candidates(m, g, sr.precisions_for(precision, g), degrees, setup, w, kv_cache_dtype, cap, dp_options)
    if not cands:  # nothing fits: raise the DoesNotFitError that names the memory needed
        r = inf.replica(m, g, sr.precisions_for(precision, g)[-1], max(degrees), setup, kv_cache_dtype,
                        dp_options[-1])
        inf.fits(r, 1, sr.kv_context(setup, w))
    best = sr.simulate_and_choose(cands, setup, w, percentile=latency_percentile, min_replicas=min_replicas,
                                  ceiling=utilization_ceiling, length_sigma=w.length_sigma)
    if best is None:
        raise _infeasible(m, g, w, cands, latency_percentile)
    return _plan(best, cands, setup, w, cap, kv_cache_dtype is not None, utilization_ceiling, min_replicas,
                 latency_percentile, w.length_sigma, peak_latency)


def _plan(c: sr.Candidate, cands, setup, w: Workload, cap, kv_requested, ceiling, min_replicas, percentile,
          sigma, peak_latency: bool = True) -> ServingPlan:
    b, g, band = c.batch, c.replica.g, inf.to_band
    analytic = c.grid["rps"][b - 1]  # (p10, p50, p90) rates
    capacity = c.capacity * analytic / analytic[1]  # simulated p50, spread as the rates spread
    u = min(c.rate if ceiling is None else min(c.rate, ceiling * c.capacity), c.capacity) / c.capacity
    replicas = replicas_needed(w.peak_rps, capacity, u, min_replicas)
    usd_per_hour = replicas * c.tp * g.usd_per_gpu_hour
    usd_per_request = usd_per_hour / (w.mean_rps * SECONDS_PER_HOUR)
    return ServingPlan(
        model=c.replica.m.name, gpu=g.name, precision=c.precision, tensor_parallel=c.tp, batch_size=b,
        max_batch_kv=c.kv_limit, limited_by=_limited_by(c, w, cap),
        ttft_s=band(c.grid["ttft"][b - 1]), tpot_s=band(c.grid["tpot"][b - 1]), e2e_s=band(c.grid["e2e"][b - 1]),
        requests_per_s_per_replica=band(capacity), replicas=band(replicas), gpus=band(replicas * c.tp),
        monthly_cost_usd=band(usd_per_hour * HOURS_PER_MONTH),
        usd_per_million_tokens=band(usd_per_request / w.tokens_per_request * 1e6),
        usd_per_request=band(usd_per_request), mean_utilization=band(w.mean_rps / (replicas * capacity)),
        peak_rps=w.peak_rps, mean_rps=w.mean_rps, usd_per_gpu_hour=g.usd_per_gpu_hour, utilization_ceiling=u,
        min_replicas=min_replicas, table=_table(c), efficiency_source=setup.efficiencies.source,
        assumptions=_assumptions(c, setup, kv_requested, u, cap, ceiling, min_replicas, percentile, sigma),
        workload=w, engine=setup.engine, kv_cache_dtype=c.replica.kv_cache_dtype, prefill_s=band(c.grid["prefill"]),
        latency_percentile=percentile, max_requests_per_s_per_replica=c.rate, chunked_prefill=setup.chunked_prefill,
        load_latency=Deferred(functools.partial(_peak_latency, c.load, w.peak_rps, replicas)) if peak_latency else None,
        utilization_cap=ceiling, frontier=Deferred(functools.partial(sr.frontier, cands, c, w)), attention_dp=c.attention_dp)


def _peak_latency(load: ld.Load, peak_rps: float, replicas: np.ndarray) -> ld.LoadLatency:
    """plan.load_latency: one replica at the peak shared by the median replica count (one simulated run)."""
    return ld.latency(load, peak_rps / float(np.median(replicas)))


_PLAN = A.Kind(ServingPlan, "a ServingPlan (from planner.serving)")
_PEAK_RPS = A.Many(V.Real(0.0, L.MAX_PEAK_REQUESTS_PER_S, unit="requests/s"))
_QUANTILE = V.Choice(tuple(_COST_QUANTILE))
MAX_CURVE_POINTS = 100  # latency_curve simulates each load in turn (~10 ms each): a chart needs tens
MIN_CURVE_LOAD_RPS = 1e-6  # judgement: a request every 11 days is an idle replica; lower rates overflow the arrivals


@A.checked(plan=_PLAN, loads=A.Many(V.Real(MIN_CURVE_LOAD_RPS, L.MAX_PEAK_REQUESTS_PER_S, unit="requests/s"),
                                    max_size=MAX_CURVE_POINTS, optional=True, max_ndim=1),
           engine_setup=A.Kind(EngineSetup, "an EngineSetup", optional=True))
def latency_curve(plan: ServingPlan, loads=None, *, engine_setup=None):
    """TTFT and TPOT percentiles of one replica of `plan` over a range of request rates (a DataFrame):
    the latency-versus-load chart. `loads`: requests/s per replica (default: 10 points up to capacity)."""
    import pandas as pd
    from .engine import resolve_engine as _resolve
    g, m = catalog.gpu(plan.gpu), catalog.model(plan.model)
    setup = engine_setup or dataclasses.replace(_resolve(plan.engine, g), chunked_prefill=plan.chunked_prefill)
    r = inf.replica(m, g, plan.precision, plan.tensor_parallel, setup, plan.kv_cache_dtype, plan.attention_dp)
    w = plan.workload
    lo = ld.load_for(r, setup, plan.batch_size, w.prompt_tokens, w.generated_tokens, w.length_sigma)
    cap = plan.requests_per_s_per_replica.p50
    rates = np.linspace(0.1, 1.0, 10) * cap if loads is None else np.atleast_1d(loads)
    rows = []
    for rate in rates:
        lat = ld.latency(lo, float(rate))
        rows.append({"requests_per_s": float(rate), **{f"ttft_{k}_s": v for k, v in lat.ttft_s.items()},
                     **{f"tpot_{k}_s": v for k, v in lat.tpot_s.items()}, "mean_batch": lat.mean_batch})
    return pd.DataFrame(rows)


@A.checked(plan=_PLAN, peak_rps=_PEAK_RPS, quantile=_QUANTILE)
def replicas_for(plan: ServingPlan, peak_rps, quantile: str = "p50") -> np.ndarray:
    """Replicas the plan's configuration needs at each peak rate: a number, or a numpy array of any shape (no loop).

    `quantile` is of the replica count: "p90" uses the p10 (slow) capacity.
    """
    capacity = getattr(plan.requests_per_s_per_replica, _COST_QUANTILE[quantile])
    return replicas_needed(peak_rps, capacity, plan.utilization_ceiling, plan.min_replicas)


@A.checked(plan=_PLAN, peak_rps=_PEAK_RPS, quantile=_QUANTILE)
def monthly_cost_usd_for(plan: ServingPlan, peak_rps, quantile: str = "p50") -> np.ndarray:
    """Monthly GPU cost at each peak rate: replicas x TP x $/GPU-hour x 730 h."""
    gpus = replicas_for(plan, peak_rps, quantile) * plan.tensor_parallel
    return gpus * plan.usd_per_gpu_hour * HOURS_PER_MONTH
