"""Memory per GPU: the published peak-memory check, the fixed costs and parallelism buffers by hand, the three
figures (allocated, reserved, device), and the memory inputs that must be refused with the argument named."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import planner
from planner.catalog.published_memory import UNIT_BYTES, _figure, published_memory
from planner.core.errors import DoesNotFitError, InputError
from planner.estimate import memory_terms as mt
from planner.estimate.arithmetic import total_params
from planner.estimate.finetuning import finetuning
from planner.estimate.layout import TrainingLayout, training_memory
from planner.estimate.max_fit import max_fit
from planner.estimate.memory_check import check_published_memory, summary_lines
from planner.estimate.pretraining import pretraining

FIGURES = published_memory()


def test_at_least_25_figures_each_with_a_set_a_kind_and_a_source_read_today():
    assert len(FIGURES) >= 25
    assert {f.set for f in FIGURES} == {"calibration", "validation"}
    for f in FIGURES:
        assert f.source.url.startswith("https://") and f.source.checked == "2026-12-07" and f.source.note
        assert f.figure in ("allocated", "reserved", "device", "unstated") and f.unit in UNIT_BYTES


def test_a_figure_without_a_set_or_with_an_unknown_field_is_rejected():
    row = {"name": "x", "model": "Llama-3.1-8B", "gpu": "H100 SXM", "method": "lora", "n_gpus": 1, "seq_len": 1,
           "micro_batch": 1, "recompute": "none", "optimizer": "adamw", "peak": 1.0, "unit": "GB",
           "figure": "allocated", "source": {"url": "u", "checked": "2026-12-07"}}
    with pytest.raises(ValueError, match="set"):
        _figure(row)
    with pytest.raises(ValueError, match="unknown"):
        _figure({**row, "set": "validation", "batch": 2})


def test_check_scores_both_sets_and_nothing_that_ran_is_refused():
    df = check_published_memory()
    assert len(df) == len(FIGURES) and not df["refused"].any()
    assert np.all(np.isfinite(df["error"]))
    lines = summary_lines(df)
    assert lines[0].startswith("IN-SAMPLE calibration") and lines[1].startswith("VALIDATION")
    assert all("refused but ran: 0" in line for line in lines)


def test_three_figures_add_the_allocator_reserve_then_the_context_and_nccl():
    mem = training_memory("Llama-3.1-8B", "H100 SXM", TrainingLayout(dp=8, zero_stage=3), 4096)
    assert mem.reserved == pytest.approx(mem.allocated * (1 + mt.ALLOCATOR_RESERVE_FRACTION))
    assert mem.total == pytest.approx(mem.reserved + mt.CUDA_CONTEXT_BYTES + mt.NCCL_BUFFER_BYTES)
    assert mem.figure("allocated") < mem.figure("reserved") < mem.figure("device") == mem.total
    one = training_memory("Llama-3.1-8B", "H100 SXM", TrainingLayout(dp=1, zero_stage=0), 4096)
    assert one.nccl_buffers == 0.0  # a single GPU opens no communicator
    with pytest.raises(InputError) as e:
        mem.figure("nvidia-smi")
    assert e.value.field == "kind"


def test_tp_gathered_inputs_and_op_selective_checkpointing_by_hand():
    # 4 s b h (1 - 1/t): two full-sequence bf16 inputs kept, less the shard already in 34 / t
    assert mt.tp_gathered_input_bytes(1e9, 8) == pytest.approx(4e9 * 7 / 8)
    assert mt.tp_gathered_input_bytes(1e9, 1) == 0.0
    # Llama-3.1-8B: q 4096, v 1024, gate 14336, down 4096 -> 2 x 23552 / 4096 = 11.5; attention output 2; input 2
    assert mt.op_selective_bytes_per_sbh(planner.model("Llama-3.1-8B")) == pytest.approx(15.5)


def test_pipeline_over_fsdp_holds_the_stage_gathered_with_fp32_gradients():
    assert mt.pipeline_unsharded_bytes(1e9, 1e9, 8, 3) == pytest.approx(1e9 * 2 + 1e9 * 4)
    assert mt.pipeline_unsharded_bytes(1e9, 1e9, 1, 3) == 0.0  # no pipeline: FSDP reshards after forward
    assert mt.pipeline_unsharded_bytes(1e9, 1e9, 8, 1) == 0.0  # ZeRO-1: weights were never sharded
    lay = TrainingLayout(tp=8, pp=8, dp=8, zero_stage=3, recompute="full")
    mem = training_memory("Llama-3.1-405B", "H100 SXM", lay, 8192)
    local = total_params(planner.model("Llama-3.1-405B")) / 64
    assert mem.communication_buffers > local * 6  # the stage's bf16 weights and fp32 gradients, plus prefetch


def test_fsdp_tp_activations_exceed_megatrons_by_the_gathered_inputs():
    """Same TP8 layout, 70B at 8k, full recomputation: FSDP (DTensor) keeps the recomputed layer's gathered inputs."""
    megatron = training_memory("Llama-3.1-70B", "H100 SXM", TrainingLayout(tp=8, dp=32, zero_stage=1, recompute="full"), 8192)
    fsdp = training_memory("Llama-3.1-70B", "H100 SXM", TrainingLayout(tp=8, dp=32, zero_stage=3, recompute="full"), 8192)
    assert fsdp.activations - megatron.activations == pytest.approx(mt.tp_gathered_input_bytes(8192 * 8192, 8))


