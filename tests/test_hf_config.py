"""Hugging Face config.json import: real configs give the catalog's numbers; bad files fail in one line."""
import json
import tomllib
from dataclasses import replace
from pathlib import Path

import pytest

import planner
from planner.estimate.arithmetic import active_params, embedding_params, n_local_layers, total_params
from planner.core.errors import InputError, PlannerError
from planner.catalog.hf_config import SUPPORTED_MODEL_TYPES, model_from_hf_config

CONFIGS = Path(__file__).parent / "data" / "hf_configs"
CASES = [
    ("llama-2-7b.json", "Llama-2-7B"),
    ("llama-3.1-8b.json", "Llama-3.1-8B"),
    ("mistral-7b-v0.1.json", "Mistral-7B-v0.1"),
    ("mixtral-8x7b.json", "Mixtral-8x7B"),
    ("qwen2.5-7b.json", "Qwen2.5-7B"),
    ("deepseek-v3.json", "DeepSeek-V3"),
    ("deepseek-v3.json", "DeepSeek-R1"),  # R1 is V3's architecture
    ("qwen3-30b-a3b.json", "Qwen3-30B-A3B"),
    ("qwen3-235b-a22b.json", "Qwen3-235B-A22B"),
    ("gpt-oss-20b.json", "GPT-OSS-20B"),
    ("gpt-oss-120b.json", "GPT-OSS-120B"),
    ("llama-4-scout-17b-16e.json", "Llama-4-Scout"),
    ("llama-4-maverick-17b-128e.json", "Llama-4-Maverick"),
    ("mixtral-8x22b.json", "Mixtral-8x22B"),
    ("qwen3-8b.json", "Qwen3-8B"),
    ("qwen3-14b.json", "Qwen3-14B"),
    ("qwen3-32b.json", "Qwen3-32B"),
    ("llama-3.3-70b-instruct.json", "Llama-3.3-70B"),
    ("gemma-3-12b-it.json", "Gemma-3-12B"),
    ("gemma-3-27b-it.json", "Gemma-3-27B"),
    ("mistral-small-24b-base-2501.json", "Mistral-Small-24B"),
    ("phi-4.json", "Phi-4"),
]
ARCH_FIELDS = ("n_layers", "dim", "n_heads", "n_kv_heads", "ffn_dim", "vocab_size", "context_length",
               "head_dim", "tied_embeddings", "qkv_bias", "n_experts", "n_experts_per_token",
               "n_shared_experts", "moe_ffn_dim", "n_dense_layers", "mla", "moe_layer_step", "shared_expert_ffn_dim",
               "sliding_window", "sliding_window_pattern", "qk_norm", "mlp", "norms_per_layer", "mlp_bias",
               "attn_out_bias", "router_bias")


def _cfg(filename="llama-3.1-8b.json") -> dict:
    return json.loads((CONFIGS / filename).read_text())


@pytest.mark.parametrize("filename, catalog_name", CASES)
def test_config_matches_catalog(filename, catalog_name):
    got, want = model_from_hf_config(CONFIGS / filename), planner.model(catalog_name)
    for field in ARCH_FIELDS:
        assert getattr(got, field) == getattr(want, field), field
    assert total_params(got) == total_params(want)
    assert active_params(got) == active_params(want)


SOURCES = tomllib.loads((CONFIGS / "SOURCES.toml").read_text(encoding="utf-8"))["config"]
# Families the reader supports for which no real config.json could be found to test against.
NO_REAL_CONFIG = {"mpt", "cohere2", "mistral3"}


def test_every_config_file_has_a_source_and_every_source_a_file():
    files = {p.name for p in CONFIGS.glob("*.json")}
    assert files == {s["file"] for s in SOURCES}
    for s in SOURCES:
        assert s["hf"].startswith("https://huggingface.co/") and s["got"] and s["published_source"]


def test_supported_types_are_tested_with_real_configs():
    tested = set()
    for s in SOURCES:
        cfg = _cfg(s["file"])
        tested.add(cfg["model_type"])
        if "text_config" in cfg:
            tested.add(cfg["text_config"]["model_type"])
    assert len(tested) >= 22
    assert set(SUPPORTED_MODEL_TYPES) - tested == NO_REAL_CONFIG


