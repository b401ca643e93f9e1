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

from ..catalog.specs import GPUSpec

# t0 in seconds per GPU generation and engine: the `t0 + bytes / (bandwidth x e)` fit of scripts/kernel_floor_fit.py
# to each engine's newest one-row bf16 GEMM table on the generation's calibration system (a100_sxm, h100_sxm,
# b200_sxm, l40s). Every weight format takes its generation's 16-bit t0. The fp8 and weight-only tables are slower
# at one row (H100 fp8: vLLM 6.9, SGLang 5.9, TensorRT-LLM 13.1 us; int8 weight-only 13.6-22 us), but their op also
# quantises the activations, which serving engines fuse into the norm before the GEMM; the engines' measured decode
# steps agree: on the calibration rows of aiconfigurator-core's silicon_sample.csv (scripts/silicon_validation.py,
# 349 rows) the TPOT median |error| is 35% with the fp8 tables' t0 and 17% with the 16-bit one (B200 fp8: +61-73%
# against +4%/-2%), both with the engines' re-fitted bandwidth bands (catalog/data/engines.toml; 2026-12-07).
FIXED_S = {
    "ampere": {"vllm": 3.67e-6, "sglang": 3.97e-6, "tensorrt-llm": 3.67e-6},
    "hopper": {"vllm": 3.42e-6, "sglang": 3.62e-6, "tensorrt-llm": 3.42e-6},
    "blackwell": {"vllm": 3.01e-6, "sglang": 3.23e-6, "tensorrt-llm": 2.99e-6},
    "ada": {"vllm": 1.80e-6, "sglang": 2.03e-6, "tensorrt-llm": 1.94e-6},
}
# Catalog GPUs by the generation whose table stands for them (same SM and memory system; judgement for the
# parts without a table of their own: H800, H20, H100 PCIe/NVL as H100; GB200 as B200; L4 and L40 as L40S).
# GPUs not listed (AMD, TPUs, Gaudi, CPUs, consumer cards, custom GPUs) have no measured table: t0 = 0.
GENERATION = {"A100 40GB SXM": "ampere", "A100 80GB SXM": "ampere",
              "H100 SXM": "hopper", "H800 SXM": "hopper", "H200 SXM": "hopper", "H100 PCIe": "hopper",
              "H100 NVL": "hopper", "H20": "hopper", "B200": "blackwell", "GB200": "blackwell",
              "L4": "ada", "L40S": "ada", "L40": "ada"}


def gemm_fixed_s(g: GPUSpec, engine: str) -> float:
    """t0 of one GEMM on `g` served by `engine`, any weight format (see FIXED_S): the engine's measured value on
    the GPU's generation, else the generation's median over the measured engines (an engine without a table,
    e.g. torch-compile: judgement, its GEMMs are the same cuBLAS/CUTLASS kernels); 0 on a GPU without a
    generation here."""
    gen = GENERATION.get(g.name)
    if gen is None:
        return 0.0
    measured = FIXED_S[gen]
    return measured.get(engine, statistics.median(measured.values()))
