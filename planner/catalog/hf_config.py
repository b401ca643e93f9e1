"""Build a ModelSpec from a Hugging Face `config.json` (33 model types; see SUPPORTED_MODEL_TYPES).

Field names follow transformers' configuration classes; one reader per family lives in
hf_families.py. Multimodal configs (Gemma 3, Mistral 3, Llama 4) are read for their text model
and the spec's notes say so. Unknown fields are ignored; a missing or mistyped required
field raises InputError naming it; anything else wrong with the file raises PlannerError
with a one-line reason, never a raw traceback.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..core import files
from ..core.errors import InputError, PlannerError
from ..core.limits import MAX_CONFIG_BYTES
from .hf_families import MULTIMODAL, READERS, Cfg
from .specs import ModelSpec

SUPPORTED_MODEL_TYPES = tuple(sorted({*READERS, *MULTIMODAL}))


def model_from_hf_config(path_or_dict: str | Path | Mapping, name: str | None = None) -> ModelSpec:
    """A ModelSpec from a config.json path or its parsed dict; `name` defaults to `_name_or_path`."""
    cfg, where = _load(path_or_dict)
    outer = Cfg(cfg)
    model_type = outer.get("model_type", str)
    notes = f"from a Hugging Face config.json ({where})"
    text = cfg
    if model_type in MULTIMODAL:
        text = _text_config(cfg, where)
        text_type = text.get("model_type") or MULTIMODAL[model_type]
        notes += (f"; multimodal model_type {model_type!r}: the text model ({text_type}) only, "
                  "the vision tower and projector are not counted")
        if "tie_word_embeddings" not in text and "tie_word_embeddings" in cfg:
            text = {**text, "tie_word_embeddings": cfg["tie_word_embeddings"]}
        model_type = text_type
    if model_type not in READERS:
        raise PlannerError(f"{where}: model_type {model_type!r} is not supported "
                           f"(supported: {', '.join(SUPPORTED_MODEL_TYPES)})")
    kw = READERS[model_type](Cfg(text))
    kw["name"] = name or outer.get("_name_or_path", str, "") or _default_name(path_or_dict, model_type)
    kw["notes"] = notes
    try:
        return ModelSpec(**kw)
    except InputError as e:  # name the config.json key the user wrote, beside the spec field it fills
        keys = [k for k in _CONFIG_KEYS.get(e.field.rsplit(" field ", 1)[-1], ()) if k in text]
        if not keys:
            raise
        raise InputError(f"config field {keys[0]!r} of {where} ({e.field})", e.reason) from None


# Spec fields whose bad values a user writes under another name in config.json (MoE and MLA
# families name them differently: Mixtral num_local_experts, Qwen num_experts, DeepSeek n_routed_experts).
_CONFIG_KEYS = {"n_experts": ("num_local_experts", "num_experts", "n_routed_experts"),
                "n_experts_per_token": ("num_experts_per_tok",),
                **{f"mla.{k}": (k,) for k in ("q_lora_rank", "kv_lora_rank", "qk_nope_head_dim",
                                              "qk_rope_head_dim", "v_head_dim")}}


def _text_config(cfg: Mapping, where: str) -> Mapping:
    text = cfg.get("text_config")
    if not isinstance(text, Mapping):
        raise PlannerError(f"{where}: a multimodal config needs a 'text_config' object, got {type(text).__name__}")
    return text


def _load(path_or_dict) -> tuple[Mapping, str]:
    """The parsed config and a short label for messages."""
    if isinstance(path_or_dict, Mapping):
        return files.check_depth(path_or_dict, "config dict"), "config dict"
    if not isinstance(path_or_dict, (str, Path)):
        raise PlannerError(f"expected a config.json path or dict, got {type(path_or_dict).__name__}")
    path = files.as_path(path_or_dict, "config.json")  # no NUL byte, not empty, not too long
    if path.is_dir():
        path = path / "config.json"
    return parse_config_text(files.read_text(path, "config.json", MAX_CONFIG_BYTES), str(path)), str(path)


def parse_config_text(text: str, where: str = "config.json") -> dict:
    """The JSON object in a config.json's text; anything else is a PlannerError naming `where`."""
    cfg = files.loads_json(text, where, MAX_CONFIG_BYTES)  # size, nesting, NaN, huge ints: core/files.py
    if not isinstance(cfg, dict):
        raise PlannerError(f"{where} must hold a JSON object, got {type(cfg).__name__}")
    return cfg


def _default_name(path_or_dict, model_type: str) -> str:
    if isinstance(path_or_dict, (str, Path)):
        p = Path(path_or_dict)
        return p.name if p.is_dir() else p.stem
    return model_type
