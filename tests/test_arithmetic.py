"""Transformer arithmetic against published parameter counts and hand-computed cases."""
from dataclasses import replace

import pytest

import planner
from planner import ModelSpec
from planner.catalog.specs import MLASpec
from planner.core.errors import InputError
from planner.estimate.arithmetic import (
    active_params, attention_flops_per_token, forward_flops_per_token, kv_cache_bytes, kv_cache_bytes_per_token,
    matmul_params, mean_window_keys, n_local_layers, prefill_flops, total_params, training_flops_per_token,
    weight_bytes,
)

MODELS = planner.models()
LLAMA2_7B_PARAMS = 6_738_415_616  # sum(p.numel()) of meta-llama/Llama-2-7b-hf


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.name)
def test_total_params_within_2pct_of_published(m):
    assert total_params(m) == pytest.approx(m.published_params, rel=0.02)


# Authors whose active count leaves out the input embedding (the gpt-oss model card, Table 1).
ACTIVE_WITHOUT_INPUT_EMBEDDING = {"GPT-OSS-20B", "GPT-OSS-120B"}


@pytest.mark.parametrize("m", [m for m in MODELS if m.published_active_params], ids=lambda m: m.name)
def test_moe_active_params_within_2pct_of_published(m):
    active = active_params(m) - (m.vocab_size * m.dim if m.name in ACTIVE_WITHOUT_INPUT_EMBEDDING else 0)
    assert active == pytest.approx(m.published_active_params, rel=0.02)


def test_moe_every_other_layer_counts_half_the_experts():
    """Llama 4 Maverick: 24 MoE layers (1, 3, ..., 47) and 24 dense ones, worked out by hand."""
    from planner.estimate.arithmetic import ffn_params, is_moe_layer, mlp_params, n_moe_layers
    m = planner.model("Llama-4-Maverick")
    assert m.moe_layer_step == 2 and n_moe_layers(m) == 24
    assert [i for i in range(m.n_layers) if is_moe_layer(m, i)] == list(range(1, 48, 2))
    dense, expert = 3 * 5120 * 16384, 3 * 5120 * 8192
    assert ffn_params(m, 0, active=False) == mlp_params(m, m.ffn_dim) == dense
    assert ffn_params(m, 1, active=False) == 128 * expert + expert + 5120 * 128  # routed + shared + router
    every = replace(m, moe_layer_step=1)
    assert total_params(every) - total_params(m) == 24 * (128 * expert + expert + 5120 * 128 - dense)


@pytest.mark.parametrize("fields, name", [
    (dict(moe_layer_step=2), "moe_layer_step"),  # a dense model has no MoE layers to interleave
    (dict(n_experts=8, n_experts_per_token=2, moe_layer_step=33), "moe_layer_step"),  # no MoE layer left
    (dict(n_experts=8, n_experts_per_token=2, moe_layer_step=0), "moe_layer_step"),
])
def test_bad_moe_layer_step_is_refused(fields, name):
    with pytest.raises(InputError, match=name):
        replace(planner.model("Llama-3.1-8B"), **fields)


@pytest.mark.parametrize("m", [m for m in MODELS if not m.is_moe], ids=lambda m: m.name)
def test_dense_active_equals_total(m):
    assert active_params(m) == total_params(m)


def test_llama2_7b_exact():
    m = planner.model("Llama-2-7B")
    # per layer: attention 4 * 4096^2, SwiGLU 3 * 4096 * 11008, two norms; plus embeddings and final norm
    per_layer = 4 * 4096 * 4096 + 3 * 4096 * 11008 + 2 * 4096
    assert total_params(m) == 32 * per_layer + 2 * 32000 * 4096 + 4096 == LLAMA2_7B_PARAMS


def test_exact_counts_of_other_checkpoints():
    """Counts of the released checkpoints (sum of tensor sizes in the safetensors index)."""
    assert total_params(planner.model("Llama-3.1-8B")) == 8_030_261_248
    assert total_params(planner.model("Mistral-7B-v0.1")) == 7_241_732_096
    assert total_params(planner.model("Mixtral-8x7B")) == 46_702_792_704


def test_mixtral_inactive_experts():
    m = planner.model("Mixtral-8x7B")
    # 6 of 8 experts idle per token, 32 layers, each expert 3 * 4096 * 14336
    assert total_params(m) - active_params(m) == 32 * 6 * 3 * 4096 * 14336


def test_qkv_bias_adds_q_plus_two_kv_per_layer():
    m = planner.model("Qwen2.5-7B")
    no_bias = replace(m, qkv_bias=False)
    assert total_params(m) - total_params(no_bias) == 28 * (3584 + 2 * 4 * 128)


