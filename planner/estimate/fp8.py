"""fp8 training as it runs: which GEMMs are fp8, what the quantisation around them costs, and how the gain
depends on GEMM size. The step model (perf.micro_step_s) times every GEMM in bf16; `micro_step_s` here adds
the change fp8 makes, so a bf16 step is untouched.

- Which GEMMs: the linear layers of the stack (QKV, output projection, MLP; MoE experts) run in fp8 in
  forward (Y = X W) and backward (dX = dY W, dW = dY^T X). Attention's softmax(QK^T)V core, the output
  head / logits and the optimizer stay bf16/fp32: Transformer Engine's fp8 covers te.Linear and
  LayerNormLinear/MLP, not DotProductAttention unless fp8_dpa is set (TE common API, CustomRecipe(fp8_dpa=False));
  DeepSeek-V3 (arXiv:2412.19437, Sec. 3.3.1) keeps "the embedding module, the output head, MoE gating modules,
  normalization operators, and attention operators" in BF16 or FP32; torchao float8 swaps nn.Linear only
  (torchtitan docs/float8.md). All checked 2026-12-07. (The MoE router's small GEMM is timed with the fp8
  linears here: a negligible optimism.)
- What it costs: every GEMM operand is quantised first, memory-bound work that grows with activations
  (`cast_bytes_per_element`, `cast_elements`): an amax reduction (current scaling), the cast to fp8, and a
  second, column-wise copy for the backward's transposed operand ("Hopper only supports TN GEMMs for FP8.
  'Column-wise data' is transpose of data": TransformerEngine common/gemm/cublaslt_gemm.cu, PR #2514; TE docs,
  "Performance considerations: handling transposes"; Blackwell takes any layout but MXFP8 scales along one
  axis, so it still keeps a column-wise scaled copy: TE MXFP8 docs). Each copy is counted, not fitted.
- Size: a GEMM's fixed start-up time t0 does not shrink with a faster datapath, so its half-performance
  length n_1/2 = r_inf x t0 grows with the rate r_inf (Hockney & Jesshope 1988): an fp8 GEMM needs twice
  the rows of a bf16 one to reach half its rate, and the casts cost ~1/n and ~1/k of the GEMM, so small
  hidden sizes gain little and large GEMMs approach the peak ratio x FP8_GEMM_SCALE.
- MFU stays against the dense bf16 peak (pretraining.mfu): fp8 makes a step shorter, not its FLOPs fewer.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..catalog.specs import GPUSpec
from ..core import validate as V
from ..core.errors import InputError
from . import perf
from .arithmetic import n_moe_layers

RECIPES = ("tensorwise", "delayed", "blockwise", "mxfp8")
# GPUs whose tensor cores scale 32-element blocks natively (Blackwell, SM 10.0+): TE's MXFP8 recipe "leverages
# native hardware acceleration on Blackwell GPUs" (TE docs, features/low_precision_training/mxfp8, checked
# 2026-12-07). Others default to per-tensor current scaling, NeMo's H100 recipe ("per-tensor FP8 quantization,
# leveraging scaling factors computed in the current step": NeMo 25.04/25.07 performance summary, checked 2026-12-07).
BLACKWELL = ("B200", "GB200", "B300", "GB300", "RTX 5090")

BF16_BYTES, FP8_BYTES = 2.0, 1.0
# Scale bytes per element: fp32 per 128-element block (DeepSeek-V3 Sec. 3.3.2: 1x128 activation tiles,
# 128x128 weight blocks; TE Float8BlockScaling), E8M0 (1 byte) per 32 elements (TE MXFP8 docs, "block of 32").
SCALE_BYTES_PER_ELEMENT = {"tensorwise": 0.0, "delayed": 0.0, "blockwise": 4.0 / 128, "mxfp8": 1.0 / 32}

# Large fp8 GEMM efficiency against the fp8 peak, relative to bf16's against the bf16 peak. FBGEMM's H100
# (500 W) benchmark at 8192^3 (pytorch/FBGEMM PR #2546, checked 2026-12-07): bf16 585.2 TFLOP/s (0.591 of
# 989.4), fp8 row-scaled GEMM 1125.5 (0.569 of 1978.9): 0.96; its block-scaled GEMM 870.4 (0.440): 0.74.
# Tensor-wise scales the same epilogue as row-wise (judgement: 0.96); MXFP8 scales in the tensor core
# (judgement: as tensor-wise). DeepGEMM (2025; its README: "matches or exceeds expert-tuned libraries") is
# newer than FBGEMM's 2024 block kernel, so blockwise may be pessimistic for it.
FP8_GEMM_SCALE = {"tensorwise": 0.96, "delayed": 0.96, "blockwise": 0.74, "mxfp8": 0.96}


@dataclass(frozen=True)
class Fp8Gemms:
    """The stack's linear layers in fp8 on one GPU: the scaling recipe and the fp8 / bf16 dense peak ratio."""

    recipe: str
    peak_ratio: float  # fp8 dense peak / bf16 dense peak (2 on Hopper and Blackwell)

    def __post_init__(self):
        V.one_of("fp8_recipe", self.recipe, RECIPES)
        V.number("fp8 peak ratio", self.peak_ratio, lo=1.0, hi=16.0)


