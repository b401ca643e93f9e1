"""A layer-by-layer roofline of one transformer pass, for small models and measured hardware.

inference.prefill_s / decode_step_s treat a pass as one block of FLOPs or bytes at an
efficiency: right for large models on a GPU, where the efficiency absorbs what is left
out. For small models, skinny GEMMs and CPUs that efficiency is not one number: a fixed
cost per GEMM call, the memory traffic of norms, rotary embeddings and attention, and
the framework's per-layer dispatch cost are a large share of the time. This module times
each part on its own, with rates fitted from micro-benchmarks (planner.calibration):

    pass = sum over linear layers of gemm_s  +  attention  +  element-wise traffic
           + n_layers x layer_overhead_s

Dense models with grouped-query attention only (no MoE, no MLA). Bias: element-wise
traffic is an op count of the reference transformer (benchmarks/model.py), not of a
fused production kernel, so it over-states that traffic for engines that fuse ops.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import least_squares

from . import arithmetic as ar
from .errors import PlannerError
from .specs import ModelSpec

# Element passes (reads + writes) per token of the non-GEMM ops in one layer, counted on
# benchmarks/model.py: two RMSNorms (square, mean, scale, weight: ~6 x dim each) and two
# residual adds (3 x dim each) -> 18 x dim; rotary on q and k (fp32 copy, 4 multiplies,
# 2 adds, stack: ~16 passes); the K/V cache write and the head transpose (2 each); SwiGLU's
# silu and product (5 x ffn_dim). Derived by counting, not fitted.
NORM_RESIDUAL_PASSES = 18
ROPE_PASSES = 16
COPY_PASSES = 2
SWIGLU_PASSES = 5
# Backward of a linear layer is two GEMMs of the forward's FLOPs (dX = dY W, dW = dY^T X);
# of attention and element-wise ops about twice the forward (Kaplan et al. 2020, the 2x rule).
BACKWARD_FACTOR = 2.0
# AdamW (torch foreach): lerp, mul, addcmul, sqrt, div, add, addcdiv and the weight decay
# read or write ~20 fp32 values per parameter; the backward writes each gradient once more.
ADAMW_PASSES = 21


@dataclass(frozen=True)
class DeviceRates:
    """Achieved rates of one device: the inputs of every function below (SI units)."""

    name: str
    gemm_flops_per_s: float  # large-GEMM rate, fitted (fit_gemm)
    gemm_bytes_per_s: float  # operand streaming rate of skinny (memory-bound) GEMMs, fitted
    gemm_overhead_s: float  # fixed cost of one GEMM call (launch, dispatch), fitted
    bytes_per_s: float  # copy bandwidth: element-wise ops
    bytes_per_element: float  # of weights, activations and the KV cache (4 fp32, 2 bf16)
    layer_overhead_s: float = 0.0  # framework cost per layer of one forward (fit_layer_overhead)
    train_layer_overhead_s: float = 0.0  # the same for forward + backward + optimizer

    def to_dict(self) -> dict:
        return asdict(self)


def gemm_s(m, n: int, k: int, r: DeviceRates):
    """One (m x k) @ (k x n) GEMM: a fixed cost plus the roofline of its FLOPs and bytes.

    Roofline (Williams, Waterman & Patterson 2009): t = t0 + max(2 m n k / F, (mk + kn + mn) b / B).
    """
    m = np.asarray(m, dtype=float)
    compute = 2.0 * m * n * k / r.gemm_flops_per_s
    memory = (m * k + k * n + m * n) * r.bytes_per_element / r.gemm_bytes_per_s
    return r.gemm_overhead_s + np.maximum(compute, memory)


def fit_gemm(shapes: list[tuple[int, int, int]], times_s: list[float], bytes_per_element: float) -> dict:
    """Fit F, B and t0 of gemm_s to measured GEMMs by least squares on log time.

    Log time weights a 10 us GEMM as much as a 1 s one, so both the overhead and the peak
    are pinned; with fewer than 3 shapes the overhead is fixed at zero.
    """
    mnk = np.asarray(shapes, dtype=float)
    t = np.asarray(times_s, dtype=float)
    flops = 2.0 * mnk.prod(axis=1)
    nbytes = (mnk[:, 0] * mnk[:, 2] + mnk[:, 2] * mnk[:, 1] + mnk[:, 0] * mnk[:, 1]) * bytes_per_element
    x0 = np.log([flops.max() / t.min() if len(t) == 1 else (flops / t).max(), (nbytes / t).max(), t.min() / 4])

    def residual(x):
        f, b, t0 = np.exp(x)
        t0 = t0 if len(t) >= 3 else 0.0
        return np.log(t0 + np.maximum(flops / f, nbytes / b)) - np.log(t)

    f, b, t0 = np.exp(least_squares(residual, x0).x)
    return {"gemm_flops_per_s": float(f), "gemm_bytes_per_s": float(b),
            "gemm_overhead_s": float(t0) if len(t) >= 3 else 0.0}


def linear_shapes(m: ModelSpec) -> list[tuple[int, int]]:
    """(out, in) of every linear layer in one block: wq, wk, wv, wo, w1, w3, w2."""
    if m.is_moe or m.mla is not None:
        raise PlannerError(f"{m.name}: the layer-wise roofline covers dense GQA models only (no MoE, no MLA)")
    q, kv = m.n_heads * m.head_dim, m.n_kv_heads * m.head_dim
    return [(q, m.dim), (kv, m.dim), (kv, m.dim), (m.dim, q), (m.ffn_dim, m.dim), (m.ffn_dim, m.dim),
            (m.dim, m.ffn_dim)]


def linears_s(m: ModelSpec, r: DeviceRates, tokens: float, logits_tokens: float):
    """Forward GEMMs of the whole stack for `tokens` rows, and the output head for `logits_tokens`."""
    layer = sum(gemm_s(tokens, n, k, r) for n, k in linear_shapes(m))
    return m.n_layers * layer + gemm_s(logits_tokens, m.vocab_size, m.dim, r)


def linears_backward_s(m: ModelSpec, r: DeviceRates, tokens: float):
    """Backward GEMMs: dX = dY W, an (m x n) @ (n x k), and dW = dY^T X, an (n x m) @ (m x k)."""
    shapes = [*linear_shapes(m)] * m.n_layers + [(m.vocab_size, m.dim)]
    return sum(gemm_s(tokens, k, n, r) + gemm_s(n, k, tokens, r) for n, k in shapes)


def attention_s(m: ModelSpec, r: DeviceRates, batch: float, new_tokens: float, keys: float):
    """Scores and mixing of all layers: roofline of their FLOPs and the K/V bytes they read.

    FLOPs from arithmetic.attention_flops_per_token at `keys` (the mean keys a query sees:
    (T + 1) / 2 for a causal prompt); bytes: K and V of `keys` positions per sequence.
    """
    flops = batch * new_tokens * ar.attention_flops_per_token(m, keys)
    kv = batch * keys * ar.kv_cache_bytes_per_token(m, r.bytes_per_element)
    return np.maximum(flops / r.gemm_flops_per_s, kv / r.bytes_per_s)


def elementwise_s(m: ModelSpec, r: DeviceRates, tokens: float):
    """Norms, residuals, rotary, cache writes and SwiGLU gating: memory-bound, at copy bandwidth."""
    q, kv = m.n_heads * m.head_dim, m.n_kv_heads * m.head_dim
    per_token = (NORM_RESIDUAL_PASSES * m.dim + ROPE_PASSES * (q + kv) + COPY_PASSES * (q + 2 * kv)
                 + SWIGLU_PASSES * m.ffn_dim)
    return m.n_layers * tokens * per_token * r.bytes_per_element / r.bytes_per_s


def forward_s(m: ModelSpec, r: DeviceRates, *, batch: float, new_tokens: float, keys: float,
              logits_tokens: float | None = None):
    """One forward pass of `batch` sequences of `new_tokens`, each query seeing `keys` keys on average."""
    tokens = batch * new_tokens
    logits = tokens if logits_tokens is None else logits_tokens
    return (linears_s(m, r, tokens, logits) + attention_s(m, r, batch, new_tokens, keys)
            + elementwise_s(m, r, tokens) + m.n_layers * r.layer_overhead_s)


def prefill_pass_s(m: ModelSpec, r: DeviceRates, *, batch: float, prompt_tokens: float, all_logits: bool = True):
    """A prompt into an empty cache: causal, so a query sees (P + 1) / 2 keys on average.

    `all_logits`: the benchmark computes logits at every position; a serving engine, only the last.
    """
    logits = batch * prompt_tokens if all_logits else batch
    return forward_s(m, r, batch=batch, new_tokens=prompt_tokens, keys=(prompt_tokens + 1) / 2,
                     logits_tokens=logits)


def decode_pass_s(m: ModelSpec, r: DeviceRates, *, batch: float, context_tokens: float):
    """One decode step: `batch` new tokens, each reading `context_tokens` + 1 cached positions."""
    return forward_s(m, r, batch=batch, new_tokens=1, keys=context_tokens + 1)


def optimizer_s(m: ModelSpec, r: DeviceRates):
    """AdamW over every parameter: ADAMW_PASSES fp32 values per parameter at copy bandwidth."""
    return ar.total_params(m) * ADAMW_PASSES * 4.0 / r.bytes_per_s


def train_step_s(m: ModelSpec, r: DeviceRates, *, batch: float, seq_len: float):
    """Forward, backward (2x the forward but for the GEMMs, counted shape by shape) and AdamW.

    Cross-entropy over the logits is counted as three passes of (tokens x vocab) fp32.
    """
    tokens = batch * seq_len
    keys = (seq_len + 1) / 2
    fwd_other = attention_s(m, r, batch, seq_len, keys) + elementwise_s(m, r, tokens)
    loss = 3.0 * tokens * m.vocab_size * 4.0 / r.bytes_per_s
    return (linears_s(m, r, tokens, tokens) + linears_backward_s(m, r, tokens)
            + (1.0 + BACKWARD_FACTOR) * fwd_other + loss + optimizer_s(m, r)
            + m.n_layers * r.train_layer_overhead_s)


def fit_layer_overhead(measured_s: float, predicted_without_s: float, n_layers: int) -> float:
    """Framework cost per layer: what one calibration measurement leaves unexplained, spread
    over its layers (never negative). One scalar from one model size, no per-point factor."""
    return max(0.0, (measured_s - predicted_without_s) / n_layers)