def test_tied_embeddings_count_once_and_take_part_in_matmuls():
    untied = ModelSpec(name="t", n_layers=2, dim=64, n_heads=4, n_kv_heads=4, ffn_dim=128, vocab_size=1000)
    tied = replace(untied, tied_embeddings=True)
    assert total_params(untied) - total_params(tied) == 1000 * 64
    # Untied: the input table is a lookup, no FLOPs. Tied: the one matrix is the output head.
    assert matmul_params(untied) == matmul_params(tied) == total_params(tied)


def test_kv_bytes_llama2_7b_mha():
    assert kv_cache_bytes_per_token(planner.model("Llama-2-7B"), 2) == 2 * 32 * 32 * 128 * 2 == 524_288


def test_kv_bytes_gqa():
    # Llama-3.1-8B: 8 KV heads of 128 over 32 layers; Llama-2-70B: 8 KV heads over 80 layers
    assert kv_cache_bytes_per_token(planner.model("Llama-3.1-8B"), 2) == 2 * 32 * 8 * 128 * 2 == 131_072
    assert kv_cache_bytes_per_token(planner.model("Llama-2-70B"), 2) == 2 * 80 * 8 * 128 * 2 == 327_680
    assert kv_cache_bytes_per_token(planner.model("Qwen2.5-7B"), 1) == 2 * 28 * 4 * 128 * 1 == 28_672


def test_kv_bytes_mla():
    # DeepSeek-V3 caches kv_lora_rank + qk_rope_head_dim = 512 + 64 per layer
    assert kv_cache_bytes_per_token(planner.model("DeepSeek-V3"), 2) == 61 * (512 + 64) * 2 == 70_272


LLAMA2_7B_EMBEDDINGS = 2 * 32000 * 4096  # input table + untied output head: kept 16-bit by quantisers


@pytest.mark.parametrize("precision, bytes_per_weight", [
    ("fp32", 4), ("bf16", 2), ("fp16", 2), ("fp8", 1), ("int8", 1), ("int8-weight-only", 1),
    ("int4-weight-only", 0.5 + 2 / 128), ("int4", 0.5 + 2 / 128),  # int4: alias; an fp16 scale per 128 weights
])
def test_weight_bytes(precision, bytes_per_weight):
    """Linear weights at the format's bytes (scales included), embedding table and head at 16 bits
    (32 for fp32), by hand for Llama-2-7B."""
    linear = LLAMA2_7B_PARAMS - LLAMA2_7B_EMBEDDINGS
    embedding_bytes = 4 if precision == "fp32" else 2
    expected = linear * bytes_per_weight + LLAMA2_7B_EMBEDDINGS * embedding_bytes
    assert weight_bytes(planner.model("Llama-2-7B"), precision) == pytest.approx(expected, rel=1e-12)


def test_int4_group_scales_by_hand():
    # 4096 x 4096 weights in 128-groups: 131,072 groups x 2 B of fp16 scale + 8 Mi weights x 0.5 B
    assert planner.catalog.specs.precision("int4-weight-only").bytes_per_weight * 4096 * 4096 == \
        4096 * 4096 // 2 + 4096 * 4096 // 128 * 2


def test_weight_bytes_unknown_precision():
    with pytest.raises(planner.UnknownNameError, match="unknown precision .fp61"):
        weight_bytes(planner.model("Llama-2-7B"), "fp61")


def test_forward_flops_llama2_7b_by_hand():
    m = planner.model("Llama-2-7B")
    matmul = LLAMA2_7B_PARAMS - 32000 * 4096  # input embedding is a lookup
    assert matmul_params(m) == matmul == 6_607_343_616
    attention = 2 * 32 * 32 * (128 + 128) * 4096  # QK^T and AV over 4096 keys, all layers and heads
    assert attention_flops_per_token(m, 4096) == attention == 2_147_483_648
    assert forward_flops_per_token(m, 4096) == 2 * matmul + attention == 15_362_170_880
    assert forward_flops_per_token(m) == 2 * matmul
    assert training_flops_per_token(m, 4096) == 3 * (2 * matmul + attention)


def test_forward_flops_moe_counts_active_experts_only():
    m = planner.model("Mixtral-8x7B")
    assert forward_flops_per_token(m) == 2 * (active_params(m) - 32000 * 4096)
    assert forward_flops_per_token(m) < 2 * total_params(m) / 3


def test_attention_flops_mla_uses_qk_and_v_dims():
    m = planner.model("DeepSeek-V3")
    assert attention_flops_per_token(m, 1000) == 2 * 61 * 128 * ((128 + 64) + 128) * 1000


def test_prefill_is_causal_average():
    m = planner.model("Llama-3.1-8B")
    p = 2048
    assert prefill_flops(m, p) == pytest.approx(p * (2 * matmul_params(m) + attention_flops_per_token(m, (p + 1) / 2)))
    assert prefill_flops(m, p) < p * forward_flops_per_token(m, p)


