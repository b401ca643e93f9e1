"""What fits (issue 22): the largest micro-batch and the longest sequence a fine-tune can run on a card."""
import math

import pytest

import planner
from planner.estimate.arithmetic import total_params
from planner.estimate.finetuning import lora_params


def test_max_micro_batch_by_hand():
    """Llama-3.1-8B LoRA (all-linear, rank 16, AdamW) on one RTX 4090 without activation checkpointing.
    Fixed: bf16 base 2 x N, adapters' bf16 gradients 2 x n and fp32 AdamW 12 x n, NCCL reserve 1 GB.
    Per sequence of 2,048: 34 x 2048 x 4096 x 32 layers of activations + 2048 x 128,256 fp32 logits.
    Usable is 90% of 24 GiB; the tight limit lets the optimistic end (0.8x) reach the whole 24 GiB."""
    m = planner.model("Llama-3.1-8B")
    n, a = total_params(m), lora_params(m, 16)
    fixed = 2 * n + 14 * a + 1e9  # 17.65 GB
    per_seq = 34 * 2048 * 4096 * 32 + 4 * 2048 * 128_256  # 10.18 GB
    card = 24 * 2**30
    r = planner.max_fit(model=m, gpu="RTX 4090", method="lora", activation_checkpointing=False)
    assert r.max_micro_batch == max(0, math.floor((0.9 * card - fixed) / per_seq)) == 0
    assert r.max_micro_batch_tight == math.floor((card / 0.8 - fixed) / per_seq) == 1


def test_what_fits_grows_with_the_card_and_shrinks_with_the_sequence():
    kw = dict(model="Llama-3.1-8B", method="qlora")
    small, big = (planner.max_fit(gpu=g, **kw) for g in ("RTX 3090", "RTX 6000 Ada"))
    assert 0 < small.max_micro_batch < big.max_micro_batch and small.max_seq_len < big.max_seq_len
    short, long = (planner.max_fit(gpu="RTX 3090", seq_len=s, **kw) for s in (1024, 4096))
    assert short.max_micro_batch >= long.max_micro_batch
    assert small.max_micro_batch <= small.max_micro_batch_tight and small.max_seq_len <= small.max_seq_len_tight


def test_the_model_context_caps_the_sequence():
    r = planner.max_fit(model="Llama-2-7B", gpu="H200 SXM", method="qlora")
    assert r.max_seq_len == planner.model("Llama-2-7B").context_length and r.seq_len_limit == "context length"


def test_nothing_fits_is_zero_not_an_error():
    r = planner.max_fit(model="Llama-3.1-70B", gpu="RTX 4090", method="lora")
    assert r.max_micro_batch == r.max_micro_batch_tight == r.max_seq_len == 0


@pytest.mark.parametrize("kw,field", [({"n_gpus": 0}, "n_gpus"), ({"seq_len": 0}, "seq_len"),
                                      ({"double_quant": "no"}, "double_quant")])
def test_bad_input_names_the_field(kw, field):
    with pytest.raises((planner.InputError, planner.PlannerTypeError)) as e:
        planner.max_fit(**{"model": "Llama-3.1-8B", "gpu": "RTX 4090", **kw})
    assert field in str(e.value)


def test_command_line_max_fit(capsys):
    from planner.present.cli import main
    assert main(["estimate", "finetune", "--model", "Llama-3.1-8B", "--gpu", "RTX 4090", "--method", "qlora",
                 "--tokens", "1", "--max-fit"]) == 0
    r = planner.max_fit(model="Llama-3.1-8B", gpu="RTX 4090", method="qlora")
    assert f"{r.max_micro_batch} ({r.max_micro_batch_tight} tight)" in capsys.readouterr().out
