"""Transformer arithmetic against published parameter counts and hand-computed cases."""
from dataclasses import replace

import pytest

import planner
from planner import ModelSpec
from planner.estimate.arithmetic import (
    active_params, attention_flops_per_token, forward_flops_per_token, kv_cache_bytes_per_token,
    matmul_params, prefill_flops, total_params, training_flops_per_token, weight_bytes,
)

MODELS = planner.models()
LLAMA2_7B_PARAMS = 6_738_415_616  # sum(p.numel()) of meta-llama/Llama-2-7b-hf


@pytest.mark.parametrize("m", MODELS, ids=lambda m: m.name)
def test_total_params_within_2pct_of_published(m):
    assert total_params(m) == pytest.approx(m.published_params, rel=0.02)


@pytest.mark.parametrize("m", [m for m in MODELS if m.published_active_params], ids=lambda m: m.name)
def test_moe_active_params_within_2pct_of_published(m):
    assert active_params(m) == pytest.approx(m.published_active_params, rel=0.02)


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


@pytest.mark.parametrize("precision, bytes_per_weight", [
    ("fp32", 4), ("bf16", 2), ("fp8", 1), ("int8", 1), ("int4", 0.5),
])
def test_weight_bytes(precision, bytes_per_weight):
    assert weight_bytes(planner.model("Llama-2-7B"), precision) == LLAMA2_7B_PARAMS * bytes_per_weight


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
