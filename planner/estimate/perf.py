"""The performance model: time of a prefill, a decode step and a training step, layer by layer.

One model for every estimate that turns work into time (`inference_speed`, `serving`,
`pretraining`, `finetuning`) and for `python -m benchmarks validate`, which scores it against
measurements. A forward pass over `rows` tokens on one GPU is the sum of

- GEMMs: each linear layer (weights n x k, `m` rows in) costs
  t0 + max(2 n k (m + m_half) / (peak x gemm_eff), bytes / (bandwidth x memory_eff) + n c_row):
  the roofline (Williams, Waterman & Patterson 2009) with Hockney's half-performance length on
  the rows (Hockney & Jesshope 1988), so a GEMM of few rows runs below the large-GEMM rate, a
  fixed cost per call, and on CPUs a cost per output feature (short weight rows stream slower);
- attention: max(FLOPs / (peak x attention_eff), K/V bytes / (bandwidth x memory_eff));
- element-wise work (norms, residual adds, activations, rotary, cache writes): bytes moved /
  (bandwidth x elementwise_eff);
- overheads: a framework cost per layer and a scheduler cost per pass;

plus, with tensor parallelism, two all-reduces per layer (`communication.py`). The device's
`Kernels` hold the rates: literature defaults per GPU (calibration/efficiency.py) or a robust
fit to the user's measurements (calibration/fit.py). Any rate may be a numpy array (the
p10/p50/p90 of a Band, say); every function broadcasts.
"""
from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, replace

import numpy as np

from ..calibration.efficiency import Efficiencies
from ..catalog.specs import GATED_MLPS, ModelSpec
from ..core.band import Band
from ..core.memo import by_identity
from . import arithmetic as ar, context_attention, degrees, gemm, grouped_gemm, passes
from .gemm import coefficients, from_coefficients, gemm_s, gemm_stack_s, rates_ndim

# Element-wise traffic per token and layer, in elements (times `activation_bytes` for bytes).
# Unfused (eager PyTorch, the reference model in benchmarks/model/transformer.py), counted op by op:
# two RMSNorms (square, mean, scale, weight: ~6 x dim each) and two residual adds (3 x dim
# each) -> 18 x dim; rotary on q and k (fp32 copy, 4 multiplies, 2 adds, stack: ~16
# passes); K/V cache write and head transpose (2 each); SwiGLU's silu and product (5 x ffn).
UNFUSED = {"norm_residual": 18, "rope": 16, "copy": 2, "gated_act": 5, "plain_act": 3}
# Fused (serving engines and training frameworks): add + norm in one kernel reads the input and
# the residual and writes both (4 x dim per norm); rotary and the cache write live inside the
# attention kernel (the cache write still moves K and V once); a fused activation reads its
# inputs and writes its output (3 x ffn gated, 2 x ffn plain). Counted, not fitted.
FUSED = {"norm_residual_per_norm": 4, "copy": 1, "gated_act": 3, "plain_act": 2}
# Backward of attention and element-wise work: about twice the forward (Kaplan et al. 2020).
BACKWARD_FACTOR = 2.0
# Cross-entropy over fp32 logits: softmax forward, its gradient, and the loss: 3 passes.
LOSS_PASSES = 3
FP32_BYTES = 4.0


