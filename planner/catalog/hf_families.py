"""Per-family readers of Hugging Face config.json: model_type -> ModelSpec fields.

Each reader names the config keys of one transformers configuration class and the
defaults that class applies when a key is absent (a config.json omits keys equal to
the class default, e.g. google/gemma-3-4b-it's text_config has no num_attention_heads).
Module layouts (which projections carry biases, how many norms a layer holds) follow
the family's modeling file in transformers; each reader says which.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping

from ..core.errors import InputError, PlannerError
from .specs import MLASpec

_MISSING = object()


class Cfg:
    """A config.json object with typed, named look-ups (bool is not an int; null counts as absent)."""

    def __init__(self, d: Mapping):
        self.d = d

    def get(self, key: str, kind: type, default=_MISSING):
        value = self.d.get(key)
        if value is None:
            if default is _MISSING:
                raise InputError(f"config field {key!r}", "is missing (required to size the model)")
            return default
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind in (int, float) and isinstance(value, bool)):
            raise InputError(f"config field {key!r}", f"must be {kind.__name__}, got {value!r}")
        return value

    def int(self, key: str, default=_MISSING) -> int:
        return self.get(key, int, default)

    def bool(self, key: str, default=_MISSING) -> bool:
        return self.get(key, bool, default)

    def first_int(self, *keys: str, default=_MISSING) -> int:
        """The first of `keys` present (families renamed keys: n_embd, hidden_size, d_model)."""
        for key in keys:
            if self.d.get(key) is not None:
                return self.int(key)
        if default is _MISSING:
            raise InputError(f"config field {keys[0]!r}", "is missing (required to size the model)")
        return default


def _core(c: Cfg, *, tied: bool, heads_default=None, defaults: Mapping = {}) -> dict:
    """Llama-style keys shared by most families (LlamaConfig naming)."""
    def pick(key):
        return c.int(key, defaults[key]) if key in defaults else c.int(key)
    kw = {"n_layers": pick("num_hidden_layers"), "dim": pick("hidden_size"), "n_heads": pick("num_attention_heads"),
          "ffn_dim": pick("intermediate_size"), "vocab_size": pick("vocab_size"),
          "context_length": pick("max_position_embeddings")}
    kw["n_kv_heads"] = c.int("num_key_value_heads", defaults.get("num_key_value_heads", kw["n_heads"]))
    head_dim = c.int("head_dim", defaults.get("head_dim"))
    if head_dim is not None:
        kw["head_dim"] = head_dim
    kw["tied_embeddings"] = c.bool("tie_word_embeddings", tied)
    return kw


def _attention_bias(c: Cfg, key: str = "attention_bias", default: bool = False) -> dict:
    bias = c.bool(key, default)
    return {"qkv_bias": bias, "attn_out_bias": bias}


def _window(c: Cfg, kw: dict, pattern: int = 0) -> dict:
    """A sliding window from `sliding_window`, its layers from `layer_types` or `pattern`.

    A window at least the context length changes nothing and is dropped (Phi-3.5: 262144).
    """
    window = c.int("sliding_window", 0)
    if not window or window >= kw["context_length"]:
        return {}
    types = c.d.get("layer_types")
    if isinstance(types, list) and types:
        pattern = _pattern_of(types)
    return {"sliding_window": window, "sliding_window_pattern": pattern}


def _pattern_of(types: list) -> int:
    """The period k of layer_types when every k-th layer is full attention and the rest sliding."""
    full = [i for i, t in enumerate(types) if t == "full_attention"]
    if not full:
        return 0
    k = full[0] + 1
    if full != list(range(k - 1, len(types), k)):
        raise PlannerError(f"config field 'layer_types': full-attention layers at {full} are not every k-th layer; "
                           "give the model as a ModelSpec with sliding_window_pattern instead")
    return k


def llama(c: Cfg) -> dict:
    """LlamaConfig: attention_bias adds q, k, v and o biases; mlp_bias the MLP's."""
    return _core(c, tied=False) | _attention_bias(c) | {"mlp_bias": c.bool("mlp_bias", False)}


def mistral(c: Cfg) -> dict:
    """MistralConfig: Mistral 7B v0.1 sets sliding_window 4096 on every layer (arXiv:2310.06825)."""
    kw = _core(c, tied=False)
    return kw | _window(c, kw)


def qwen2(c: Cfg) -> dict:
    """Qwen2Attention: q/k/v_proj have bias=True, o_proj none. use_sliding_window is off in every release."""
    return _core(c, tied=False) | {"qkv_bias": True}


