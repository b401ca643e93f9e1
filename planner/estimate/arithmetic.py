"""Transformer arithmetic: parameter counts, FLOPs, weight and KV-cache bytes.

Counts follow the module layout of the reference implementations (Llama, Mistral,
Qwen2, Mixtral in Hugging Face transformers; DeepSeek-V3's modeling file), so a
count here equals `sum(p.numel() for p in model.parameters())` of such a model.
"""
from __future__ import annotations

from ..catalog.specs import ModelSpec, precision


def attention_params(m: ModelSpec) -> int:
    """Parameters of one attention block (projections, their biases, MLA's norms)."""
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
    q_out = m.n_heads * m.head_dim
    kv_out = m.n_kv_heads * m.head_dim
    bias = (q_out + 2 * kv_out) if m.qkv_bias else 0
    return m.dim * (q_out + 2 * kv_out) + q_out * m.dim + bias


def swiglu_params(dim: int, hidden: int) -> int:
    """w1 and w3 (dim -> hidden) and w2 (hidden -> dim), no biases (Shazeer 2020)."""
    return 3 * dim * hidden


def ffn_params(m: ModelSpec, layer: int, *, active: bool) -> int:
    """FFN parameters of one layer: dense, or MoE experts plus the router.

    `active=True` counts only the experts a token is routed to (plus shared ones).
    """
    if not m.is_moe or layer < m.n_dense_layers:
        return swiglu_params(m.dim, m.ffn_dim)
    routed = m.n_experts_per_token if active else m.n_experts
    experts = (routed + m.n_shared_experts) * swiglu_params(m.dim, m.moe_ffn_dim)
    return experts + m.dim * m.n_experts  # router: dim -> n_experts logits


def embedding_params(m: ModelSpec) -> int:
    """Input embedding plus output head (one matrix if tied)."""
    return m.vocab_size * m.dim * (1 if m.tied_embeddings else 2)


def _count(m: ModelSpec, *, active: bool) -> int:
    norms = 2 * m.dim  # two RMSNorm weights per layer
    layers = sum(attention_params(m) + ffn_params(m, i, active=active) + norms for i in range(m.n_layers))
    return layers + embedding_params(m) + m.dim + m.extra_params  # + final norm


def total_params(m: ModelSpec) -> int:
    """All parameters stored (every expert)."""
    return _count(m, active=False)


def active_params(m: ModelSpec) -> int:
    """Parameters used per token (routed-to experts only); equals total for dense models.

    Includes both embedding matrices, the convention of the Mixtral and DeepSeek-V3
    papers (12.9B active of 46.7B; 37B of 671B). `extra_params` are not active.
    """
    return _count(m, active=True) - m.extra_params


def matmul_params(m: ModelSpec) -> int:
    """Active parameters that take part in a matrix multiply per token.

    The input embedding is a table lookup (no FLOPs) unless it is tied to the
    output head; norms and biases are negligible and dropped.
    """
    lookup = 0 if m.tied_embeddings else m.vocab_size * m.dim
    return active_params(m) - lookup


def attention_flops_per_token(m: ModelSpec, context_tokens: float) -> float:
    """Forward FLOPs of scores (QK^T) and mixing (AV) for one token over `context_tokens` keys.

    2 FLOPs per multiply-add, per layer and head: qk_dim for QK^T, v_dim for AV.
    PaLM (Chowdhery et al. 2022, App. B) writes the same term as 12*L*H*Q*T for
    forward plus backward, i.e. 4*L*H*Q*T forward when qk_dim = v_dim = Q.
    """
    if m.mla is not None:
        qk, v = m.mla.qk_nope_head_dim + m.mla.qk_rope_head_dim, m.mla.v_head_dim
    else:
        qk = v = m.head_dim
    return 2.0 * m.n_layers * m.n_heads * (qk + v) * context_tokens


def forward_flops_per_token(m: ModelSpec, context_tokens: float = 0.0) -> float:
    """Forward FLOPs for one token attending to `context_tokens` keys: 2 N + attention (Kaplan et al. 2020, Sec. 2.1)."""
    return 2.0 * matmul_params(m) + attention_flops_per_token(m, context_tokens)


def training_flops_per_token(m: ModelSpec, seq_len: float) -> float:
    """Forward + backward FLOPs per token at sequence length `seq_len` (6N + 3x attention).

    Backward costs twice the forward (Kaplan et al. 2020; Hoffmann et al. 2022, App. F).
    The attention term uses the full `seq_len`, as PaLM's MFU convention does,
    although causal kernels skip the masked half: the convention the published
    MFU figures use, so estimates and those figures stay comparable.
    """
    return 3.0 * forward_flops_per_token(m, seq_len)


def prefill_flops(m: ModelSpec, prompt_tokens: float) -> float:
    """Forward FLOPs to process a prompt of `prompt_tokens` with causal attention.

    Token i attends to i keys, so the attention term averages (P + 1) / 2 keys.
    """
    return prompt_tokens * forward_flops_per_token(m, (prompt_tokens + 1) / 2.0)


def weight_bytes(m: ModelSpec, precision_name: str = "bf16") -> float:
    """Bytes to hold every parameter at `precision_name` (quantization scales ignored, ~1-3%)."""
    return total_params(m) * precision(precision_name).bytes_per_weight


def kv_cache_bytes_per_token(m: ModelSpec, bytes_per_element: float = 2.0) -> float:
    """KV-cache bytes one token adds across all layers.

    GQA caches K and V for each KV head: 2 * n_kv_heads * head_dim per layer
    (Ainslie et al. 2023). MLA caches one latent plus a shared rotary key:
    kv_lora_rank + qk_rope_head_dim per layer (DeepSeek-V3, arXiv:2412.19437).
    """
    if m.mla is not None:
        per_layer = m.mla.kv_lora_rank + m.mla.qk_rope_head_dim
    else:
        per_layer = 2 * m.n_kv_heads * m.head_dim
    return m.n_layers * per_layer * bytes_per_element