@dataclass(frozen=True)
class Kernels:
    """How fast one device runs each kind of work (SI units; rates may be arrays that broadcast)."""

    peak_flops_per_s: float  # dense peak of the compute dtype (datasheet, or the best GEMM measured on a CPU)
    peak_bytes_per_s: float  # memory bandwidth (datasheet, or the measured copy rate on a CPU)
    gemm_efficiency: float  # large GEMMs inside a model, fraction of peak
    memory_efficiency: float  # weights and K/V streamed by GEMMs and attention, fraction of bandwidth
    attention_efficiency: float  # attention FLOPs, fraction of peak
    elementwise_efficiency: float = 1.0  # norms, activations, residuals: fraction of bandwidth
    gemm_half_rows: float = 0.0  # rows at which a GEMM reaches half its large-GEMM rate (Hockney n_1/2)
    gemm_overhead_s: float = 0.0  # fixed cost of one GEMM call (launch, dispatch)
    gemm_row_overhead_s: float = 0.0  # cost per output feature of a memory-bound GEMM (a CPU's per-dot-product setup)
    layer_overhead_s: float = 0.0  # framework cost per layer of a forward
    train_layer_overhead_s: float = 0.0  # framework cost per layer of a training step
    pass_overhead_s: float = 0.0  # per forward pass: scheduling, sampling, the launch of a captured graph
    moe_layer_overhead_s: float = 0.0  # per MoE layer of a forward: router, top-k, permute, grouped-GEMM launches
    grouped_gemm_factor: float = 1.0  # routed experts' kernel rate relative to grouped_gemm.factor's curve
    fused: bool = True  # production kernels (see FUSED); False: the eager reference model (UNFUSED)
    weight_stream_factor: float = 1.0  # share of memory_efficiency a quantised format's GEMMs stream at
    kv_stream_factor: float = 1.0  # decode attention's K/V read rate over memory_efficiency (decode_attention.py)
    context_s_per_element: float = 0.0  # prefill attention's cost per Q/K/V element (context_attention.py)
    dense_gemm_shape: bool = False  # dense GEMMs' compute at gemm_shape.dense_factor(n, k) of the rate (serving)

    def to_dict(self) -> dict:
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class Numerics:
    """Bytes per element of what moves: weights, activations, the KV cache (from the precision)."""

    weight_bytes: float = 2.0
    activation_bytes: float = 2.0
    kv_bytes: float = 2.0
    head_weight_bytes: float | None = None  # output head; None: weight_bytes (quantisers keep it 16-bit)

    @functools.lru_cache(maxsize=64)  # noqa: B019  (frozen, hashable, a handful of precisions; asked per forward)
    def head(self) -> Numerics:
        """The numerics of the output head's GEMM."""
        return self if self.head_weight_bytes is None else replace(self, weight_bytes=self.head_weight_bytes)


DEFAULT_NUMERICS = Numerics()  # 16-bit throughout: one object, so the per-identity caches of a forward pass hold


def kv_shards(m: ModelSpec, tp):
    """Ways K/V heads split over tensor-parallel ranks; MLA's one latent is on every rank (as vLLM)."""
    if m.mla is not None:
        return 1
    return np.minimum(tp, m.n_kv_heads) if ar.ndim_of(tp) else min(tp, m.n_kv_heads)  # tp may be one per layout


def attention_shapes(m: ModelSpec, tp: int) -> list[tuple[float, float]]:
    """(n, k) of one layer's attention projections on one GPU: q, k, v, o split by heads over `tp`."""
    if m.mla is not None:
        a = m.mla
        qk = a.qk_nope_head_dim + a.qk_rope_head_dim
        q = [(a.q_lora_rank, m.dim), (m.n_heads * qk / tp, a.q_lora_rank)] if a.q_lora_rank else \
            [(m.n_heads * qk / tp, m.dim)]
        return [*q, (a.kv_lora_rank + a.qk_rope_head_dim, m.dim),
                (m.n_heads * (a.qk_nope_head_dim + a.v_head_dim) / tp, a.kv_lora_rank),
                (m.dim, m.n_heads * a.v_head_dim / tp)]
    q, kv = m.n_heads * m.head_dim / tp, m.n_kv_heads * m.head_dim / kv_shards(m, tp)
    return [(q, m.dim), (kv, m.dim), (kv, m.dim), (m.dim, q)]


def mlp_shapes(m: ModelSpec, hidden: float) -> list[tuple[float, float]]:
    """(n, k) of one MLP of width `hidden` (already split over ranks): 3 matrices gated, 2 plain."""
    up = [(hidden, m.dim)] * (2 if m.mlp in GATED_MLPS else 1)
    return [*up, (m.dim, hidden)]