@pytest.mark.parametrize("s", SOURCES, ids=lambda s: s["file"])
def test_real_config_matches_published_parameter_count(s):
    """Each real config.json gives the authors' total within 1% (wider only where they round coarser)."""
    m = model_from_hf_config(CONFIGS / s["file"])
    tol = s.get("tolerance", 0.01)
    assert total_params(m) == pytest.approx(s["published"], rel=tol), s["published_source"]
    if "published_active" in s:
        active = active_params(m)
        if s["active_convention"] == "no_input_embedding":
            active -= m.vocab_size * m.dim
        elif s["active_convention"] == "no_embeddings":
            active -= embedding_params(m)
        assert active == pytest.approx(s["published_active"], rel=tol), s["published_source"]


def test_multimodal_config_reads_text_model_and_says_so():
    m = model_from_hf_config(CONFIGS / "gemma-3-4b-it.json")
    assert "multimodal" in m.notes and "gemma3_text" in m.notes and "vision" in m.notes
    # Gemma3TextConfig defaults fill what the file omits (8 heads, 4 KV heads, head_dim 256, vocab 262,208)
    assert (m.n_heads, m.n_kv_heads, m.head_dim, m.vocab_size) == (8, 4, 256, 262_208)
    assert (m.sliding_window, m.sliding_window_pattern, n_local_layers(m)) == (1024, 6, 29)


def test_llama4_reads_the_text_model_with_moe_in_every_other_layer():
    """Llama 4 (model_type llama4): text_config only; Maverick's MoE layers are 1, 3, ..., 47 (24 of 48), each
    with 128 routed experts and a shared expert of intermediate_size; the dense layers use intermediate_size_mlp."""
    from planner.estimate.arithmetic import n_moe_layers
    scout, maverick = (model_from_hf_config(CONFIGS / f) for f in
                       ("llama-4-scout-17b-16e.json", "llama-4-maverick-17b-128e.json"))
    assert "multimodal" in maverick.notes and "llama4_text" in maverick.notes
    assert (maverick.moe_layer_step, n_moe_layers(maverick), maverick.n_experts, maverick.n_shared_experts) == (2, 24, 128, 1)
    assert (maverick.ffn_dim, maverick.moe_ffn_dim, maverick.shared_expert_ffn_dim) == (16384, 8192, 8192)
    assert (scout.moe_layer_step, n_moe_layers(scout), scout.n_experts, scout.n_experts_per_token) == (1, 48, 16, 1)
    # chunked attention on the RoPE layers, every 4th (NoPE) layer global: no_rope_layers [1, 1, 1, 0] * 12
    assert (scout.sliding_window, scout.sliding_window_pattern, n_local_layers(scout)) == (8192, 4, 36)
    # the interleave step decides ~125B parameters: every layer MoE would add 24 x 128 experts
    assert total_params(maverick) < total_params(replace(maverick, moe_layer_step=1)) - 100e9


def test_llama4_moe_layers_that_disagree_with_the_step_are_refused():
    cfg = _cfg("llama-4-maverick-17b-128e.json")
    cfg["text_config"] = {**cfg["text_config"], "moe_layers": [0, 2, 4]}
    assert "moe_layers" in _one_line_planner_error(cfg)


def test_multimodal_without_text_config_is_refused():
    msg = _one_line_planner_error({"model_type": "gemma3", "vision_config": {}})
    assert "text_config" in msg


@pytest.mark.parametrize("filename, fields", [
    ("gpt-j-6b.json", {"parallel_block": True, "norms_per_layer": 1, "mlp": "gelu", "norm": "layernorm",
                       "lm_head_bias": True, "ffn_dim": 16384, "rotary_fraction": 0.25}),
    ("pythia-1b.json", {"parallel_block": True, "norms_per_layer": 2, "qkv_bias": True, "mlp_bias": True}),
    ("phi-2.json", {"parallel_block": True, "norms_per_layer": 1, "lm_head_bias": True, "rotary_fraction": 0.4}),
    ("falcon-40b-instruct.json", {"parallel_block": True, "norms_per_layer": 2, "n_kv_heads": 8, "tied_embeddings": True}),
    ("bloom-560m.json", {"positions": "alibi", "embedding_norm": True, "ffn_dim": 4096}),
    ("opt-6.7b.json", {"positions": "learned", "mlp": "relu", "tied_embeddings": True}),
    ("santacoder.json", {"positions": "learned", "n_kv_heads": 1}),
    ("gemma-2-9b.json", {"mlp": "geglu", "norms_per_layer": 4, "sliding_window": 4096, "sliding_window_pattern": 2}),
    ("gpt-oss-20b.json", {"sliding_window": 128, "sliding_window_pattern": 2, "router_bias": True, "mlp_bias": True}),
    ("mistral-7b-v0.1.json", {"sliding_window": 4096, "sliding_window_pattern": 0}),
    ("qwen3-1.7b.json", {"qk_norm": "head", "tied_embeddings": True}),
    ("olmo-2-1124-7b.json", {"qk_norm": "full"}),
    ("qwen1.5-moe-a2.7b.json", {"n_shared_experts": 1, "shared_expert_ffn_dim": 5632, "shared_expert_gate": True}),
    ("aya-23-8b.json", {"parallel_block": True, "norm": "layernorm_nobias", "tied_embeddings": True}),
    ("phi-3.5-mini-instruct.json", {"sliding_window": 0}),  # 262,144 >= the context: no window
])
def test_architecture_fields_read_from_real_configs(filename, fields):
    m = model_from_hf_config(CONFIGS / filename)
    for key, want in fields.items():
        assert getattr(m, key) == want, key


