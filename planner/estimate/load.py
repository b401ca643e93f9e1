"""One replica under load: latency percentiles at a request rate, the highest rate that meets the
latency targets, and the throughput under unlimited load (simulate.py on the performance model).

Runs are deterministic (a fixed seed, the same unit-rate arrival gaps scaled to each rate:
common random numbers), so a search over the rate sees a smooth, repeatable curve. The search
asks only whether the targets are met (`meets`): its runs stop as soon as that is known, and
give the answer a whole run would (simulate.Verdict).
"""
from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass, field

import numpy as np

from ..core.memo import by_identity
from . import dp_balance
from . import kv_budget
from . import simulate as sim
from .engine import EngineSetup
from .inference import Replica, mean_decode_context

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0}
SEED = 20241129
SEARCH_STEPS = 6  # bisection steps on the rate: within 1.6% of the capacity
# Never size a replica to its steady-state capacity: there a queue never settles, and the
# simulation's finite length would hide that (judgement: 95%).
MAX_LOAD_FRACTION = 0.95
MIN_REQUESTS = 800
REQUESTS_PER_SLOT = 4  # requests simulated per sequence the batch may hold (to reach steady state)
MAX_REQUESTS = 4000
WIDEST_PROMPT = 65536  # tokens: lognormal outliers are clipped here


@dataclass(frozen=True)
class LoadLatency:
    """TTFT and TPOT percentiles of one replica at a request rate (p50 efficiencies)."""

    requests_per_s: float
    ttft_s: dict[str, float | None]  # p50, p90, p99; None: no such time (one output token has no TPOT)
    tpot_s: dict[str, float | None]
    mean_batch: float
    output_tokens_per_s: float


@dataclass(frozen=True)
class Load:
    """A replica, its engine's scheduler and the workload's lengths: what a simulation needs."""

    replica: Replica = field(compare=False, hash=False)
    key: tuple = ()  # the replica's cache_key(): equal loads simulate alike, whichever object holds them
    batch_cap: int = 1
    chunked: bool = True
    chunk_tokens: int = 2048
    reserve_kv: bool = False
    prompt_tokens: float = 1.0
    output_tokens: float = 1.0
    length_sigma: float = 0.0
    quantile: int = 1  # index of the rates: 0 p10, 1 p50, 2 p90
    budget_ranks: int = 1  # schedulers that each fill chunk_tokens (attention-DP ranks of TensorRT-LLM: kv_budget)

    def n_requests(self) -> int:
        return int(min(max(MIN_REQUESTS, REQUESTS_PER_SLOT * self.batch_cap), MAX_REQUESTS))


@by_identity()  # a Replica is immutable in use and built once per spec (inference._replica): its key once too
def _replica_key(r: Replica) -> tuple:
    return r.cache_key()


def load_for(r: Replica, setup: EngineSetup, batch_cap: int, prompt_tokens: float, output_tokens: float,
             length_sigma: float = 0.0, quantile: int = 1) -> Load:
    return Load(r, _replica_key(r), int(batch_cap), setup.chunked_prefill, setup.chunk_tokens,
                setup.kv_admission == "reserve", float(prompt_tokens), float(output_tokens), float(length_sigma),
                quantile, kv_budget.scheduler_ranks(setup, r.split.gpus, r.attention_dp))


_TABLES: dict[tuple, sim.StepTables] = {}  # (replica key, quantile) -> its step tables, least recent first
MAX_TABLES = 16  # replicas: a serving search asks for a handful, the dashboard for the few it shows
_TABLES_LOCK = threading.Lock()  # the dashboard may size plans from several threads


def _step_tables(load: Load, n_rows: int) -> sim.StepTables:
    """The replica's step tables of at least n_rows rows, kept per replica: they do not depend on the
    workload, so a new workload (the dashboard's every edit) reuses them; the least recent go first."""
    key = (load.key, load.quantile)
    with _TABLES_LOCK:
        got = _TABLES.pop(key, None)
    if got is None or len(got.linears) < n_rows:
        got = sim.step_tables(load.replica, load.quantile, max(n_rows, 2 * len(got.linears) if got else 0))
    with _TABLES_LOCK:
        _TABLES[key] = got
        while len(_TABLES) > MAX_TABLES:
            del _TABLES[next(iter(_TABLES))]
    return got


