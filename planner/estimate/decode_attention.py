"""A serving engine's decode-attention kernel, measured: the rate it reads the K/V cache at, and its fixed time.

Why (issue 21): perf.attention_s charges decode attention's K/V bytes at the engine profile's `memory` efficiency,
the rate its GEMMs stream weights at (TensorRT-LLM p50 0.68). TensorRT-LLM's generation attention kernel (XQA for
GQA) reads the cache faster than that once a call carries a few hundred MB: in NVIDIA's measured table below, one
layer of Llama-3.1-8B's shape (32 heads, 8 KV heads, head 128, fp8 KV) at batch 512 and 512 cached tokens reads at
0.85 of H100's bandwidth, at batch 128 and 4096 tokens 0.90. A long-output benchmark of a small model spends most of
each step there (Llama-3.1-8B fp8 on one H100 at 128/2048, batch 488: ~64% of the step is K/V reads), so the flat
0.68 made those rows 14-19% pessimistic, while a 70B step, mostly weight streaming, barely moved
(scripts/dense_step_breakdown.py).

The form: one layer's decode attention call takes t = t0 + K/V bytes / (bandwidth x e), fitted by
scripts/decode_attention_fit.py to aiconfigurator-core 0.12.0's `systems/data/h100_sxm/attention/trtllm/1.3.0rc20/
generation_attention_perf.parquet` (https://pypi.org/project/aiconfigurator-core/, read 2026-12-08): 1,396 GQA
rows (1 < heads per KV head <= 8, head_dim 128, no window, fp8 KV, >= 10 MB per call), least squares on the
relative error: t0 = 8.8 us, e = 0.84, median |error| 7.8% (the flat 0.68: 24%, biased -15%). Fitted on the
calibration system only (H100, scripts/silicon_split.toml); the held-out H200 table scored with H100's t0 and e:
median error -9.6%, |error| 10.5% (H200's own kernel reads at a lower share of its faster memory).

In the planner: K/V bytes stream at the profile's memory band scaled so its p50 is e (perf.Kernels.kv_stream_factor =
e / memory p50, the band's relative spread kept, capped at the bandwidth), and t0 is a fixed cost per layer of every
forward pass (perf.Kernels.layer_overhead_s: one attention call per layer per pass, prefill or decode). Only where
the rates come from the engine profile: explicit efficiencies, a registered calibration and silicon-fitted rates
(whose layer_overhead_s already holds a fitted per-layer cost) stand as given. Engines, GPU generations and attention
shapes without a fit here (in_fitted_range: MHA, MLA, 16 query heads per KV head as Llama-3.1-405B and Qwen3-235B)
keep the flat rate (factor 1, t0 0); the vLLM and SGLang tables of the same package are not fitted yet.
Sensitivity, not adopted (the row range was fixed before the serving errors were seen, this one after): the same fit
on the rows of >= 100 MB a call, where throughput benchmarks run, gives t0 17.1 us, e 0.943, |error| 2.4% on H100 and
2.4% on the held-out H200 (unbiased), but 8.8 us is the better fixed time for small-batch decode.
"""
from __future__ import annotations

from dataclasses import replace

from ..catalog.specs import GPUSpec, ModelSpec
from .kernel_floor import GENERATION

# (t0 seconds per layer call, e fraction of bandwidth) per GPU generation and engine (module docstring)
MEASURED = {"hopper": {"tensorrt-llm": (8.8e-6, 0.84)}}
RATES_MEASURED_ELSEWHERE = ("explicit", "calibration", "silicon")  # EngineSetup.rates_from values left as given
FITTED_GROUPS = (2, 8)  # query heads per KV head of the fitted rows
FITTED_HEAD_DIM = 128


def in_fitted_range(m: ModelSpec) -> bool:
    """Whether `m`'s attention has the fitted shape: GQA with 2-8 query heads per KV head, head_dim 128, no MLA
    (H100 table at >= 250 MB a call: MHA ~0.65, 16 heads per KV head ~0.74, 2-8 0.80-0.87; outside, the flat rate)."""
    group = m.n_heads // m.n_kv_heads
    return m.mla is None and m.head_dim == FITTED_HEAD_DIM and FITTED_GROUPS[0] <= group <= FITTED_GROUPS[1]


def measured(m: ModelSpec, g: GPUSpec, engine: str) -> tuple[float, float] | None:
    """(t0 s, e) of `engine`'s decode attention on `g`'s generation for `m`'s shape, or None where not measured."""
    return MEASURED.get(GENERATION.get(g.name, ""), {}).get(engine) if in_fitted_range(m) else None


def kv_stream_factor(m: ModelSpec, g: GPUSpec, engine: str, memory_p50: float, rates_from: str) -> float:
    """K/V read rate of decode attention relative to the memory band: e / memory_p50 (1 where not measured or
    where the rates were given or measured elsewhere)."""
    got = measured(m, g, engine)
    return 1.0 if got is None or rates_from in RATES_MEASURED_ELSEWHERE else got[1] / float(memory_p50)


def layer_fixed_s(m: ModelSpec, g: GPUSpec, engine: str, rates_from: str) -> float:
    """Fixed time of one layer's attention call per forward pass (0 where not measured or rates given elsewhere)."""
    got = measured(m, g, engine)
    return 0.0 if got is None or rates_from in RATES_MEASURED_ELSEWHERE else got[0]


def on_kernels(kern, m: ModelSpec, g: GPUSpec, setup):
    """`kern` (perf.Kernels of a replica of `m` on `setup`'s engine and `g`) with the measured decode-attention
    kernel: kv_stream_factor, and t0 added to layer_overhead_s."""
    factor = kv_stream_factor(m, g, setup.engine, setup.efficiencies.memory.p50, setup.rates_from)
    return replace(kern, kv_stream_factor=factor,
                   layer_overhead_s=kern.layer_overhead_s + layer_fixed_s(m, g, setup.engine, setup.rates_from))