def test_mpt_reader_on_the_mptconfig_fields():
    """No real MPT config.json was found to store; this checks the reader on MptConfig's own
    field names with MPT-7B's shape (mosaicml/mpt-7b: d_model 4096, 32 layers, 32 heads, vocab 50432)."""
    m = model_from_hf_config({"model_type": "mpt", "d_model": 4096, "n_layers": 32, "n_heads": 32,
                              "expansion_ratio": 4, "max_seq_len": 2048, "vocab_size": 50432,
                              "no_bias": True, "attn_config": {"alibi": True}})
    assert (m.positions, m.norm, m.mlp, m.ffn_dim, m.tied_embeddings) == ("alibi", "layernorm_nobias", "gelu", 16384, True)
    # 32 x (4 d^2 + 8 d^2 + 2 d) + V d + d: no biases, bias-free norms, tied head
    assert total_params(m) == 32 * (12 * 4096**2 + 2 * 4096) + 50432 * 4096 + 4096


def test_unsupported_model_type_lists_the_supported_ones():
    msg = _one_line_planner_error(_cfg() | {"model_type": "gpt2"})
    assert "gpt2" in msg
    for t in ("llama", "gemma2", "gpt_oss", "bloom", "falcon"):
        assert t in msg


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


def test_impossible_shapes_raise_input_error():
    with pytest.raises(InputError, match="n_kv_heads"):
        model_from_hf_config(_cfg() | {"num_key_value_heads": 7})


# Bad MoE and MLA fields in a config.json: a one-line InputError naming the key as written there,
# never a model silently read as dense or with a zero-width latent.
@pytest.mark.parametrize("filename, change, key", [
    ("mixtral-8x7b.json", {"num_local_experts": 0}, "num_experts_per_tok"),  # 0 experts, 2 per token: not dense
    ("mixtral-8x7b.json", {"num_experts_per_tok": 9}, "num_experts_per_tok"),  # 9 of 8 experts
    ("mixtral-8x7b.json", {"num_experts_per_tok": 0}, "num_experts_per_tok"),  # an MoE routing to none
    ("qwen3-30b-a3b.json", {"num_experts": 0}, "num_experts_per_tok"),
    ("qwen3-30b-a3b.json", {"num_experts_per_tok": 129}, "num_experts_per_tok"),
    ("gpt-oss-20b.json", {"num_experts_per_tok": 33}, "num_experts_per_tok"),
    ("deepseek-v3.json", {"n_routed_experts": 0}, "num_experts_per_tok"),
    ("deepseek-v3.json", {"num_experts_per_tok": 257}, "num_experts_per_tok"),
    ("deepseek-v3.json", {"kv_lora_rank": 0}, "kv_lora_rank"),
    ("deepseek-v3.json", {"qk_rope_head_dim": -64}, "qk_rope_head_dim"),
    ("deepseek-v3.json", {"qk_nope_head_dim": 0}, "qk_nope_head_dim"),
    ("deepseek-v3.json", {"v_head_dim": -1}, "v_head_dim"),
    ("deepseek-v3.json", {"q_lora_rank": -1}, "q_lora_rank"),  # 0 (direct queries) is allowed, below is not
])
def test_bad_moe_or_mla_config_names_the_key(filename, change, key):
    with pytest.raises(InputError) as info:
        model_from_hf_config(_cfg(filename) | change)
    assert f"config field {key!r}" in str(info.value) and "\n" not in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_q_lora_rank_zero_reads_as_direct_queries():
    """DeepSeek-V2-Lite's q_lora_rank is null (0 here): queries projected directly, not an error."""
    assert model_from_hf_config(_cfg("deepseek-v3.json") | {"q_lora_rank": None}).mla.q_lora_rank == 0