def mixtral(c: Cfg) -> dict:
    kw = _core(c, tied=False)
    return kw | _window(c, kw) | {"n_experts": c.int("num_local_experts"), "n_experts_per_token": c.int("num_experts_per_tok")}


def _qwen_moe(c: Cfg) -> dict:
    if c.int("decoder_sparse_step", 1) != 1 or c.d.get("mlp_only_layers"):
        raise PlannerError("config: MoE layers interleaved with dense ones (decoder_sparse_step != 1 or "
                           "mlp_only_layers) are not supported; give the model as a ModelSpec")
    return {"n_experts": c.int("num_experts"), "n_experts_per_token": c.int("num_experts_per_tok"),
            "moe_ffn_dim": c.int("moe_intermediate_size")}


def qwen2_moe(c: Cfg) -> dict:
    """Qwen2MoeSparseMoeBlock: routed experts, one shared expert of its own width and a dim -> 1 gate."""
    return _core(c, tied=False) | {"qkv_bias": True} | _qwen_moe(c) | {
        "n_shared_experts": 1, "shared_expert_ffn_dim": c.int("shared_expert_intermediate_size"),
        "shared_expert_gate": True}


def qwen3(c: Cfg) -> dict:
    """Qwen3Attention: RMSNorm over head_dim on q and k (q_norm, k_norm)."""
    return _core(c, tied=False) | _attention_bias(c) | {"qk_norm": "head"}


def qwen3_moe(c: Cfg) -> dict:
    return qwen3(c) | _qwen_moe(c)


