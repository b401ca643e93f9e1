"""Build a ModelSpec from a Hugging Face `config.json` (llama, mistral, qwen2, mixtral, deepseek_v3).

Field names follow transformers' configuration classes (LlamaConfig, Qwen2Config,
MixtralConfig, DeepseekV3Config). Unknown fields are ignored; a missing or
mistyped required field raises InputError naming it; anything else wrong with
the file raises PlannerError with a one-line reason, never a raw traceback.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from ..core.errors import InputError, PlannerError
from .specs import MLASpec, ModelSpec

SUPPORTED_MODEL_TYPES = ("llama", "mistral", "qwen2", "mixtral", "deepseek_v3")

# config.json key -> ModelSpec field, shared by every family.
_COMMON = {
    "num_hidden_layers": "n_layers",
    "hidden_size": "dim",
    "num_attention_heads": "n_heads",
    "intermediate_size": "ffn_dim",
    "vocab_size": "vocab_size",
    "max_position_embeddings": "context_length",
}
_MIXTRAL = {"num_local_experts": "n_experts", "num_experts_per_tok": "n_experts_per_token"}
_DEEPSEEK_MOE = {
    "n_routed_experts": "n_experts",
    "num_experts_per_tok": "n_experts_per_token",
    "n_shared_experts": "n_shared_experts",
    "moe_intermediate_size": "moe_ffn_dim",
    "first_k_dense_replace": "n_dense_layers",
}
_DEEPSEEK_MLA = ("kv_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim", "v_head_dim")


def model_from_hf_config(path_or_dict: str | Path | Mapping, name: str | None = None) -> ModelSpec:
    """A ModelSpec from a config.json path or its parsed dict; `name` defaults to `_name_or_path`."""
    cfg, where = _load(path_or_dict)
    model_type = _get(cfg, "model_type", str)
    if model_type not in SUPPORTED_MODEL_TYPES:
        raise PlannerError(f"{where}: model_type {model_type!r} is not supported "
                           f"(supported: {', '.join(SUPPORTED_MODEL_TYPES)})")
    kw = {field: _get(cfg, key, int) for key, field in _COMMON.items()}
    kw["n_kv_heads"] = _get(cfg, "num_key_value_heads", int, default=kw["n_heads"])
    head_dim = _get(cfg, "head_dim", int, default=None)
    if head_dim is not None:
        kw["head_dim"] = head_dim
    kw["tied_embeddings"] = _get(cfg, "tie_word_embeddings", bool, default=False)
    if model_type == "qwen2":
        kw["qkv_bias"] = True  # Qwen2Attention: q/k/v_proj have bias=True, o_proj none
    elif model_type == "llama":
        # attention_bias also adds an o_proj bias (dim params per layer), not counted.
        kw["qkv_bias"] = _get(cfg, "attention_bias", bool, default=False)
    elif model_type == "mixtral":
        kw.update({field: _get(cfg, key, int) for key, field in _MIXTRAL.items()})
    elif model_type == "deepseek_v3":
        kw.update(_deepseek(cfg))
    kw["name"] = name or _get(cfg, "_name_or_path", str, default="") or _default_name(path_or_dict, model_type)
    kw["notes"] = f"from a Hugging Face config.json ({where})"
    return ModelSpec(**kw)


def _deepseek(cfg: Mapping) -> dict:
    """MoE and MLA fields of DeepseekV3Config (arXiv:2412.19437, Sec. 2.1)."""
    kw = {field: _get(cfg, key, int) for key, field in _DEEPSEEK_MOE.items()}
    mla = {key: _get(cfg, key, int) for key in _DEEPSEEK_MLA}
    # q_lora_rank is null in DeepSeek-V2-Lite: queries are projected directly.
    mla["q_lora_rank"] = _get(cfg, "q_lora_rank", int, default=None) or 0
    kw["mla"] = MLASpec(**mla)
    return kw


def _load(path_or_dict) -> tuple[Mapping, str]:
    """The parsed config and a short label for messages."""
    if isinstance(path_or_dict, Mapping):
        return path_or_dict, "config dict"
    if not isinstance(path_or_dict, (str, Path)):
        raise PlannerError(f"expected a config.json path or dict, got {type(path_or_dict).__name__}")
    path = Path(path_or_dict)
    if path.is_dir():
        path = path / "config.json"
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise PlannerError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    return parse_config_text(text, str(path)), str(path)


def parse_config_text(text: str, where: str = "config.json") -> dict:
    """The JSON object in a config.json's text; anything else is a PlannerError naming `where`."""
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as e:
        raise PlannerError(f"{where} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    if not isinstance(cfg, dict):
        raise PlannerError(f"{where} must hold a JSON object, got {type(cfg).__name__}")
    return cfg


_MISSING = object()


def _get(cfg: Mapping, key: str, kind: type, default=_MISSING):
    """cfg[key] checked to be of `kind` (bool is not an int); a null value counts as missing."""
    value = cfg.get(key)
    if value is None:
        if default is _MISSING:
            raise InputError(f"config field {key!r}", "is missing (required to size the model)")
        return default
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise InputError(f"config field {key!r}", f"must be {kind.__name__}, got {value!r}")
    return value


def _default_name(path_or_dict, model_type: str) -> str:
    if isinstance(path_or_dict, (str, Path)):
        p = Path(path_or_dict)
        return p.name if p.is_dir() else p.stem
    return model_type