def default_recipe(g: GPUSpec) -> str:
    """MXFP8 on Blackwell, per-tensor current scaling elsewhere (see BLACKWELL)."""
    return "mxfp8" if g.name in BLACKWELL else "tensorwise"


def gemms_for(g: GPUSpec, recipe: str = "auto") -> Fp8Gemms:
    """The fp8 setup of `g` ("auto": default_recipe); a GPU without fp8 tensor cores raises a PlannerError."""
    V.one_of("fp8_recipe", recipe, ("auto", *RECIPES))
    if recipe == "mxfp8" and g.name not in BLACKWELL:
        raise InputError("fp8_recipe", f"mxfp8 needs Blackwell tensor cores ({', '.join(BLACKWELL)}); {g.name} "
                                       f"runs tensorwise, delayed or blockwise", value=recipe)
    return Fp8Gemms(default_recipe(g) if recipe == "auto" else recipe, g.peak("fp8") / g.peak("bf16"))


def cast_bytes_per_element(recipe: str) -> float:
    """Bytes moved to quantise one bf16 element for an fp8 GEMM and its transposed backward use: read bf16,
    write the row-wise and the column-wise fp8 copies (2 + 1 + 1), plus their scales; current (tensor-wise)
    scaling reads the tensor once more for its amax first (TE Float8CurrentScaling; delayed scaling takes the
    scale from the amax history and fuses the amax into the cast: TE DelayedScaling)."""
    amax_pass = BF16_BYTES if recipe == "tensorwise" else 0.0
    return amax_pass + BF16_BYTES + 2 * FP8_BYTES + 2 * SCALE_BYTES_PER_ELEMENT[recipe]


def cast_elements(shapes, inputs, rows) -> np.ndarray:
    """Elements quantised per micro-step by linear layers of weights (n, k) reading the distinct `inputs`
    (widths: GEMMs that share an input, as Q, K and V or gate and up do, quantise it once) with `rows` rows:
    the inputs X (rows x k) and the weights W (n x k) in the forward, each output gradient dY (rows x n) in
    the backward. `rows`, n and k may be arrays."""
    rows = np.asarray(rows, dtype=float)
    return rows * sum(inputs) + sum(n * k + rows * n for n, k in shapes)


def attention_inputs(m, tp) -> list:
    """Distinct input widths of one layer's attention linears per rank: the layer input (shared by the Q, K
    and V or the MLA down-projections), MLA's latents, and the attention output into the output projection."""
    if m.mla is None:
        return [m.dim, m.n_heads * m.head_dim / tp]
    a = m.mla
    return [m.dim, *([a.q_lora_rank] if a.q_lora_rank else []), a.kv_lora_rank, m.n_heads * a.v_head_dim / tp]


def mlp_inputs(m, hidden) -> list:
    """Distinct input widths of one MLP: its input (shared by gate and up) and the hidden activation."""
    return [m.dim, hidden]


def cast_s(elements, recipe: str, kern: perf.Kernels):
    """Quantisation of `elements`: memory-bound, at the element-wise share of bandwidth."""
    return elements * cast_bytes_per_element(recipe) / (kern.peak_bytes_per_s * kern.elementwise_efficiency)


def fp8_kernels(kern: perf.Kernels, fp8: Fp8Gemms) -> perf.Kernels:
    """The rates of the fp8 GEMMs: peak x peak_ratio at FP8_GEMM_SCALE x the bf16 GEMM efficiency, and a
    half-performance length peak_ratio x longer (n_1/2 = r_inf x t0, Hockney & Jesshope 1988)."""
    return replace(kern, peak_flops_per_s=kern.peak_flops_per_s * fp8.peak_ratio * FP8_GEMM_SCALE[fp8.recipe],
                   gemm_half_rows=kern.gemm_half_rows * fp8.peak_ratio)


def linear_speedup(rows, n, k, kern: perf.Kernels, fp8: Fp8Gemms):
    """Forward + backward of one linear layer (weights n x k, `rows` rows in): bf16 time / fp8 time with its
    casts, the quantity torchao's float8 README tabulates by (M, K, N) on an H100 (tensor-wise: 0.80 at
    (1024, 2048, 1024), 1.39 at (4096, 8192, 16384); this model's p50 gives 0.88 and 1.58 there, ~10-15% above
    torch.compile's casts, which move more bytes than the fused cast-transpose counted here)."""
    num, k8 = perf.DEFAULT_NUMERICS, fp8_kernels(kern, fp8)  # operands at the bf16 bytes, as stack_gemms_delta_s

    def fwd_bwd(kr, nm):
        return (perf.gemm_stack_s(rows, [(n, k)], kr, nm) + perf.gemm_stack_s(rows, [(k, n)], kr, nm)
                + perf.gemm_stack_s(rows, [(n, k)], kr, nm, transpose=True))
    casts = cast_s(cast_elements([(n, k)], [k], rows), fp8.recipe, kern)
    return fwd_bwd(kern, num) / (fwd_bwd(k8, num) + casts)


