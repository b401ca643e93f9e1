"""How much of a training step's communication stays on the critical path, and how many bytes the
data-parallel weight gather moves. training_step.step_terms times the collectives; this module says
what overlap hides and what fp8 shrinks.

- Exposure: communication that overlaps compute costs what outlasts the compute, plus NOT_OVERLAPPED of
  the rest (`exposed_s`). The same rule serves data-parallel, tensor-parallel and expert-parallel traffic.
- Data parallelism by phase (`dp_exposed_s`): FSDP2 and Megatron's distributed optimizer prefetch each
  layer's weight all-gather during the previous layer's compute, in the forward as in the backward, and
  reduce-scatter each layer's gradients while the backward goes on ("The DP communication is chunked by
  the granularity of a Transformer layer and overlaps each communication chunk with computation. This
  overlap method exposes only one DP communication chunk": NeMo communication_overlap docs, 25.09, checked
  2026-12-07). So the forward's gathers hide behind the forward and the backward's gathers and the
  reduce-scatter behind the backward, each phase on its own (the model before 2026-12-07 hid all of them
  behind the backward alone, 2/3 of the step, so the forward's gathers found no compute to hide behind).
- fp8 weight gather (`gather_bytes_per_param`): with fp8 linears, the weights are cast to fp8 before the
  gather, "so we can communicate in float8 to save bandwidth" (torchtitan docs/float8.md,
  --float8.enable_fsdp_float8_all_gather, which its llama3_405b.toml preset sets; checked 2026-12-07);
  Megatron "setting fp8_param_gather=True conducts the parameter all-gather in fp8, reducing the all-gather
  overhead by half" (NeMo communication_overlap docs, 25.09), and Megatron-Bridge's fp8 mixed-precision
  recipes (delayed, current scaling, MXFP8) set fp8_param_gather = True (src/megatron/bridge/training/
  mixed_precision.py, checked 2026-12-07). Only the linear layers' weights travel in fp8; the embedding and
  the output head stay bf16 (torchtitan filter_fqns = "output"). Gradients are reduced in bf16 or wider.
- Tensor-parallel overlap (`tp_exposed_s`): with sequence parallelism, Transformer Engine's userbuffers
  overlap the TP all-gathers and reduce-scatters with the linear layers' GEMMs ("bulk" for those without a
  dependency, pipelined or ring-exchange chunks for the rest: NeMo communication_overlap docs); torchtitan's
  async TP does the same with SymmetricMemory (enable_async_tensor_parallel). Off by default in both
  (Megatron-Core tp_comm_overlap=False, torchtitan enable_async_tensor_parallel=false); NeMo's
  llama3_70b pretrain_recipe_performance and Megatron-Bridge's Llama 3 70B / 405B performance configs
  turn it on (NVIDIA/NeMo nemo/collections/llm/recipes/llama3_70b.py; NVIDIA-NeMo/Megatron-Bridge
  scripts/performance/configs/llama/llama3_llm_pretrain.py, tp_comm_overlap_cfg = userbuffers_*; checked
  2026-12-07). Overlapped, it follows `exposed_s` against the micro-step's compute.
- Pipeline sends (`pp_send_exposed_s`): with the interleaved schedule (virtual stages > 1) Megatron overlaps
  the sends and receives with the forward and backward chunks by default (megatron/training/arguments.py:
  --no-overlap-p2p-communication, action store_false, dest overlap_p2p_comm; its training config: "Overlap
  pipeline parallel communication with forward and backward chunks. Only works with virtual pipeline.",
  default True; checked 2026-12-07); the plain 1F1B schedule waits for them.
"""
from __future__ import annotations

import numpy as np

from ..catalog.specs import ModelSpec
from ..core import npfast as nf
from .arithmetic import embedding_params, total_params

