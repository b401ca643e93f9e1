"""Reference Llama-style decoder for benchmarking: random weights, KV-cache decoding.

Follows the Llama papers (Touvron et al. 2023) in the layout of gpt-fast's model.py:
RMSNorm (Zhang & Sennrich 2019), rotary embeddings (Su et al. 2021), grouped-query
attention (Ainslie et al. 2023) through F.scaled_dot_product_attention, SwiGLU FFN
(Shazeer 2020) with w1, w2, w3 and no biases, an untied output head.
Shape letters: B batch, T new tokens, S cached+new keys, H heads, Hkv KV heads, D head_dim.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from planner.catalog.specs import ModelSpec


@dataclass(frozen=True)
class ModelArgs:
    name: str
    dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    ffn_dim: int
    vocab_size: int
    max_seq_len: int = 2048  # rotary table length and the longest KV cache
    head_dim: int = 0  # 0: dim // n_heads
    norm_eps: float = 1e-5
    rope_base: float = 10000.0  # Su et al. 2021; Llama 2 uses the same base

    def __post_init__(self):
        if self.head_dim == 0:
            object.__setattr__(self, "head_dim", self.dim // self.n_heads)
        if self.n_heads % self.n_kv_heads:
            raise ValueError(f"{self.name}: n_kv_heads={self.n_kv_heads} must divide n_heads={self.n_heads}")

    def arch(self) -> dict:
        """The architecture fields a results record carries next to a figure."""
        return asdict(self)


# A name-keyed table of sizes, from a CPU smoke test to ~1B parameters for a GPU.
# ffn_dim near 8/3 * dim rounded to a multiple of 16, as Llama does (Touvron et al. 2023, Sec. 2.2).
CONFIGS: dict[str, ModelArgs] = {c.name: c for c in [
    ModelArgs("tiny", dim=256, n_layers=4, n_heads=4, n_kv_heads=2, ffn_dim=688, vocab_size=4096, max_seq_len=512),
    ModelArgs("tiny-mha", dim=256, n_layers=2, n_heads=4, n_kv_heads=4, ffn_dim=688, vocab_size=4096, max_seq_len=512),
    ModelArgs("small", dim=512, n_layers=8, n_heads=8, n_kv_heads=4, ffn_dim=1376, vocab_size=8192, max_seq_len=1024),
    ModelArgs("mid", dim=1024, n_layers=12, n_heads=16, n_kv_heads=8, ffn_dim=2816, vocab_size=32000),
    # Llama-3.2-1B widths (dim 2048, 16 layers, 32/8 heads, ffn 8192) with a 32k untied vocabulary: ~1.1B params.
    ModelArgs("1b", dim=2048, n_layers=16, n_heads=32, n_kv_heads=8, ffn_dim=8192, vocab_size=32000, max_seq_len=8192),
]}


def config(name: str) -> ModelArgs:
    try:
        return CONFIGS[name]
    except KeyError:
        raise KeyError(f"unknown benchmark config {name!r}; have {sorted(CONFIGS)}") from None


def to_model_spec(cfg: ModelArgs) -> ModelSpec:
    """The planner's view of this architecture (untied head, no biases, dense)."""
    return ModelSpec(name=f"bench-{cfg.name}", n_layers=cfg.n_layers, dim=cfg.dim, n_heads=cfg.n_heads,
                     n_kv_heads=cfg.n_kv_heads, ffn_dim=cfg.ffn_dim, vocab_size=cfg.vocab_size,
                     context_length=cfg.max_seq_len, head_dim=cfg.head_dim, tied_embeddings=False)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalize in fp32: bf16 mean-of-squares loses precision (as gpt-fast does).
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).type_as(x) * self.weight


def rope_table(cfg: ModelArgs) -> torch.Tensor:
    """cos/sin for every position: (max_seq_len, head_dim // 2, 2)."""
    freqs = 1.0 / cfg.rope_base ** (torch.arange(0, cfg.head_dim, 2).float() / cfg.head_dim)
    angles = torch.outer(torch.arange(cfg.max_seq_len).float(), freqs)  # (S, D/2)
    return torch.stack([angles.cos(), angles.sin()], dim=-1)  # (S, D/2, 2)


def apply_rope(x: torch.Tensor, rope: torch.Tensor) -> torch.Tensor:
    """Rotate pairs of x: (B, T, H, D) with rope (T, D/2, 2)."""
    xs = x.float().reshape(*x.shape[:-1], -1, 2)  # (B, T, H, D/2, 2)
    r = rope.view(1, xs.size(1), 1, xs.size(3), 2)  # (1, T, 1, D/2, 2)
    out = torch.stack([xs[..., 0] * r[..., 0] - xs[..., 1] * r[..., 1],
                       xs[..., 1] * r[..., 0] + xs[..., 0] * r[..., 1]], dim=-1)
    return out.flatten(3).type_as(x)  # (B, T, H, D)


