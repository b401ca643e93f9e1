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
O(requests) Python steps, not O(tokens).
"""
from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from . import arithmetic as ar
from . import inference as inf
from . import moe_serving as moe
from . import perf
from .inference import Replica

WARMUP_FRACTION = 0.15  # requests at each end left out of the percentiles (start-up and drain)


@dataclass(frozen=True)
class StepModel:
    """Time of one engine step on a replica, from perf.py at one quantile of the rates."""

    linears_s: np.ndarray  # stack GEMMs at rows 0..len-1
    head_s: np.ndarray  # output head at logit rows 0..len-1
    per_row_s: float  # element-wise work and all-reduce bytes, per token in the step
    fixed_s: float  # per-pass overheads and all-reduce latencies
    attention_per_context_s: float  # decode attention, per sequence and cached token
    kv_tokens: float  # KV-cache capacity of the replica, in tokens of the reference context

    def time_s(self, rows: int, logit_rows: int, context_sum: float, prefill_attention_s: float) -> float:
        return (self.linears_s[rows] + self.head_s[logit_rows] + self.per_row_s * rows + self.fixed_s
                + self.attention_per_context_s * context_sum + prefill_attention_s)


def step_model(r: Replica, quantile: int, max_rows: int, reference_context: float) -> StepModel:
    """Tabulate the step time of replica `r` at quantile index `quantile` (0 p10, 1 p50, 2 p90 rates)."""
    kern, num, m, s = perf.at_quantile(r.kern, quantile), r.num, r.m, r.split  # s: TP, or DP attention + EP
    tp, share = s.tp, s.gpus if r.attention_dp else 1  # share: GPUs the step's rows spread over
    rows = np.maximum(np.arange(max_rows + 1, dtype=float), 1.0)  # index 0 is never a step's size
    comm0 = float(inf.collectives_s(r, 0.0))
    comm1 = float(inf.collectives_s(r, 1.0)) - comm0
    ctx = max(reference_context, 1.0)
    attention = perf.attention_s(m, 1, 1.0, ar.attention_flops_per_token(m, ctx),
                                 ar.kv_cache_bytes(m, ctx, num.kv_bytes), tp, kern) / share
    per_token_kv = float(ar.kv_cache_bytes(m, ctx, num.kv_bytes)) / ctx / s.kv_ways(m)
    free = r.usable_bytes - moe.weight_bytes_per_gpu(m, r.precision, s)
    return StepModel(linears_s=stack_linears_s(r, kern, rows),
                     head_s=perf.head_s(m, s.local(rows), tp, kern, num),
                     per_row_s=float(perf.elementwise_s(m, 1.0, tp, kern, num)) / share + comm1,
                     fixed_s=float(perf.overheads_s(m, kern)) + comm0,
                     attention_per_context_s=float(attention) / ctx, kv_tokens=max(free, 0.0) / per_token_kv)


def stack_linears_s(r: Replica, kern: perf.Kernels, rows):
    """The stack's GEMMs of one step of `rows` tokens on replica `r` (the busiest GPU's share under DP attention)."""
    s = r.split
    return perf.stack_linears_s(r.m, s.local(rows), s.tp, kern, r.num, s.ep)


def prefill_attention_s(r: Replica, quantile: int, prompt_tokens: np.ndarray) -> np.ndarray:
    """Causal attention of each whole prompt (perf.attention_s at the prompt's length), interpolated
    over a grid of lengths."""
    kern, m = perf.at_quantile(r.kern, quantile), r.m
    grid = np.unique(np.geomspace(1, max(float(prompt_tokens.max()), 2.0), 24).round())  # every length at once
    times = perf.attention_s(m, 1, grid, (ar.prefill_flops(m, grid) - grid * 2.0 * ar.matmul_params(m)) / grid,
                             ar.kv_cache_bytes(m, grid, r.num.kv_bytes), r.split.tp, kern)
    return np.interp(prompt_tokens, grid, times)


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


@dataclass(frozen=True)
class Outcome:
    """Per-request times of one simulated run."""

    ttft_s: np.ndarray
    tpot_s: np.ndarray  # nan for one-token outputs
    done_s: np.ndarray
    output_tokens: np.ndarray
    mean_batch: float

    def window(self) -> slice:
        n = len(self.ttft_s)
        return slice(int(n * WARMUP_FRACTION), max(int(n * (1 - WARMUP_FRACTION)), int(n * WARMUP_FRACTION) + 1))

    def percentile(self, what: str, q: float) -> float:
        return self.percentiles(what, [q])[0]

    def percentiles(self, what: str, qs: list[float]) -> list[float]:
        """Percentiles `qs` of `what` over the steady window (one sort for all of them); NaN when empty."""
        values = getattr(self, what)[self.window()]
        values = values[np.isfinite(values)]
        return np.percentile(values, qs).tolist() if len(values) else [float("nan")] * len(qs)

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


def simulate(req: Requests, steps: StepModel, prefill_attn_s: np.ndarray, sched: Scheduler) -> Outcome:
    """Run the requests through one replica; per-request TTFT, TPOT and completion time.

    Plain Python lists and locals inside the loop: it runs once per engine step with prefill
    work and once per event otherwise, and numpy scalars would cost more than the arithmetic."""
    n = len(req.arrival_s)
    arrival, prompt, out = req.arrival_s.tolist(), req.prompt_tokens.tolist(), req.output_tokens.tolist()
    need = (req.prompt_tokens + (req.output_tokens if sched.reserve_kv else req.output_tokens / 2.0)).tolist()
    attn_per_token = (prefill_attn_s / req.prompt_tokens).tolist()
    lin, head = steps.linears_s.tolist(), steps.head_s.tolist()
    per_row, fixed, per_ctx, kv_tokens = steps.per_row_s, steps.fixed_s, steps.attention_per_context_s, steps.kv_tokens
    cap, chunked, chunk_tokens = sched.batch_cap, sched.chunked, sched.chunk_tokens
    first, done = [math.nan] * n, [math.nan] * n
    waiting, prefilling, decoding = deque(), deque(), []  # prefilling: [i, tokens left]; decoding: heap (finish step, i)
    t, step, ia, occupied, context, finished, batch_time, busy = 0.0, 0, 0, 0.0, 0.0, 0, 0.0, 0.0
    while finished < n:
        while ia < n and arrival[ia] <= t:
            waiting.append(ia)
            ia += 1
        running = len(prefilling) + len(decoding)
        while waiting and running < cap and (occupied + need[waiting[0]] <= kv_tokens or running == 0):
            i = waiting.popleft()
            occupied += need[i]
            prefilling.append([i, prompt[i]])
            running += 1
        if not running:
            t = arrival[ia]
            continue
        d = len(decoding)
        p, attn, n_done, budget = 0, 0.0, 0, chunk_tokens - d
        for item in prefilling:
            left = item[1]
            q = (left if left <= budget else budget) if chunked else left
            if q <= 0 or (not chunked and p and q > budget):
                break
            p, budget, attn = p + q, budget - q, attn + attn_per_token[item[0]] * q
            item[1] = left - q
            n_done += item[1] == 0
        k = 1
        if not p and d:  # pure decode: jump to the next completion or arrival
            k = decoding[0][0] - step
            if ia < n and not waiting:
                t0 = lin[d] + head[d] + per_row * d + fixed + per_ctx * context
                k = min(k, max(1, math.ceil((arrival[ia] - t) / t0)))
        rows = d + p
        dt = k * (lin[rows] + head[d + n_done] + per_row * rows + fixed + per_ctx * context + attn) \
            + per_ctx * d * k * (k - 1) / 2
        t, busy, batch_time = t + dt, busy + dt, batch_time + dt * running
        step += k if d else 0
        context += d * k
        while prefilling and prefilling[0][1] == 0:
            i = prefilling.popleft()[0]
            first[i] = t
            if out[i] == 1:
                done[i], occupied, finished = t, occupied - need[i], finished + 1
            else:
                heapq.heappush(decoding, (step + out[i] - 1, i))
                context += prompt[i] + 1
        while decoding and decoding[0][0] <= step:
            i = heapq.heappop(decoding)[1]
            done[i], occupied, finished = t, occupied - need[i], finished + 1
            context -= prompt[i] + out[i]
    first_s, done_s, outs = np.array(first), np.array(done), req.output_tokens
    with np.errstate(invalid="ignore", divide="ignore"):
        tpot = np.where(outs > 1, (done_s - first_s) / (outs - 1), np.nan)
    return Outcome(first_s - req.arrival_s, tpot, done_s, outs, batch_time / busy if busy else 0.0)