def expected_experts_touched(n_experts: int, k: int, tokens):
    """Distinct routed experts hit by `tokens` tokens that each pick k of n (uniform routing):
    n (1 - (1 - k/n)^tokens), the balls-in-bins occupancy. Real routers are skewed, so fewer
    are hit (bias: over-states the weights read at mid-size batches)."""
    return n_experts * (1.0 - (1.0 - k / n_experts) ** np.asarray(tokens, dtype=float))


def routed_rows(m: ModelSpec, rows, ep: int = 1):
    """(experts one GPU runs, rows each multiplies) for `rows` tokens per rank of an `ep`-way expert-parallel
    group: the group's ep x rows tokens pick k of n experts each; a GPU holds n / ep of them."""
    group = np.asarray(rows, dtype=float) * ep
    touched = expected_experts_touched(m.n_experts, m.n_experts_per_token, group)
    return touched / ep, group * m.n_experts_per_token / touched


def _ffn_parts(m: ModelSpec, rows, tp: int, ep: int) -> list[tuple[object, list, object]]:
    """(count, shapes, rows) of one MoE layer's GEMM groups: routed experts, shared experts, the router."""
    local, per_expert = routed_rows(m, rows, ep)
    return [(local, mlp_shapes(m, m.moe_ffn_dim / tp), per_expert),
            (m.n_shared_experts, mlp_shapes(m, m.shared_expert_ffn_dim / tp), rows),
            (1, [(m.n_experts, m.dim)], rows)]


def ffn_s(m: ModelSpec, rows, tp: int, kern: Kernels, num: Numerics, *, moe: bool, ep: int = 1):
    """One layer's MLP: dense, or the routed experts this GPU holds (each split over `tp`) with the rows
    routed to them, plus shared experts and the router."""
    if not moe:
        return gemm_stack_s(rows, mlp_shapes(m, m.ffn_dim / tp), kern, num)
    (n_routed, routed, per_expert), *rest = _ffn_parts(m, np.asarray(rows, dtype=float), tp, ep)
    return n_routed * grouped_gemm.stack_s(per_expert, routed, kern, num) + sum(  # the routed experts' curve
        n * gemm_stack_s(r, shapes, kern, num) for n, shapes, r in rest)


def stack_linears_s(m: ModelSpec, rows, tp: int, kern: Kernels, num: Numerics, ep: int = 1):
    """Every linear layer of the transformer stack (no output head) for `rows` tokens."""
    n_moe = ar.n_moe_layers(m)
    attention, dense = attention_shapes(m, tp), mlp_shapes(m, m.ffn_dim / tp) if n_moe < m.n_layers else []
    counts = [m.n_layers] * len(attention) + [m.n_layers - n_moe] * len(dense)
    total = gemm_stack_s(rows, attention + dense, kern, num, counts)
    if n_moe:
        total = total + n_moe * ffn_s(m, rows, tp, kern, num, moe=True, ep=ep)
    return total


def head_s(m: ModelSpec, logit_rows, tp: int, kern: Kernels, num: Numerics):
    """The output head (vocabulary split over `tp`) for `logit_rows` positions."""
    return gemm_s(logit_rows, m.vocab_size / tp, m.dim, kern, num.head())


def linears_s(m: ModelSpec, rows, logit_rows, tp: int, kern: Kernels, num: Numerics, ep: int = 1):
    """Every linear layer of the stack for `rows` tokens, and the output head for `logit_rows`: for a dense model, the
    head on the stack's leading axis (_dense_linears; a degree per layout: degrees.py), in one array pass."""
    if (dense := degrees.at(_dense_linears, m, tp, kern, num, False)) is None:  # MoE: its experts shape by shape
        return stack_linears_s(m, rows, tp, kern, num, ep) + head_s(m, logit_rows, tp, kern, num)
    coef, counts, is_head, half_rows, overhead_s, _ = dense
    rows = np.where(is_head, np.asarray(logit_rows, dtype=float)[..., None], np.asarray(rows, dtype=float)[..., None])
    return from_coefficients(rows, coef, half_rows, overhead_s) @ counts


