"""The CUDA-graph memory pool TensorRT-LLM's estimation executor still holds when it sizes the KV cache.

Sources (NVIDIA/TensorRT-LLM, read 2026-12-08):
- The executor that estimates the KV cache captures its CUDA graphs first: PyExecutor.__init__ runs
  model_engine.warmup(resource_manager) (tensorrt_llm/_torch/pyexecutor/py_executor.py), and
  KvCacheCreator.configure_kv_cache_capacity (tensorrt_llm/_torch/pyexecutor/_util.py) then runs the dummy
  requests, calls torch.cuda.empty_cache() and reads torch.cuda.mem_get_info() BEFORE py_executor.shutdown() (in
  its finally): peak = torch's allocated peak + (used - torch allocated), the latter logged as "Memory used outside
  torch (e.g., NCCL and CUDA graphs)". A graph's private pool stays reserved while the graph lives (empty_cache
  cannot return it), and create_py_executor releases the model engine's graphs (eng._release_cuda_graphs()) only
  after configure_kv_cache_capacity returns (tensorrt_llm/_torch/pyexecutor/py_executor_creator.py), so the pool
  counts in that peak, and the KV cache gets (total - peak) x free_gpu_memory_fraction (kv_budget.py).
- Which graphs: trtllm-bench's get_settings sets cuda_graph_config max_batch_size = the max_batch_size it picked
  (tensorrt_llm/bench/benchmark/utils/general.py, commit 0171265e), and the perf overview's llm_options list
  batch_sizes 1 ... 8192 with enable_padding (docs/source/performance/perf-overview.md, commit 00f37686).
  _filter_cuda_graph_batch_sizes (tensorrt_llm/_torch/pyexecutor/model_engine.py) keeps the sizes up to
  min(max_batch_size, max_num_tokens / (1 + draft tokens)) and, with padding and a listed size above it, adds
  that bound: the largest graph runs a decode step of B = min(max_batch_size, max_num_tokens) tokens per rank.
- One pool for all of them: DecodingCUDAGraphRunner.capture(forward_fn, pool) captures into the pool it is given
  and returns it for the next, and keeps only a weak reference to the output (tensorrt_llm/_torch/pyexecutor/
  cuda_graph_runner.py, commit 000a01de): the pool holds at least the largest live set of the largest graph.
- That live set's two large transients: (1) the fused-MoE op at the decode step's gathered rows (under DP
  attention CutlassFusedMoE all-gathers every rank's B tokens, kv_budget.py): its workspace, a torch::empty per
  call (FusedMoeRunner::getWorkspaceInfo, cpp/tensorrt_llm/thop/moeOp.cpp, commit 01503f55), allocated inside the
  graph, plus the gathered input and the op's output; (2) the logits: the LM head's output, then
  LogitsProcessor.forward's logits.float() (tensorrt_llm/_torch/modules/logits_processor.py, commit 0d4c7ac8),
  B x vocab x (activation bytes + 4) per GPU (under TP gathered to the whole vocabulary there). They are live at
  different layers, so the pool is sized by the larger. Bias: optimistic (a lower bound): the attention and
  dense-MLP transients (under B x 2 x ffn x 2 B) and the allocator's fragmentation are left out, as are the
  fused-MoE GEMM profiler's cudaMalloc'd workspace (moeOp.cpp runGemmProfile keeps the last one it prepared;
  which autotuner bucket that is was not read) and NCCL, which stay in memory_reserve_fraction.

Sizes: Qwen3-235B-A22B fp8 on 8 x H100 with DP attention, 128/2048 (trtllm-bench picks max_batch_size 1280,
max_num_tokens 2048: B 1280, 10,240 gathered rows): MoE 1.47 GB, logits 1280 x 151,936 x 6 B = 1.17 GB: 1.47 GB
per GPU. Llama-3.1-8B fp8 TP1 on H100, 128/2048 (640, 2048: B 640): logits 640 x 128,256 x 6 B = 0.49 GB.
"""
from __future__ import annotations

import numpy as np

FP32_BYTES = 4  # LogitsProcessor's logits.float()


def graph_batch(max_batch_size: int, max_num_tokens: int) -> int:
    """Tokens per rank of the largest decode graph trtllm-bench captures (_filter_cuda_graph_batch_sizes with
    padding, no draft tokens): min(max_batch_size, max_num_tokens)."""
    return int(min(max_batch_size, max_num_tokens))


def logits_bytes(batch: float, vocab: float, activation_bytes: float) -> float:
    """The decode graph's logits per GPU: the LM head's output and its float() copy, batch x vocab each."""
    return batch * vocab * (activation_bytes + FP32_BYTES)


def moe_op_bytes(workspace_bytes: float, rows: float, hidden: float, input_bytes: float, output_bytes: float) -> float:
    """The fused-MoE op's live memory at `rows` gathered tokens: its workspace, its gathered input and its output."""
    return workspace_bytes + rows * hidden * (input_bytes + output_bytes)


def pool_bytes(logits: float, moe_op: float) -> float:
    """The shared graph pool: the larger of the two transients (live at different layers of the same forward)."""
    return np.maximum(logits, moe_op)