def _stack_shapes(m, tp):
    """(n, k) per rank of every layer's attention linears and of the dense layers' MLP, and the MoE layer count."""
    n_moe = n_moe_layers(m)
    attention = perf.attention_shapes(m, tp)
    dense = perf.mlp_shapes(m, m.ffn_dim / tp) if n_moe < m.n_layers else []
    return attention, dense, n_moe


def stack_cast_elements(m, rows, tp, ep: int = 1) -> np.ndarray:
    """Elements quantised per micro-step by every fp8 linear of the stack: attention and dense MLPs per layer,
    MoE layers' routed experts (with the rows routed to them) and shared experts; the router stays bf16."""
    attention, dense, n_moe = _stack_shapes(m, tp)
    total = m.n_layers * cast_elements(attention, attention_inputs(m, tp), rows)
    if dense:
        total = total + (m.n_layers - n_moe) * cast_elements(dense, mlp_inputs(m, m.ffn_dim / tp), rows)
    if n_moe:
        local, per_expert = perf.routed_rows(m, rows, ep)
        routed, shared = m.moe_ffn_dim / tp, m.shared_expert_ffn_dim / tp
        total = total + n_moe * (local * cast_elements(perf.mlp_shapes(m, routed), mlp_inputs(m, routed), per_expert)
                                 + m.n_shared_experts * cast_elements(perf.mlp_shapes(m, shared), mlp_inputs(m, shared), rows))
    return total


def _paired(kern: perf.Kernels, fp8: Fp8Gemms, nd: int) -> perf.Kernels:
    """`kern` with the bf16 and the fp8 GEMM rates (fp8_kernels) on a new leading axis of two, so one pass of
    the performance model times the stack both ways (`nd`: the dimensions of the sizes and rates it meets)."""
    k8 = fp8_kernels(kern, fp8)
    lead = (2,) + (1,) * nd
    return replace(kern, peak_flops_per_s=np.reshape([kern.peak_flops_per_s, k8.peak_flops_per_s], lead),
                   gemm_half_rows=np.reshape([kern.gemm_half_rows, k8.gemm_half_rows], lead))


def stack_gemms_delta_s(m, rows, tp, kern: perf.Kernels, num: perf.Numerics, fp8: Fp8Gemms, *,
                        weight_grads: bool = True, ep: int = 1):
    """(forward, forward + backward) change in the stack's linear GEMM time when they run in fp8 (the head
    stays bf16): negative where fp8 is faster. fp8 operands stream at the bf16 bytes (training GEMMs are
    compute-bound; a slight pessimism where one is not)."""
    nd = max(np.ndim(rows), np.ndim(tp), *(np.ndim(v) for v in vars(kern).values()))
    k2 = _paired(kern, fp8, nd)
    fwd = np.diff(perf.stack_linears_s(m, rows, tp, k2, num, ep), axis=0)[0]
    bwd = np.diff(perf.backward_linears_s(m, rows, tp, k2, num, weight_grads=weight_grads, ep=ep), axis=0)[0]
    head = perf.gemm_stack_s(rows, [(m.dim, m.vocab_size / tp)], k2, num)  # the head's dX; its dW below
    if weight_grads:
        head = head + perf.gemm_stack_s(rows, [(m.vocab_size / tp, m.dim)], k2, num, transpose=True)
    return fwd, fwd + bwd - np.diff(head, axis=0)[0]


def micro_step_s(m, kern: perf.Kernels, num: perf.Numerics, w: perf.StepWork, fp8: Fp8Gemms | None):
    """perf.micro_step_s with the stack's linear layers in fp8 (None: bf16, the same number): the bf16 step,
    plus the fp8 GEMMs' change (the forward's again where recomputation is full), plus the casts (once: a
    recomputed forward re-quantising X is left out, a small optimism under full recomputation)."""
    base = perf.micro_step_s(m, kern, num, w)
    if fp8 is None:
        return base
    rows = w.micro_batch * w.seq_len
    fwd, both = stack_gemms_delta_s(m, rows, w.tp, kern, num, fp8, weight_grads=w.weight_grads,
                                    ep=w.expert_parallel)
    full = np.asarray(w.recompute == "full", dtype=float)
    casts = cast_s(stack_cast_elements(m, rows, w.tp, w.expert_parallel), fp8.recipe, kern)
    return base + both + full * fwd + casts
