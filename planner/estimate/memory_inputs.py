"""Memory-related inputs a fine-tune or training run can get wrong, checked before any estimate: a sequence past
the model's context, CPU offload on a platform with no host-memory figure (or more than the host holds), and a
LoRA target set the model does not have. Each error names the argument."""
from __future__ import annotations

from ..catalog.host_memory import host_memory
from ..catalog.specs import GPUSpec, ModelSpec
from ..core.errors import DoesNotFitError, InputError

ATTENTION_TARGETS = ("qv", "qkv", "attention")


def context_note(m: ModelSpec, seq_len: float) -> str:
    """'' when seq_len is within the model's context length. Past it: learned position embeddings have no row for
    the extra positions, so the run cannot happen (InputError naming seq_len); rotary and ALiBi models run (memory
    and time are what the estimate says) but quality past the trained context needs RoPE scaling: a warning."""
    if seq_len <= m.context_length:
        return ""
    if m.positions == "learned":
        raise InputError("seq_len", f"{m.name} has learned position embeddings for {m.context_length:,} positions; "
                                    f"a {seq_len:,.0f}-token sequence has no embedding past them (refused)")
    return (f"warning: seq_len {seq_len:,.0f} is past {m.name}'s context length of {m.context_length:,} tokens; "
            f"{m.positions} positions run there, but quality needs context extension (RoPE scaling)")


def host_bytes_per_gpu(g: GPUSpec, offload: str) -> float:
    """The host memory one GPU's offload may fill; InputError naming `offload` when the platform has no figure."""
    known = host_memory()
    if offload != "none" and g.name not in known:
        raise InputError("offload", f"{g.name} has no host-memory figure (planner/catalog/data/host_memory.toml "
                                    f"lists {', '.join(sorted(known))}), so CPU offload cannot be checked there")
    return known[g.name][0] if g.name in known else 0.0


def check_host_fit(g: GPUSpec, offload: str, offloaded_bytes_per_gpu: float) -> None:
    """DoesNotFitError when what offload moves to the host exceeds the host memory per GPU."""
    if offload == "none":
        return
    host = host_bytes_per_gpu(g, offload)
    if offloaded_bytes_per_gpu > host:
        raise DoesNotFitError(f"offload={offload!r} puts {offloaded_bytes_per_gpu / 1e9:,.0f} GB per GPU in host memory, "
                              f"more than the {host / 1e9:,.0f} GB per GPU of a {g.name} system (host_memory.toml)")


def check_lora_targets(m: ModelSpec, targets: str) -> None:
    """InputError naming lora_targets when the model has no such modules: MLA attention (DeepSeek) projects through
    low-rank q_a/q_b and kv_a/kv_b matrices, with no q, k, v projections to adapt."""
    if m.mla is not None and targets in ATTENTION_TARGETS:
        raise InputError("lora_targets", f"{m.name} uses multi-head latent attention (q_a/q_b, kv_a/kv_b projections), "
                                         f"not q, k, v: {targets!r} does not exist there; use 'all-linear' or 'mlp'")
