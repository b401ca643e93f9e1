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
- Batch cap under DP attention. TensorRT-LLM's executor applies max_batch_size to each attention-DP rank:
  with enable_attention_dp the request fetch admits up to tp_size x max_num_active_requests
  (PyExecutor._fetch_new_requests, tensorrt_llm/_torch/pyexecutor/py_executor.py, read 2026-12-07), so a
  replica of N GPUs runs up to N x max_batch_size sequences. SGLang divides --max-running-requests over its
  DP ranks (sgl-project/sglang PR #25052: "--dp 4 --enable-dp-attention --max-running-requests 512, the
  per-rank max requests is 512/4 = 128"), so there the cap stays the replica's.
"""
from __future__ import annotations

from .engine import EngineSetup
from .inference import Replica
from . import moe_serving as moe


def kv_budget_bytes(r: Replica) -> float:
    """Bytes of KV cache one GPU of replica `r` holds: its engine's share of the memory left after the weights
    and the runtime reserve."""
    free = r.usable_bytes - moe.weight_bytes_per_gpu(r.m, r.precision, r.split)
    return r.kv_free_fraction * max(free, 0.0)


def replica_batch_cap(cap: int, setup: EngineSetup, gpus: int, attention_dp: bool) -> int:
    """Sequences the replica's scheduler admits at an engine batch cap of `cap`: `gpus` x cap under DP attention
    on an engine whose cap is per attention rank, else cap."""
    return int(cap) * int(gpus) if attention_dp and setup.batch_cap_per_dp_rank else int(cap)
