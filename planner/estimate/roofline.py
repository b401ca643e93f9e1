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

from dataclasses import asdict, dataclass, replace

import numpy as np
from scipy.optimize import brentq, least_squares

from ..catalog.specs import ModelSpec
from ..core.errors import PlannerError
from . import arithmetic as ar

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
    gemm_half_rows: float  # rows at which a GEMM reaches half of gemm_flops_per_s (Hockney's n_1/2), fitted
    bytes_per_s: float  # copy bandwidth: element-wise ops
    bytes_per_element: float  # of weights, activations and the KV cache (4 fp32, 2 bf16)
    layer_overhead_s: float = 0.0  # framework cost per layer of one forward (fit_in_model)
    train_layer_overhead_s: float = 0.0  # the same for forward + backward + optimizer
    compute_efficiency: float = 1.0  # in-model GEMM rate / micro-benchmark GEMM rate (fit_in_model)

    @property
    def flops_per_s(self) -> float:
        """The GEMM rate inside a model: ops between GEMMs evict caches and idle the threads."""
        return self.gemm_flops_per_s * self.compute_efficiency

    def to_dict(self) -> dict:
        return asdict(self)


def gemm_s(m, n: int, k: int, r: DeviceRates):
    """One (m x k) @ (k x n) GEMM: a fixed cost plus the slower of its compute and its memory traffic.

    t = t0 + max(2 (m + m_half) n k / F, (mk + kn + mn) b / B): the roofline (Williams,
    Waterman & Patterson 2009) with Hockney's half-performance length on the rows
    (Hockney & Jesshope 1988, r_inf and n_1/2): a GEMM of m_half rows runs at half the
    large-GEMM rate, which is how skinny GEMMs behave on CPUs. m_half = 0: plain roofline.
    Inside a model the FLOP part runs at compute_efficiency of the micro-benchmark rate.
    """
    m = np.asarray(m, dtype=float)
    # The m_half term is work per call proportional to the weight (packing it), not to the rows,
    # so the in-model efficiency scales only the FLOPs: 2 n k (m / (F e) + m_half / F).
    compute = 2.0 * n * k * (m / r.flops_per_s + r.gemm_half_rows / r.gemm_flops_per_s)
    memory = (m * k + k * n + m * n) * r.bytes_per_element / r.gemm_bytes_per_s
    return r.gemm_overhead_s + np.maximum(compute, memory)


def _gemm_model(x, m, n, k, nbytes):
    """gemm_s in fitting form: x = log(F, B, t0, 1 + m_half)."""
    f, b, t0, mh = np.exp(x)
    return t0 + np.maximum(2.0 * (m + mh - 1.0) * n * k / f, nbytes / b)


def fit_gemm(shapes: list[tuple[int, int, int]], times_s: list[float], bytes_per_element: float) -> dict:
    """Fit F, B, t0 and m_half of gemm_s to measured GEMMs by least squares on log time.

    Log time weights a 10 us GEMM as much as a 1 s one, so the overhead and the peak are
    both pinned. Measure the GEMMs on operands that do not stay in cache (as a model's
    weights do not) or B reads high. With fewer than 4 shapes, t0 and m_half stay at 0.
    """
    m, n, k = np.asarray(shapes, dtype=float).T
    t = np.asarray(times_s, dtype=float)
    nbytes = (m * k + k * n + m * n) * bytes_per_element
    full = len(t) >= 4
    x0 = np.log([(2 * m * n * k / t).max(), (nbytes / t).max(), t.min() / 4 if full else 1e-30, 2.0])

    def residual(x):
        x = x if full else np.concatenate([x, [np.log(1e-30), 0.0]])
        return np.log(_gemm_model(x, m, n, k, nbytes)) - np.log(t)

    x = least_squares(residual, x0 if full else x0[:2]).x
    f, b = np.exp(x[:2])
    t0, mh = (np.exp(x[2]), np.exp(x[3]) - 1.0) if full else (0.0, 0.0)
    return {"gemm_flops_per_s": float(f), "gemm_bytes_per_s": float(b), "gemm_overhead_s": float(t0),
            "gemm_half_rows": float(max(mh, 0.0))}


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
    (T + 1) / 2 for a causal prompt); bytes: K and V of `keys` positions per sequence, read
    at the rate GEMMs stream weights (decode attention is a batched matrix-vector product
    over the cache; the CPU's flash kernel measured ~8 GB/s there, near that rate).
    """
    flops = batch * new_tokens * ar.attention_flops_per_token(m, keys)
    kv = batch * keys * ar.kv_cache_bytes_per_token(m, r.bytes_per_element)
    return np.maximum(flops / r.flops_per_s, kv / r.gemm_bytes_per_s)


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


def fit_compute_efficiency(measured_s: float, time_at) -> float:
    """The compute efficiency e at which time_at(e) equals a measurement (time falls as e rises).

    Root of time_at(e) - measured on [0.05, 2] (brentq); the nearer end if there is none.
    """
    lo, hi = 0.05, 2.0
    f = (lambda e: float(time_at(e)) - measured_s)
    if f(lo) <= 0 or f(hi) >= 0:
        return lo if f(lo) <= 0 else hi
    return float(brentq(f, lo, hi, xtol=1e-4))


def fit_in_model(m: ModelSpec, r: DeviceRates, *, decode: tuple, prefill: tuple, train: tuple) -> DeviceRates:
    """Three scalars from ONE model size, each a (batch, length, measured_s) of that model:
    the forward overhead per layer (decode: memory- and overhead-bound), the in-model
    compute efficiency (prefill: compute-bound) and the train-step overhead per layer.

    The first two interact, so they are fitted in turn until they settle (a few rounds).
    """
    for _ in range(6):
        free = replace(r, layer_overhead_s=0.0)
        layer = fit_layer_overhead(decode[2], decode_pass_s(m, free, batch=decode[0], context_tokens=decode[1]),
                                   m.n_layers)
        r = replace(r, layer_overhead_s=layer)
        eff = fit_compute_efficiency(prefill[2], lambda e: prefill_pass_s(
            m, replace(r, compute_efficiency=e), batch=prefill[0], prompt_tokens=prefill[1]))
        r = replace(r, compute_efficiency=eff)
    free = replace(r, train_layer_overhead_s=0.0)
    train_layer = fit_layer_overhead(train[2], train_step_s(m, free, batch=train[0], seq_len=train[1]), m.n_layers)
    return replace(r, train_layer_overhead_s=train_layer)
