"""Transformer arithmetic: parameter counts, FLOPs, weight and KV-cache bytes.

Counts follow the module layout of the reference implementations in Hugging Face
transformers (Llama, Mistral, Qwen2/3, Gemma 1-3, GPT-NeoX, GPT-J, Falcon, BLOOM, OPT,
phi, gpt-oss, ...) and DeepSeek-V3's modeling file, so a count here equals
`sum(p.numel() for p in model.parameters())` of such a model up to the terms named
as ignored (gpt-oss attention sinks: n_heads per layer; OPT's two spare position rows).
"""
from __future__ import annotations

import functools

import numpy as np

from ..catalog.specs import GATED_MLPS, ModelSpec, precision


def ndim_of(x) -> int:
    """np.ndim without its dispatch cost for the common cases (a Python number, an ndarray)."""
    return 0 if isinstance(x, (int, float)) else x.ndim if isinstance(x, np.ndarray) else np.ndim(x)


def norm_params(m: ModelSpec, width: int) -> int:
    """One norm over `width` features: a scale, plus a shift for LayerNorm with bias."""
    return 2 * width if m.norm == "layernorm" else width


def attention_params(m: ModelSpec) -> int:
    """Parameters of one attention block (projections, their biases, q/k norms, MLA's norms)."""
    if m.mla is not None:
        a = m.mla
        qk = a.qk_nope_head_dim + a.qk_rope_head_dim
        if a.q_lora_rank:
            q = m.dim * a.q_lora_rank + a.q_lora_rank + a.q_lora_rank * m.n_heads * qk
        else:
            q = m.dim * m.n_heads * qk
        kv = m.dim * (a.kv_lora_rank + a.qk_rope_head_dim) + a.kv_lora_rank
        kv += a.kv_lora_rank * m.n_heads * (a.qk_nope_head_dim + a.v_head_dim)
        return q + kv + m.n_heads * a.v_head_dim * m.dim
    q_out, kv_out = m.n_heads * m.head_dim, m.n_kv_heads * m.head_dim
    weights = m.dim * (q_out + 2 * kv_out) + q_out * m.dim
    bias = (q_out + 2 * kv_out if m.qkv_bias else 0) + (m.dim if m.attn_out_bias else 0)
    return weights + bias + qk_norm_params(m)


def qk_norm_params(m: ModelSpec) -> int:
    """Norms on queries and keys: per head (Qwen3, Gemma 3) or over all heads (OLMo 2)."""
    if m.qk_norm == "head":
        return 2 * norm_params(m, m.head_dim)
    if m.qk_norm == "full":
        return norm_params(m, m.n_heads * m.head_dim) + norm_params(m, m.n_kv_heads * m.head_dim)
    return 0


def mlp_params(m: ModelSpec, hidden: int) -> int:
    """One MLP of width `hidden`: gated (SwiGLU/GeGLU, Shazeer 2020) has w1, w3: dim -> hidden and
    w2: hidden -> dim; plain (GELU/ReLU, Vaswani et al. 2017) has two matrices. Biases if `mlp_bias`."""
    if m.mlp in GATED_MLPS:
        return 3 * m.dim * hidden + ((2 * hidden + m.dim) if m.mlp_bias else 0)
    return 2 * m.dim * hidden + ((hidden + m.dim) if m.mlp_bias else 0)


def swiglu_params(dim: int, hidden: int) -> int:
    """w1 and w3 (dim -> hidden) and w2 (hidden -> dim), no biases (Shazeer 2020)."""
    return 3 * dim * hidden


def expert_params(m: ModelSpec) -> int:
    """One routed expert of an MoE layer."""
    return mlp_params(m, m.moe_ffn_dim)


def is_moe_layer(m: ModelSpec, layer: int) -> bool:
    """Whether 0-based `layer` is an MoE layer: past the n_dense_layers leading dense ones, every
    moe_layer_step-th (transformers' Llama 4: (layer + 1) % interleave_moe_layer_step == 0)."""
    return m.is_moe and layer >= m.n_dense_layers and (layer - m.n_dense_layers + 1) % m.moe_layer_step == 0


def n_moe_layers(m: ModelSpec) -> int:
    """MoE layers in the stack (0 for a dense model)."""
    return (m.n_layers - m.n_dense_layers) // m.moe_layer_step if m.is_moe else 0