# ---- architectures as data: hand-computed cases -------------------------------------------

def test_gelu_layernorm_model_by_hand():
    """A GPT-2-style block: LayerNorm (scale + shift), biased q/k/v/o, plain GELU MLP, learned positions, tied head."""
    m = ModelSpec(name="gelu", n_layers=2, dim=8, n_heads=2, n_kv_heads=2, ffn_dim=32, vocab_size=10,
                  context_length=16, mlp="gelu", norm="layernorm", positions="learned", tied_embeddings=True,
                  qkv_bias=True, attn_out_bias=True, mlp_bias=True)
    attention = 4 * 8 * 8 + 3 * 8 + 8          # q, k, v, o weights; q/k/v biases; o bias
    mlp = 2 * 8 * 32 + 32 + 8                  # fc_in, fc_out; their biases
    norms = 2 * (2 * 8)                        # two LayerNorms of weight + bias
    per_layer = attention + mlp + norms
    embeddings = 10 * 8 + 16 * 8               # tied token table + position table
    assert total_params(m) == 2 * per_layer + embeddings + 2 * 8 == 1_968
    # positions are a lookup; the tied table is the output head's matmul
    assert matmul_params(m) == total_params(m) - 16 * 8


def test_gated_mlp_has_three_matrices_plain_two():
    base = dict(name="x", n_layers=1, dim=16, n_heads=2, n_kv_heads=2, ffn_dim=64, vocab_size=10)
    gated = {k: total_params(ModelSpec(**base, mlp=k)) for k in ("swiglu", "geglu")}
    plain = {k: total_params(ModelSpec(**base, mlp=k)) for k in ("gelu", "relu")}
    assert gated["swiglu"] == gated["geglu"] and plain["gelu"] == plain["relu"]
    assert gated["swiglu"] - plain["gelu"] == 16 * 64


def test_parallel_block_model_by_hand():
    """GPT-J-style layer: one LayerNorm feeds attention and MLP; MLP and head biased, attention not."""
    m = ModelSpec(name="gptj-like", n_layers=3, dim=16, n_heads=4, n_kv_heads=4, ffn_dim=64, vocab_size=50,
                  mlp="gelu", norm="layernorm", parallel_block=True, norms_per_layer=1,
                  mlp_bias=True, lm_head_bias=True)
    per_layer = 4 * 16 * 16 + (2 * 16 * 64 + 64 + 16) + 2 * 16
    assert total_params(m) == 3 * per_layer + 2 * 50 * 16 + 50 + 2 * 16 == 11_234
    serial = replace(m, parallel_block=False, norms_per_layer=2)
    assert total_params(serial) - total_params(m) == 3 * 2 * 16  # the second norm per layer


def test_sliding_window_kv_cache_by_hand():
    """Gemma-2-like: 4 layers alternate local (window 8) and global; 2 KV heads of 4, bf16."""
    m = ModelSpec(name="swa", n_layers=4, dim=16, n_heads=4, n_kv_heads=2, ffn_dim=32, vocab_size=10,
                  context_length=1024, sliding_window=8, sliding_window_pattern=2)
    per_layer_token = 2 * 2 * 4 * 2  # K and V, 2 heads, head_dim 4, 2 bytes
    assert kv_cache_bytes_per_token(m) == 4 * per_layer_token
    assert kv_cache_bytes(m, 6) == 4 * 6 * per_layer_token            # within the window: all layers grow
    assert kv_cache_bytes(m, 100) == (2 * 100 + 2 * 8) * per_layer_token  # local layers keep 8 tokens
    assert attention_flops_per_token(m, 100) == 2 * 4 * (4 + 4) * (2 * 100 + 2 * 8)


def test_mistral_window_caps_kv_cache_and_attention():
    m = planner.model("Mistral-7B-v0.1")
    full = replace(m, sliding_window=0)
    assert kv_cache_bytes(m, 4096) == kv_cache_bytes(full, 4096) == 4096 * kv_cache_bytes_per_token(m)
    assert kv_cache_bytes(m, 32768) == 4096 * kv_cache_bytes_per_token(m)
    assert kv_cache_bytes(full, 32768) == 32768 * kv_cache_bytes_per_token(m)
    assert attention_flops_per_token(m, 32768) == attention_flops_per_token(m, 4096)
    assert prefill_flops(m, 2048) == prefill_flops(full, 2048)
    assert prefill_flops(m, 16384) < prefill_flops(full, 16384)


@pytest.mark.parametrize("p, w", [(1, 8), (8, 8), (9, 8), (100, 8), (5000, 4096)])
def test_mean_window_keys_is_the_mean_of_min_i_w(p, w):
    assert mean_window_keys(p, w) == pytest.approx(sum(min(i, w) for i in range(1, p + 1)) / p)


