"""Latency under load: a discrete-event simulation of one replica running continuous batching.

Requests arrive (Poisson, or all at once for an offline benchmark) with fixed or lognormal
lengths. Each engine step runs every decoding sequence for one token and, within the step's
token budget, prefill work: with chunked prefill (Sarathi-Serve, arXiv:2403.02310; vLLM V1,
SGLang) prompts are cut to fill the budget; without it (TensorRT-LLM's default in-flight
batching) whole prompts join the step. A request is admitted while the batch cap and the KV
cache allow (on demand: its mean occupancy, prompt + output/2; reserved: prompt + output).

A step's time is the performance model's (perf.py) at one quantile of the rates, split into the
parts that depend on the step's contents: the stack's GEMMs at `rows` = decode + prefill
tokens (tabulated once), the output head at the rows that produce logits, decode attention in
proportion to the cached context, each prompt chunk's share of its prefill attention, and the
element-wise work, all-reduces and fixed overheads. A pure-decode step of `b` sequences at
context `c` is exactly perf.decode_step_s(b, c) + the all-reduces (inference.decode_step_s).
Steps between events (an arrival, a completion) are advanced in one jump, so a run costs
O(requests) Python steps, not O(tokens). A run asked only whether percentiles meet targets
(Verdict) stops once the answer is settled. The step tables depend on the replica alone
(step_tables), so load.py keeps them across workloads.
"""
from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..core.memo import by_identity
from . import arithmetic as ar
from . import context_attention
from . import moe_serving as moe
from . import inference as inf
from . import kv_budget
from . import perf
from .inference import Replica

WARMUP_FRACTION = 0.15  # requests at each end left out of the percentiles (start-up and drain)
NEVER = 2**62  # a count no run reaches
# A replica's rates at one quantile, built once: Kernels are immutable in use and kept per replica (inference._replica)
at_quantile = by_identity()(perf.at_quantile)


@dataclass(frozen=True)
class StepModel:
    """Time of one engine step on a replica, from perf.py at one quantile of the rates."""

    linears_s: np.ndarray  # stack GEMMs at rows 0..len-1
    head_s: np.ndarray  # output head at logit rows 0..len-1
    per_row_s: float  # element-wise work and all-reduce bytes, per token in the step
    fixed_s: float  # per-pass overheads and all-reduce latencies
    attention_per_context_s: float  # decode attention, per sequence and cached token
    kv_tokens: float  # KV-cache capacity of the replica, in tokens of the reference context
    # The tables as plain floats for the loop, which reads single entries (maybe longer: the replica's shared lists)
    linears_list: list[float] = field(default_factory=list, repr=False, compare=False)
    head_list: list[float] = field(default_factory=list, repr=False, compare=False)

    def time_s(self, rows: int, logit_rows: int, context_sum: float, prefill_attention_s: float) -> float:
        return (self.linears_s[rows] + self.head_s[logit_rows] + self.per_row_s * rows + self.fixed_s
                + self.attention_per_context_s * context_sum + prefill_attention_s)


@dataclass(frozen=True)
class StepTables:
    """The stack's GEMMs and the output head of one replica at rows 0..len-1, as arrays and as plain lists."""

    linears_s: np.ndarray
    head_s: np.ndarray
    linears: list[float]
    head: list[float]


def step_tables(r: Replica, quantile: int, n_rows: int) -> StepTables:
    """The stack's GEMMs and the output head of replica `r` at rows 0..n_rows-1 (row 0 as 1: never a step's
    size), at quantile index `quantile`. They depend on the replica alone, not on the workload, and each row's
    value is the same whatever the table's length (elementwise), so one table serves every workload."""
    kern, s = at_quantile(r.kern, quantile), r.split
    rows = np.maximum(np.arange(n_rows, dtype=float), 1.0)
    linears, head = stack_linears_s(r, kern, rows, quantile), perf.head_s(r.m, s.local(rows), s.tp, kern, r.num)
    for a in (linears, head):
        a.flags.writeable = False  # shared by every workload on this replica
    return StepTables(linears, head, linears.tolist(), head.tolist())