@by_identity()  # pure: a model, a degree and a device's (immutable) rates and formats, asked on every forward pass
def _dense_linears(m: ModelSpec, tp: int, kern: Kernels, num: Numerics, backward: bool) -> tuple:
    """(coefficients, layers per shape, output-head mask, gemm_half_rows, gemm_overhead_s, (n, k, layers) on a
    leading axis) of a dense model's GEMMs: the shapes of stack_linears_s and head_s (the head at its own weight
    bytes) on a last axis, after the rates'; `backward`: their dX GEMMs (transposed; the head at the stack's bytes)."""
    shapes = attention_shapes(m, tp) + mlp_shapes(m, m.ffn_dim / tp) + [(m.vocab_size / tp, m.dim)]
    nk, last = gemm.on_leading_axis(shapes, rates_ndim(kern)), (lambda v: np.asarray(v, dtype=float)[..., None])
    n_layers = np.reshape([float(m.n_layers)] * (len(shapes) - 1) + [1.0], nk[:, 0].shape)
    lead, nk = (nk[:, 0], nk[:, 1], n_layers), nk[:, ::-1] if backward else nk
    head_bytes = num.weight_bytes if backward else num.head().weight_bytes
    wb = np.reshape([num.weight_bytes] * (len(shapes) - 1) + [head_bytes], nk[:, 0].shape)
    coef = coefficients(nk[:, 0], nk[:, 1], kern, replace(num, weight_bytes=wb))
    return (tuple(np.ascontiguousarray(np.moveaxis(c, 0, -1)) for c in coef), n_layers.ravel(),
            np.arange(len(shapes)) == len(shapes) - 1, last(kern.gemm_half_rows), last(kern.gemm_overhead_s), lead)


def backward_linears_s(m: ModelSpec, rows, tp: int, kern: Kernels, num: Numerics, *, weight_grads: bool = True,
                       ep: int = 1):
    """Backward GEMMs of the stack: dX = dY W ((r x n) @ (n x k)) and, unless the weights are frozen
    (LoRA), dW = dY^T X ((n x r) @ (r x k)), each with the rows r its forward GEMM had (the head's
    backward at the stack's weight bytes)."""
    if (dense := degrees.at(_dense_linears, m, tp, kern, num, True, ar.ndim_of(rows))) is not None:  # dense: kept
        coef, counts, _, half_rows, overhead_s, (n, k, lead) = dense
        dx = from_coefficients(np.asarray(rows, dtype=float)[..., None], coef, half_rows, overhead_s) @ counts
        return dx + (lead * gemm_s(n, k, rows, kern, num)).sum(axis=0) if weight_grads else dx  # dW: gemm_stack_s's

    def both(shapes, r, counts=None):
        dx = gemm_stack_s(r, [(k, n) for n, k in shapes], kern, num, counts)
        return dx + gemm_stack_s(r, shapes, kern, num, counts, transpose=True) if weight_grads else dx
    n_moe = ar.n_moe_layers(m)
    attention, dense = attention_shapes(m, tp), mlp_shapes(m, m.ffn_dim / tp) if n_moe < m.n_layers else []
    shapes = attention + dense + [(m.vocab_size / tp, m.dim)]
    total = both(shapes, rows, [m.n_layers] * len(attention) + [m.n_layers - n_moe] * len(dense) + [1])
    if n_moe:
        total = total + n_moe * sum(n * both(shapes, r) for n, shapes, r in _ffn_parts(m, rows, tp, ep))
    return total


def attention_s(m: ModelSpec, batch, new_tokens, keys_flops_per_token, kv_bytes_per_seq, tp: int,
                kern: Kernels):
    """Scores and mixing of all layers: roofline of their FLOPs and the K/V bytes they read, per GPU.

    `keys_flops_per_token`: attention FLOPs of one new token (arithmetic's window-aware count);
    `kv_bytes_per_seq`: K/V bytes one sequence's queries read from the cache."""
    batch = np.asarray(batch, dtype=float)
    per_flop, per_byte = _attention_rates(m, tp, kern)
    return np.maximum(batch * new_tokens * keys_flops_per_token / per_flop, batch * kv_bytes_per_seq / per_byte)


