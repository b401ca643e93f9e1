"""QLoRA memory by stack (planner/estimate/qlora_memory.py) and FSDP CPU offload of parameters, each term by hand."""
from __future__ import annotations

import dataclasses

import pytest

import planner
from planner.catalog.published_memory import published_memory
from planner.core.errors import PlannerError, UnknownNameError
from planner.estimate import qlora_memory as qm
from planner.estimate.arithmetic import total_params
from planner.estimate.finetuning import finetuning, qlora_weight_bytes
from planner.estimate.layout import TrainingLayout, training_memory

M = "Llama-2-7B"  # dim 4,096, 32 layers of 32 x 128 heads, ffn 11,008, vocabulary 32,000, 6,738,415,616 parameters
SBH = 512 * 2 * 4_096  # litgpt config hub: max seq 512, micro-batch 2
LITGPT = dict(model=M, gpu="A10G", method="qlora", tokens=1e6, n_gpus=1, seq_len=512, micro_batch=2, lora_rank=32,
              lora_targets="qv", double_quant=False, optimizer="adamw-bf16", activation_checkpointing=False)


def test_litgpt_keeps_the_quantized_linears_inputs_by_hand():
    """bitsandbytes' MatMul4Bit kept its input: attention input 4,096 + output projection input 4,096 + MLP input
    4,096 + down projection input 11,008 = 23,296 bf16 values per token per layer = 11.375 bytes per s b h."""
    m = planner.model(M)
    assert qm.saved_input_bytes_per_sbh(m, qm.STACKS["litgpt"]) == pytest.approx(2 * 23_296 / 4_096)
    assert qm.saved_input_bytes_per_sbh(m, qm.STACKS["peft"]) == 0.0
    lit, peft = finetuning(**LITGPT, qlora_stack="litgpt"), finetuning(**LITGPT)
    assert lit.memory.activations - peft.memory.activations == pytest.approx(32 * 2 * 23_296 * 1_024)  # 1.53 GB
    assert [a.value for a in lit.assumptions if a.name == "qlora_stack"] == ["litgpt"]
    assert not [a for a in finetuning(**{**LITGPT, "method": "lora"}).assumptions if a.name == "qlora_stack"]
    # under full recomputation only the layer being recomputed keeps them
    kw = {**LITGPT, "activation_checkpointing": True}
    full_lit, full_peft = finetuning(**kw, qlora_stack="litgpt"), finetuning(**kw)
    assert full_lit.memory.activations - full_peft.memory.activations == pytest.approx(2 * 23_296 * 1_024)


def test_litgpt_weights_nf4_head_two_dequantized_copies_and_the_residual_by_hand():
    """litgpt quantizes the head too: embedding 32,000 x 4,096 and 64 norms of 4,096 stay bf16, the rest NF4 at
    4.5 bits; the head (131,072,000, the largest matrix) dequantizes into fp16 then bf16: 2 x 2 bytes each."""
    m = planner.model(M)
    head, bf16 = 32_000 * 4_096, 32_000 * 4_096 + 32 * 2 * 4_096
    by_hand = (6_738_415_616 - bf16) * 4.5 / 8 + 2 * bf16 + 2 * 2 * head + qm.LITGPT_RESIDUAL_BYTES
    assert qlora_weight_bytes(m, False, "litgpt") * total_params(m) == pytest.approx(by_hand, rel=1e-12)
    assert finetuning(**LITGPT, qlora_stack="litgpt").memory.weights == pytest.approx(by_hand)
    # the default stack keeps the bf16 head and one copy of the largest block linear (4,096 x 11,008)
    peft = (6_738_415_616 - bf16 - head) * 4.5 / 8 + 2 * (bf16 + head) + 2 * 4_096 * 11_008
    assert qlora_weight_bytes(m, False) * total_params(m) == pytest.approx(peft, rel=1e-12)


def test_a_tied_head_is_not_counted_twice():
    m = planner.model(M)
    assert qm.head_params(m) == 32_000 * 4_096
    tied = dataclasses.replace(m, tied_embeddings=True)
    assert qm.head_params(tied) == 0.0


def test_published_rows_name_a_known_stack_and_only_litgpt_qlora_rows_use_litgpt():
    for f in published_memory():
        assert f.qlora_stack in qm.STACKS
        assert (f.qlora_stack == "litgpt") == (f.method == "qlora" and f.name.startswith("litgpt"))


@pytest.mark.parametrize("stack, error", [("unsloth", UnknownNameError), (3, PlannerError), ("", PlannerError)])
def test_an_unknown_qlora_stack_is_refused(stack, error):
    with pytest.raises(error) as e:
        finetuning(**LITGPT, qlora_stack=stack)
    assert "qlora_stack" in str(e.value) or getattr(e.value, "kind", "") == "qlora_stack"


def test_fsdp_cpu_offload_of_parameters_keeps_only_the_gathered_layers_by_hand():
    """FSDP2 CPUOffloadPolicy: shards live on the CPU and are copied host-to-device before the all-gather, so the GPU
    holds the gathered current and prefetched layer (communication buffers, 2 x P / 80 x 2 bytes for Llama-3.1-70B)
    and two layers' unsharded gradients, and no weights of its own; without ZeRO-3 the two streamed layers are the
    weights and nothing is gathered."""
    m = planner.model("Llama-3.1-70B")
    p = total_params(m)
    layer = p / m.n_layers * 2.0
    kw = dict(optimizer="adamw", offload="params", recompute="full", micro_batch=2)
    z3 = training_memory(m, "A100 80GB SXM", TrainingLayout(dp=8, zero_stage=3, **kw), 2048)
    assert z3.weights == 0.0 and z3.optimizer_states == 0.0
    assert z3.communication_buffers == pytest.approx(2 * layer)
    assert z3.gradients == pytest.approx(2 * layer)
    z1 = training_memory(m, "A100 80GB SXM", TrainingLayout(dp=8, zero_stage=1, **kw), 2048)
    assert z1.weights == pytest.approx(2 * layer) and z1.communication_buffers == 0.0


def test_max_fit_takes_the_stack_and_litgpt_fits_less():
    from planner.estimate.max_fit import max_fit
    kw = dict(model=M, gpu="A10G", method="qlora", seq_len=512, lora_targets="qv", activation_checkpointing=False)
    lit, peft = max_fit(**kw, qlora_stack="litgpt"), max_fit(**kw)
    assert lit.max_micro_batch < peft.max_micro_batch
    with pytest.raises(UnknownNameError):
        max_fit(**kw, qlora_stack="unsloth")