# Share of overlapped communication that overlap does not hide (judgement: FSDP and Megatron's distributed
# optimizer overlap bucketed collectives with compute; MegaScale, arXiv:2402.15627, Sec. 3.3, reports
# near-complete overlap after tuning, stock frameworks less).
NOT_OVERLAPPED = 0.15
# Forward share of a micro-step's compute: forward 1, backward 2 (input and weight gradients); full
# recomputation runs the forward again inside the backward, 1 of 4 (Narayanan et al. 2021, Sec. 3.5: a
# recomputed forward adds one pass to the three). Selective recomputation redoes only the attention core,
# small beside the linears: counted as none.
FORWARD_SHARE = 1.0 / 3.0
FORWARD_SHARE_FULL_RECOMPUTE = 1.0 / 4.0
BF16_BYTES, FP8_BYTES = 2.0, 1.0


def exposed_s(comm_s, compute_s):
    """Communication left on the critical path when it overlaps `compute_s`: all of what outlasts the
    compute, and NOT_OVERLAPPED of the rest."""
    return np.maximum(comm_s - compute_s, 0.0) + NOT_OVERLAPPED * np.minimum(comm_s, compute_s)


def forward_share(full_recompute):
    """Share of a micro-step's compute in its forward (the rest is the backward, with any recomputation)."""
    return nf.where(full_recompute, FORWARD_SHARE_FULL_RECOMPUTE, FORWARD_SHARE)


def dp_exposed_s(gather_s, reduce_s, zero_stage, micro_steps, step_compute_s, full_recompute):
    """Data-parallel communication of one step left exposed, each phase's collectives behind that phase's
    compute over the step (`step_compute_s`, all micro-steps). `gather_s` is one weight all-gather, `reduce_s`
    the step's gradient reduction (reduce-scatter, or all-reduce with ZeRO-0).
    ZeRO-3 gathers in the forward and again in the backward of every micro-step; ZeRO-1/2 gather the updated
    weights once, in the forward (Megatron-Core DistributedDataParallelConfig.overlap_param_gather: "overlap
    param all-gather with forward compute"); ZeRO-0 only all-reduces. Known optimism: with gradient
    accumulation the reduction runs in the last micro-step only (Megatron-Core pipeline_parallel/schedules.py,
    disable_grad_sync / enable_grad_sync around the last micro-batch), so it has that micro-step's backward to
    hide behind, not the step's; modelling so (fp8-scale, 2026-12-07) moved the whole-run check's median from
    11.4% to 15.8%, the layout search then preferring ZeRO-3 on runs already estimated slow, so it is left out."""
    fwd = forward_share(full_recompute)
    gathers = nf.where(zero_stage == 3, micro_steps, nf.where(zero_stage >= 1, 1, 0)) * gather_s
    backward = reduce_s + nf.where(zero_stage == 3, micro_steps * gather_s, 0.0)
    return exposed_s(gathers, step_compute_s * fwd) + exposed_s(backward, step_compute_s * (1.0 - fwd))


def fp8_weight_share(m: ModelSpec) -> float:
    """Share of a model's parameters in the stack's linear layers (fp8 with fp8 GEMMs): all but the embedding
    and output head, whose tables are most of the rest (norms are a few thousand per layer)."""
    total = total_params(m)
    return max(0.0, 1.0 - embedding_params(m) / total)


def gather_bytes_per_param(m: ModelSpec, fp8_gather: bool) -> float:
    """Bytes per parameter the data-parallel weight all-gather moves: bf16, or fp8 for the linear layers'
    weights when they are gathered in fp8 (the embedding and head stay bf16). A GPU's share of the stack is
    taken to have the model's mix (pipeline stages holding the embedding or head differ a little)."""
    if not fp8_gather:
        return BF16_BYTES
    share = fp8_weight_share(m)
    return share * FP8_BYTES + (1.0 - share) * BF16_BYTES


def tp_exposed_s(tp_s, compute_s, overlap: bool):
    """Tensor-parallel communication on the critical path of one micro-step: all of it, or with TE
    userbuffers / async TP what `exposed_s` leaves beside the micro-step's compute."""
    return exposed_s(tp_s, compute_s) if overlap else tp_s


def pp_send_exposed_s(send_s, compute_s, virtual_stages):
    """Pipeline sends and receives of one micro-step on the critical path: all of them with one model chunk
    per rank, what `exposed_s` leaves beside the micro-step's compute with the interleaved schedule."""
    return np.where(virtual_stages > 1, exposed_s(send_s, compute_s), send_s)
