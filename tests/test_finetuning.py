"""Fine-tuning: FLOPs per method, memory per method, bad input."""
import pytest

import planner
from planner.estimate.arithmetic import attention_flops_per_token, matmul_params, total_params
from planner.estimate.finetuning import finetuning, flops_per_token, lora_params, qlora_weight_bytes
from planner.estimate.layout import TrainingLayout, training_memory

M = "Llama-2-7B"


def test_lora_params_by_hand():
    # r x (d_in + d_out) on q, k, v, o (4096 -> 4096) and w1, w3 (4096 -> 11008), w2 (11008 -> 4096), 32 layers.
    per_layer = 4 * (4096 + 4096) + 3 * (4096 + 11008)
    assert lora_params(planner.model(M), 16) == 16 * 32 * per_layer == 39_976_960


def test_lora_saves_a_third_of_the_base_flops():
    m = planner.model(M)
    attn = 3 * attention_flops_per_token(m, 2048)
    full = flops_per_token(m, "full", 2048, 16)
    lora = flops_per_token(m, "lora", 2048, 16)
    assert full == pytest.approx(6 * matmul_params(m) + attn)
    assert lora == pytest.approx(4 * matmul_params(m) + 6 * lora_params(m, 16) + attn)
    assert flops_per_token(m, "qlora", 2048, 16) == lora


def test_memory_ordering_and_min_gpus():
    kw = dict(model=M, gpu="A100 80GB SXM", tokens=10e6, epochs=1)
    full, lora, qlora = (finetuning(method=x, **kw) for x in ("full", "lora", "qlora"))
    assert full.min_gpus >= 2  # 16 bytes x 6.7B = 108 GB of states
    assert lora.min_gpus == qlora.min_gpus == 1
    assert qlora.memory.weights < lora.memory.weights
    assert full.memory.optimizer_states * full.n_gpus > 50 * lora.memory.optimizer_states  # states of every weight
    base = qlora_weight_bytes(planner.model(M)) * total_params(planner.model(M))
    assert qlora.memory.weights == pytest.approx(base) and qlora.memory_per_gpu_bytes == qlora.memory.total


def test_qlora_base_bytes_by_hand():
    """Llama-2-7B: 6,738,415,616 parameters; embedding + head 2 x 32,000 x 4,096 and 64 norms of 4,096 stay bf16;
    the rest NF4 at 4.127 bits (double quant) or 4.5; plus a bf16 buffer for the largest linear, 4,096 x 11,008."""
    m = planner.model(M)
    bf16 = 2 * 32_000 * 4_096 + 32 * 2 * 4_096
    nf4 = 6_738_415_616 - bf16
    buffer = 2 * 4_096 * 11_008
    for dq, bits in ((True, 4.127), (False, 4.5)):
        by_hand = nf4 * bits / 8 + 2 * bf16 + buffer  # 3.956 GB with double quant, 4.258 GB without
        assert qlora_weight_bytes(m, dq) * total_params(m) == pytest.approx(by_hand, rel=1e-12)
    kw = dict(model=M, gpu="RTX 4090", method="qlora", tokens=1e6, n_gpus=1)
    on, off = finetuning(**kw), finetuning(**kw, double_quant=False)
    assert off.memory.weights - on.memory.weights == pytest.approx(nf4 * (4.5 - 4.127) / 8)  # 0.30 GB


def test_bf16_adamw_without_master_copy_by_hand():
    """torchtune's full fine-tune: bf16 weights (2) + bf16 gradients (2) + bf16 m and v (4) = 8 bytes per parameter,
    half of mixed-precision AdamW's 2 + 2 + 12 = 16."""
    n = total_params(planner.model(M))
    bf16, mixed = (training_memory(M, "H100 SXM", TrainingLayout(optimizer=o), 2048) for o in ("adamw-bf16", "adamw"))
    assert bf16.optimizer_states == pytest.approx(4 * n) and mixed.optimizer_states == pytest.approx(12 * n)
    assert bf16.weights + bf16.gradients + bf16.optimizer_states == pytest.approx(8 * n)


def test_offloaded_optimizer_keeps_two_layers_of_gradients_on_the_gpu():
    """ZeRO-Offload moves states and reduced gradients to the CPU layer by layer: the GPU keeps about two layers'
    bf16 gradients (2 x 2 bytes x params / 32 layers for Llama-2-7B), not the whole model's."""
    n = total_params(planner.model(M))
    off = training_memory(M, "H100 SXM", TrainingLayout(offload="optimizer"), 2048)
    assert off.optimizer_states == 0.0 and off.gradients == pytest.approx(2 * 2 * n / 32)