@pytest.mark.parametrize("layers, pattern, local", [(42, 2, 21), (26, 6, 22), (34, 6, 29), (32, 0, 32), (36, 2, 18)])
def test_local_layer_count_follows_the_pattern(layers, pattern, local):
    m = ModelSpec(name="p", n_layers=layers, dim=8, n_heads=2, n_kv_heads=2, ffn_dim=8, vocab_size=8,
                  sliding_window=4, sliding_window_pattern=pattern)
    assert n_local_layers(m) == local


def test_shared_expert_with_own_width_and_gate():
    """Qwen2-MoE layer: 4 routed experts of 8 (2 active), one shared expert of 24 and its dim -> 1 gate."""
    m = ModelSpec(name="qmoe", n_layers=1, dim=4, n_heads=2, n_kv_heads=2, ffn_dim=16, vocab_size=10,
                  n_experts=4, n_experts_per_token=2, moe_ffn_dim=8, n_shared_experts=1,
                  shared_expert_ffn_dim=24, shared_expert_gate=True)
    routed, shared, gate, router = 3 * 4 * 8, 3 * 4 * 24, 4, 4 * 4
    assert total_params(m) - active_params(m) == 2 * routed
    assert total_params(m) == 4 * 4 * 4 + 4 * routed + shared + gate + router + 2 * 4 + 2 * 10 * 4 + 4


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.name)
def test_kv_cache_total_never_exceeds_full_attention(m):
    for t in (1, 1000, 100_000):
        assert kv_cache_bytes(m, t) <= t * kv_cache_bytes_per_token(m)
    assert kv_cache_bytes(m, 10) == 10 * kv_cache_bytes_per_token(m)


@pytest.mark.parametrize("field, value", [
    ("n_layers", 1_000_000_000), ("n_layers", 0), ("dim", 2_000_000), ("head_dim", -1), ("vocab_size", -5),
    ("sliding_window", -1), ("mlp", "swish"), ("norm", "batchnorm"), ("positions", "nope"), ("qk_norm", "all"),
    ("rotary_fraction", 0.0), ("norms_per_layer", 9), ("pretraining_tokens", -1.0), ("n_dense_layers", 99),
])
def test_absurd_fields_are_refused_naming_the_field(field, value):
    base = dict(name="t", n_layers=4, dim=64, n_heads=4, n_kv_heads=4, ffn_dim=128, vocab_size=100)
    with pytest.raises(InputError, match=field):
        ModelSpec(**(base | {field: value}))


def test_negative_mla_rank_is_refused():
    with pytest.raises(InputError, match="mla.kv_lora_rank"):
        replace(planner.model("DeepSeek-V3"), mla=MLASpec(1536, -512, 128, 64, 128))


@pytest.mark.parametrize("mla, field", [
    (MLASpec(1536, 0, 128, 64, 128), "mla.kv_lora_rank"), (MLASpec(1536, 512, 0, 64, 128), "mla.qk_nope_head_dim"),
    (MLASpec(1536, 512, 128, 0, 128), "mla.qk_rope_head_dim"), (MLASpec(1536, 512, 128, 64, 0), "mla.v_head_dim"),
])
def test_zero_mla_dimensions_are_refused(mla, field):
    with pytest.raises(InputError, match=field):
        replace(planner.model("DeepSeek-V3"), mla=mla)
    replace(planner.model("DeepSeek-V3"), mla=MLASpec(0, 512, 128, 64, 128))  # q_lora_rank 0: V2-Lite's direct queries


def test_experts_per_token_without_experts_is_refused_not_read_as_dense():
    with pytest.raises(InputError, match="n_experts_per_token"):
        replace(planner.model("Llama-3.1-8B"), n_experts_per_token=2)
    with pytest.raises(InputError, match="n_experts_per_token"):
        replace(planner.model("Mixtral-8x7B"), n_experts_per_token=9)  # more than the 8 experts


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.name)
def test_pretraining_fields_are_sourced(m):
    assert m.pretraining_source is not None and m.pretraining_source.url.startswith("https://")
    assert m.pretraining_tokens == 0 or 1e11 <= m.pretraining_tokens <= 1e14
    assert m.pretraining_context_length == 0 or 512 <= m.pretraining_context_length <= m.context_length


def test_published_pretraining_tokens():
    assert planner.model("Llama-3.1-8B").pretraining_tokens == 15e12
    assert planner.model("Qwen2.5-7B").pretraining_tokens == 18e12
    assert planner.model("Llama-2-7B").pretraining_tokens == 2e12
    assert planner.model("Mistral-7B-v0.1").pretraining_tokens == 0  # not published
