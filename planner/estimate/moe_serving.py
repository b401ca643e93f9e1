"""MoE serving: the experts a decode batch reads, and expert parallelism with data-parallel attention.

- Experts touched: B tokens each routed to k of E experts (uniform routing) hit E (1 - (1 - k/E)^B)
  distinct experts per MoE layer (balls in bins; perf.expected_experts_touched); an expert-parallel
  rank holding E/ep of them reads (E/ep)(1 - (1 - k/E)^B). Weight bytes per decode step therefore
  grow with the batch until every expert is read (perf.routed_rows feeds this into the GEMMs).
- Data-parallel attention with expert-parallel MoE (SGLang --enable-dp-attention, TensorRT-LLM
  enable_attention_dp, vLLM data-parallel + expert-parallel): each of the replica's N GPUs runs
  attention, the dense layers and the head for its own 1/N of the sequences with whole heads, keeps
  only their KV cache (MLA's one latent is no longer copied to every rank), holds E/N experts
  whole, and gathers the tokens before each MoE layer and scatters them after (SGLang's DP/DPA
  guide, https://docs.sglang.io/advanced_features/dp_dpa_smg_guide.html, checked 2026-12-07).
  The busiest rank sets the step: ceil(B / N) sequences.
- Token permutation. Around the grouped GEMMs TensorRT-LLM's fused MoE runs expandInputRowsKernel (each token's
  k copies written in expert order, quantised on the way) and finalizeMoeRoutingKernel ("unpermutes the original
  data, does the k-way reduction": cpp/tensorrt_llm/kernels/mixtureOfExperts/moe_kernels.cu, read 2026-12-07):
  memory-bound passes of (1 + k) x tokens x dim each way, the forward half of training's permutation bytes
  (moe_train.permutation_bytes, without Megatron's extra sort by local expert), on the tokens each GPU dispatches
  (its share under DP attention, all of them under TP). `step_extra_s`: that and the busiest expert-parallel rank
  (dp_balance.ep_extra_s), what a serving step's MoE layers cost beyond perf's GEMMs; every serving step path adds
  it (simulate.stack_linears_s, inference.decode_step_s / prefill_s, search.decode_step_s).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..catalog.specs import ModelSpec
from ..catalog.specs import precision as lookup_precision
from ..core.errors import InputError
from . import arithmetic as ar
from . import communication as comm
from . import dp_balance, moe_decode, moe_train, nccl_gather, perf


def distinct_experts_per_rank(n_experts: int, k: int, tokens, ep: int = 1):
    """Experts one of `ep` expert-parallel ranks holds that `tokens` tokens touch: (E/ep)(1 - (1 - k/E)^B)."""
    return perf.expected_experts_touched(n_experts, k, tokens) / ep


def expert_bytes_read_per_gpu(m: ModelSpec, precision_name: str, tokens, tp: int = 1, ep: int = 1):
    """Routed-expert weight bytes one GPU reads in a decode step of `tokens` tokens (all MoE layers):
    the distinct experts its rank holds times one expert's bytes, split `tp` ways."""
    per_expert = ar.expert_params(m) * lookup_precision(precision_name).bytes_per_weight / tp
    return ar.n_moe_layers(m) * distinct_experts_per_rank(m.n_experts, m.n_experts_per_token, tokens, ep) * per_expert


def routed_expert_bytes(m: ModelSpec, precision_name: str) -> float:
    """Bytes of every routed expert of the model (what expert parallelism splits)."""
    return ar.n_moe_layers(m) * m.n_experts * ar.expert_params(m) * lookup_precision(precision_name).bytes_per_weight


@dataclass(frozen=True)
class Split:
    """How a replica of `gpus` GPUs shares one forward pass."""

    gpus: int
    attention_dp: bool = False

    @property
    def tp(self) -> int:
        """Ways attention heads, dense layers and each expert's width split (1 under DP attention)."""
        return 1 if self.attention_dp else self.gpus

    @property
    def ep(self) -> int:
        """Ways the routed experts split (whole experts per rank)."""
        return self.gpus if self.attention_dp else 1

    def local(self, sequences):
        """Sequences (or rows) on the busiest GPU: ceil(B / N) under DP attention, else all of them."""
        b = np.asarray(sequences, dtype=float)
        return np.maximum(np.ceil(b / self.gpus - 1e-9), np.minimum(b, 1.0)) if self.attention_dp else b

    def kv_ways(self, m: ModelSpec):
        """Ways one replica's KV cache divides over its GPUs: sequences over the DP ranks, else heads."""
        return self.gpus if self.attention_dp else perf.kv_shards(m, self.gpus)


def split(m: ModelSpec, gpus: int, attention_dp: bool) -> Split:
    """The replica's split; InputError for DP attention on a dense model (nothing for EP to split)."""
    if attention_dp and not m.is_moe:
        raise InputError("attention_dp", f"data-parallel attention with expert parallelism needs an MoE model; "
                         f"{m.name} is dense: use tensor_parallel alone", value=attention_dp)
    return Split(int(gpus), bool(attention_dp))