def deepseek(c: Cfg) -> dict:
    """DeepseekV2/V3Config: MoE and MLA fields (arXiv:2405.04434; arXiv:2412.19437, Sec. 2.1)."""
    kw = _core(c, tied=False)
    kw.update(n_experts=c.int("n_routed_experts"), n_experts_per_token=c.int("num_experts_per_tok"),
              n_shared_experts=c.int("n_shared_experts"), moe_ffn_dim=c.int("moe_intermediate_size"),
              n_dense_layers=c.int("first_k_dense_replace"))
    mla = {key: c.int(key) for key in ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")}
    mla["q_lora_rank"] = c.int("q_lora_rank", 0)  # null in DeepSeek-V2-Lite: queries projected directly
    return kw | {"mla": MLASpec(**mla)}


def gemma(c: Cfg) -> dict:
    """GemmaConfig: GeGLU MLP, tied embeddings, explicit head_dim."""
    return _core(c, tied=True) | _attention_bias(c) | {"mlp": "geglu"}


def gemma2(c: Cfg) -> dict:
    """Gemma2DecoderLayer: four RMSNorms (pre/post attention, pre/post MLP); every other layer
    local (sliding window), the rest global (arXiv:2408.00118)."""
    kw = gemma(c) | {"norms_per_layer": 4}
    return kw | _window(c, kw, pattern=2)


# Gemma3TextConfig defaults (transformers): a config.json omits keys that equal them.
_GEMMA3_DEFAULTS = {"vocab_size": 262_208, "hidden_size": 2304, "intermediate_size": 9216, "num_hidden_layers": 26,
                    "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
                    "max_position_embeddings": 131_072}


def gemma3(c: Cfg) -> dict:
    """Gemma3TextConfig: Gemma 2's layer plus q/k RMSNorms; 5 local layers per global one (arXiv:2503.19786)."""
    kw = _core(c, tied=True, defaults=_GEMMA3_DEFAULTS) | _attention_bias(c)
    kw |= {"mlp": "geglu", "norms_per_layer": 4, "qk_norm": "head"}
    window = c.int("sliding_window", 4096)
    if window < kw["context_length"]:
        pattern = c.int("sliding_window_pattern", 6)
        types = c.d.get("layer_types")
        if isinstance(types, list) and types:
            pattern = _pattern_of(types)
        kw |= {"sliding_window": window, "sliding_window_pattern": pattern}
    return kw


# Llama4TextConfig defaults (transformers): a config.json omits keys that equal them.
_LLAMA4_DEFAULTS = {"vocab_size": 202_048, "hidden_size": 5120, "intermediate_size": 8192, "num_hidden_layers": 48,
                    "num_attention_heads": 40, "num_key_value_heads": 8, "head_dim": 128,
                    "max_position_embeddings": 131_072}


def llama4(c: Cfg) -> dict:
    """Llama4TextModel: MoE in every interleave_moe_layer_step-th layer (Maverick: 2), each with
    routed experts and one shared expert of intermediate_size, top-1 router; the other layers are
    dense MLPs of intermediate_size_mlp. Layers with RoPE attend within attention_chunk_size-token
    chunks, the NoPE ones (no_rope_layers 0: every 4th) globally; a chunk is counted as a window of
    its size (same KV bound, ~2x the attention FLOPs of a chunk's mean). The q/k L2 norm has no weights."""
    kw = _core(c, tied=False, defaults=_LLAMA4_DEFAULTS) | _attention_bias(c)
    step = c.int("interleave_moe_layer_step", 1)
    moe_layers = c.d.get("moe_layers")
    if isinstance(moe_layers, list) and moe_layers != list(range(step - 1, kw["n_layers"], step)):
        raise PlannerError(f"config field 'moe_layers': {moe_layers} is not every {step}-th layer; "
                           "give the model as a ModelSpec")
    kw |= {"moe_ffn_dim": kw["ffn_dim"], "ffn_dim": c.int("intermediate_size_mlp", 16_384), "n_shared_experts": 1,
           "n_experts": c.int("num_local_experts", 16), "n_experts_per_token": c.int("num_experts_per_tok", 1),
           "moe_layer_step": step}
    chunk, nope = c.int("attention_chunk_size", 8192), c.d.get("no_rope_layers")
    if chunk < kw["context_length"]:
        types = ["sliding" if x else "full_attention" for x in nope] if isinstance(nope, list) and nope else []
        kw |= {"sliding_window": chunk, "sliding_window_pattern": _pattern_of(types) if types else 4}
    return kw


def phi3(c: Cfg) -> dict:
    """Phi3: fused qkv_proj and gate_up_proj, no biases; Phi-3-mini-4k has sliding_window 2047."""
    kw = _core(c, tied=False)
    return kw | _window(c, kw)


def olmo2(c: Cfg) -> dict:
    """Olmo2: RMSNorm after attention and MLP (two per layer) and over all of q and of k."""
    return _core(c, tied=False) | _attention_bias(c) | {"qk_norm": "full"}


def internlm2(c: Cfg) -> dict:
    """InternLM2 (remote code): fused wqkv and wo carry a bias when `bias` is true."""
    return _core(c, tied=False) | _attention_bias(c, "bias")


def cohere(c: Cfg) -> dict:
    """CohereDecoderLayer: attention and MLP in parallel after one bias-free LayerNorm; tied head."""
    kw = _core(c, tied=True) | _attention_bias(c)
    kw |= {"parallel_block": True, "norms_per_layer": 1, "norm": "layernorm_nobias"}
    if c.bool("use_qk_norm", False):
        kw["qk_norm"] = "full"  # CohereLayerNorm over (heads, head_dim)
    return kw


def cohere2(c: Cfg) -> dict:
    """Cohere2 (Command R7B): Cohere's block, 3 local layers per global one."""
    kw = cohere(c)
    return kw | _window(c, kw, pattern=c.int("sliding_window_pattern", 4))


def granitemoe(c: Cfg) -> dict:
    """GraniteMoe: Llama attention, SwiGLU experts of intermediate_size, no shared expert."""
    return _core(c, tied=False) | _attention_bias(c) | {
        "n_experts": c.int("num_local_experts"), "n_experts_per_token": c.int("num_experts_per_tok"),
        "moe_ffn_dim": c.int("intermediate_size")}


def gpt_oss(c: Cfg) -> dict:
    """GptOss: biased q/k/v/o, SwiGLU experts with biases, router with bias, alternating 128-token
    window. Attention sinks (n_heads per layer) are ignored."""
    kw = _core(c, tied=False) | _attention_bias(c, default=True)
    kw |= {"n_experts": c.int("num_local_experts"), "n_experts_per_token": c.int("num_experts_per_tok"),
           "moe_ffn_dim": c.int("intermediate_size"), "mlp_bias": True, "router_bias": True}
    return kw | _window(c, kw, pattern=2)


def starcoder2(c: Cfg) -> dict:
    """Starcoder2: LayerNorm, GELU MLP (c_fc, c_proj), biases everywhere when use_bias; tied head."""
    kw = _core(c, tied=True)
    bias = c.bool("use_bias", True)
    kw |= {"norm": "layernorm", "mlp": "gelu", "qkv_bias": bias, "attn_out_bias": bias, "mlp_bias": bias}
    return kw | _window(c, kw)


def stablelm(c: Cfg) -> dict:
    """StableLm: LayerNorm, SwiGLU, optional qkv bias, partial rotary; parallel residual reads one norm."""
    kw = _core(c, tied=False) | {"norm": "layernorm", "qkv_bias": c.bool("use_qkv_bias", False),
                                 "rotary_fraction": c.get("partial_rotary_factor", float, 0.25)}
    if c.bool("use_parallel_residual", False):
        kw |= {"parallel_block": True, "norms_per_layer": 1}
    if c.bool("qk_layernorm", False):
        kw["qk_norm"] = "full"  # per-head LayerNorms; counted with bias (StableLM's have none): ~0.01% over
    return kw


def phi(c: Cfg) -> dict:
    """Phi (phi-1/1.5/2): one LayerNorm, attention and GELU MLP in parallel, biases on every
    projection and on the output head; partial rotary."""
    kw = _core(c, tied=False) | {"norm": "layernorm", "mlp": "gelu", "parallel_block": True, "norms_per_layer": 1,
                                 "qkv_bias": True, "attn_out_bias": True, "mlp_bias": True, "lm_head_bias": True,
                                 "rotary_fraction": c.get("partial_rotary_factor", float, 0.5)}
    if c.bool("qk_layernorm", False):
        kw["qk_norm"] = "head"
    return kw


def gpt_neox(c: Cfg) -> dict:
    """GPTNeoX (Pythia): LayerNorm, biased attention and GELU MLP; the parallel residual still
    holds two norms per layer (input_layernorm, post_attention_layernorm)."""
    kw = _core(c, tied=False) | _attention_bias(c, default=True)
    return kw | {"norm": "layernorm", "mlp": "gelu", "mlp_bias": True,
                 "parallel_block": c.bool("use_parallel_residual", True),
                 "rotary_fraction": c.get("rotary_pct", float, 0.25)}


def _gpt2_style(c: Cfg) -> dict:
    """GPT-2 key names (n_embd, n_layer, n_head, n_inner, n_positions) used by GPT-J and GPT-BigCode."""
    dim = c.first_int("n_embd", "hidden_size")
    return {"n_layers": c.first_int("n_layer", "num_hidden_layers"), "dim": dim,
            "n_heads": c.first_int("n_head", "num_attention_heads"), "ffn_dim": c.int("n_inner", 4 * dim),
            "vocab_size": c.int("vocab_size"), "context_length": c.first_int("n_positions", "max_position_embeddings"),
            "norm": "layernorm", "mlp": "gelu", "mlp_bias": True}


def gptj(c: Cfg) -> dict:
    """GPTJBlock: one LayerNorm, attention (no biases) and biased GELU MLP in parallel; biased head."""
    kw = _gpt2_style(c)
    kw["n_kv_heads"] = kw["n_heads"]
    rotary = c.int("rotary_dim", kw["dim"] // kw["n_heads"])
    return kw | {"parallel_block": True, "norms_per_layer": 1, "lm_head_bias": True,
                 "tied_embeddings": c.bool("tie_word_embeddings", False),
                 "rotary_fraction": rotary / (kw["dim"] // kw["n_heads"])}


def gpt_bigcode(c: Cfg) -> dict:
    """GPTBigCode (SantaCoder, StarCoder): GPT-2 block with learned positions, multi-query attention."""
    kw = _gpt2_style(c)
    kw["n_kv_heads"] = 1 if c.bool("multi_query", True) else kw["n_heads"]
    return kw | {"positions": "learned", "qkv_bias": True, "attn_out_bias": True,
                 "tied_embeddings": c.bool("tie_word_embeddings", True)}


def falcon(c: Cfg) -> dict:
    """Falcon: LayerNorm, GELU MLP of ffn_hidden_size, parallel attention; MQA in 7B, grouped KV in the
    new decoder architecture (40B/180B) with two norms per layer (ln_attn, ln_mlp)."""
    dim = c.first_int("hidden_size", "n_embed")
    n_heads = c.first_int("num_attention_heads", "n_head")
    new_arch = c.bool("new_decoder_architecture", False)
    parallel = c.bool("parallel_attn", True)
    if new_arch:
        kv, norms = c.int("num_kv_heads", n_heads), c.int("num_ln_in_parallel_attn", 2)
    else:
        kv, norms = (1 if c.bool("multi_query", True) else n_heads), (1 if parallel else 2)
    bias = c.bool("bias", False)
    return {"n_layers": c.first_int("num_hidden_layers", "n_layer"), "dim": dim, "n_heads": n_heads, "n_kv_heads": kv,
            "ffn_dim": c.int("ffn_hidden_size", 4 * dim), "vocab_size": c.int("vocab_size"),
            "context_length": c.int("max_position_embeddings", 2048), "norm": "layernorm", "mlp": "gelu",
            "parallel_block": parallel or new_arch, "norms_per_layer": norms, "qkv_bias": bias, "attn_out_bias": bias,
            "mlp_bias": bias, "positions": "alibi" if c.bool("alibi", False) else "rope",
            "tied_embeddings": c.bool("tie_word_embeddings", True)}


def bloom(c: Cfg) -> dict:
    """Bloom: ALiBi, a LayerNorm after the embedding, biases everywhere, 4x GELU MLP, tied head.
    BloomConfig has no length; 2048 is the pretraining sequence length (arXiv:2211.05100)."""
    dim = c.first_int("hidden_size", "n_embed")
    return {"n_layers": c.first_int("n_layer", "num_hidden_layers"), "dim": dim,
            "n_heads": c.first_int("n_head", "num_attention_heads"), "n_kv_heads": c.first_int("n_head", "num_attention_heads"),
            "ffn_dim": 4 * dim, "vocab_size": c.int("vocab_size"), "context_length": c.int("seq_length", 2048),
            "norm": "layernorm", "mlp": "gelu", "positions": "alibi", "embedding_norm": True, "qkv_bias": True,
            "attn_out_bias": True, "mlp_bias": True, "tied_embeddings": c.bool("tie_word_embeddings", True)}


def opt(c: Cfg) -> dict:
    """OPT: learned positions, biased projections and ReLU MLP (enable_bias), LayerNorm, tied head.
    A word_embed_proj_dim below hidden_size (opt-350m) adds project_in/out, counted as extra_params."""
    kw = {"n_layers": c.int("num_hidden_layers"), "dim": c.int("hidden_size"), "n_heads": c.int("num_attention_heads"),
          "ffn_dim": c.int("ffn_dim"), "vocab_size": c.int("vocab_size"), "context_length": c.int("max_position_embeddings")}
    kw["n_kv_heads"] = kw["n_heads"]
    bias = c.bool("enable_bias", True)
    proj = c.int("word_embed_proj_dim", kw["dim"])
    kw |= {"norm": "layernorm", "mlp": "relu", "positions": "learned", "qkv_bias": bias, "attn_out_bias": bias,
           "mlp_bias": bias, "tied_embeddings": c.bool("tie_word_embeddings", True),
           "extra_params": 0 if proj == kw["dim"] else 2 * proj * kw["dim"]}
    return kw


def mpt(c: Cfg) -> dict:
    """Mpt: ALiBi (or learned positions), bias-free LayerNorm and projections (no_bias), GELU MLP of
    expansion_ratio x d_model, tied head."""
    dim = c.int("d_model")
    attn = c.d.get("attn_config") or {}
    alibi = attn.get("alibi", True) if isinstance(attn, Mapping) else True
    bias = not c.bool("no_bias", True)
    return {"n_layers": c.int("n_layers"), "dim": dim, "n_heads": c.int("n_heads"), "n_kv_heads": c.int("n_heads"),
            "ffn_dim": int(c.get("expansion_ratio", float, 4.0) * dim), "vocab_size": c.int("vocab_size"),
            "context_length": c.int("max_seq_len", 2048), "norm": "layernorm" if bias else "layernorm_nobias",
            "mlp": "gelu", "positions": "alibi" if alibi else "learned", "qkv_bias": bias, "attn_out_bias": bias,
            "mlp_bias": bias, "tied_embeddings": True}


READERS: dict[str, Callable[[Cfg], dict]] = {
    "llama": llama, "mistral": mistral, "qwen2": qwen2, "mixtral": mixtral, "deepseek_v3": deepseek,
    "deepseek_v2": deepseek, "qwen2_moe": qwen2_moe, "qwen3": qwen3, "qwen3_moe": qwen3_moe,
    "gemma": gemma, "gemma2": gemma2, "gemma3_text": gemma3, "llama4_text": llama4, "phi3": phi3, "phi": phi,
    "olmo2": olmo2, "internlm2": internlm2, "cohere": cohere, "cohere2": cohere2, "granitemoe": granitemoe, "gpt_oss": gpt_oss,
    "starcoder2": starcoder2, "stablelm": stablelm, "gpt_neox": gpt_neox, "gptj": gptj,
    "gpt_bigcode": gpt_bigcode, "falcon": falcon, "bloom": bloom, "opt": opt, "mpt": mpt,
}

# Multimodal wrappers: outer model_type -> the text model_type its text_config holds by default.
MULTIMODAL = {"gemma3": "gemma3_text", "mistral3": "mistral", "llama4": "llama4_text"}