def step_model(r: Replica, quantile: int, max_rows: int, reference_context: float,
               tables: StepTables | None = None) -> StepModel:
    """Tabulate the step time of replica `r` at quantile index `quantile` (0 p10, 1 p50, 2 p90 rates);
    `tables`: step_tables of at least max_rows + 1 rows (else computed here)."""
    kern, num, m, s = at_quantile(r.kern, quantile), r.num, r.m, r.split  # s: TP, or DP attention + EP
    tp, share = s.tp, s.gpus if r.attention_dp else 1  # share: GPUs the step's rows spread over
    tables = tables if tables is not None else step_tables(r, quantile, max_rows + 1)
    per_row_s, fixed_s, free = _replica_terms(r, quantile)
    ctx = max(reference_context, 1.0)
    kv_bytes = ar.kv_cache_bytes(m, ctx, num.kv_bytes)
    attention = perf.attention_s(m, 1, 1.0, ar.attention_flops_per_token(m, ctx), kv_bytes, tp, kern) / share
    per_token_kv = float(kv_bytes) / ctx / s.kv_ways(m)
    return StepModel(linears_s=tables.linears_s[:max_rows + 1], head_s=tables.head_s[:max_rows + 1],
                     per_row_s=per_row_s, fixed_s=fixed_s,
                     attention_per_context_s=float(attention) / ctx, kv_tokens=max(free, 0.0) / per_token_kv,
                     linears_list=tables.linears, head_list=tables.head)


@by_identity()  # the replica alone decides them, and a replica is built once per spec (inference._replica)
def _replica_terms(r: Replica, quantile: int) -> tuple[float, float, float]:
    """A step's element-wise work and all-reduce bytes per row, its fixed overheads and all-reduce latencies,
    and the KV-cache bytes per GPU (kv_budget): the parts of step_model that do not depend on the workload."""
    kern, num, m, s = at_quantile(r.kern, quantile), r.num, r.m, r.split
    tp, share = s.tp, s.gpus if r.attention_dp else 1
    comm0 = float(inf.collectives_s(r, 0.0))
    comm1 = float(inf.collectives_s(r, 1.0)) - comm0
    free = kv_budget.kv_budget_bytes(r)
    return float(perf.elementwise_s(m, 1.0, tp, kern, num)) / share + comm1, float(perf.overheads_s(m, kern)) + comm0, free


def stack_linears_s(r: Replica, kern: perf.Kernels, rows, quantile: int = 1):
    """The stack's GEMMs of one step of `rows` tokens on replica `r` at quantile index `quantile` (under DP
    attention the busiest GPU's share) and its MoE layers' permutation and busiest experts (moe_serving.step_extra_s)."""
    s = r.split
    return perf.stack_linears_s(r.m, s.local(rows), s.tp, kern, r.num, s.ep) + moe.step_extra_s(r, kern, rows,
                                                                                                     quantile)


def prefill_attention_s(r: Replica, quantile: int, prompt_tokens: np.ndarray) -> np.ndarray:
    """Causal attention of each whole prompt (perf.attention_s at the prompt's length), interpolated
    over a grid of lengths."""
    grid, flops_per_token, kv_bytes = _prompt_grid(r.m, max(float(prompt_tokens.max()), 2.0), r.num.kv_bytes)
    times = perf.attention_s(r.m, 1, grid, flops_per_token, kv_bytes, r.split.tp, at_quantile(r.kern, quantile))
    times = times + context_attention.qkv_s(r.m, r.kern, grid, r.split.tp)  # context attention's Q/K/V term, prefill only
    return np.interp(prompt_tokens, grid, times)


@by_identity()  # the model's, whatever the replica: a serving search times every candidate's prompts on one grid
def _prompt_grid(m, longest: float, kv_bytes_per_value) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """24 prompt lengths up to `longest` (every length at once), each one's attention FLOPs per token and KV bytes."""
    grid = np.unique(np.geomspace(1, longest, 24).round())
    out = grid, (ar.prefill_flops(m, grid) - grid * 2.0 * ar.matmul_params(m)) / grid, ar.kv_cache_bytes(m, grid, kv_bytes_per_value)
    for a in out:
        a.flags.writeable = False  # shared by every replica of the model
    return out