def ffn_params(m: ModelSpec, layer: int, *, active: bool) -> int:
    """FFN parameters of one layer: dense, or MoE experts plus shared experts and the router.

    `active=True` counts only the experts a token is routed to (plus shared ones).
    """
    if not is_moe_layer(m, layer):
        return mlp_params(m, m.ffn_dim)
    routed = (m.n_experts_per_token if active else m.n_experts) * expert_params(m)
    shared = m.n_shared_experts * mlp_params(m, m.shared_expert_ffn_dim) + (m.dim if m.shared_expert_gate else 0)
    router = m.dim * m.n_experts + (m.n_experts if m.router_bias else 0)  # dim -> n_experts logits
    return routed + shared + router


def embedding_params(m: ModelSpec) -> int:
    """Input embedding plus output head (one matrix if tied), learned positions, head bias, embedding norm."""
    table = m.vocab_size * m.dim * (1 if m.tied_embeddings else 2)
    positions = m.context_length * m.dim if m.positions == "learned" else 0
    head_bias = m.vocab_size if m.lm_head_bias else 0
    return table + positions + head_bias + (norm_params(m, m.dim) if m.embedding_norm else 0)


@functools.lru_cache(maxsize=512)  # ModelSpec is frozen and hashable; serving asks for it per candidate
def _count(m: ModelSpec, *, active: bool) -> int:
    norms = m.norms_per_layer * norm_params(m, m.dim)
    attention = attention_params(m) + norms
    layers = sum(attention + ffn_params(m, i, active=active) for i in range(m.n_layers))
    return layers + embedding_params(m) + norm_params(m, m.dim) + m.extra_params  # + final norm


@functools.lru_cache(maxsize=512)
def total_params(m: ModelSpec) -> int:
    """All parameters stored (every expert)."""
    return _count(m, active=False)


@functools.lru_cache(maxsize=512)  # _count's keyword key costs more than its answer
def active_params(m: ModelSpec) -> int:
    """Parameters used per token (routed-to experts only); equals total for dense models.

    Includes both embedding matrices, the convention of the Mixtral and DeepSeek-V3
    papers (12.9B active of 46.7B; 37B of 671B). `extra_params` are not active.
    """
    return _count(m, active=True) - m.extra_params


@functools.lru_cache(maxsize=512)  # ModelSpec is frozen and hashes once; a prefill asks twice per estimate
def matmul_params(m: ModelSpec) -> int:
    """Active parameters that take part in a matrix multiply per token.

    The input embedding (and a learned position table) is a lookup, no FLOPs, unless
    tied to the output head; norms and biases (under 0.1% of any catalog model) are kept.
    """
    lookup = 0 if m.tied_embeddings else m.vocab_size * m.dim
    positions = m.context_length * m.dim if m.positions == "learned" else 0
    return active_params(m) - lookup - positions


def n_local_layers(m: ModelSpec) -> int:
    """Layers that attend within the sliding window; the rest attend to the whole context.

    Pattern k > 0: layer i (0-based) is global when (i + 1) % k == 0, as Gemma 2/3 and
    gpt-oss alternate them (transformers' `is_sliding`).
    """
    if not m.sliding_window:
        return 0
    if not m.sliding_window_pattern:
        return m.n_layers
    return m.n_layers - m.n_layers // m.sliding_window_pattern


def _keys_seen(m: ModelSpec, context_tokens: float) -> float:
    """Keys one token reads summed over layers: all of them on global layers, the window on local ones."""
    local = n_local_layers(m)
    if not local:
        window_keys = 0.0
    elif ndim_of(context_tokens):  # an array of contexts (a sweep): the same minimum, elementwise
        window_keys = np.minimum(context_tokens, m.sliding_window)
    else:
        window_keys = min(context_tokens, m.sliding_window)
    return (m.n_layers - local) * context_tokens + local * window_keys


def _attention_flops(m: ModelSpec, layer_keys: float) -> float:
    """2 FLOPs per multiply-add, per head: qk_dim for QK^T and v_dim for AV, over `layer_keys`
    keys summed over layers."""
    if m.mla is not None:
        qk, v = m.mla.qk_nope_head_dim + m.mla.qk_rope_head_dim, m.mla.v_head_dim
    else:
        qk = v = m.head_dim
    return 2.0 * m.n_heads * (qk + v) * layer_keys