def _widest(load: Load) -> int:
    """The longest prompt simulated: lognormal outliers are clipped here."""
    return max(load.chunk_tokens, min(int(load.prompt_tokens * math.exp(4 * load.length_sigma)) + 1, WIDEST_PROMPT))


@functools.lru_cache(maxsize=64)
def _steps(load: Load) -> sim.StepModel:
    """The step model (all steady_state needs: the search bounds every candidate with it, simulates few)."""
    max_rows = load.batch_cap + _widest(load) + 1
    return sim.step_model(load.replica, load.quantile, max_rows,
                          mean_decode_context(load.prompt_tokens, load.output_tokens), _step_tables(load, max_rows + 1))


@functools.lru_cache(maxsize=64)
def _machinery(load: Load):
    """The step model, scheduler, request lengths and their prefill attention (shared by every rate)."""
    unit = sim.requests(1.0, load.n_requests(), load.prompt_tokens, load.output_tokens, sigma=load.length_sigma,
                        seed=SEED)
    prompt = np.minimum(unit.prompt_tokens, _widest(load))  # a lognormal outlier past the table
    attention = sim.prefill_attention_s(load.replica, load.quantile, prompt)
    return _steps(load), sim.Scheduler(load.batch_cap, load.chunked, load.chunk_tokens, load.reserve_kv), \
        sim.Requests(unit.arrival_s, prompt, unit.output_tokens), attention


@functools.lru_cache(maxsize=256)
def run(load: Load, rate_per_s: float) -> sim.Outcome:
    """One simulated run of the load at `rate_per_s` requests per second (the same arrivals, scaled)."""
    steps, sched, unit, attention = _machinery(load)
    req = sim.Requests(unit.arrival_s / rate_per_s, unit.prompt_tokens, unit.output_tokens)
    return sim.simulate(req, steps, attention, sched)


def latency(load: Load, rate_per_s: float) -> LoadLatency:
    """Percentiles of TTFT and TPOT at `rate_per_s` requests per second on this replica."""
    o = run(load, float(rate_per_s))
    def pct(what: str) -> dict[str, float | None]:  # no NaN in a result: an empty set of times is None
        values = o.percentiles(what, list(PERCENTILES.values()))
        return {k: v if math.isfinite(v) else None for k, v in zip(PERCENTILES, values)}
    return LoadLatency(float(rate_per_s), pct("ttft_s"), pct("tpot_s"), o.mean_batch, o.throughput_tokens_per_s())


@dataclass(frozen=True)
class Steady:
    """The replica under unlimited load, in steady state: every slot busy, prompts and decodes mixed."""

    requests_per_s: float
    output_tokens_per_s: float
    batch: float  # sequences decoding
    step_s: float  # one engine step (= TPOT)


def linears_s(load: Load, steps: sim.StepModel, rows: float) -> float:
    """The stack's GEMMs at `rows` rows: the step table, or past its end (long prompts: d P / (O - 1) prompt rows can
    exceed cap + one prompt) the GEMMs themselves; np.interp would hold the last entry and make those rows free."""
    n = len(steps.linears_s)
    if rows <= n - 1:
        return table_at(steps.linears_list, n, rows)
    return float(sim.stack_linears_s(load.replica, sim.at_quantile(load.replica.kern, load.quantile), rows,
                                     load.quantile))


def table_at(values: list[float], n: int, x: float) -> float:
    """np.interp(x, np.arange(n), values[:n]) bit for bit, for a table over rows 0, 1, ..., n - 1 (`values` may be
    longer): numpy's formula, (y[j+1] - y[j]) (x - j) + y[j], in Python floats, without building the
    n-entry arange and array that a single lookup in a table of thousands of rows spent most of its time on
    (tests/test_simulate.py holds the two equal)."""
    if not 0.0 <= x < n - 1:  # past the end (np.interp holds the last entry), before the start, NaN
        return float(np.interp(x, np.arange(n), values[:n])) if not x >= n - 1 else values[n - 1]
    j = int(x)
    if x == j:
        return values[j]
    return (values[j + 1] - values[j]) * (x - j) + values[j]  # numpy divides the slope by x[j+1] - x[j] = 1: exact