@by_identity()  # pure: a model, a degree and a device's (immutable) rates
def _attention_rates(m: ModelSpec, tp, kern: Kernels) -> tuple:
    """(FLOP/s, K/V bytes/s) of attention on one GPU per a replica's work: FLOPs over `tp`, K/V over kv_shards."""
    return (tp * (kern.peak_flops_per_s * kern.attention_efficiency),
            kv_shards(m, tp) * (kern.peak_bytes_per_s * np.minimum(kern.memory_efficiency * kern.kv_stream_factor, 1.0)))


def elementwise_elements_per_token(m: ModelSpec, tp: int, fused: bool) -> float:
    """Elements read or written per token and layer by the work between GEMMs (see UNFUSED/FUSED)."""
    q, kv = m.n_heads * m.head_dim / tp, m.n_kv_heads * m.head_dim / kv_shards(m, tp)
    n_moe = ar.n_moe_layers(m)  # the mean over layers: MoE layers' active expert widths, dense layers' ffn_dim
    hidden = (n_moe * (m.n_experts_per_token * m.moe_ffn_dim + m.n_shared_experts * m.shared_expert_ffn_dim)
              + (m.n_layers - n_moe) * m.ffn_dim) / m.n_layers
    gated = m.mlp in GATED_MLPS
    if fused:
        return (FUSED["norm_residual_per_norm"] * m.norms_per_layer * m.dim + FUSED["copy"] * 2 * kv
                + FUSED["gated_act" if gated else "plain_act"] * hidden / tp)
    return (UNFUSED["norm_residual"] * m.dim + UNFUSED["rope"] * (q + kv) + UNFUSED["copy"] * (q + 2 * kv)
            + UNFUSED["gated_act" if gated else "plain_act"] * hidden / tp)


def elementwise_s(m: ModelSpec, rows, tp: int, kern: Kernels, num: Numerics):
    """Element-wise work of the stack for `rows` tokens: memory-bound."""
    return np.asarray(rows, dtype=float) * _elementwise_s_per_row(m, tp, kern, num)


@by_identity()  # pure: a model, a degree, a device's (immutable) rates and formats
def _elementwise_s_per_row(m: ModelSpec, tp, kern: Kernels, num: Numerics):
    """Seconds of the stack's element-wise work per token: its bytes moved over the bandwidth it gets."""
    moved = m.n_layers * elementwise_elements_per_token(m, tp, kern.fused) * num.activation_bytes
    return moved / (kern.peak_bytes_per_s * kern.elementwise_efficiency)


def forward_s(m: ModelSpec, kern: Kernels, num: Numerics, *, batch, new_tokens: float, attn_flops_per_token,
              kv_bytes_per_seq, logit_rows=None, tp: int = 1, ep: int = 1, linears=None):
    """One forward pass of `batch` sequences of `new_tokens` on one GPU of a `tp`-way replica (experts `ep`-way)."""
    rows = np.asarray(batch, dtype=float) * new_tokens
    logits = rows if logit_rows is None else logit_rows  # linears: linears_s at these rows, already known (a table)
    return ((linears_s(m, rows, logits, tp, kern, num, ep) if linears is None else linears)
            + attention_s(m, batch, new_tokens, attn_flops_per_token, kv_bytes_per_seq, tp, kern)
            + elementwise_s(m, rows, tp, kern, num) + overheads_s(m, kern))


def prefill_s(m: ModelSpec, kern: Kernels, num: Numerics, *, batch, prompt_tokens: float, tp: int = 1,
              all_logits: bool = False, ep: int = 1):
    """Prompts of `prompt_tokens` into an empty cache (causal); logits of the last position only,
    as a serving engine computes them (`all_logits`: every position, as a training forward does)."""
    work = passes.prefill_work(m, num.kv_bytes, batch=batch, prompt_tokens=prompt_tokens, all_logits=all_logits)
    return forward_s(m, kern, num, **work, tp=tp, ep=ep) + context_attention.qkv_s(m, kern, batch * prompt_tokens, tp)


