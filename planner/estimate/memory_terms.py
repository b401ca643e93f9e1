"""Memory per GPU beyond weights, states and the per-layer activations: the fixed costs of a CUDA process and
the buffers that tensor, pipeline and fully-sharded data parallelism hold. One formula per function; each
takes arrays that broadcast (the layout search evaluates hundreds of layouts in one call).

Which figure is which (PyTorch, "CUDA semantics: memory management", docs.pytorch.org/docs/stable/notes/cuda.html,
read 2026-12-07): `torch.cuda.max_memory_allocated` counts the bytes held by tensors; `max_memory_reserved` adds
what the caching allocator holds unused ("the unused memory managed by the allocator will still show as if used
in nvidia-smi"); nvidia-smi adds what is allocated outside PyTorch's allocator: the CUDA context and the
communication library's buffers. The planner's `allocated` is the first, `reserved` the second and `device`
(MemoryBreakdown.total, what the card must hold) the third.
"""
from __future__ import annotations

import numpy as np

from ..core import npfast as nf

# The caching allocator's unused reserve over the allocated peak (reserved / allocated - 1): rounding of block
# sizes and fragmentation between differently sized activations. Judgement, 10% of the allocated peak, looking at
# the calibration figures of planner/catalog/data/published_memory.toml: their reserved peaks sit 11-39% (median
# 24%) over the estimated allocated peak, a gap that also holds the activation model's own error, so it is not
# all given to the allocator.
ALLOCATOR_RESERVE_FRACTION = 0.10
# The CUDA context (kernels of CUDA, cuBLAS, cuDNN and PyTorch loaded on first use) sits outside PyTorch's
# statistics: "Depending on the CUDA version, used device etc. you might see an allocation of ~700+MB" (PyTorch
# forums, "High gpu memory overhead", discuss.pytorch.org/t/high-gpu-memory-overhead/81330, read 2026-12-07; another
# thread there measures 723 MiB for one tiny tensor): 0.7 GB per process.
CUDA_CONTEXT_BYTES = 0.7e9
# NCCL's communicator buffers (per peer and channel, allocated by NCCL itself, outside PyTorch's allocator): a
# process that communicates holds some hundreds of MB. Judgement, 0.5 GB per GPU when the run spans GPUs
# (NCCL's own buffer-size documentation was not found in this session's sources).
NCCL_BUFFER_BYTES = 0.5e9
# Unchunked cross-entropy at its peak, per (token x vocabulary) element: the bf16 logits (2), the fp32
# log-softmax output that autograd saves for the backward (4: PyTorch's tools/autograd/derivatives.yaml,
# "_log_softmax ... self: _log_softmax_backward_data(grad, result, ...)", read 2026-12-07) and one fp32
# transient beside it (the upcast input in the forward, the gradient in the backward: 4) = 10 bytes.
UNCHUNKED_LOSS_BYTES_PER_ELEMENT = 10.0
# fp32 gradients of a pipeline stage held unsharded across its micro-batches (FSDP reduce in fp32): 4 bytes.
FP32 = 4.0


def allocator_reserve_bytes(allocated):
    """Reserved minus allocated: the caching allocator's unused blocks at the peak (ALLOCATOR_RESERVE_FRACTION)."""
    return ALLOCATOR_RESERVE_FRACTION * allocated


def nccl_buffer_bytes(n_gpus):
    """NCCL's buffers on each GPU of a run that communicates (n_gpus > 1), nothing on a single GPU."""
    many = n_gpus > 1 if type(n_gpus) is int else np.asarray(n_gpus) > 1  # one layout: no numpy call (npfast.py)
    return nf.where(many, NCCL_BUFFER_BYTES, 0.0)


def tp_gathered_input_bytes(sbh_full, tp):
    """Per stored layer, what tensor parallelism with sequence parallelism saves beyond Korthikanti et al.'s
    34 s b h / t: PyTorch's DTensor tensor parallelism (torchtitan) keeps the all-gathered, full-sequence input of
    the attention and of the MLP column-parallel linears for their backward (2 tensors x 2 bytes x s b h), where
    Megatron-LM gathers it again in the backward (Korthikanti et al. 2022, Sec. 4.2.2). The sharded part is
    already in the 34 / t, so the extra is 4 s b h (1 - 1 / t); 0 without tensor parallelism."""
    return 4.0 * sbh_full * (1.0 - 1.0 / tp)


def pipeline_unsharded_bytes(local_params, trained_params, pp, zero_stage, weight_bytes: float = 2.0):
    """FSDP under pipeline parallelism keeps a stage's weights gathered between its micro-batches
    (torchtitan parallelize: fully_shard(..., reshard_after_forward=not pp_enabled)) and its gradients
    unsharded until the last micro-batch reduces them (in fp32; judgement: torchtitan reduces in fp32 by default):
    weight_bytes per local parameter and 4 per trained one when pp > 1 and the weights are sharded (ZeRO-3), else 0."""
    held = local_params * weight_bytes + trained_params * FP32
    if type(pp) is int and type(zero_stage) is int:  # one layout: no numpy call (npfast.py)
        return nf.where(pp > 1 and zero_stage == 3, held, 0.0)
    return np.where((np.asarray(pp) > 1) & (np.asarray(zero_stage) == 3), held, 0.0)


def op_selective_bytes_per_sbh(m) -> float:
    """Bytes per s b h one layer keeps under PyTorch's op-level selective checkpointing (torchtitan's 'op' policy,
    torchtitan/distributed/activation_checkpoint.py: "Saves output of all compute ops, except every second mm",
    the save list being mm, the SDPA kernels and reduce-scatter), where Megatron-LM's selective recomputation keeps
    Korthikanti et al.'s 34. In a Llama block the odd matmuls are q, v, the MLP's first (gate) and its down
    projection: their bf16 outputs, the attention output and the block's input are kept; the rest is recomputed."""
    ffn = (m.moe_ffn_dim * m.n_experts_per_token + m.shared_expert_ffn_dim * m.n_shared_experts) if m.is_moe \
        else m.ffn_dim
    q, kv = m.n_heads * m.head_dim, m.n_kv_heads * m.head_dim
    return 2.0 * (q + kv + ffn + m.dim) / m.dim + 2.0 * q / m.dim + 2.0