def attention_flops_per_token(m: ModelSpec, context_tokens: float) -> float:
    """Forward FLOPs of scores (QK^T) and mixing (AV) for one token over `context_tokens` keys.

    Sliding-window layers see at most `sliding_window` keys. PaLM (Chowdhery et al. 2022,
    App. B) writes the same term as 12*L*H*Q*T for forward plus backward, i.e. 4*L*H*Q*T
    forward when qk_dim = v_dim = Q.
    """
    return _attention_flops(m, _keys_seen(m, context_tokens))


def forward_flops_per_token(m: ModelSpec, context_tokens: float = 0.0) -> float:
    """Forward FLOPs for one token attending to `context_tokens` keys: 2 N + attention (Kaplan et al. 2020, Sec. 2.1)."""
    return 2.0 * matmul_params(m) + attention_flops_per_token(m, context_tokens)


def training_flops_per_token(m: ModelSpec, seq_len: float) -> float:
    """Forward + backward FLOPs per token at sequence length `seq_len` (6N + 3x attention).

    Backward costs twice the forward (Kaplan et al. 2020; Hoffmann et al. 2022, App. F).
    The attention term uses the full `seq_len` (the window on sliding layers), as PaLM's
    MFU convention does, although causal kernels skip the masked half: the convention the
    published MFU figures use, so estimates and those figures stay comparable.
    """
    return 3.0 * forward_flops_per_token(m, seq_len)


def mean_window_keys(prompt_tokens: float, window: float) -> float:
    """Mean of min(i, window) over i = 1..P: the keys a causal query sees within a window."""
    if ndim_of(prompt_tokens):  # an array of prompts (a sweep): both branches, chosen elementwise
        p, w = np.asarray(prompt_tokens, dtype=float), float(window)
        return np.where(p <= w, (p + 1) / 2.0, (w * (w + 1) / 2.0 + (p - w) * w) / p)
    p, w = float(prompt_tokens), float(window)
    if p <= w:
        return (p + 1) / 2.0
    return (w * (w + 1) / 2.0 + (p - w) * w) / p


def prefill_flops(m: ModelSpec, prompt_tokens: float) -> float:
    """Forward FLOPs to process a prompt of `prompt_tokens` with causal attention.

    Token i attends to i keys, so a global layer averages (P + 1) / 2 keys and a
    sliding layer the mean of min(i, window).
    """
    local = n_local_layers(m)
    keys = (m.n_layers - local) * (prompt_tokens + 1) / 2.0
    if local:
        keys += local * mean_window_keys(prompt_tokens, m.sliding_window)
    return prompt_tokens * (2.0 * matmul_params(m) + _attention_flops(m, keys))


def weight_bytes(m: ModelSpec, precision_name: str = "bf16") -> float:
    """Bytes to hold every parameter at `precision_name`: the linear layers at the format's bytes
    (group scales included), the embedding table and output head at its `embedding_bytes` (quantisers
    keep them 16-bit; norms and biases, under 0.1%, are counted with the linears)."""
    p = precision(precision_name)
    embeddings = embedding_params(m)
    return (total_params(m) - embeddings) * p.bytes_per_weight + embeddings * p.embedding_bytes


def _kv_elements_per_layer(m: ModelSpec) -> int:
    """Cached elements per token and layer: K and V of each KV head (Ainslie et al. 2023), or
    MLA's latent plus shared rotary key (DeepSeek-V3, arXiv:2412.19437)."""
    if m.mla is not None:
        return m.mla.kv_lora_rank + m.mla.qk_rope_head_dim
    return 2 * m.n_kv_heads * m.head_dim


def kv_cache_bytes_per_token(m: ModelSpec, bytes_per_element: float = 2.0) -> float:
    """KV-cache bytes one token adds across all layers while the context is within every window.

    Past a sliding window the local layers stop growing (they keep the last `sliding_window`
    tokens): use kv_cache_bytes() for the total at a context length.
    """
    return m.n_layers * _kv_elements_per_layer(m) * bytes_per_element


def kv_cache_bytes(m: ModelSpec, context_tokens: float, bytes_per_element: float = 2.0) -> float:
    """KV-cache bytes of one sequence of `context_tokens`, summed over layers; sliding-window
    layers hold at most `sliding_window` tokens (Beltagy et al. 2020; Mistral 7B, arXiv:2310.06825)."""
    return _keys_seen(m, context_tokens) * _kv_elements_per_layer(m) * bytes_per_element