class KVCache(nn.Module):
    """Preallocated keys and values: (B_max, Hkv, S_max, D) each."""

    def __init__(self, max_batch: int, max_seq_len: int, n_kv_heads: int, head_dim: int, dtype: torch.dtype):
        super().__init__()
        shape = (max_batch, n_kv_heads, max_seq_len, head_dim)
        self.register_buffer("k", torch.zeros(shape, dtype=dtype), persistent=False)
        self.register_buffer("v", torch.zeros(shape, dtype=dtype), persistent=False)

    def update(self, start_pos: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Write k, v (B, Hkv, T, D) at start_pos; return keys and values so far (B, Hkv, S, D)."""
        B, _, T, _ = k.shape
        end = start_pos + T
        self.k[:B, :, start_pos:end] = k
        self.v[:B, :, start_pos:end] = v
        return self.k[:B, :, :end], self.v[:B, :, :end]


class Attention(nn.Module):
    def __init__(self, cfg: ModelArgs):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        self.wq = nn.Linear(cfg.dim, cfg.n_heads * cfg.head_dim, bias=False)
        self.wk = nn.Linear(cfg.dim, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.wv = nn.Linear(cfg.dim, cfg.n_kv_heads * cfg.head_dim, bias=False)
        self.wo = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.dim, bias=False)
        self.kv_cache: KVCache | None = None

    def forward(self, x: torch.Tensor, rope: torch.Tensor, start_pos: int | None) -> torch.Tensor:
        B, T, _ = x.shape
        q = self.wq(x).view(B, T, self.n_heads, self.head_dim)  # (B, T, H, D)
        k = self.wk(x).view(B, T, self.n_kv_heads, self.head_dim)  # (B, T, Hkv, D)
        v = self.wv(x).view(B, T, self.n_kv_heads, self.head_dim)  # (B, T, Hkv, D)
        q, k = apply_rope(q, rope), apply_rope(k, rope)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # (B, H or Hkv, T, D)
        mask = None
        if start_pos is not None and self.kv_cache is not None:
            k, v = self.kv_cache.update(start_pos, k, v)  # (B, Hkv, S, D), S = start_pos + T
            if T > 1 and start_pos > 0:  # new token t sees keys 0 .. start_pos + t
                S = k.size(2)
                mask = torch.arange(S, device=x.device) <= torch.arange(start_pos, S, device=x.device)[:, None]
        # A prompt from position 0 is plain causal (flash kernels take is_causal, not a mask);
        # one new token attends to every cached key.
        causal = T > 1 and mask is None
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                           enable_gqa=self.n_kv_heads != self.n_heads)  # (B, H, T, D)
        return self.wo(y.transpose(1, 2).reshape(B, T, self.n_heads * self.head_dim))  # (B, T, dim)


class FeedForward(nn.Module):
    """SwiGLU: w2(silu(w1 x) * w3 x) (Shazeer 2020)."""

    def __init__(self, cfg: ModelArgs):
        super().__init__()
        self.w1 = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
        self.w3 = nn.Linear(cfg.dim, cfg.ffn_dim, bias=False)
        self.w2 = nn.Linear(cfg.ffn_dim, cfg.dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class Block(nn.Module):
    def __init__(self, cfg: ModelArgs):
        super().__init__()
        self.attention_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.attention = Attention(cfg)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.feed_forward = FeedForward(cfg)

    def forward(self, x: torch.Tensor, rope: torch.Tensor, start_pos: int | None) -> torch.Tensor:
        h = x + self.attention(self.attention_norm(x), rope, start_pos)
        return h + self.feed_forward(self.ffn_norm(h))


class Transformer(nn.Module):
    def __init__(self, cfg: ModelArgs):
        super().__init__()
        self.cfg = cfg
        self.tok_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.output = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)  # untied from tok_embeddings
        self.register_buffer("rope", rope_table(cfg), persistent=False)
        self.quantized: str | None = None  # "int8" after quantize.quantize_int8
        self.kernel = "dense"  # the linear layers' matmul path

    def setup_caches(self, max_batch: int, max_seq_len: int | None = None) -> None:
        """Preallocate a KV cache per layer in the model's dtype (enables `start_pos`)."""
        seq = max_seq_len or self.cfg.max_seq_len
        dtype, device = self.tok_embeddings.weight.dtype, self.rope.device  # never quantized
        for layer in self.layers:
            cache = KVCache(max_batch, seq, self.cfg.n_kv_heads, self.cfg.head_dim, dtype).to(device)
            layer.attention.kv_cache = cache

    def forward(self, tokens: torch.Tensor, start_pos: int | None = None, last_only: bool = False) -> torch.Tensor:
        """Logits (B, T, vocab) for tokens (B, T). With start_pos, read and extend the KV cache.
        `last_only`: logits of the last position only, (B, 1, vocab), as a serving engine's prefill."""
        T = tokens.size(1)
        pos0 = start_pos or 0
        rope = self.rope[pos0:pos0 + T]  # (T, D/2, 2)
        h = self.tok_embeddings(tokens)  # (B, T, dim)
        for layer in self.layers:
            h = layer(h, rope, start_pos)
        if last_only:
            h = h[:, -1:]  # (B, 1, dim)
        return self.output(self.norm(h))


def build(cfg: ModelArgs, *, device: str = "cpu", dtype: torch.dtype = torch.float32, seed: int = 0) -> Transformer:
    """A model with random weights; nothing is downloaded. Timing does not depend on the values.

    Linear weights are N(0, 0.02) as GPT-2/nanoGPT initialize; the embedding is N(0, 1),
    nn.Embedding's default, and the output head starts as 0.02 x the embedding table (its own
    parameter, not tied). Independent random heads give near-uniform logits whose top-1 is
    decided by differences below int8 rounding error, unlike a trained model's; with this
    head the current token is a clear top-1, so the int8 gate's top-1 agreement means something.
    """
    torch.manual_seed(seed)
    with torch.device(device):
        model = Transformer(cfg)
    for name, p in model.named_parameters():
        if not name.endswith("norm.weight"):
            nn.init.normal_(p, mean=0.0, std=1.0 if name == "tok_embeddings.weight" else 0.02)
    with torch.no_grad():
        model.output.weight.copy_(0.02 * model.tok_embeddings.weight)
    return model.to(dtype=dtype)