def test_qlora_is_slower_than_lora_and_full_costs_more():
    kw = dict(model=M, gpu="H100 SXM", tokens=50e6, epochs=2, n_gpus=1)
    lora, qlora = finetuning(method="lora", **kw), finetuning(method="qlora", **kw, optimizer="adamw")
    assert qlora.gpu_hours.p50 == pytest.approx(lora.gpu_hours.p50 * 1.39, rel=0.02)
    full = finetuning(method="full", **{**kw, "n_gpus": 2})
    assert full.gpu_hours.p50 > lora.gpu_hours.p50  # weight gradients: a third more GEMM work
    assert 0.2 < lora.mfu.p50 < 0.7


def test_published_single_gpu_and_offloaded_setups_fit():
    # QLoRA's headline: a 65B model fine-tuned on one 48 GB GPU (Dettmers et al. 2023, arXiv:2305.14314, abstract).
    q = finetuning(model="LLaMA-65B", gpu="RTX A6000", method="qlora", tokens=5e6, seq_len=512, n_gpus=1)
    assert q.n_gpus == 1 and q.memory.fits and q.layout.optimizer == "paged-adamw-8bit"
    # A full fine-tune of a 70B model on one 8 x A100 node with the optimizer offloaded to the CPU (ZeRO-Offload).
    off = finetuning(model="Llama-2-70B", gpu="A100 80GB SXM", method="full", tokens=10e6, n_gpus=8, offload="optimizer")
    assert off.memory.fits and off.step.offload_s > 0
    # An 8B full fine-tune on one 48 GB GPU with a paged 8-bit optimizer (torchtune's single-device recipe).
    p8 = finetuning(model="Llama-3.1-8B", gpu="RTX A6000", method="full", tokens=10e6, n_gpus=1,
                    optimizer="paged-adamw-8bit")
    assert p8.memory.fits and p8.memory.optimizer_states == 0.0


def test_unpacked_short_examples_cost_more_per_real_token():
    kw = dict(model=M, gpu="A100 80GB SXM", method="lora", tokens=10e6, n_gpus=1, seq_len=512)
    packed = finetuning(**kw)
    padded = finetuning(**kw, packing=False, example_tokens=200)
    assert padded.useful_fraction == pytest.approx(200 / 512)
    assert padded.gpu_hours.p50 == pytest.approx(packed.gpu_hours.p50 * 512 / 200, rel=0.01)


def test_eager_framework_overhead_matters_for_short_sequences_only():
    kw = dict(model=M, gpu="A100 80GB SXM", method="lora", tokens=10e6, n_gpus=1)
    short = [finetuning(seq_len=256, framework=f, **kw).gpu_hours.p50 for f in ("compiled", "eager")]
    long = [finetuning(seq_len=4096, framework=f, **kw).gpu_hours.p50 for f in ("compiled", "eager")]
    assert short[1] / short[0] > long[1] / long[0] > 1.0


def test_seventy_b_full_needs_many_gpus_and_error_says_so():
    with pytest.raises(planner.DoesNotFitError, match="needs at least"):
        finetuning(model="Llama-3.1-70B", gpu="H100 SXM", method="full", tokens=1e6, n_gpus=2)
    assert finetuning(model="Llama-3.1-70B", gpu="H100 SXM", method="qlora", tokens=1e6).min_gpus == 1


@pytest.mark.parametrize("kw,field", [({"tokens": 0}, "tokens"), ({"epochs": -1}, "epochs"), ({"n_gpus": 0}, "n_gpus"),
                                      ({"double_quant": "yes"}, "double_quant")])
def test_bad_input(kw, field):
    with pytest.raises(planner.InputError) as e:
        finetuning(**{"model": M, "gpu": "H100 SXM", "tokens": 1e6, **kw})
    assert e.value.field == field


def test_unknown_method_lists_methods():
    with pytest.raises(planner.UnknownNameError, match="lora"):
        finetuning(model=M, gpu="H100 SXM", method="lorra", tokens=1e6)


# The knobs fine-tuners set (issue 22), named as Trainer / torchtune / litgpt name them.
K = dict(model="Llama-3.1-8B", gpu="RTX 4090", method="lora", tokens=1e6, n_gpus=1)


def _assumed(est, name):
    return next(a.value for a in est.assumptions if a.name == name)


def test_per_device_batch_and_accumulation_pin_the_step():
    e = finetuning(**K, micro_batch=4, grad_accum=8, activation_checkpointing=True, chunked_loss=True)
    assert e.layout.micro_batch == 4 and e.layout.recompute == "full"
    assert _assumed(e, "global_batch") == 4 * 8 * 1  # micro-batch x accumulation x one replica


