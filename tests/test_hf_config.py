"""Hugging Face config.json import: real configs give the catalog's numbers; bad files fail in one line."""
import json
from pathlib import Path

import pytest

import planner
from planner.estimate.arithmetic import active_params, total_params
from planner.core.errors import InputError, PlannerError
from planner.catalog.hf_config import model_from_hf_config

CONFIGS = Path(__file__).parent / "data" / "hf_configs"
CASES = [
    ("llama-2-7b.json", "Llama-2-7B"),
    ("llama-3.1-8b.json", "Llama-3.1-8B"),
    ("mistral-7b-v0.1.json", "Mistral-7B-v0.1"),
    ("mixtral-8x7b.json", "Mixtral-8x7B"),
    ("qwen2.5-7b.json", "Qwen2.5-7B"),
    ("deepseek-v3.json", "DeepSeek-V3"),
]
ARCH_FIELDS = ("n_layers", "dim", "n_heads", "n_kv_heads", "ffn_dim", "vocab_size", "context_length",
               "head_dim", "tied_embeddings", "qkv_bias", "n_experts", "n_experts_per_token",
               "n_shared_experts", "moe_ffn_dim", "n_dense_layers", "mla")


def _cfg(filename="llama-3.1-8b.json") -> dict:
    return json.loads((CONFIGS / filename).read_text())


@pytest.mark.parametrize("filename, catalog_name", CASES)
def test_config_matches_catalog(filename, catalog_name):
    got, want = model_from_hf_config(CONFIGS / filename), planner.model(catalog_name)
    for field in ARCH_FIELDS:
        assert getattr(got, field) == getattr(want, field), field
    assert total_params(got) == total_params(want)
    assert active_params(got) == active_params(want)


def test_every_supported_family_has_a_test_config():
    types = {_cfg(f)["model_type"] for f, _ in CASES}
    assert types == {"llama", "mistral", "qwen2", "mixtral", "deepseek_v3"}


def test_str_path_dict_and_directory_agree(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps(_cfg()))
    a = model_from_hf_config(str(CONFIGS / "llama-3.1-8b.json"), name="x")
    b = model_from_hf_config(_cfg(), name="x")
    c = model_from_hf_config(tmp_path, name="x")
    assert a.to_dict() | {"notes": ""} == b.to_dict() | {"notes": ""} == c.to_dict() | {"notes": ""}


def test_names():
    assert model_from_hf_config(CONFIGS / "llama-2-7b.json").name == "meta-llama/Llama-2-7b-hf"  # _name_or_path
    assert model_from_hf_config(CONFIGS / "llama-3.1-8b.json").name == "llama-3.1-8b"  # file stem
    assert model_from_hf_config(_cfg(), name="mine").name == "mine"


def test_unknown_fields_are_ignored():
    cfg = _cfg() | {"some_future_field": {"nested": [1, 2]}, "rope_scaling": "anything"}
    assert model_from_hf_config(cfg).to_dict() == model_from_hf_config(_cfg()).to_dict()


def test_kv_heads_default_to_heads():
    cfg = _cfg("llama-2-7b.json")
    del cfg["num_key_value_heads"]
    assert model_from_hf_config(cfg).n_kv_heads == 32


def test_head_dim_is_read_when_present():
    cfg = _cfg() | {"head_dim": 256}
    assert model_from_hf_config(cfg).head_dim == 256


@pytest.mark.parametrize("filename, key", [
    ("llama-3.1-8b.json", "hidden_size"),
    ("llama-3.1-8b.json", "num_hidden_layers"),
    ("llama-3.1-8b.json", "num_attention_heads"),
    ("llama-3.1-8b.json", "intermediate_size"),
    ("llama-3.1-8b.json", "vocab_size"),
    ("llama-3.1-8b.json", "max_position_embeddings"),
    ("llama-3.1-8b.json", "model_type"),
    ("mixtral-8x7b.json", "num_local_experts"),
    ("mixtral-8x7b.json", "num_experts_per_tok"),
    ("deepseek-v3.json", "kv_lora_rank"),
    ("deepseek-v3.json", "first_k_dense_replace"),
])
def test_missing_required_field_names_it(filename, key):
    cfg = _cfg(filename)
    del cfg[key]
    with pytest.raises(InputError) as info:
        model_from_hf_config(cfg)
    assert key in str(info.value) and "missing" in str(info.value)


@pytest.mark.parametrize("key, value", [("hidden_size", "4096"), ("num_hidden_layers", 32.5),
                                        ("vocab_size", True), ("tie_word_embeddings", "no")])
def test_wrong_type_names_the_field(key, value):
    with pytest.raises(InputError, match=key):
        model_from_hf_config(_cfg() | {key: value})


def _one_line_planner_error(arg) -> str:
    with pytest.raises(PlannerError) as info:
        model_from_hf_config(arg)
    assert type(info.value) in (PlannerError, InputError)  # not a JSONDecodeError/KeyError in disguise
    assert info.value.__cause__ is None  # no chained traceback
    assert info.value.__context__ is None or info.value.__suppress_context__
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_malformed_json(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text('{"model_type": "llama", "hidden_size": 4096,,}')
    assert "not valid JSON" in _one_line_planner_error(bad)


def test_json_that_is_not_an_object(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text("[1, 2, 3]")
    assert "JSON object" in _one_line_planner_error(bad)


def test_missing_file(tmp_path):
    assert "cannot read" in _one_line_planner_error(tmp_path / "nope.json")


def test_not_a_path_or_dict():
    assert "path or dict" in _one_line_planner_error(42)


def test_unsupported_model_type():
    msg = _one_line_planner_error(_cfg() | {"model_type": "gpt2"})
    assert "gpt2" in msg and "llama" in msg


def test_impossible_shapes_raise_input_error():
    with pytest.raises(InputError, match="n_kv_heads"):
        model_from_hf_config(_cfg() | {"num_key_value_heads": 7})