@dataclass(frozen=True)
class Requests:
    """Arrival times and lengths of the requests one replica sees."""

    arrival_s: np.ndarray
    prompt_tokens: np.ndarray  # int
    output_tokens: np.ndarray  # int, >= 1


def lengths(mean: float, n: int, sigma: float, rng: np.random.Generator) -> np.ndarray:
    """n lengths: all `mean` (sigma 0), else lognormal with that mean and log-sd `sigma`."""
    if sigma <= 0:
        return np.full(n, max(int(round(mean)), 1))
    draw = mean * np.exp(sigma * rng.standard_normal(n) - sigma**2 / 2)
    return np.maximum(np.rint(draw), 1).astype(int)


def requests(rate_per_s: float, n: int, prompt_tokens: float, output_tokens: float, *, sigma: float = 0.0,
             seed: int = 0) -> Requests:
    """n Poisson arrivals at `rate_per_s` (inf: all at time 0, an offline benchmark)."""
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0, n)
    arrival = np.zeros(n) if math.isinf(rate_per_s) else np.cumsum(gaps) / rate_per_s
    return Requests(arrival, lengths(prompt_tokens, n, sigma, rng), lengths(output_tokens, n, sigma, rng))


def linear_percentiles(values: np.ndarray, qs: list[float]) -> list[float]:
    """np.percentile(values, qs) (its default, linear method), computed as numpy 2 computes it, from one
    partition: on the few hundred values of a run np.percentile's own overhead costs more than the work.
    tests/test_simulate.py holds it equal to np.percentile, bit for bit."""
    n = len(values)
    if not n:
        return [math.nan] * len(qs)
    at = [(n - 1) * (q / 100) for q in qs]  # numpy's virtual index
    below = [min(math.floor(v), n - 1) for v in at]
    part = np.partition(values, sorted({0, n - 1, *below, *(min(b + 1, n - 1) for b in below)})).tolist()
    out = []
    for v, b in zip(at, below):
        if v >= n - 1:
            out.append(part[n - 1])
            continue
        lo, hi, g = part[b], part[b + 1], v - b
        out.append(hi - (hi - lo) * (1 - g) if g >= 0.5 else lo + (hi - lo) * g)  # numpy's _lerp
    return out


def steady_window(n: int) -> slice:
    """The requests whose times count (arrival order): WARMUP_FRACTION left out at each end."""
    return slice(int(n * WARMUP_FRACTION), max(int(n * (1 - WARMUP_FRACTION)), int(n * WARMUP_FRACTION) + 1))


@dataclass(frozen=True)
class Outcome:
    """Per-request times of one simulated run."""

    ttft_s: np.ndarray
    tpot_s: np.ndarray  # nan for one-token outputs
    done_s: np.ndarray
    output_tokens: np.ndarray
    mean_batch: float

    def window(self) -> slice:
        return steady_window(len(self.ttft_s))

    def percentile(self, what: str, q: float) -> float:
        return self.percentiles(what, [q])[0]

    def percentiles(self, what: str, qs: list[float]) -> list[float]:
        """Percentiles `qs` of `what` over the steady window; NaN when empty."""
        values = getattr(self, what)[self.window()]
        return linear_percentiles(values[np.isfinite(values)], qs)

    def throughput_tokens_per_s(self) -> float:
        """Output tokens per second between the 20th and 80th percentile completion times."""
        t = np.sort(self.done_s)
        lo, hi = t[int(0.2 * (len(t) - 1))], t[int(0.8 * (len(t) - 1))]
        inside = (self.done_s > lo) & (self.done_s <= hi)
        return float(self.output_tokens[inside].sum() / (hi - lo)) if hi > lo else float("nan")


@dataclass(frozen=True)
class Scheduler:
    """The engine's batching rules (from its profile) for one replica."""

    batch_cap: int
    chunked: bool
    chunk_tokens: int
    reserve_kv: bool  # admit with room for prompt + whole output (else mean occupancy)