def test_activation_checkpointing_off_keeps_every_layer_and_chunked_loss_saves_logits():
    """Llama-3.1-8B at 2,048 tokens, micro-batch 1: no recomputation keeps 34 s h bytes per layer (Korthikanti et
    al. 2022 with flash attention) = 34 x 2048 x 4096 x 32 = 9.13 GB, plus 2048 x 128,256 logits at 10 bytes each
    (bf16 logits, the saved fp32 log-softmax and an fp32 transient) = 2.63 GB; chunked over 8, the logits cost
    2 + 4/8 = 2.5 bytes per element instead of 10."""
    off = finetuning(**K, micro_batch=1, activation_checkpointing=False)
    chunked = finetuning(**K, micro_batch=1, activation_checkpointing=False, chunked_loss=True)
    logits = 2048 * 128_256
    assert off.memory.activations == pytest.approx(34 * 2048 * 4096 * 32 + 10 * logits)
    assert off.memory.activations - chunked.memory.activations == pytest.approx((10 - 2.5) * logits)


def test_lora_target_sets_by_hand():
    m = planner.model(M)  # Llama-2-7B: dim 4096, ffn 11008, vocab 32000, MHA
    attn_qkv = 3 * (4096 + 4096)
    assert lora_params(m, 8, "qkv") == 8 * 32 * attn_qkv
    assert lora_params(m, 8, "mlp") == 8 * 32 * 3 * (4096 + 11008)
    assert lora_params(m, 8, "all-linear+output") == lora_params(m, 8, "all-linear") + 8 * (4096 + 32000)


@pytest.mark.parametrize("kw,field", [({"micro_batch": 0}, "micro_batch"), ({"grad_accum": 0}, "grad_accum"),
                                      ({"activation_checkpointing": "on"}, "activation_checkpointing"),
                                      ({"chunked_loss": 1}, "chunked_loss")])
def test_bad_knobs_name_the_field(kw, field):
    with pytest.raises((planner.InputError, planner.PlannerTypeError)) as e:
        finetuning(**{**K, **kw})
    assert field in str(e.value)


def test_layout_global_batch_is_read():
    """A published global batch can be pinned: TrainingLayout.global_batch sets the sequences per step."""
    e = finetuning(**K, layout=TrainingLayout(micro_batch=1, recompute="full", global_batch=128))
    assert _assumed(e, "global_batch") == 128
    small = finetuning(**K, layout=TrainingLayout(micro_batch=1, recompute="full", global_batch=4))
    assert _assumed(small, "global_batch") == 4
    assert small.gpu_hours.p50 > e.gpu_hours.p50  # the optimizer step is paid per 4 sequences, not per 128


def test_lora_frozen_base_is_sharded_by_fsdp_and_activations_are_not():
    """torchtune's and litgpt's distributed LoRA wrap the model in FSDP: the frozen bf16 base is split over the GPUs
    (16.06 GB / 4 for Llama-3.1-8B), while each GPU keeps its own micro-batch's activations whole (no tensor
    parallelism): the same activations as on one GPU."""
    kw = dict(model="Llama-3.1-8B", gpu="A100 80GB SXM", method="lora", tokens=1e6)
    n = total_params(planner.model("Llama-3.1-8B"))
    four = finetuning(**kw, layout=TrainingLayout(dp=4, zero_stage=3, micro_batch=2, recompute="full"))
    one = finetuning(**kw, layout=TrainingLayout(dp=1, zero_stage=3, micro_batch=2, recompute="full"))
    assert four.memory.weights == pytest.approx(2 * n / 4) and one.memory.weights == pytest.approx(2 * n)
    assert four.memory.activations == pytest.approx(one.memory.activations)
    searched = finetuning(**kw, n_gpus=4)
    assert searched.layout.tp == searched.layout.pp == 1  # the frameworks' data parallelism, not Megatron's


def test_activation_offload_and_optimizer_in_backward_by_hand():
    """Activation offloading keeps two layers' activations (2 x 34 s h bytes) and the logits on the GPU; an optimizer
    fused into the backward keeps two layers' gradients (2 x 2 bytes x N / 32 layers) instead of all of them."""
    kw = dict(model="Llama-3.1-8B", gpu="A100 80GB SXM", method="full", tokens=1e6, n_gpus=1, micro_batch=1,
              optimizer="adamw-bf16", activation_checkpointing=False)
    n = total_params(planner.model("Llama-3.1-8B"))
    off = finetuning(**kw, activation_offload=True, optimizer_in_backward=True)
    assert off.memory.activations == pytest.approx(2 * 34 * 2048 * 4096 + 10 * 2048 * 128_256)  # loss: 10 B each
    assert off.memory.gradients == pytest.approx(2 * 2 * n / 32)
    with pytest.raises(planner.PlannerError, match="activation_offload"):
        finetuning(**kw, activation_offload="yes")
