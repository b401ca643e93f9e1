"""A GEMM's fixed latency: the time a linear layer's kernel takes however few bytes it reads.

What it stands for: a GPU kernel's minimum duration on the device, not the CPU's launch gap. A one-row GEMM
(batch-1 decode) still fills its grid, waits for the first loads from HBM to arrive, reduces split-K partial
sums and writes its output; fp8 kernels also quantise the activations in a kernel of their own. CUDA graphs
(which every serving engine here captures for decode) remove the gaps between launches, not this time.

The form, from NVIDIA's measured GEMM tables (aiconfigurator-core 0.12.0, `systems/data/<gpu>/gemm/<engine>/
<version>/gemm_perf.parquet`, one-row GEMMs of 483 (n, k) shapes per engine and dtype; scripts/kernel_floor_fit.py):
a fixed latency plus streaming, t = t0 + bytes / (bandwidth x e), fits the tables better than a floor
t = max(t0, bytes / (bandwidth x e)) in 26 of 36 calibration fits, every A100 one (H100 bf16: 7-9% median error
against 23-25% for three of its four tables), so the term is additive: perf.Kernels.gemm_overhead_s, which
gemm.from_coefficients adds to each GEMM's max(compute, memory). Fitted on the calibration systems of scripts/silicon_split.toml (A100, H100, B200, L40S);
the held-out H200's tables, scored with H100's t0 and e, come out at 6-25% median error per engine and dtype
(51-99% without t0). Read from the installed aiconfigurator_core package (https://pypi.org/project/
aiconfigurator-core/, version 0.12.0), checked 2026-12-07.

A routed expert's grouped GEMM has no t0 of its own here: the fused-MoE op's fixed time per layer (router,
permutation, both grouped GEMMs, at ~20-45 us on H100 at one token, far above 3 x t0) is the engine profile's
moe_layer_overhead_s (perf.overheads_s), charged once per MoE layer whatever the experts touched.
"""
from __future__ import annotations

import statistics

from ..catalog.specs import GPUSpec, Precision

# t0 in seconds per (GPU generation, table dtype, engine): the `t0 + bytes / (bandwidth x e)` fit of
# scripts/kernel_floor_fit.py to each engine's newest one-row GEMM table on the generation's calibration
# system (a100_sxm, h100_sxm, b200_sxm, l40s). fp8: per-tensor W8A8 ("fp8"); TensorRT-LLM's fp8 GEMM at one
# row is slower (13 us on H100) than vLLM's and SGLang's (6-7 us), so the engine is kept.
FIXED_S = {
    ("ampere", "bfloat16"): {"vllm": 3.67e-6, "sglang": 3.97e-6, "tensorrt-llm": 3.67e-6},
    ("ampere", "int8_wo"): {"tensorrt-llm": 13.58e-6},
    ("ampere", "int4_wo"): {"tensorrt-llm": 15.11e-6},
    ("hopper", "bfloat16"): {"vllm": 3.42e-6, "sglang": 3.62e-6, "tensorrt-llm": 3.42e-6},
    ("hopper", "fp8"): {"vllm": 6.89e-6, "sglang": 5.87e-6, "tensorrt-llm": 13.06e-6},
    ("hopper", "int8_wo"): {"sglang": 22.08e-6},
    ("blackwell", "bfloat16"): {"vllm": 3.01e-6, "sglang": 3.23e-6, "tensorrt-llm": 2.99e-6},
    ("blackwell", "fp8"): {"vllm": 18.36e-6, "sglang": 7.03e-6, "tensorrt-llm": 14.57e-6},
    ("ada", "bfloat16"): {"vllm": 1.80e-6, "sglang": 2.03e-6, "tensorrt-llm": 1.94e-6},
    ("ada", "fp8"): {"vllm": 5.57e-6, "sglang": 4.42e-6, "tensorrt-llm": 11.04e-6},
}
# Catalog GPUs by the generation whose table stands for them (same SM and memory system; judgement for the
# parts without a table of their own: H800, H20, H100 PCIe/NVL as H100; GB200 as B200; L4 and L40 as L40S).
# GPUs not listed (AMD, TPUs, Gaudi, CPUs, consumer cards, custom GPUs) have no measured table: t0 = 0.
GENERATION = {"A100 40GB SXM": "ampere", "A100 80GB SXM": "ampere",
              "H100 SXM": "hopper", "H800 SXM": "hopper", "H200 SXM": "hopper", "H100 PCIe": "hopper",
              "H100 NVL": "hopper", "H20": "hopper", "B200": "blackwell", "GB200": "blackwell",
              "L4": "ada", "L40S": "ada", "L40": "ada"}


def table_dtype(p: Precision) -> str:
    """The GEMM table a precision's linear layers run as: 16-bit, fp8 (W8A8), or int8/int4 weight-only."""
    if p.weight_only:
        return "int8_wo" if p.bytes_per_weight >= 1.0 else "int4_wo"
    return {"fp8": "fp8"}.get(p.compute_dtype, "bfloat16")


def gemm_fixed_s(g: GPUSpec, p: Precision, engine: str) -> float:
    """t0 of one GEMM of precision `p` on `g` served by `engine`: the engine's measured value for the format
    on the GPU's generation; else the engine's 16-bit value (a format it has no table for: judgement, a
    kernel takes at least a 16-bit GEMV's time); else the generation's 16-bit median over the measured
    engines (an engine without a table, e.g. torch-compile); 0 on a GPU without a generation here."""
    gen = GENERATION.get(g.name)
    if gen is None:
        return 0.0
    measured = FIXED_S.get((gen, table_dtype(p)), {})
    if engine in measured:
        return measured[engine]
    sixteen = FIXED_S[(gen, "bfloat16")]
    return sixteen.get(engine, statistics.median(sixteen.values()))
