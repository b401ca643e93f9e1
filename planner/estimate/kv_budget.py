"""What an engine leaves for the KV cache, and how many sequences its scheduler admits under DP attention.

- KV budget. vLLM and SGLang size the KV cache as a share of the whole GPU (gpu_memory_utilization,
  mem_fraction_static) less weights and activations: usable memory minus weights, as the planner has always
  done. TensorRT-LLM takes a share of what is *free* after the weights and a profiling forward at
  max_num_tokens: available = (total - peak) x free_gpu_memory_fraction (KvCacheCreator._cal_max_memory in
  tensorrt_llm/_torch/pyexecutor/_util.py, read 2026-12-07; the fraction defaults to 0.90, and the perf
  overview's runs raise it to 0.95 "in many cases", falling back to 0.90 on out-of-memory). On a GPU the
  weights nearly fill (an MoE model on H100) that share of a small remainder is much less than the same
  engine leaves on a larger GPU: `kv_budget_bytes` = kv_free_fraction x (usable - weights), where usable
  already excludes the engine's runtime reserve (activations, CUDA context, NCCL, CUDA graphs).
- MoE workspace of the profiling forward. The peak TensorRT-LLM subtracts includes the fused-MoE op's workspace at the
  profiling forward's rows: each attention rank prefills max_num_tokens of dummy prompts (KvCacheCreator.
  _create_dummy_context_requests repeats them tp_size times under enable_attention_dp), CutlassFusedMoE all-gathers
  every rank's tokens before torch.ops.trtllm.fused_moe and under DP attention does not chunk them
  (moe_max_num_tokens = max_num_tokens x world_size, fused_moe_cutlass.py), so the op on each GPU sees
  R = N x max_num_tokens rows (max_num_tokens under TP), and its workspace is a torch tensor of
  CutlassMoeFCRunner::getWorkspaceDeviceBufferSizes(R, ...) (moe_kernels.cu; sources in engines.toml,
  moe_workspace_profiled). With M = k x R expanded rows, hidden size h, expert width I (split over expert TP),
  a = the GEMM input's bytes (the W8A8 format's, else the activation's) and o = the GEMM output's (the activation's),
  the two large buffers, for a gated (SwiGLU) expert:
    overlapped_gemm1_gemm2_inputs  = M x max(h a, h o, I a)       (permuted_data, fc2_result, fc1_result)
    overlapped_gemm1_gemm2_outputs = M x max(I a, 2 I o, h o)     (fc1_result, glu_inter_result, fc2_result)
  plus 16 B per expanded row (three int32 row maps and the fp32 final scales) and 4 B x R x E/ep
  (blocked_row_to_unpermuted_row); the other buffers are under a few MiB. The op's runner is shared by the layers:
  one workspace, not one per layer. Qwen3-235B-A22B at N = 8, max_num_tokens 8192 (R = 65,536, M = 524,288, h 4096,
  I 1536, fp8): 8.6 GB per GPU; Llama-4-Maverick (k 1, I 8192): 2.8 GB. Dense models and the one-rank activations of
  a forward stay inside memory_reserve_fraction (judgement, engines.toml). Left out: the DeepSeek fp8 block-scale
  and fp4 variants' extra buffers, the gathered input and the op's output (N x max_num_tokens x h, ~0.8 GB for
  Qwen3-235B-A22B, transient).
- CUDA-graph pool. The executor that profiles also captured its decode graphs, and they are alive when the peak is
  read, so their shared pool counts in it too: under trtllm-bench, the larger of the largest graph's logits and its
  fused-MoE op at the gathered rows (cuda_graph_pool.py; 1.47 GB per H100 for Qwen3-235B-A22B at 128/2048, 0.49 GB
  for Llama-3.1-8B). It applies where the setup names the graph batch (EngineSetup.cuda_graph_batch, set by
  trtllm_bench.bench_setup); elsewhere it stays inside memory_reserve_fraction.
- Batch cap under DP attention. TensorRT-LLM's executor applies max_batch_size to each attention-DP rank:
  with enable_attention_dp the request fetch admits up to tp_size x max_num_active_requests
  (PyExecutor._fetch_new_requests, tensorrt_llm/_torch/pyexecutor/py_executor.py, read 2026-12-07), so a
  replica of N GPUs runs up to N x max_batch_size sequences. SGLang divides --max-running-requests over its
  DP ranks (sgl-project/sglang PR #25052: "--dp 4 --enable-dp-attention --max-running-requests 512, the
  per-rank max requests is 512/4 = 128"), so there the cap stays the replica's.
- Token budget under DP attention. Each TensorRT-LLM attention-DP rank runs its own PyExecutor over the requests
  it was handed (_schedule_attention_dp_requests, same file), so its own scheduler fills its own max_num_tokens:
  a step of the replica carries up to N budgets of prompt tokens, N x max(1, floor(budget / P)) whole prompts
  (`scheduler_ranks`: the ranks whose schedulers are each capped; 1 where the engine divides its caps over them).
"""
from __future__ import annotations

