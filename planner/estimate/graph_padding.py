"""CUDA-graph padding: a TensorRT-LLM decode step runs at the captured batch size at or above its widest rank's.

Sources (NVIDIA/TensorRT-LLM, read 2026-12-08):
- Which steps replay a graph. ScheduledRequests.can_run_cuda_graph is `num_context_requests == 0`
  (tensorrt_llm/_torch/pyexecutor/scheduler.py). PyTorchModelEngine.forward enters CUDAGraphRunner.pad_batch
  before maybe_get_cuda_graph (tensorrt_llm/_torch/pyexecutor/cuda_graph_runner.py, commit 7b437aaa).
  _get_padded_batch all-gathers [can_run_cuda_graph, batch_size] over the attention-DP ranks and, when every rank is
  generation-only, takes the widest rank's batch; it then adds dummy generation requests up to
  _round_up_batch_size(that batch), the smallest captured size at or above it, unless that batch is above the
  largest captured size (then no padding). maybe_get_cuda_graph all-gathers again and runs eagerly unless every rank
  is generation-only and all batch sizes are equal. So with enable_padding, ranks of unequal batches are padded to one
  size and replay the graph; a step runs eagerly on every rank only when some rank holds a context request (the
  offline waves' prefill steps: dp_balance.py's docstring) or the batch is above the largest graph.
- Which sizes are captured. The perf overview's llm_options.yml (docs/source/performance/perf-overview.md, commit
  00f37686, dense and MoE alike) sets enable_padding and batch_sizes CAPTURED_BATCH_SIZES; _filter_cuda_graph_batch_sizes
  (tensorrt_llm/_torch/pyexecutor/model_engine.py) keeps those up to min(max_batch_size, max_num_tokens) and, with a
  listed size above that bound, adds the bound (cuda_graph_pool.graph_batch, which the replica carries as graph_batch).

So a decode step of d sequences over n schedulers (the attention-DP ranks, or 1) runs n x pad(ceil(d / n)) rows
through every GEMM, collective and the LM head: the dummy requests are generation requests like the rest. Their
attention reads only the dummy request's own short KV, so attention over the context is charged on the real d.
Bias: the dummy rows' routing is not modelled (the same token at the same position in every dummy row, so they may
all pick the same experts; left at the mean rank's routing).
"""
from __future__ import annotations

import numpy as np

# cuda_graph_config.batch_sizes of the perf overview's llm_options.yml (commit 00f37686), dense and MoE
CAPTURED_BATCH_SIZES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 384, 512, 1024, 2048, 4096, 8192)


def captured_sizes(bound: int) -> np.ndarray:
    """Graph batch sizes kept by _filter_cuda_graph_batch_sizes with padding: the listed sizes up to `bound`, and
    `bound` itself where a listed size is above it."""
    kept = [s for s in CAPTURED_BATCH_SIZES if s <= bound]
    if bound not in kept and any(s > bound for s in CAPTURED_BATCH_SIZES):
        kept.append(int(bound))
    return np.asarray(kept, dtype=float)


def padded_batch(batch, sizes: np.ndarray):
    """_round_up_batch_size: the smallest of `sizes` at or above `batch`; `batch` itself when above the largest
    (no graph, no padding)."""
    batch = np.asarray(batch, dtype=float)
    i = np.searchsorted(sizes, batch, side="left")
    return np.where(i < len(sizes), sizes[np.minimum(i, len(sizes) - 1)], batch)


def decode_rows(batch, ranks: int, bound: int):
    """Rows a decode step of `batch` sequences over `ranks` schedulers runs with padding to graphs of at most
    `bound` sequences each: ranks x pad(ceil(batch / ranks)); `batch` itself where no graph is modelled (bound 0)."""
    batch = np.asarray(batch, dtype=float)
    if bound <= 0:
        return batch
    widest = np.ceil(batch / ranks)
    return np.maximum(batch, ranks * padded_batch(widest, captured_sizes(bound)))