@dataclass(frozen=True)
class Verdict:
    """Stop a run as soon as it is known whether the steady window's percentile of TTFT and of TPOT meets
    its limit: a miss once so many of the window's values lie above a limit that the percentile must too,
    a pass once so many lie at or below a slightly lower limit that the percentile must too (the rest of
    the window cannot change it), or once every request of the window has finished."""

    first: int  # the window's requests: first <= i < last (Outcome.window)
    last: int
    ttft_limit_s: float  # inf: no target
    tpot_limit_s: float
    ttft_misses: int  # window values above the limit that settle a miss
    tpot_misses: int
    ttft_pass_s: float = -math.inf  # a value at or below this counts towards a pass
    tpot_pass_s: float = -math.inf
    ttft_passes: int = NEVER  # window values at or below the pass limit that settle a pass (0: no target)
    tpot_passes: int = NEVER


PASSED = "passed"  # simulate()'s answer when a Verdict's pass was settled before the window finished


def verdict(outs: np.ndarray, q: float, ttft_target_s: float | None, tpot_target_s: float | None) -> Verdict:
    """The Verdict for percentile `q` of requests with `outs` output tokens. numpy's linear percentile lies
    between the order statistics floor(q (n-1)) and the next, so it is above a limit once n - floor(q (n-1))
    values are, and at or below one once floor(q (n-1)) + 2 values are; one more miss, and limits 1e-12
    above (misses) and below (passes) the targets, keep float rounding on the safe side."""
    window = steady_window(len(outs))
    def below(n: int) -> int:  # linear_percentiles' lower order statistic
        return min(math.floor((n - 1) * (q / 100)), n - 1)
    def misses(n: int) -> int:
        return n - math.floor(q / 100.0 * (n - 1)) + 1 if n else NEVER
    def passes(n: int, target) -> int:
        return 0 if target is None or not n else min(below(n) + 2, n)
    def limit(target, side: float):
        return side * math.inf if target is None else target * (1.0 + side * 1e-12)
    n_ttft, n_tpot = window.stop - window.start, int((outs[window] > 1).sum())
    return Verdict(window.start, window.stop, limit(ttft_target_s, 1.0), limit(tpot_target_s, 1.0),
                   misses(n_ttft), misses(n_tpot), limit(ttft_target_s, -1.0), limit(tpot_target_s, -1.0),
                   passes(n_ttft, ttft_target_s), passes(n_tpot, tpot_target_s))


FULL = Verdict(0, NEVER, math.inf, math.inf, NEVER, NEVER)  # run every request to its end


