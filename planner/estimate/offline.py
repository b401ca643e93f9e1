"""An offline throughput benchmark as it runs: every request queued at time 0, all of one length, in waves.

vLLM's benchmark_throughput hands every prompt to the engine at once (`LLM.generate` on the whole list);
`trtllm-bench throughput` and AMD's published MI300X runs send requests "at an infinite rate"
(https://github.com/NVIDIA/TensorRT-LLM/blob/main/docs/source/performance/perf-overview.md; AMD Instinct
performance results page, checked 2026-12-07). With fixed prompt and output lengths (the synthetic datasets
those tables use) the requests admitted together decode in lockstep and finish on the same step, so the
replica runs in waves, as a static batch (HF `generate`, gpt-fast) does:

- a wave holds d sequences whose KV cache must fit at the wave's END, when each holds prompt + output tokens
  (not the mean occupancy prompt + output/2 of a replica under continuous arrivals, load.steady_state): a long
  output fills the cache the wave started with. d = min(batch cap, KV tokens / (P + O)). An on-demand engine
  (vLLM's paged KV) admits more and preempts the excess as the cache fills (Kwon et al., SOSP 2023, Sec. 4.5:
  recomputation); counting the batch it can carry to the end is the lower bound (bias: pessimistic where the
  KV cache binds);
- its prompts are prefilled first, in steps of the engine's token budget, with no decodes to share those steps
  (every sequence of the previous wave finished on the same step), then O - 1 decode steps at batch d, each
  reading the context grown so far (P + t keys at step t), so attention is charged over the growing cache.
  Under DP attention each rank prefills its own whole prompts, TensorRT-LLM's ranks each within their own token
  budget (kv_budget.scheduler_ranks), and a step waits for its busiest rank; its experts wait for the busiest
  expert-parallel rank: the same terms as load.steady_state (dp_balance.py).

Throughput = d O / (prefill time + decode time); a benchmark of a stated number of requests runs full waves and
a partial last one (offline_state's num_requests). A chunked-prefill engine staggers its waves by the prefill
steps, mixing some prompt chunks into decode steps (bias: pessimistic by at most the prefill's share of a wave).
"""
from __future__ import annotations

import math

import numpy as np

from . import dp_balance
from . import graph_padding
from . import load as ld
from . import perf
from . import search as sr
from . import simulate as sim
from .inference import Replica


def wave_batch(r: Replica, cap: int, prompt_tokens: float, output_tokens: float) -> int:
    """Sequences one lockstep wave carries to its end: the batch cap, or those whose whole context
    (prompt + output, window-aware) fits in the KV cache beside the weights (search.max_batch_for_kv)."""
    return int(min(cap, sr.max_batch_for_kv(r, prompt_tokens + output_tokens)))


def decode_context_sum(prompt_tokens: float, output_tokens: float) -> float:
    """Keys one sequence's decode steps read in all: sum over t = 1 .. O-1 of (P + t) = (O-1) P + O (O-1) / 2."""
    steps = max(output_tokens - 1.0, 0.0)
    return steps * prompt_tokens + steps * (steps + 1.0) / 2.0


def prompts_per_step(load: ld.Load) -> float:
    """Prompts one prefill step of a wave carries: per scheduler, budget-sized chunks (chunked) or as many whole
    prompts as its token budget holds, at least one (unchunked); times the schedulers that each fill a budget
    (TensorRT-LLM's attention-DP ranks: Load.budget_ranks)."""
    p_tok, budget = load.prompt_tokens, float(load.chunk_tokens)
    return load.budget_ranks * (budget / p_tok if load.chunked else max(1.0, math.floor(budget / p_tok)))


def prefill_phase_s(load: ld.Load, steps: sim.StepModel, batch: int) -> float:
    """Prefill of one wave's `batch` prompts in steps of prompts_per_step, each step waiting for its busiest
    attention rank (dp_balance: whole prompts on one rank; nothing more without DP attention)."""
    p_tok, per_step = load.prompt_tokens, prompts_per_step(load)
    rows, n_steps = per_step * p_tok, batch / per_step
    kern = perf.at_quantile(load.replica.kern, load.quantile)
    one_prompt = float(sim.prefill_attention_s(load.replica, load.quantile, np.array([p_tok]))[0])
    one = (ld.linears_s(load, steps, rows) + dp_balance.extra_s(load.replica, kern, 0.0, rows, p_tok)
           + float(np.interp(max(1.0, per_step), np.arange(len(steps.head_s)), steps.head_s))
           + steps.per_row_s * rows + steps.fixed_s
           + dp_balance.prefill_attention_s(load.replica, one_prompt, rows, p_tok))
    return n_steps * one


def decode_phase_s(load: ld.Load, steps: sim.StepModel, batch: int) -> float:
    """O - 1 decode steps of `batch` sequences, attention over the context each step has grown to; the GEMMs,
    head and per-row work at the rows the CUDA graphs pad each rank's batch to (graph_padding.py)."""
    n = max(load.output_tokens - 1.0, 0.0)
    r = load.replica
    rows = float(graph_padding.decode_rows(batch, dp_balance.ranks(r), r.graph_batch))
    one = (ld.linears_s(load, steps, rows) + float(steps.head_s[min(int(rows), len(steps.head_s) - 1)])
           + steps.per_row_s * rows + steps.fixed_s)
    return n * one + steps.attention_per_context_s * batch * decode_context_sum(load.prompt_tokens,
                                                                               load.output_tokens)


def wave_s(load: ld.Load, steps: sim.StepModel, batch: int) -> float:
    """One wave of `batch` sequences: its prefill phase, then its decode phase."""
    return prefill_phase_s(load, steps, batch) + decode_phase_s(load, steps, batch)


def offline_state(load: ld.Load, num_requests: int | None = None) -> ld.Steady:
    """Throughput of an offline benchmark of fixed-length requests: lockstep waves (module docstring).
    `num_requests`: the benchmark's request count (None: unlimited, every wave full); a finite run is full
    waves and a last, partial one, and its throughput is output tokens over that makespan (trtllm-bench's
    Total Output Throughput; its perf overview states the count per ISL/OSL)."""
    steps = ld._steps(load)  # noqa: SLF001  (the replica's step model, shared with steady_state)
    d = max(wave_batch(load.replica, load.batch_cap, load.prompt_tokens, load.output_tokens), 1)
    if num_requests is not None:
        d = min(d, int(num_requests))
    decode = decode_phase_s(load, steps, d)
    full_s = prefill_phase_s(load, steps, d) + decode
    if num_requests is None:
        rate = d / full_s
    else:
        full, rest = divmod(int(num_requests), d)
        rate = num_requests / (full * full_s + (wave_s(load, steps, rest) if rest else 0.0))
    step_s = decode / (load.output_tokens - 1.0) if load.output_tokens > 1 else full_s
    return ld.Steady(rate, rate * load.output_tokens, float(d), step_s)