def steady_state(load: Load) -> Steady:
    """Throughput with the batch full (the cap, or the KV cache), from the same step model.

    Each slot cycles through P prompt tokens and O - 1 decode steps, so a step holding d decoding
    sequences also carries d P / (O - 1) prompt tokens on average. With chunked prefill the step's
    token budget caps d + that (d = budget (O-1) / (P + O - 1)); without it whole prompts join the
    step. Request rate = d / ((O - 1) x step time) (Little's law on the decode phase).
    """
    steps = _steps(load)
    p_tok, dec = load.prompt_tokens, max(load.output_tokens - 1.0, 1e-9)
    need = p_tok + (load.output_tokens if load.reserve_kv else load.output_tokens / 2.0)
    d = min(float(load.batch_cap), steps.kv_tokens / need)
    if load.chunked:
        d = min(d, load.budget_ranks * load.chunk_tokens * dec / (p_tok + dec))
    prompt_rows = d * p_tok / dec
    rows = d + prompt_rows
    one_prompt = float(sim.prefill_attention_s(load.replica, load.quantile, np.array([p_tok]))[0])
    attn = dp_balance.prefill_attention_s(load.replica, one_prompt, prompt_rows, p_tok)
    step = (linears_s(load, steps, rows) + table_at(steps.head_list, len(steps.head_s), d + d / dec)
            + steps.per_row_s * rows + steps.fixed_s + steps.attention_per_context_s * d
            * mean_decode_context(p_tok, load.output_tokens) + attn)
    step += dp_balance.extra_s(load.replica, sim.at_quantile(load.replica.kern, load.quantile), d, prompt_rows, p_tok)
    rate = d / (dec * step)
    return Steady(rate, rate * load.output_tokens, d, step)


def meets(load: Load, rate_per_s: float, ttft_target_s: float | None, tpot_target_s: float | None,
          percentile: str = "p90") -> bool:
    """Whether the replica meets both targets at `percentile` at `rate_per_s`: latency()'s verdict, from a run
    that stops as soon as the answer is known (simulate.Verdict), so a search over the rate pays less than
    a whole run per rate."""
    steps, sched, unit, attention = _machinery(load)
    q = PERCENTILES[percentile]
    req = sim.Requests(unit.arrival_s / rate_per_s, unit.prompt_tokens, unit.output_tokens)
    o = sim.simulate(req, steps, attention, sched, sim.verdict(unit.output_tokens, q, ttft_target_s, tpot_target_s))
    if o is None or o is sim.PASSED:
        return o is sim.PASSED
    (ttft,), (tpot,) = o.percentiles("ttft_s", [q]), o.percentiles("tpot_s", [q])
    ok = ttft_target_s is None or (math.isfinite(ttft) and ttft <= ttft_target_s)
    return ok and (tpot_target_s is None or not math.isfinite(tpot) or tpot <= tpot_target_s)


@functools.lru_cache(maxsize=256)  # pure in a Load (hashable: run() is cached on it too) and the targets: a traffic
def max_rate(load: Load, ttft_target_s: float | None, tpot_target_s: float | None, percentile: str = "p90",
             capacity_rps: float | None = None) -> float:  # change (the dashboard's slider) reuses the answer
    """The highest request rate at which the replica meets both targets at `percentile`, by bisection
    between 0 and MAX_LOAD_FRACTION of its steady-state capacity (`capacity_rps`, when the caller has
    steady_state's already); 0 when even 1/64 of that misses them."""
    hi = MAX_LOAD_FRACTION * (steady_state(load).requests_per_s if capacity_rps is None else capacity_rps)
    if meets(load, hi, ttft_target_s, tpot_target_s, percentile):
        return hi
    lo = 0.0
    for _ in range(SEARCH_STEPS):
        mid = (lo + hi) / 2
        if meets(load, mid, ttft_target_s, tpot_target_s, percentile):
            lo = mid
        else:
            hi = mid
    return lo
