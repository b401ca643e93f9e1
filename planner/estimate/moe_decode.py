"""Small-batch MoE decode: the fused-MoE op's measured floor at decode-sized steps.

What a decode step of 1-32 tokens pays in each MoE layer, term by term (scripts/moe_decode_breakdown.py prints
what the planner charges per figure): the router GEMM (perf, with its GEMM t0), top-k, the fused-MoE op (token
alignment/permutation, the gate-up grouped GEMM, the activation, the down grouped GEMM, the k-way sum), the shared
expert's GEMMs (perf), the two tensor-parallel all-reduces or DP attention's gather and scatter (inference,
moe_serving) and the per-layer fixed costs (perf.overheads_s). perf charges the fused-MoE op as the engine's
moe_layer_overhead_s plus the routed experts on the grouped-GEMM shape curve at the engine's decode streaming rate.

The op's measured time at 1-32 tokens (NVIDIA's aiconfigurator-core 0.12.0 MoE tables,
`systems/data/<gpu>/moe/<engine>/<newest version>/moe_perf.parquet`, balanced routing, no EP, 16-bit and fp8
formats, the fastest kernel per shape; read from the installed package 2026-12-08, scripts/moe_decode_fit.py) fits
t = t0 + B / (bandwidth x e), B the routed-expert weight bytes the GPU reads (the distinct experts the step's tokens
touch x one expert's 1/tp share; `op_bytes_per_layer`) at 10-31% median error per table. Where that is MORE than
perf charges, the difference is the term missing: small-M fused-MoE kernels (Triton fused_moe, Marlin MoE, CUTLASS
grouped GEMM) stream the experts' weights below the dense-GEMM rate, and at one token their fixed part exceeds the
moe_layer_overhead_s fitted over every shape. Where perf already charges more (compute-bound prefill, the slower
grouped-GEMM curve at mid-size rows) nothing is added: `shortfall_s` is one-sided, so the term can only slow an
estimate, and only an MoE model's (dense models never reach it).
"""
from __future__ import annotations

import statistics

import numpy as np

from ..catalog.specs import GPUSpec
from . import arithmetic as ar
from . import grouped_gemm, kernel_floor, perf

# (t0 seconds, e fraction of peak bandwidth) of the fused-MoE op at 1-32 tokens, per GPU generation and engine:
# scripts/moe_decode_fit.py on the CALIBRATION systems of scripts/silicon_split.toml only (a100_sxm: sglang 0.5.10,
# the one A100 table it reads; h100_sxm: vllm 0.24.0, sglang 0.5.14, trtllm 1.3.0rc23; b200_sxm: vllm 0.24.0,
# sglang 0.5.14; l40s: vllm 0.24.0, sglang 0.5.14, trtllm 1.3.0rc20), median |error| 10-31% per table. The held-out
# H200 tables scored with H100's constants: vLLM 30.6%, SGLang 12.6%, TensorRT-LLM 12.4%. TensorRT-LLM's H100 e sits
# at the grid's ceiling (1.0): its op is mostly t0 at these sizes. An engine without a table on a generation takes
# the generation's median (judgement, as kernel_floor.gemm_fixed_s does); engines outside ENGINES get no term.
OP_FIT = {
    "ampere": {"sglang": (52.4e-6, 0.76)},
    "hopper": {"vllm": (46.7e-6, 0.73), "sglang": (24.9e-6, 0.76), "tensorrt-llm": (32.5e-6, 1.00)},
    "blackwell": {"vllm": (19.0e-6, 0.73), "sglang": (22.5e-6, 0.65)},
    "ada": {"vllm": (10.8e-6, 0.75), "sglang": (0.0, 0.63), "tensorrt-llm": (23.4e-6, 0.79)},
}
# Decode-sized steps: the tables' rows used for the fit end at 32 tokens, and from there the op reads every expert
# of the larger models; beyond it perf's grouped-GEMM curve stands alone.
MAX_TOKENS = 32
# The engines the tables measure; any other (the ideal "roofline", torch-compile's eager MoE, AMD's) gets no term.
ENGINES = ("vllm", "sglang", "tensorrt-llm")


def op_constants(g: GPUSpec, engine: str) -> tuple[float, float] | None:
    """(t0, e) of the fused-MoE op for `engine` on `g`'s generation (OP_FIT); None on a GPU without one or for an
    engine the tables do not measure (ENGINES)."""
    gen = kernel_floor.GENERATION.get(g.name)
    if gen is None or engine not in ENGINES:
        return None
    fits = OP_FIT[gen]
    if engine in fits:
        return fits[engine]
    return statistics.median(v[0] for v in fits.values()), statistics.median(v[1] for v in fits.values())


def op_bytes_per_layer(m, weight_bytes: float, tokens, tp: int = 1, ep: int = 1):
    """Routed-expert bytes one GPU reads in one MoE layer for `tokens` tokens per rank: the distinct experts its
    rank's share touches (perf.routed_rows, uniform routing) x 3 x dim x moe_ffn_dim / tp x bytes per weight.
    The fits saw 16-bit and fp8 weights only; other formats (int8/int4 weight-only) are taken at their bytes with
    the same e (judgement: Marlin-class MoE kernels, in the same tables, are not fitted here)."""
    touched, _ = perf.routed_rows(m, tokens, ep)
    return touched * len(perf.mlp_shapes(m, 1.0)) * m.dim * m.moe_ffn_dim / tp * weight_bytes


def op_s(op_bytes, peak_bytes_per_s: float, t0_s: float, efficiency: float):
    """The fused-MoE op's measured form: t0 + bytes / (peak bandwidth x e)."""
    return t0_s + np.asarray(op_bytes, dtype=float) / (peak_bytes_per_s * efficiency)


def charged_s(m, kern: perf.Kernels, num: perf.Numerics, tokens, tp: int = 1, ep: int = 1):
    """What perf charges one MoE layer's fused op for `tokens` tokens per rank: moe_layer_overhead_s plus the routed
    experts on the grouped-GEMM curve (perf.ffn_s's first part)."""
    local, per_expert = perf.routed_rows(m, tokens, ep)
    return kern.moe_layer_overhead_s + local * grouped_gemm.stack_s(per_expert, perf.mlp_shapes(m, m.moe_ffn_dim / tp),
                                                                     kern, num)


def shortfall_s(measured_s, charged):
    """The part of the measured op perf does not charge: max(measured - charged, 0)."""
    return np.maximum(np.asarray(measured_s, dtype=float) - charged, 0.0)


def step_s(r, kern: perf.Kernels, rows):
    """What a step of `rows` tokens adds over perf in the MoE layers of replica `r` (an inference.Replica, whose
    moe_op holds its engine's op_constants): n_moe x the shortfall of the fused-MoE op at the busiest rank's tokens,
    for steps of up to MAX_TOKENS tokens per rank; 0 for a dense model, a GPU or engine without a measured table,
    or a larger step."""
    m, const = r.m, r.moe_op
    n_moe = ar.n_moe_layers(m)
    if not n_moe or const is None:
        return 0.0
    s = r.split
    tokens = np.asarray(s.local(np.asarray(rows, dtype=float)), dtype=float)
    small = tokens <= MAX_TOKENS
    if not np.any(small):
        return 0.0
    measured = op_s(op_bytes_per_layer(m, r.num.weight_bytes, tokens, s.tp, s.ep), r.g.memory_bytes_per_s,
                    *const)
    gap = shortfall_s(measured, charged_s(m, kern, r.num, tokens, s.tp, s.ep))
    return n_moe * np.where(small, gap, 0.0)