from ..catalog.specs import ModelSpec
from ..catalog.specs import precision as lookup_precision
from . import arithmetic as ar
from .engine import EngineSetup
from .inference import Replica
from . import cuda_graph_pool as graphs
from . import moe_serving as moe

MOE_INDEX_BYTES_PER_EXPANDED_ROW = 16  # int32 permuted->unpermuted, unpermuted->permuted and expert id; fp32 scale


def moe_workspace_bytes(m: ModelSpec, rows: float, experts_per_gpu: float, expert_tp: int, input_bytes: float,
                        output_bytes: float) -> float:
    """Bytes of TensorRT-LLM's fused-MoE workspace for `rows` tokens (CutlassMoeFCRunner::getWorkspaceDeviceBufferSizes,
    gated experts): k x rows expanded rows times the two overlapped GEMM buffers and the row maps, plus the blocked
    row map of the GPU's experts."""
    h, width = float(m.dim), m.moe_ffn_dim / expert_tp
    expanded = m.n_experts_per_token * float(rows)
    inputs = max(h * input_bytes, h * output_bytes, width * input_bytes)  # permuted data, fc2 result, fc1 result
    outputs = max(width * input_bytes, 2 * width * output_bytes, h * output_bytes)  # fc1, GLU input, fc2 result
    return expanded * (inputs + outputs + MOE_INDEX_BYTES_PER_EXPANDED_ROW) + 4.0 * float(rows) * experts_per_gpu


def profiling_moe_rows(r: Replica) -> float:
    """Rows the fused-MoE op of the engine's profiling forward sees on one GPU of `r`: every attention rank's
    max_num_tokens (gathered) under DP attention, else max_num_tokens; 0 for a dense model or an engine without it."""
    if not r.moe_profile_tokens or not ar.n_moe_layers(r.m):
        return 0.0
    return float(r.moe_profile_tokens) * (r.split.gpus if r.attention_dp else 1)


def _moe_gemm_bytes(r: Replica) -> tuple[float, float]:
    """(input, output) bytes per element of the fused-MoE GEMMs: the W8A8 format's input (1 B), else the activation's."""
    p = lookup_precision(r.precision)
    return (p.activation_bytes if p.weight_only else min(p.activation_bytes, p.bytes_per_weight)), p.activation_bytes


def _moe_workspace_at(r: Replica, rows: float) -> float:
    """The fused-MoE workspace on one GPU of `r` at `rows` tokens."""
    gemm_input, gemm_output = _moe_gemm_bytes(r)
    return moe_workspace_bytes(r.m, rows, r.m.n_experts / r.split.ep, r.split.tp, gemm_input, gemm_output)


def engine_workspace_bytes(r: Replica) -> float:
    """What one GPU of `r` gives the profiling forward's MoE workspace before its KV cache (0 where it does not)."""
    rows = profiling_moe_rows(r)
    return _moe_workspace_at(r, rows) if rows else 0.0


def graph_pool_bytes(r: Replica) -> float:
    """The CUDA-graph pool one GPU of `r` holds while its engine sizes the KV cache (cuda_graph_pool.py): the
    larger of the largest decode graph's logits and, for an MoE model, its fused-MoE op at the gathered rows; 0
    where the engine's graphs are not in that peak (r.graph_batch 0)."""
    if not r.graph_batch:
        return 0.0
    act = lookup_precision(r.precision).activation_bytes
    logits = graphs.logits_bytes(r.graph_batch, r.m.vocab_size, act)
    if not ar.n_moe_layers(r.m):
        return float(logits)
    rows = float(r.graph_batch) * (r.split.gpus if r.attention_dp else 1)
    gemm_input, gemm_output = _moe_gemm_bytes(r)
    op = graphs.moe_op_bytes(_moe_workspace_at(r, rows), rows, r.m.dim, gemm_input, gemm_output)
    return float(graphs.pool_bytes(logits, op))


def kv_budget_bytes(r: Replica) -> float:
    """Bytes of KV cache one GPU of replica `r` holds: its engine's share of the memory left after the weights,
    the runtime reserve, the profiling forward's MoE workspace and the CUDA-graph pool."""
    free = (r.usable_bytes - moe.weight_bytes_per_gpu(r.m, r.precision, r.split) - engine_workspace_bytes(r)
            - graph_pool_bytes(r))
    return r.kv_free_fraction * max(free, 0.0)


def scheduler_ranks(setup: EngineSetup, gpus: int, attention_dp: bool) -> int:
    """Schedulers of a replica each applying the engine's batch cap and token budget: `gpus` under DP attention on
    an engine whose caps are per attention rank (TensorRT-LLM), else 1."""
    return int(gpus) if attention_dp and setup.batch_cap_per_dp_rank else 1


def replica_batch_cap(cap: int, setup: EngineSetup, gpus: int, attention_dp: bool) -> int:
    """Sequences the replica's scheduler admits at an engine batch cap of `cap`: `gpus` x cap under DP attention
    on an engine whose cap is per attention rank, else cap."""
    return int(cap) * scheduler_ranks(setup, gpus, attention_dp)