def simulate(req: Requests, steps: StepModel, prefill_attn_s: np.ndarray, sched: Scheduler,
             until: Verdict = FULL) -> Outcome | str | None:
    """Run the requests through one replica; per-request TTFT, TPOT and completion time.

    `until`: stop early (see Verdict): None when the targets are missed, PASSED when they are met before
    the window has finished, else the Outcome so far (the requests after the window may be unfinished, NaN). Plain Python lists and locals inside the loop: it
    runs once per engine step with prefill work and once per event otherwise, and numpy scalars would
    cost more than the arithmetic."""
    n = len(req.arrival_s)
    arrival = req.arrival_s.tolist() + [math.inf]  # a sentinel: no arrival after the last
    prompt, out = req.prompt_tokens.tolist(), req.output_tokens.tolist()
    need = (req.prompt_tokens + (req.output_tokens if sched.reserve_kv else req.output_tokens / 2.0)).tolist()
    attn_per_token = (prefill_attn_s / req.prompt_tokens).tolist()
    lin, head = steps.linears_list, steps.head_list
    per_row, fixed, per_ctx, kv_tokens = steps.per_row_s, steps.fixed_s, steps.attention_per_context_s, steps.kv_tokens
    cap, chunked, chunk_tokens = sched.batch_cap, sched.chunked, sched.chunk_tokens
    lo, hi = until.first, min(until.last, n)
    ttft_limit, tpot_limit, ttft_misses, tpot_misses = until.ttft_limit_s, until.tpot_limit_s, until.ttft_misses, \
        until.tpot_misses
    ttft_pass, tpot_pass, ttft_passes, tpot_passes = until.ttft_pass_s, until.tpot_pass_s, until.ttft_passes, \
        until.tpot_passes
    if ttft_passes <= 0 and tpot_passes <= 0:
        return PASSED
    push, pop, ceil = heapq.heappush, heapq.heappop, math.ceil
    first, done = [math.nan] * n, [math.nan] * n
    # prefilling: [i, tokens left]; decoding: a heap of (finish step << shift) | i, ints compare faster than tuples
    waiting, prefilling, decoding, shift = deque(), deque(), [], max(n, 1).bit_length()
    t, step, ia, occupied, context, batch_time, busy = 0.0, 0, 0, 0.0, 0.0, 0.0, 0.0
    remaining, mask = hi - lo, (1 << shift) - 1  # remaining: window requests not finished
    nxt = arrival[0]  # the next arrival's time
    while remaining:
        if not decoding and not prefilling and not waiting and nxt > t:  # idle: to the next arrival
            t = nxt
        while nxt <= t:
            waiting.append(ia)
            ia += 1
            nxt = arrival[ia]
        d = len(decoding)
        running = len(prefilling) + d
        while waiting and running < cap and (occupied + need[waiting[0]] <= kv_tokens or running == 0):
            i = waiting.popleft()
            occupied += need[i]
            prefilling.append([i, prompt[i]])
            running += 1
        p, attn, n_done = 0, 0.0, 0
        if prefilling:
            budget = chunk_tokens - d
            for item in prefilling:
                left = item[1]
                q = (left if left <= budget else budget) if chunked else left
                if q <= 0 or (not chunked and p and q > budget):
                    break
                p, budget, attn = p + q, budget - q, attn + attn_per_token[item[0]] * q
                item[1] = left - q
                n_done += item[1] == 0
        if p or not d:
            rows = d + p
            dt = lin[rows] + head[d + n_done] + per_row * rows + fixed + per_ctx * context + attn
            if d:
                step += 1
                context += d
        else:  # pure decode: jump k steps, to the next completion or arrival; the first step takes t0
            k = (decoding[0] >> shift) - step
            t0 = lin[d] + head[d] + per_row * d + fixed + per_ctx * context
            if not waiting and ia < n:
                j = ceil((nxt - t) / t0)
                if j < k:
                    k = j if j > 1 else 1
            dt = k * t0 + per_ctx * d * k * (k - 1) / 2
            step += k
            context += d * k
        t, busy, batch_time = t + dt, busy + dt, batch_time + dt * running
        while n_done:
            i = prefilling.popleft()[0]
            n_done -= 1
            first[i] = t
            if lo <= i < hi:
                x = t - arrival[i]
                if x > ttft_limit:
                    ttft_misses -= 1
                    if not ttft_misses:
                        return None
                elif x <= ttft_pass:
                    ttft_passes -= 1
                    if ttft_passes <= 0 and tpot_passes <= 0:
                        return PASSED
            if out[i] == 1:
                done[i], occupied = t, occupied - need[i]
                remaining -= lo <= i < hi
            else:
                push(decoding, (step + out[i] - 1) << shift | i)
                context += prompt[i] + 1
        after = (step + 1) << shift
        while decoding and decoding[0] < after:
            i = pop(decoding) & mask
            done[i], occupied = t, occupied - need[i]
            context -= prompt[i] + out[i]
            if lo <= i < hi:
                remaining -= 1
                x = (t - first[i]) / (out[i] - 1)
                if x > tpot_limit:
                    tpot_misses -= 1
                    if not tpot_misses:
                        return None
                elif x <= tpot_pass:
                    tpot_passes -= 1
                    if tpot_passes <= 0 and ttft_passes <= 0:
                        return PASSED
    first_s, done_s, outs = np.array(first), np.array(done), req.output_tokens
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(outs > 1, (done_s - first_s) / (outs - 1), np.nan)
    return Outcome(first_s - req.arrival_s, tpot, done_s, outs, batch_time / busy if busy else 0.0)
