"""NCCL's all-gather and reduce-scatter inside one NVLink node, measured: the gathers of a DP-attention MoE layer.

Why (issue 21): under DP attention every MoE layer of a TensorRT-LLM step all-gathers the step's tokens (fp8 hidden
states and routing choices) before the experts and reduce-scatters their bf16 outputs after, with NCCL
(moe_serving.dp_collectives_s cites allgatherOp.cpp and reducescatterOp.cpp). The catalog link charges them at
NCCL's small-message latency model (6.6 us + 0.6 us a ring step) and 80% of NVLink's line rate (360 GB/s bus
bandwidth on H100): right for a large buffer, but NCCL reaches that rate only at hundreds of MB. A decode step
of a few hundred tokens a rank sends a few MB a layer, where the measured collective is 25-60% slower than the
link says (Qwen3-235B at 187 sequences a rank on 8 H100s, 1,496 tokens gathered: 95 us a layer interpolated in the
table below, 66 us by the link, 82 us by the fit here; x 94 layers).

The form: one collective over n GPUs takes t = alpha + (n-1)/n x bytes / busbw (the catalog link's form, nccl-tests'
bus factor), fitted by scripts/nccl_gather_fit.py to aiconfigurator-core 0.12.0's `systems/data/h100_sxm/comm/nccl/
2.29.2/nccl_perf.parquet` (https://pypi.org/project/aiconfigurator-core/, read 2026-12-08): all-gather in int8 (the
fp8 hidden states), reduce-scatter in half (bf16), 2, 4 and 8 GPUs, buffers of 1 MB to 1 GB (10 rows each), least
squares on the relative error; median |error| 7-12% where the catalog link is biased -13% to -39%. Fitted on the
calibration system only (H100, scripts/silicon_split.toml); the held-out H200 table (the same NVLink 4 and NVSwitch)
scored with H100's constants: median error -1% to +2%, |error| 6.5-10%.

In the planner: only these two collectives of a DP-attention step, on the GPUs of that fabric (H100 SXM, H200 SXM) and
group sizes measured; TensorRT-LLM's tensor-parallel all-reduce runs its own kernels (not NCCL's ring) and keeps the
link, as do other GPUs and group sizes (no table fitted yet). Another engine's DP attention on these GPUs (SGLang's)
takes the same rates (judgement: NCCL collectives there too; its source not read for this).
"""
from __future__ import annotations

from . import communication as comm

# (alpha s, busbw bytes/s) per collective and GPUs in the group: H100 SXM's fit (module docstring)
HOPPER_NVLINK = {"all_gather": {2: (11.5e-6, 229e9), 4: (13.7e-6, 284e9), 8: (16.3e-6, 307e9)},
                 "reduce_scatter": {2: (10.0e-6, 218e9), 4: (11.1e-6, 280e9), 8: (13.2e-6, 309e9)}}
MEASURED_GPUS = ("H100 SXM", "H200 SXM")  # NVLink 4 through NVSwitch, 8 GPUs a node


def measured(gpu_name: str | None, op: str, n_ranks: int) -> comm.Link | None:
    """NCCL's `op` over `n_ranks` GPUs of `gpu_name`'s node as a link (alpha, busbw, no per-step latency), or None
    where not measured."""
    got = HOPPER_NVLINK.get(op, {}).get(n_ranks) if gpu_name in MEASURED_GPUS else None
    return None if got is None else comm.Link(f"NCCL {op}, {n_ranks} x {gpu_name} (measured)", *got)


def collective_s(op: str, n_bytes, n_ranks: int, link: comm.Link, gpu_name: str | None):
    """Time of NCCL's `op` of `n_bytes` over `n_ranks` GPUs (communication.collective_s): on the measured alpha and
    busbw where measured, else on `link`."""
    return comm.collective_s(op, n_bytes, n_ranks, measured(gpu_name, op, n_ranks) or link)
