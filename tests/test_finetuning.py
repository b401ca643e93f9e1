"""Fine-tuning: FLOPs per method, memory per method, bad input."""
import pytest

import planner
from planner.estimate.training import gpu_seconds_per_token
from planner.estimate.arithmetic import attention_flops_per_token, matmul_params, total_params
from planner.estimate.finetuning import QLORA_BYTES_PER_PARAM, finetuning, flops_per_token, lora_params

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
    assert qlora.memory_per_gpu_bytes < lora.memory_per_gpu_bytes < full.memory_per_gpu_bytes
    base = QLORA_BYTES_PER_PARAM * total_params(planner.model(M))
    assert qlora.memory_per_gpu_bytes > base


def test_qlora_is_slower_than_lora_and_gpu_hours_by_hand():
    kw = dict(model=M, gpu="H100 SXM", tokens=50e6, epochs=2, n_gpus=1)
    lora, qlora = finetuning(method="lora", **kw), finetuning(method="qlora", **kw)
    assert qlora.gpu_hours.p50 == pytest.approx(lora.gpu_hours.p50 * 1.39)
    m, g = planner.model(M), planner.gpu("H100 SXM")
    per_token = gpu_seconds_per_token(m, g, planner.DEFAULT_EFFICIENCIES, seq_len=2048, weight_grads=False,
                                      trainable_params_per_gpu=lora.trainable_params, tokens_per_step_per_gpu=64 * 2048)
    assert lora.gpu_hours.p50 == pytest.approx(50e6 * 2 * per_token[1] * 1.10 / 3600)
    full = finetuning(method="full", **{**kw, "n_gpus": 2})
    assert full.gpu_hours.p50 > lora.gpu_hours.p50  # weight gradients: a third more GEMM work


def test_seventy_b_full_needs_many_gpus_and_error_says_so():
    with pytest.raises(planner.DoesNotFitError, match="needs at least"):
        finetuning(model="Llama-3.1-70B", gpu="H100 SXM", method="full", tokens=1e6, n_gpus=2)
    assert finetuning(model="Llama-3.1-70B", gpu="H100 SXM", method="qlora", tokens=1e6).min_gpus == 1


@pytest.mark.parametrize("kw,field", [({"tokens": 0}, "tokens"), ({"epochs": -1}, "epochs"), ({"n_gpus": 0}, "n_gpus")])
def test_bad_input(kw, field):
    with pytest.raises(planner.InputError) as e:
        finetuning(**{"model": M, "gpu": "H100 SXM", "tokens": 1e6, **kw})
    assert e.value.field == field


def test_unknown_method_lists_methods():
    with pytest.raises(planner.UnknownNameError, match="lora"):
        finetuning(model=M, gpu="H100 SXM", method="lorra", tokens=1e6)
