"""A serving engine's context (prefill) attention kernel, measured: the FLOP rate it runs causal attention at.

Why (issue 21): perf.attention_s charges prefill attention's causal FLOPs at the precision's compute peak times the
engine profile's `attention` efficiency (TensorRT-LLM p50 0.55, judgement from FlashAttention-3). For an fp8
checkpoint that is 0.55 of the fp8 peak, while TensorRT-LLM's fp8 context FMHA, measured, runs at 0.37 of it on
H100 (731 TFLOP/s, not 1,088): prefill attention of fp8 models was charged ~1.5x too fast. At bf16 the fitted H100
rate (0.547 of the bf16 peak) is the profile's; on A100, L40S and B200 it is lower (0.47, 0.38, 0.52).

The form: one layer's context attention call over `b` prompts of `s` tokens takes
t = t0 + FLOPs / (peak x e) + elements x c, FLOPs causal as arithmetic.prefill_flops counts them
(2 x heads x head_dim x s x (s + 1) a prompt), peak the catalog's dense peak of the FMHA dtype, elements = b x s x
(heads + 2 x KV heads) x head_dim (the Q, K and V it reads, ropes and writes to the cache). Fitted by
scripts/context_attention_fit.py to aiconfigurator-core 0.12.0's `systems/data/<system>/attention/trtllm/<version>/
context_attention_perf.parquet` (https://pypi.org/project/aiconfigurator-core/, read 2026-12-08): rows of head_dim
128, no window, up to 16 query heads per KV head, >= 1 GFLOP a call; bf16 FMHA with a bf16 cache, fp8 FMHA with an
fp8 cache. Least squares on the relative error, on the calibration systems only (scripts/silicon_split.toml), one
per generation:

    system     dtype  t0 us  e of peak  c ps/element  median |error|   (two-term t0 + FLOPs form: |error|)
    h100_sxm   bf16   19.3   0.547      2.48          7.8%             (19.1%)
    h100_sxm   fp8    18.4   0.369      2.21          10.4%            (21.8%)
    b200_sxm   bf16   22.5   0.519      1.77          9.8%             (22.3%)
    a100_sxm   bf16   25.4   0.471      4.31          5.8%             (14.6%)
    l40s       bf16    0.9   0.379      5.45          8.7%             (16.6%)
    l40s       fp8     1.7   0.347      3.94          12.5%            (19.4%)

B200 fp8 does not fit the three-term form (the FLOP coefficient goes negative): left at the flat rate. The held-out
H200 table, scored with H100's t0, e and c: median error +0.8% / |error| 7.5% (bf16), -1.7% / 9.9% (fp8); the flat
profile rate there: -45% / -67% (it also has no t0 or c).

In the planner: e and c are applied, t0 is not. The prefill's attention FLOPs run at peak(FMHA dtype) x e, as
perf.Kernels' attention_efficiency scaled by e x peak(FMHA) / (compute peak x attention p50) (the band's relative
spread kept); the FMHA dtype is fp8 where the KV cache is fp8 (TensorRT-LLM's fp8 checkpoints keep an fp8 cache and
run its fp8 context FMHA: judgement; the table's bf16 FMHA over an fp8 cache, >= 1 TFLOP a call, runs at a median
0.72 of the bf16 peak on H100, 711 TFLOP/s, against the fp8 FMHA's 671). c is perf.Kernels.context_s_per_element,
charged on every prefilled token (qkv_s: perf.prefill_s, inference.prefill_and_decode_s, simulate's prompts), never
on a decode step (the generation table's fit, decode_attention.py, holds its own). For Llama-3.1-8B fp8 on H100
(32 + 2 x 8 heads x 128) c is 28 us a layer at a 2,048-token prompt (FLOP term 47 us), 68 us at 5,000 (280 us):
~3% of its prefill. t0 (~19 us a layer a call) is not added: decode_attention's 8.8 us per layer per pass is charged
in its range, the rest (~10 us x layers, ~0.3 ms a prefill pass of an 8B model) is left out (judgement: one more
per-pass field for <1% of a long prefill).
Only where the rates come from the engine profile (decode_attention.RATES_MEASURED_ELSEWHERE stand as given); other
engines, MLA, sliding windows and head dims other than 128 keep the flat rate.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..catalog.specs import GPUSpec, ModelSpec
from ..core.provenance import Assumption
from . import decode_attention as dec
from .decode_attention import RATES_MEASURED_ELSEWHERE
from .kernel_floor import GENERATION

# generation -> engine -> FMHA dtype -> (t0 s, e of that dtype's dense peak, c s per element) (module docstring)
MEASURED = {
    "hopper": {"tensorrt-llm": {"bf16": (19.3e-6, 0.547, 2.48e-12), "fp8": (18.4e-6, 0.369, 2.21e-12)}},
    "blackwell": {"tensorrt-llm": {"bf16": (22.5e-6, 0.519, 1.77e-12)}},
    "ampere": {"tensorrt-llm": {"bf16": (25.4e-6, 0.471, 4.31e-12)}},
    "ada": {"tensorrt-llm": {"bf16": (0.9e-6, 0.379, 5.45e-12), "fp8": (1.7e-6, 0.347, 3.94e-12)}},
}
FITTED_HEAD_DIM = 128
MAX_GROUP = 16  # query heads per KV head of the fitted rows (1: MHA)


def in_fitted_range(m: ModelSpec) -> bool:
    """Whether `m`'s attention has a fitted shape: head_dim 128, up to 16 query heads per KV head, no MLA, no window."""
    return (m.mla is None and m.head_dim == FITTED_HEAD_DIM and m.n_heads <= MAX_GROUP * m.n_kv_heads
            and not m.sliding_window)


