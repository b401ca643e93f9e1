"""The offline throughput benchmark as lockstep waves (planner/estimate/offline.py)."""
from __future__ import annotations

import numpy as np
import pytest

import planner
from planner.catalog import lookup
from planner.estimate import inference as inf
from planner.estimate import load as ld
from planner.estimate import offline
from planner.estimate import simulate as sim
from planner.estimate.engine import resolve_engine


def test_wave_batch_by_hand():
    """The sequences whose whole context (prompt + output) fits beside the weights, or the cap."""
    r, load = _load(model="Llama-3.1-8B", gpu="A100 80GB SXM", precision="bf16", prompt=128, output=8192)
    per_seq = float(inf.kv_bytes_per_gpu(r.m, 1, 128 + 8192, 1, r.num.kv_bytes))  # 32 x 8 x 128 x 2 x 2 B per token
    assert per_seq == (128 + 8192) * 32 * 8 * 128 * 2 * 2
    free = r.usable_bytes - float(inf.memory_per_gpu_bytes(r.m, "bf16", 0, 0, 1, r.num.kv_bytes))
    assert offline.wave_batch(r, 10_000, 128, 8192) == int(free // per_seq)
    assert offline.wave_batch(r, 5, 128, 8192) == 5


def test_decode_context_sum_by_hand():
    # P = 10, O = 4: three decode steps read 11, 12 and 13 keys
    assert offline.decode_context_sum(10, 4) == 36
    assert offline.decode_context_sum(10, 1) == 0


def _load(model="Llama-3.1-8B", gpu="H100 SXM", precision="fp8", engine="vllm", tp=1, prompt=128, output=8):
    m, g = lookup.model(model), lookup.gpu(gpu)
    setup = resolve_engine(engine, g)
    r = inf.replica(m, g, precision, tp, setup)
    return r, ld.load_for(r, setup, setup.batch_cap, prompt, output, quantile=1)


def test_decode_phase_is_the_sum_of_decode_steps_over_the_growing_context():
    """The wave's decode phase = the performance model's decode step (with its all-reduces) at each context
    P + t, t = 1 .. O-1: attention is charged over the cache as it grows, not at one mean context."""
    r, load = _load(tp=2, prompt=128, output=8)
    steps = ld._steps(load)
    by_step = sum(float(inf.decode_step_s(r, 64, 128 + t)[0][1]) for t in range(1, 8))
    assert offline.decode_phase_s(load, steps, 64) == pytest.approx(by_step, rel=1e-6)


def test_a_long_output_wave_holds_only_the_sequences_whose_whole_context_fits():
    """An on-demand engine at a long output: the wave's batch is the KV cache over prompt + output (its peak),
    not over the mean occupancy prompt + output / 2 a replica under continuous arrivals holds."""
    r, load = _load(model="Llama-3.1-8B", gpu="A100 80GB SXM", precision="bf16", prompt=128, output=8192)
    t = planner.max_throughput(model="Llama-3.1-8B", gpu="A100 80GB SXM", precision="bf16", engine="vllm",
                               tensor_parallel=1, prompt_tokens=128, output_tokens=8192)
    assert t.batch_size == offline.wave_batch(r, load.batch_cap, 128, 8192) < load.batch_cap
    assert t.limited_by == "KV-cache memory" and t.max_batch_kv == t.batch_size
    steady = ld.steady_state(load)
    assert steady.batch > 1.8 * t.batch_size and t.tokens_per_s.p50 < steady.output_tokens_per_s


def test_longer_outputs_cost_more_per_token_at_the_same_batch():
    """Same batch (the cap binds), longer output: each decode step reads more keys, so fewer tokens per second."""
    kw = dict(model="Llama-3.1-8B", gpu="H200 SXM", precision="fp8", engine="vllm", tensor_parallel=1,
              prompt_tokens=128, max_batch_size=64)
    short, long = (planner.max_throughput(output_tokens=o, **kw) for o in (512, 4096))
    assert short.batch_size == long.batch_size == 64
    assert long.tokens_per_s.p50 < short.tokens_per_s.p50


def test_the_prefill_runs_outside_the_decode_steps():
    """A wave pays its prompts before it decodes: a longer prompt at the same batch and output lowers throughput
    by at least the extra prefill's GEMM time."""
    _, short = _load(prompt=128, output=256)
    _, long = _load(prompt=2048, output=256)
    assert offline.prefill_phase_s(long, ld._steps(long), 64) > 10 * offline.prefill_phase_s(short, ld._steps(short), 64)
    assert offline.offline_state(long).output_tokens_per_s < offline.offline_state(short).output_tokens_per_s


@pytest.mark.parametrize("engine, prompt, output", [("tensorrt-llm", 4000, 500), ("vllm", 128, 2048), ("vllm", 3000, 300)])
def test_offline_waves_match_an_event_simulation_of_the_same_benchmark(engine, prompt, output):
    """Four waves' worth of requests queued at time 0 through simulate.py (its scheduler holding the wave's
    batch): total output over the makespan, as benchmark_throughput reports it, within 2% of offline_state (a
    chunked-prefill engine mixes some prompt chunks into decode steps as its waves stagger: with prompts a third
    of the wave's time, the waves are 1% pessimistic). Prefill is 35-38% of the long-prompt cases' time, so a
    wave that left it out, or charged it twice, fails."""
    m, g = lookup.model("Llama-3.1-8B"), lookup.gpu("H100 SXM")
    setup = resolve_engine(engine, g)
    r = inf.replica(m, g, "fp8", 1, setup)
    load = ld.load_for(r, setup, 64, prompt, output, quantile=1)
    got = offline.offline_state(load)
    req = sim.requests(float("inf"), 4 * int(got.batch), prompt, output)
    out = sim.simulate(req, ld._steps(load), sim.prefill_attention_s(r, 1, req.prompt_tokens),
                       sim.Scheduler(int(got.batch), load.chunked, load.chunk_tokens, True))
    assert got.batch == 64
    assert got.output_tokens_per_s == pytest.approx(req.output_tokens.sum() / np.nanmax(out.done_s), rel=0.02)
