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

Throughput = d O / (prefill time + decode time). A chunked-prefill engine staggers its waves by the prefill
steps, mixing some prompt chunks into decode steps (bias: pessimistic by at most the prefill's share of a wave).
"""
from __future__ import annotations

import math

import numpy as np

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


def _linears_s(load: ld.Load, steps: sim.StepModel, rows: float) -> float:
    """The stack's GEMMs at `rows` rows: the step table, or past its end the GEMMs themselves (as steady_state)."""
    table = steps.linears_s
    if rows <= len(table) - 1:
        return float(np.interp(rows, np.arange(len(table)), table))
    return float(sim.stack_linears_s(load.replica, perf.at_quantile(load.replica.kern, load.quantile), rows))


def prefill_phase_s(load: ld.Load, steps: sim.StepModel, batch: int) -> float:
    """Prefill of one wave's `batch` prompts in steps of the engine's token budget: chunked, budget-sized
    steps; unchunked, as many whole prompts as the budget holds (at least one) per step."""
    p_tok, budget = load.prompt_tokens, float(load.chunk_tokens)
    per_step = budget / p_tok if load.chunked else max(1.0, math.floor(budget / p_tok))  # prompts per step
    rows, n_steps = per_step * p_tok, batch / per_step
    logits = max(1.0, per_step)
    one = (_linears_s(load, steps, rows) + float(np.interp(logits, np.arange(len(steps.head_s)), steps.head_s))
           + steps.per_row_s * rows + steps.fixed_s)
    attention = float(sim.prefill_attention_s(load.replica, load.quantile, np.array([p_tok]))[0])
    return n_steps * one + batch * attention


def decode_phase_s(load: ld.Load, steps: sim.StepModel, batch: int) -> float:
    """O - 1 decode steps of `batch` sequences, attention over the context each step has grown to."""
    n = max(load.output_tokens - 1.0, 0.0)
    one = (_linears_s(load, steps, batch) + float(steps.head_s[min(batch, len(steps.head_s) - 1)])
           + steps.per_row_s * batch + steps.fixed_s)
    return n * one + steps.attention_per_context_s * batch * decode_context_sum(load.prompt_tokens,
                                                                               load.output_tokens)


def offline_state(load: ld.Load) -> ld.Steady:
    """Throughput of an offline benchmark of fixed-length requests: lockstep waves (module docstring)."""
    steps = ld._steps(load)  # noqa: SLF001  (the replica's step model, shared with steady_state)
    d = max(wave_batch(load.replica, load.batch_cap, load.prompt_tokens, load.output_tokens), 1)
    decode = decode_phase_s(load, steps, d)
    wave_s = prefill_phase_s(load, steps, d) + decode
    rate = d / wave_s
    step_s = decode / (load.output_tokens - 1.0) if load.output_tokens > 1 else wave_s
    return ld.Steady(rate, rate * load.output_tokens, float(d), step_s)