def weight_bytes_per_gpu(m: ModelSpec, precision_name: str, s: Split) -> float:
    """Weights on one GPU: all of them over TP; under DP attention every GPU holds the attention,
    dense and embedding weights whole and 1/N of the routed experts."""
    total = ar.weight_bytes(m, precision_name)
    if not s.attention_dp:
        return total / s.gpus
    experts = routed_expert_bytes(m, precision_name)
    return (total - experts) + experts / s.gpus


# What TensorRT-LLM's CutlassFusedMoE all-gathers with each token under DP attention besides its hidden state: the
# k experts it picked (int32) and their routing weights (float32), asserted so in forward_chunk and gathered as
# allgather([x, x_sf, token_selected_experts, token_final_scales]) (tensorrt_llm/_torch/modules/fused_moe/
# fused_moe_cutlass.py, commit 000a01de, read 2026-12-07): 4 + 4 bytes per choice.
ROUTING_BYTES_PER_CHOICE = 4 + 4


def gather_element_bytes(precision_name: str, activation_bytes: float = 2.0) -> float:
    """Bytes per hidden-state element in the gather before an MoE layer. A W8A8 fp8 model's experts take their input
    quantised per tensor, and CutlassFusedMoE quantises it before the gather (has_fp8_qdq:
    static_quantize_e4m3_per_tensor, then allgather; run_post_quant_allgather under DP attention; same file and
    commit): 1 byte. The fp8 checkpoints TensorRT-LLM's perf overview serves are NVIDIA's ModelOpt ones (perf-overview.md,
    'FP8 Models', read 2026-12-07), whose FP8 format is FP8_DEFAULT_CFG: per-tensor (axis None) weight and input
    quantizers (NVIDIA Model Optimizer, modelopt/torch/quantization/config.py, read 2026-12-07). A block-scaled fp8
    checkpoint (DeepSeek's 128 x 128) quantises inside the fused op and gathers bf16 (bias: optimistic for it).
    Other formats gather the activations as they are."""
    return 1.0 if lookup_precision(precision_name).compute_dtype == "fp8" else activation_bytes


def gather_bytes_per_token(m: ModelSpec, element_bytes: float = 2.0) -> float:
    """Bytes one token adds to the all-gather before an MoE layer: its hidden state (`element_bytes` per element,
    gather_element_bytes) and its k routing choices."""
    return m.dim * element_bytes + m.n_experts_per_token * ROUTING_BYTES_PER_CHOICE


def dp_collectives_s(m: ModelSpec, tokens, s: Split, link: comm.Link, activation_bytes: float = 2.0,
                     precision_name: str | None = None, gpu_name: str | None = None):
    """Under DP attention, per MoE layer an all-gather of the step's tokens (hidden states and routing choices,
    gather_bytes_per_token) before the experts and a reduce-scatter of their outputs (tokens x dim) after: two
    collectives, each with its own latency (CutlassFusedMoE.forward_chunk's allgather, then
    reducescatter_or_allreduce; with unequal ranks TensorRT-LLM runs them as grouped ncclBroadcast / ncclReduce
    calls, one per rank: cpp/tensorrt_llm/thop/allgatherOp.cpp, reducescatterOp.cpp, read 2026-12-07, taken at the
    all-gather's and reduce-scatter's ring bytes). `precision_name`: the model's format, which sets the gathered
    element's bytes (gather_element_bytes; None: `activation_bytes`); the outputs come back in the activation dtype.
    `gpu_name`: where NCCL's collectives were measured on that GPU's node (nccl_gather.py), their measured time
    instead of `link`'s."""
    if s.gpus == 1:
        return np.zeros(np.shape(tokens))
    tokens = np.asarray(tokens, dtype=float)
    element = activation_bytes if precision_name is None else gather_element_bytes(precision_name, activation_bytes)
    gather = nccl_gather.collective_s("all_gather", tokens * gather_bytes_per_token(m, element), s.gpus, link, gpu_name)
    scatter = nccl_gather.collective_s("reduce_scatter", tokens * m.dim * activation_bytes, s.gpus, link, gpu_name)
    return ar.n_moe_layers(m) * (gather + scatter)


def permutation_s(r, kern: perf.Kernels, rows):
    """The MoE layers' permute and un-permute for a step of `rows` tokens (the replica's) on one GPU of replica `r`
    (an inference.Replica): (1 + k) x its tokens x dim each way per MoE layer, at the element-wise bandwidth."""
    m, s = r.m, r.split
    tokens = np.asarray(s.local(np.asarray(rows, dtype=float)), dtype=float)
    forward = moe_train.permutation_bytes(m, tokens, 1, r.num.activation_bytes) / 2  # forward + backward there
    return ar.n_moe_layers(m) * forward / (kern.peak_bytes_per_s * kern.elementwise_efficiency)


def step_extra_s(r, kern: perf.Kernels, rows, quantile: int | None):
    """What a serving step of `rows` tokens adds for its MoE layers beyond perf's GEMMs: the permutation and the
    busiest expert-parallel rank (quantile: as dp_balance.ep_extra_s); 0 for a dense model."""
    if not ar.n_moe_layers(r.m):
        return 0.0  # a number broadcasts against any rows' shape, and costs a dense call nothing
    return permutation_s(r, kern, rows) + dp_balance.ep_extra_s(r, kern, rows, quantile) + moe_decode.step_s(r, kern, rows)