def decode_step_s(m: ModelSpec, kern: Kernels, num: Numerics, *, batch, context_tokens: float, tp: int = 1,
                  ep: int = 1, linears=None):
    """One decode step: `batch` new tokens, each attending to `context_tokens` keys in the cache."""
    return forward_s(m, kern, num, **passes.decode_work(m, num.kv_bytes, batch=batch, context_tokens=context_tokens),
                     tp=tp, ep=ep, linears=linears)


def decode_is_memory_bound(m: ModelSpec, kern: Kernels, num: Numerics, *, batch, context_tokens, tp: int = 1):
    """True where a decode step with unlimited FLOP/s would take longer than with unlimited bandwidth."""
    return decode_step_and_bound(m, kern, num, batch=batch, context_tokens=context_tokens, tp=tp)[1]


def decode_step_and_bound(m: ModelSpec, kern: Kernels, num: Numerics, *, batch, context_tokens, tp=1, ep=1):
    """(decode_step_s, decode_is_memory_bound) in one pass: the step at the device's peaks, with unlimited
    FLOP/s and with unlimited bandwidth lie on a new leading axis of the peaks."""
    kw = {"batch": batch, "context_tokens": context_tokens, "tp": tp, "ep": ep}
    if ar.ndim_of(kern.peak_flops_per_s) or ar.ndim_of(kern.peak_bytes_per_s):  # peaks already arrays: three passes
        fast = replace(kern, peak_flops_per_s=np.inf), replace(kern, peak_bytes_per_s=np.inf)
        bound = decode_step_s(m, fast[0], num, **kw) >= decode_step_s(m, fast[1], num, **kw)
        return decode_step_s(m, kern, num, **kw), bound
    nd = max(ar.ndim_of(batch), ar.ndim_of(context_tokens), *(getattr(v, "ndim", 0) for v in vars(kern).values()))
    step, fast_compute, fast_memory = decode_step_s(m, _three_peaks(kern, nd), num, **kw)
    return step, fast_compute >= fast_memory


@by_identity()  # one Kernels per device's rates and padding, so the forward pass's per-Kernels caches hold
def _three_peaks(kern: Kernels, nd: int) -> Kernels:
    """`kern` with its peaks on a leading axis of 3 (padded for `nd` trailing axes): as given, unlimited FLOP/s,
    unlimited bandwidth."""
    lead = (3,) + (1,) * nd
    return replace(kern, peak_flops_per_s=np.reshape([kern.peak_flops_per_s, np.inf, kern.peak_flops_per_s], lead),
                   peak_bytes_per_s=np.reshape([kern.peak_bytes_per_s, kern.peak_bytes_per_s, np.inf], lead))


def overheads_s(m: ModelSpec, kern: Kernels):
    """Fixed costs of one forward pass: a framework cost per layer (and per MoE layer), a scheduler cost per pass."""
    return m.n_layers * kern.layer_overhead_s + ar.n_moe_layers(m) * kern.moe_layer_overhead_s + kern.pass_overhead_s


def at_quantile(kern: Kernels, index: int) -> Kernels:
    """The Kernels at one of the (p10, p50, p90) quantiles: every array rate indexed, scalars kept."""
    picked = {k: (v[index] if isinstance(v, np.ndarray) else v) for k, v in asdict(kern).items()}
    return Kernels(**{k: (float(v) if isinstance(v, np.floating) else v) for k, v in picked.items()})


def quantiles(band: Band) -> np.ndarray:
    """(p10, p50, p90) of a Band as an array, for broadcasting."""
    return np.array([band.p10, band.p50, band.p90])


