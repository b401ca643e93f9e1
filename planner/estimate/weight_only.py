"""Weight-only int4 GEMMs (W4A16: GPTQ/AWQ checkpoints on Marlin-class kernels) once a batch makes them compute-bound.

A W4A16 kernel streams 4-bit weights and dequantises them to 16 bits in registers before the tensor cores
multiply them with 16-bit activations: there is no int4 GEMM, so its compute rate is the 16-bit one, and the
dequantisation (unpack, subtract the zero, scale) runs on the vector units for every weight tile each block
of rows loads. While the GEMM is memory-bound that work hides behind the weight stream: Marlin keeps "close
to ideal (4x) speedups up to batchsizes of 16-32 tokens" (https://github.com/IST-DASLab/marlin README, checked
2026-12-07; the same figure in Frantar et al., MARLIN, arXiv:2408.11743, abstract), which perf.gemm_s's
roofline reproduces (the format's bytes at weight_stream_factor, the crossover where 2 x rows FLOPs per weight
meet the 16-bit rate). Past the crossover the dequantisation is extra work on the critical path: the paper's
prefill-size batches (>= 1,024 rows) run about 10% slower than FP16 (as summarised at
https://wentao.site/marlin_summary, read 2026-12-07: "≥1024-batch prefill still ~10 % slower than FP16 due to
compute limits"). COMPUTE_SHARE is that: the share of the 16-bit GEMM rate a weight-only int4 GEMM reaches
when compute-bound. Kernels that dequantise less carefully "degrade quickly as the number of inputs is
increased" (Marlin README, of the prior 4-bit kernels it benchmarks), so 0.9 is the best case (bias:
optimistic for engines without a Marlin-class kernel). No figure for int8 weight-only: it keeps 1 (judgement).
"""
from __future__ import annotations

from ..catalog.specs import precision as lookup_precision

COMPUTE_SHARE = {"int4-weight-only": 0.9}  # kernel family -> share of the 16-bit GEMM rate when compute-bound


def compute_share(precision_name: str) -> float:
    """Share of the 16-bit GEMM rate the precision's weight-only GEMMs reach once compute-bound (1: no dequantisation)."""
    return COMPUTE_SHARE.get(lookup_precision(precision_name).kernel_name, 1.0)