def fmha_dtype(kv_cache_dtype: str) -> str:
    """The context FMHA's dtype: fp8 over an fp8 cache, else bf16 (module docstring: judgement)."""
    return "fp8" if kv_cache_dtype == "fp8" else "bf16"


def measured(m: ModelSpec, g: GPUSpec, engine: str, kv_cache_dtype: str) -> tuple[float, float, float] | None:
    """(t0 s, e, c s per element) of `engine`'s context attention on `g` for `m`, or None where not measured."""
    if not in_fitted_range(m):
        return None
    return MEASURED.get(GENERATION.get(g.name, ""), {}).get(engine, {}).get(fmha_dtype(kv_cache_dtype))


def flops_per_s(g: GPUSpec, kv_cache_dtype: str, e: float) -> float:
    """Causal attention FLOP/s of the fitted kernel: e x the dense peak of the FMHA dtype."""
    return e * g.peak(fmha_dtype(kv_cache_dtype))


def layer_s(t0: float, e: float, c: float, peak_flops_per_s: float, m: ModelSpec, batch, prompt_tokens, tp: int = 1):
    """The fitted time of one layer's context attention call on one of `tp` GPUs (the table's form, all three terms;
    scripts/context_attention_fit.py scores it): t0 + causal FLOPs / (peak x e) + Q/K/V elements x c."""
    heads, kv_heads = m.n_heads / tp, max(m.n_kv_heads / tp, 1.0)
    s = np.asarray(prompt_tokens, dtype=float)
    flops = 2.0 * batch * heads * m.head_dim * s * (s + 1.0)
    return t0 + flops / (peak_flops_per_s * e) + batch * s * (heads + 2.0 * kv_heads) * m.head_dim * c


def qkv_s(m: ModelSpec, kern, prompt_tokens, tp: int = 1):
    """The prefill-only Q/K/V term of context attention over `prompt_tokens` new tokens on one of `tp` GPUs, all
    layers: tokens x (heads + 2 x KV heads) per GPU x head_dim x c (kern.context_s_per_element; 0 if not measured)."""
    heads = m.n_heads / tp + 2.0 * max(m.n_kv_heads / tp, 1.0)
    return kern.context_s_per_element * np.asarray(prompt_tokens, dtype=float) * heads * m.head_dim * m.n_layers


def attention_factor(m: ModelSpec, g: GPUSpec, engine: str, kv_cache_dtype: str, compute_peak_flops_per_s: float,
                     attention_p50: float, rates_from: str) -> float:
    """Attention FLOP rate of the fitted kernel over the profile's (compute peak x attention p50); 1 where not
    measured or where the rates were given or measured elsewhere."""
    got = measured(m, g, engine, kv_cache_dtype)
    if got is None or rates_from in RATES_MEASURED_ELSEWHERE:
        return 1.0
    return flops_per_s(g, kv_cache_dtype, got[1]) / (float(compute_peak_flops_per_s) * float(attention_p50))


def on_kernels(kern, m: ModelSpec, g: GPUSpec, setup, kv_cache_dtype: str):
    """`kern` (perf.Kernels of a replica of `m` on `setup`'s engine and `g`) with attention FLOPs at the measured
    context-attention rate (attention_efficiency scaled, its band's spread kept, capped at the peak)."""
    factor = attention_factor(m, g, setup.engine, kv_cache_dtype, kern.peak_flops_per_s,
                              setup.efficiencies.attention.p50, setup.rates_from)
    if factor == 1.0:
        return kern
    per_element = measured(m, g, setup.engine, kv_cache_dtype)[2]
    return replace(kern, attention_efficiency=np.minimum(kern.attention_efficiency * factor, 1.0),
                   context_s_per_element=per_element)


def assumptions(r, setup) -> tuple:
    """What a replica `r` (inference.Replica) on `setup` takes from the measured attention kernels, as Assumptions:
    the decode K/V read rate (decode_attention.py) and the context FMHA rate (this module), where they replace the
    profile's flat `memory` and `attention` efficiencies; () where neither applies."""
    out, src = [], "https://pypi.org/project/aiconfigurator-core/ (checked 2026-12-08; NVIDIA's measured tables)"
    if dec.measured(r.m, r.g, setup.engine) and setup.rates_from not in RATES_MEASURED_ELSEWHERE:
        t0, e = dec.measured(r.m, r.g, setup.engine)
        out.append(Assumption("decode_attention", f"{t0 * 1e6:.3g} us per layer + K/V bytes at {e:g} of bandwidth",
                              "measured kernel (replaces efficiency.memory for the K/V reads)",
                              f"{src}: estimate/decode_attention.py"))
    got = measured(r.m, r.g, setup.engine, r.kv_cache_dtype)
    if got and setup.rates_from not in RATES_MEASURED_ELSEWHERE:
        out.append(Assumption("context_attention", f"{fmha_dtype(r.kv_cache_dtype)} FMHA at {got[1]:g} of its dense "
                              f"peak + {got[2] * 1e12:.3g} ps per Q/K/V element", "measured kernel (replaces "
                              "efficiency.attention for prompts)", f"{src}: estimate/context_attention.py"))
    return tuple(out)