@by_identity()  # pure: a GPU's peaks and the (immutable) efficiencies, asked on every estimate
def kernels_for(peak_flops_per_s: float, peak_bytes_per_s: float, eff: Efficiencies,
                weight_stream_factor: float = 1.0) -> Kernels:
    """A device's Kernels with each uncertain rate as its (p10, p50, p90): results come out as
    three values, slowest first, which `to_band` turns into a Band. `weight_stream_factor`: the
    weight format's streaming rate relative to dense weights (an engine's kernel for that format)."""
    return Kernels(peak_flops_per_s=peak_flops_per_s, peak_bytes_per_s=peak_bytes_per_s,
                   gemm_efficiency=quantiles(eff.gemm), memory_efficiency=quantiles(eff.memory),
                   attention_efficiency=quantiles(eff.attention), elementwise_efficiency=eff.elementwise,
                   gemm_half_rows=eff.gemm_half_rows, gemm_overhead_s=eff.gemm_overhead_s,
                   gemm_row_overhead_s=eff.gemm_row_overhead_s,
                   layer_overhead_s=eff.layer_overhead_s, train_layer_overhead_s=eff.train_layer_overhead_s,
                   pass_overhead_s=eff.pass_overhead_s, fused=eff.fused, weight_stream_factor=weight_stream_factor)


def to_band(values) -> Band:
    """A Band from three values in any order (a time falls as its efficiency rises)."""
    return Band._sorted(values if type(values) is list else np.asarray(values, dtype=float).ravel().tolist())


@dataclass(frozen=True)
class StepWork:
    """What one micro-step of training runs on one GPU: the knobs a layout sets."""

    micro_batch: float  # sequences per GPU per micro-step
    seq_len: float
    tp: int = 1
    recompute: str = "selective"  # none | selective (attention only, Korthikanti et al. 2022) | full; or an array of them
    weight_grads: bool = True  # False: frozen base weights (LoRA, QLoRA): no dW GEMMs
    expert_parallel: int = 1  # MoE experts split over this many ranks, each receiving the group's routed tokens
    context_parallel: int = 1  # seq_len is this rank's slice of a sequence cp times longer (ring attention)


RECOMPUTE = ("none", "selective", "full")


def micro_step_s(m: ModelSpec, kern: Kernels, num: Numerics, w: StepWork):
    """Forward and backward of one micro-batch on one GPU (no optimizer, no communication).

    Backward GEMMs are counted shape by shape (dX, and dW unless the weights are frozen);
    attention and element-wise backward at BACKWARD_FACTOR x their forward. Recomputation
    runs the forward's attention (selective) or the whole forward (full) again. The loss is
    LOSS_PASSES over fp32 logits.
    """
    rows = w.micro_batch * w.seq_len
    t, full = float(w.seq_len), float(w.seq_len) * w.context_parallel
    # per token, over the whole sequence: causal kernels skip the masked half
    attn_flops = (ar.prefill_flops(m, full) - full * 2.0 * ar.matmul_params(m)) / full
    attention = attention_s(m, w.micro_batch, t, attn_flops, ar.kv_cache_bytes(m, full, num.kv_bytes), w.tp, kern)
    other = elementwise_s(m, rows, w.tp, kern, num)
    linears = linears_s(m, rows, rows, w.tp, kern, num, ep=w.expert_parallel)
    redone = {"none": 0.0, "selective": attention, "full": linears + attention + other}
    if isinstance(w.recompute, str):
        recompute = redone[w.recompute]
    else:  # one setting per layout (an array of names): each row takes its own
        recompute = sum(np.where(w.recompute == r, redone[r], 0.0) for r in RECOMPUTE[1:])  # np.select's, 5x cheaper
    loss = LOSS_PASSES * rows * (m.vocab_size / w.tp) * FP32_BYTES / (kern.peak_bytes_per_s * kern.elementwise_efficiency)
    return (linears + backward_linears_s(m, rows, w.tp, kern, num, weight_grads=w.weight_grads, ep=w.expert_parallel)
            + (1.0 + BACKWARD_FACTOR) * (attention + other) + recompute + loss
            + m.n_layers * kern.train_layer_overhead_s)


def optimizer_step_s(params_local: float, bytes_per_param: float, kern: Kernels):
    """The optimizer's update of `params_local` parameters: memory-bound, element-wise."""
    return params_local * bytes_per_param / (kern.peak_bytes_per_s * kern.elementwise_efficiency)