@pytest.mark.parametrize("name, run", [
    ("torchtitan 8B FSDP on 128 H100", lambda: pretraining(
        model="Llama-3.1-8B", gpu="H100 SXM", n_gpus=128, seq_len=8192, tokens=1e12,
        layout=TrainingLayout(dp=128, zero_stage=3, micro_batch=2, recompute="selective", global_batch=256))),
    ("70B FSDP on GB200", lambda: pretraining(
        model="Llama-3.1-70B", gpu="GB200", n_gpus=72, seq_len=8192, tokens=1e12,
        layout=TrainingLayout(dp=72, zero_stage=3, micro_batch=1, recompute="full", global_batch=72))),
    ("70B SFT at TP4 x PP4", lambda: finetuning(
        model="Llama-3.1-70B", gpu="H100 SXM", method="full", tokens=1e8, n_gpus=16, seq_len=4096,
        layout=TrainingLayout(tp=4, pp=4, dp=1, zero_stage=1, micro_batch=1, recompute="full"))),
])
def test_layouts_that_ran_are_accepted(name, run):
    est = run()
    assert est.memory.fits  # refused only when even the optimistic end exceeds the card


def test_sequence_past_the_context_warns_for_rope_and_refuses_learned_positions():
    e = finetuning(model="Llama-2-7B", gpu="H100 SXM", method="lora", tokens=1e6, n_gpus=1, seq_len=8192)
    note = next(a.source for a in e.assumptions if a.name == "seq_len")
    assert note.startswith("warning") and "4,096" in note
    learned = dataclasses.replace(planner.model("Llama-2-7B"), name="learned-7B", positions="learned")
    for call in (lambda: finetuning(model=learned, gpu="H100 SXM", tokens=1e6, n_gpus=1, seq_len=8192),
                 lambda: max_fit(model=learned, gpu="H100 SXM", seq_len=8192)):
        with pytest.raises(InputError) as err:
            call()
        assert err.value.field == "seq_len"


def test_offload_needs_a_host_memory_figure_and_room_in_it():
    with pytest.raises(InputError) as err:
        finetuning(model="Llama-3.1-8B", gpu="RTX 4090", method="full", tokens=1e6, n_gpus=1, offload="optimizer")
    assert err.value.field == "offload"
    with pytest.raises(InputError):
        max_fit(model="Llama-3.1-8B", gpu="RTX 4090", method="full", offload="optimizer")
    # 405B full with weights offloaded on 8 H100s: (12 + 2 + 2) B x 405e9 / 8 = 810 GB per GPU > the host's 256
    with pytest.raises(DoesNotFitError, match="host"):
        finetuning(model="Llama-3.1-405B", gpu="H100 SXM", method="full", tokens=1e6, n_gpus=8, offload="params")


def test_lora_targets_the_model_lacks_are_refused():
    for targets in ("qv", "qkv", "attention"):
        with pytest.raises(InputError) as err:
            finetuning(model="DeepSeek-V3", gpu="H100 SXM", method="qlora", tokens=1e6, lora_targets=targets)
        assert err.value.field == "lora_targets"


@pytest.mark.parametrize("kw", [{"micro_batch": 0}, {"grad_accum": 0}])
def test_zero_batch_or_accumulation_is_refused_by_name(kw):
    with pytest.raises(InputError) as err:
        finetuning(model="Llama-3.1-8B", gpu="H100 SXM", method="lora", tokens=1e6, n_gpus=1, **kw)
    assert err.value.field == next(iter(kw))
    with pytest.raises(InputError) as err:
        TrainingLayout(micro_batch=0)
    assert err.value.field == "layout.micro_batch"
