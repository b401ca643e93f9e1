"""The configuration search behind serving(): precision x tensor-parallel degree x batch, and for an MoE
model x data-parallel attention with expert-parallel experts over the degree's GPUs (moe_serving.py).

For each candidate (a precision the GPU runs, a TP degree whose weights fit) the analytic grid
(no queueing, p50 rates) gives the largest batch that meets the latency targets; a simulated
replica (load.py) then gives the highest request rate it carries with the targets met at the
chosen percentile. Replicas for the peak follow, and the candidate with the lowest monthly cost
wins (ties: more requests per GPU, then fewer GPUs per replica). A candidate whose lower bound
on cost (at its offline capacity) cannot beat the best so far is not bisected.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..catalog.specs import GPUSpec, ModelSpec, PRECISIONS
from ..catalog.specs import precision as lookup_precision
from ..core.errors import InputError, PlannerError
from ..core.memo import by_identity
from ..core.units import HOURS_PER_MONTH, SECONDS_PER_HOUR
from . import inference as inf
from . import kv_budget
from . import load as ld
from . import perf
from .engine import EngineSetup
from .workload import Workload

TP_DEGREES = (1, 2, 4, 8)  # one node's scale-up domain (NVLink, Infinity Fabric) or PCIe server
MAX_LOAD_FRACTION = ld.MAX_LOAD_FRACTION
AUTO_PRECISIONS = ("bf16", "fp8", "int8", "int8-weight-only", "int4-weight-only")


@dataclass(frozen=True)
class FrontierRow:
    """One configuration on the throughput-latency frontier (p50 rates, no queueing unless simulated)."""

    precision: str
    tensor_parallel: int
    batch: int
    tokens_per_s_per_gpu: float  # output tokens per second per GPU with `batch` sequences running
    ttft_s: float
    tpot_s: float
    usd_per_million_tokens: float  # input + output tokens at that throughput, GPUs fully used
    meets_targets: bool
    max_requests_per_s: float | None = None  # simulated, per replica, at the latency percentile
    replicas: float | None = None
    monthly_cost_usd: float | None = None
    chosen: bool = False
    attention_dp: bool = False  # DP attention + EP experts over the tensor_parallel GPUs


@dataclass
class Candidate:
    """One precision x TP degree (x DP attention): its replica, analytic grid and (once simulated) its load."""

    precision: str
    tp: int
    replica: inf.Replica
    kv_limit: int
    grid: dict[str, np.ndarray]  # (batches, 3) for ttft, tpot, e2e, rps
    ok: np.ndarray  # batches meeting the targets at p50
    batch: int = 0  # largest batch meeting the targets (0: none)
    load: ld.Load | None = None
    rate: float = 0.0  # simulated requests/s at the percentile, capped
    capacity: float = 0.0  # steady-state requests/s under unlimited load at `batch`
    replicas: float = math.inf
    monthly_cost_usd: float = math.inf
    notes: list[str] = field(default_factory=list)
    attention_dp: bool = False


def precisions_for(precision, g: GPUSpec) -> list[str]:
    """The precisions to search: one name, a list, or "auto" (every format the GPU has a peak for)."""
    if isinstance(precision, str) and precision.lower() == "auto":
        names = [p for p in AUTO_PRECISIONS if PRECISIONS[p].compute_dtype in g.peak_flops]
        return names or [("fp16" if "fp16" in g.peak_flops else "bf16")]
    names = [precision] if isinstance(precision, str) else list(precision)
    if not names:
        raise InputError("precision", "an empty list; give a precision, a list of them or 'auto'")
    return list(dict.fromkeys(lookup_precision(p).name for p in names))


def max_batch_for_kv(r: inf.Replica, context_tokens: float) -> int:
    """Sequences at `context_tokens` whose KV cache fits beside the weights on each GPU of `r`."""
    free = kv_budget.kv_budget_bytes(r)
    per_sequence = float(inf.kv_bytes_per_gpu(r.m, 1, context_tokens, r.tp, r.num.kv_bytes, r.attention_dp))
    return max(int(free // per_sequence), 0)


def kv_context(setup: EngineSetup, w: Workload) -> float:
    """Tokens of KV one sequence holds for admission: all of prompt + generated (output and reasoning) when the
    engine reserves, its mean occupancy (prompt + generated/2) when it allocates on demand."""
    return w.prompt_tokens + (w.generated_tokens if setup.kv_admission == "reserve" else w.generated_tokens / 2)


def replica_requests_per_s(batch, prefill_one_s, tpot_s, output_tokens: float):
    """Requests per second one replica completes with `batch` sequences in flight (Little's law,
    L = lambda W, with W the replica time a cohort of `batch` requests takes: their `batch`
    prefills plus output_tokens - 1 decode steps; prefills share the GPUs, so they count in full)."""
    return batch / (batch * prefill_one_s + max(output_tokens - 1.0, 0.0) * tpot_s)


def decode_step_s(r: inf.Replica, batch, context_tokens: float, linears=None):
    """inference.decode_step_s without its memory-bound flag, which costs two more passes of the model over
    every batch of the grid (tests/test_serving.py holds the two equal): the busiest GPU's share of the batch
    (the replica's split: TP, or DP attention + EP) and the replica's collectives. `linears`: the step's GEMMs
    at these batches, already known (_grid_linears)."""
    s = r.split
    return perf.decode_step_s(r.m, r.kern, r.num, batch=s.local(batch), context_tokens=context_tokens, tp=s.tp,
                              ep=s.ep, linears=linears) + inf.collectives_s(r, batch) \
        + inf.moe.step_extra_s(r, r.kern, batch, None)


@by_identity()  # pure: a replica (built once per specs, setup and link) and a length; one table for every workload
def _grid_linears(r: inf.Replica, n_batches: int) -> np.ndarray:
    """The GEMMs (perf.linears_s, head included) of a decode step at batches 1..n_batches, shape (n_batches, 3): the
    part of the latency grid's step that the workload does not move. Each batch's row is the same whatever the
    table's length (elementwise in the batch), so a longer table's first rows serve a shorter grid."""
    s = r.split
    rows = np.asarray(s.local(np.arange(1, n_batches + 1, dtype=float)[:, None]), dtype=float) * 1.0  # forward_s's
    out = perf.linears_s(r.m, rows, rows, s.tp, r.kern, r.num, s.ep)
    out.flags.writeable = False  # shared by every workload on this replica
    return out


def latency_grid(r: inf.Replica, batches, w: Workload) -> dict[str, np.ndarray]:
    """ttft (one prefill + the step in flight), tpot, e2e and requests/s per replica, shape (batches, 3); `batches`
    1, 2, ..., n."""
    prefill_one = inf.prefill_s(r, 1, w.prompt_tokens)
    b = np.asarray(batches, dtype=float)[:, None]
    n = len(b)
    linears = _grid_linears(r, 1 << max(n - 1, 0).bit_length())[:n]  # the table in powers of two: few lengths kept
    tpot = decode_step_s(r, b, inf.mean_decode_context(w.prompt_tokens, w.generated_tokens), linears)
    ttft = prefill_one + tpot
    return {"ttft": ttft, "tpot": tpot, "e2e": inf.e2e_s(ttft, tpot, w.generated_tokens), "prefill": prefill_one,
            "rps": replica_requests_per_s(b, prefill_one, tpot, w.generated_tokens)}


def meets(grid: dict[str, np.ndarray], w: Workload) -> np.ndarray:
    """Which rows meet both targets at p50 (column 1)."""
    ok = np.ones(grid["tpot"].shape[0], dtype=bool)
    if w.ttft_target_s is not None:
        ok &= grid["ttft"][:, 1] <= w.ttft_target_s
    if w.tpot_target_s is not None:
        ok &= grid["tpot"][:, 1] <= w.tpot_target_s
    return ok


def attention_dp_options(m: ModelSpec, attention_dp: bool | None) -> tuple[bool, ...]:
    """The DP-attention settings to search: the caller's, else both for an MoE model, else none."""
    if attention_dp is not None:
        return (bool(attention_dp),)
    return (False, True) if m.is_moe else (False,)


def candidates(m: ModelSpec, g: GPUSpec, precisions: list[str], degrees: list[int], setup: EngineSetup,
               w: Workload, kv_cache_dtype: str | None, batch_cap: int,
               dp_options: tuple[bool, ...] = (False,)) -> list[Candidate]:
    """Every precision x degree (x DP attention) whose weights and one sequence fit, with its analytic grid. DP
    attention over one GPU is that GPU alone: searched only when forced (dp_options == (True,))."""
    out = []
    for prec, tp, dp in ((p, d, a) for p in precisions for d in degrees for a in dp_options):
        if dp and tp == 1 and len(dp_options) > 1:
            continue
        try:
            r = inf.replica(m, g, prec, tp, setup, kv_cache_dtype, dp)
        except PlannerError:  # the GPU has no peak for this format
            continue
        limit = max_batch_for_kv(r, kv_context(setup, w))
        if limit < 1:
            continue
        cap = kv_budget.replica_batch_cap(batch_cap, setup, tp, dp)
        grid = latency_grid(r, np.arange(1, min(limit, cap) + 1), w)
        ok = meets(grid, w)
        out.append(Candidate(prec, tp, r, limit, grid, ok, batch=int(ok.sum()) if ok[0] else 0, attention_dp=dp))
    return out


def _size(c: Candidate, w: Workload, min_replicas: int, ceiling: float | None) -> None:
    per_replica = c.rate if ceiling is None else min(c.rate, ceiling * c.capacity)
    c.replicas = float(max(min_replicas, math.ceil(round(w.peak_rps / per_replica, 9)))) if per_replica > 0 else math.inf
    c.monthly_cost_usd = c.replicas * c.tp * c.replica.g.usd_per_gpu_hour * HOURS_PER_MONTH


def simulate_and_choose(cands: list[Candidate], setup: EngineSetup, w: Workload, *, percentile: str,
                        min_replicas: int, ceiling: float | None, length_sigma: float) -> Candidate | None:
    """Simulate the feasible candidates (cheapest bound first) and return the cheapest meeting the targets."""
    feasible = [c for c in cands if c.batch >= 1]
    for c in feasible:
        c.load = ld.load_for(c.replica, setup, c.batch, w.prompt_tokens, w.generated_tokens, length_sigma)
        c.capacity = ld.steady_state(c.load).requests_per_s
        c.rate = MAX_LOAD_FRACTION * c.capacity  # the bound, until bisected
        _size(c, w, min_replicas, ceiling)
    best = None
    for c in sorted(feasible, key=lambda c: (c.monthly_cost_usd, c.tp, c.attention_dp)):
        if best is not None and c.monthly_cost_usd >= best.monthly_cost_usd:
            c.rate, c.replicas, c.monthly_cost_usd = 0.0, math.inf, math.inf  # not worth bisecting
            c.notes.append("not simulated: its best case costs no less than the chosen configuration")
            continue
        c.rate = min(ld.max_rate(c.load, w.ttft_target_s, w.tpot_target_s, percentile, c.capacity),
                     MAX_LOAD_FRACTION * c.capacity)
        _size(c, w, min_replicas, ceiling)
        if c.rate > 0 and (best is None or _better(c, best)):
            best = c
    return best


def _better(a: Candidate, b: Candidate) -> bool:
    if not math.isclose(a.monthly_cost_usd, b.monthly_cost_usd, rel_tol=1e-9):
        return a.monthly_cost_usd < b.monthly_cost_usd
    if not math.isclose(a.rate / a.tp, b.rate / b.tp, rel_tol=1e-6):
        return a.rate / a.tp > b.rate / b.tp
    if a.tp != b.tp:
        return a.tp < b.tp
    return a.attention_dp < b.attention_dp  # a tie: plain tensor parallelism, the simpler engine setup


def usd_per_million_tokens_full(rps: float, tp: int, g: GPUSpec, w: Workload) -> float:
    """$ per million input + output tokens when a replica runs at `rps` around the clock."""
    return tp * g.usd_per_gpu_hour / SECONDS_PER_HOUR / (rps * w.tokens_per_request) * 1e6


def frontier(cands: list[Candidate], chosen: Candidate | None, w: Workload) -> tuple[FrontierRow, ...]:
    """Rows for every candidate: powers of two up to its largest batch, its chosen batch, its KV limit."""
    rows = []
    for c in cands:
        n = len(c.ok)
        shown = sorted({*(2 ** np.arange(int(math.log2(n)) + 1)).tolist(), n, *([c.batch] if c.batch else [])})
        for b in shown:
            g, i = c.replica.g, b - 1
            rps = float(c.grid["rps"][i, 1])
            sim_row = b == c.batch and c.load is not None and c.rate > 0
            rows.append(FrontierRow(
                c.precision, c.tp, b, rps * w.generated_tokens / c.tp, float(c.grid["ttft"][i, 1]),
                float(c.grid["tpot"][i, 1]), usd_per_million_tokens_full(rps, c.tp, g, w), bool(c.ok[i]),
                c.rate if sim_row else None, c.replicas if sim_row else None,
                c.monthly_cost_usd if sim_row else None, chosen=c is chosen and b == c.batch,
                attention_dp=c.attention_dp))
    return tuple(rows)
