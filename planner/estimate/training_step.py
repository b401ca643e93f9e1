"""One optimizer step of a laid-out training run: compute from the performance model, plus the
communication a layout exposes, plus the pipeline bubble. The MFU follows; it is not assumed.

    step = (m + (p - 1) / v) x micro-step    1F1B pipeline with p stages, m micro-batches and v model
                                             chunks per rank (interleaved schedule): the bubble is
                                             (p - 1) / (v m + p - 1) of the step (Narayanan et al.
                                             2021, "Efficient Large-Scale Language Model Training")
    micro-step = compute (perf.micro_step_s on this GPU's share of the model)
               + tensor-parallel collectives (on the critical path: 4 per layer with
                 recomputation of none/selective, 6 with full; Megatron-LM, Shoeybi et al. 2019)
               + expert-parallel all-to-alls (4 per MoE layer: dispatch and combine, forward
                 and backward; Lepikhin et al. 2020, GShard), as far as they are not overlapped
               + pipeline sends of the micro-batch's activations
    data parallel: gradients reduce-scattered (ZeRO >= 1) or all-reduced, and with ZeRO-3 the
                   weights all-gathered twice per micro-step; overlapped with the backward but
                   for NOT_OVERLAPPED of it, and wholly exposed where it outlasts the compute.
                   Expert-parallel all-to-alls overlap the micro-step's compute the same way.
    optimizer: its update of this GPU's parameter shard, once per step.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np

from ..catalog.specs import GPUSpec, ModelSpec
from ..core.band import Band
from ..core.results import ResultMixin
from . import communication as comm
from . import perf
from .layout import BF16, OPTIMIZER_BYTES, OPTIMIZER_STEP_BYTES, PAGED, TrainingLayout, params_per_gpu

# Share of data-parallel communication that overlap with the backward does not hide (judgement:
# FSDP and Megatron's distributed optimizer overlap bucketed collectives with compute; MegaScale,
# arXiv:2402.15627, Sec. 3.3, reports near-complete overlap after tuning, stock frameworks less).
NOT_OVERLAPPED = 0.15
# CPU offload (ZeRO-Offload, Ren et al. 2021): gradients go to host memory and updated weights come back
# over PCIe, and the optimizer runs on the CPU. PCIe 4.0 x16 moves ~25 GB/s each way in practice and a
# host gives each GPU ~10 GB/s of memory bandwidth for the update (judgement; ZeRO-Offload, Sec. 5).
PCIE_BYTES_PER_S = 25e9
HOST_BYTES_PER_S_PER_GPU = 10e9


@dataclass(frozen=True)
class StepBreakdown(ResultMixin):
    """Seconds of one optimizer step on one GPU, by where the time goes (p50 efficiencies)."""

    compute_s: float
    tensor_parallel_s: float
    expert_parallel_s: float
    pipeline_send_s: float
    pipeline_bubble_s: float
    data_parallel_exposed_s: float
    optimizer_s: float
    offload_s: float = 0.0

    @property
    def total_s(self) -> float:
        return (self.compute_s + self.tensor_parallel_s + self.expert_parallel_s + self.pipeline_send_s
                + self.pipeline_bubble_s + self.data_parallel_exposed_s + self.optimizer_s + self.offload_s)

    def components(self) -> dict[str, float]:
        return {"compute": self.compute_s, "tensor-parallel comm": self.tensor_parallel_s,
                "expert-parallel all-to-all": self.expert_parallel_s, "pipeline sends": self.pipeline_send_s,
                "pipeline bubble": self.pipeline_bubble_s, "data-parallel comm (exposed)": self.data_parallel_exposed_s,
                "optimizer": self.optimizer_s, "CPU offload": self.offload_s}


@dataclass(frozen=True)
class StepTime:
    """A step's time as (p10, p50, p90)-efficiency values (slowest first) and its p50 breakdown."""

    seconds: np.ndarray  # per optimizer step, shape (3,)
    tokens_per_step: float
    breakdown: StepBreakdown

    def gpu_seconds_per_token(self, n_gpus: int) -> np.ndarray:
        return self.seconds * n_gpus / self.tokens_per_step


@functools.lru_cache(maxsize=256)  # ModelSpec is frozen and hashable; the layout search asks per pipeline depth
def stage_model(m: ModelSpec, pp: int) -> ModelSpec:
    """The layers of one pipeline stage; the slowest (last) stage also holds the output head."""
    return replace(m, n_layers=max(1, math.ceil(m.n_layers / pp)), n_dense_layers=min(
        m.n_dense_layers, math.ceil(m.n_layers / pp)))


def _tp_collectives_s(m: ModelSpec, g: GPUSpec, layout: TrainingLayout, rows: float) -> float:
    """Tensor-parallel all-reduces of one micro-step on one GPU (activations rows x dim, bf16)."""
    per_layer = 6 if layout.recompute == "full" else 4
    layers = math.ceil(m.n_layers / layout.pp)
    link = comm.link_for(g, layout.tp)
    return per_layer * layers * float(comm.collective_s("all_reduce", rows * m.dim * BF16, layout.tp, link))


def _ep_all_to_all_s(m: ModelSpec, g: GPUSpec, layout: TrainingLayout, rows: float) -> float:
    """Dispatch and combine of the routed tokens, forward and backward, per MoE layer of the stage
    (dispatch in fp8 when the GEMMs are, as DeepSeek-V3 does; combine in bf16)."""
    if not m.is_moe or layout.ep == 1:
        return 0.0
    moe_layers = math.ceil((m.n_layers - m.n_dense_layers) / layout.pp)
    sent = rows * m.n_experts_per_token * m.dim * ((1.0 if layout.fp8 else BF16) + BF16) / 2 / layout.tp
    link = comm.link_for(g, layout.ep, stride=layout.tp * layout.cp)
    return 4 * moe_layers * float(comm.collective_s("all_to_all", sent, layout.ep, link))


def _dp_collectives_s(m: ModelSpec, g: GPUSpec, layout: TrainingLayout, trainable_local: float, micro_steps: int) -> float:
    """Data-parallel traffic of one step: gradient reduce-scatter or all-reduce (once), weight
    all-gathers (ZeRO >= 1 once per step; ZeRO-3 twice per micro-step)."""
    shards = layout.shards
    if shards == 1:
        return 0.0
    link = comm.link_for(g, shards, stride=layout.tp)
    grads = trainable_local * BF16
    if layout.zero_stage == 0:
        return float(comm.collective_s("all_reduce", grads, shards, link))
    t = float(comm.collective_s("reduce_scatter", grads, shards, link))
    weights = params_per_gpu(m, layout) * BF16
    gathers = 2 * micro_steps if layout.zero_stage == 3 else 1
    return t + gathers * float(comm.collective_s("all_gather", weights, shards, link))


def offload_s(m: ModelSpec, layout: TrainingLayout, trainable_shard: float, micro_steps: int) -> float:
    """Host traffic of one step: gradients out and weights back (optimizer offload), the optimizer's update on
    the CPU, and with weight offload each micro-step's weights streamed in for the forward and the backward."""
    if layout.offload == "none":
        if layout.optimizer in PAGED:  # paged states: worst case, in from and back to the host every step
            return 2 * trainable_shard * OPTIMIZER_BYTES[layout.optimizer] / PCIE_BYTES_PER_S
        return 0.0
    t = 2 * trainable_shard * BF16 / PCIE_BYTES_PER_S
    t += trainable_shard * OPTIMIZER_STEP_BYTES[layout.optimizer] / HOST_BYTES_PER_S_PER_GPU
    if layout.offload == "params":
        t += micro_steps * 2 * params_per_gpu(m, layout) * BF16 / layout.shards / PCIE_BYTES_PER_S
    return t


def _exposed(comm_s, compute_s):
    """Communication left on the critical path when it overlaps `compute_s`: all of what outlasts the
    compute, and NOT_OVERLAPPED of the rest."""
    return np.maximum(comm_s - compute_s, 0.0) + NOT_OVERLAPPED * np.minimum(comm_s, compute_s)


def micro_compute_s(m: ModelSpec, kern: perf.Kernels, layout: TrainingLayout, seq_len: float, weight_grads: bool,
                    cache: dict | None = None, numerics: perf.Numerics | None = None):
    """The performance model's forward + backward of one micro-batch on one GPU of `layout` (cached by
    what it depends on, when a search passes a `cache`)."""
    key = (layout.tp, layout.pp, layout.cp, layout.ep, layout.micro_batch, layout.recompute, weight_grads)
    if cache is not None and key in cache:
        return cache[key]
    work = perf.StepWork(micro_batch=layout.micro_batch, seq_len=seq_len / layout.cp, tp=layout.tp,
                         recompute=layout.recompute, weight_grads=weight_grads, expert_parallel=layout.ep,
                         context_parallel=layout.cp)
    t = perf.micro_step_s(stage_model(m, layout.pp), kern, numerics or perf.Numerics(), work)
    if cache is not None:
        cache[key] = t
    return t


def step_time(m: ModelSpec, g: GPUSpec, kern: perf.Kernels, layout: TrainingLayout, *, seq_len: float,
              global_batch: int, weight_grads: bool = True, trainable_local: float | None = None,
              cache: dict | None = None, numerics: perf.Numerics | None = None,
              optimizer_step_bytes: float | None = None) -> StepTime:
    """One optimizer step of `layout` on `g`; `kern` holds the GPU's rates at the compute dtype (fp8 or bf16).
    `numerics` (default bf16) and `optimizer_step_bytes` (default the layout optimizer's) describe other setups,
    such as the fp32 reference model the benchmarks time."""
    micro_steps = layout.micro_steps(global_batch)
    rows = layout.micro_batch * seq_len / layout.cp
    micro = micro_compute_s(m, kern, layout, seq_len, weight_grads, cache, numerics)
    trainable = params_per_gpu(m, layout) if trainable_local is None else trainable_local
    tp = _tp_collectives_s(m, g, layout, rows)
    ep = _ep_all_to_all_s(m, g, layout, rows)
    send = 2 * layout.virtual_stages * float(comm.collective_s("send_recv", rows * m.dim * BF16 / layout.tp, 2, comm.link_for(
        g, 2, stride=layout.tp * layout.cp * layout.dp))) if layout.pp > 1 else 0.0
    ep_exposed = _exposed(ep, micro)  # MoE frameworks overlap the all-to-alls with other micro-batches' compute
    per_micro = micro + tp + ep_exposed + send
    bubble = (layout.pp - 1) / layout.virtual_stages * per_micro
    pipeline = micro_steps * per_micro + bubble
    dp = _dp_collectives_s(m, g, layout, trainable, micro_steps)
    exposed = _exposed(dp, micro_steps * micro * (2.0 / 3.0))  # hidden behind the backward (2/3 of the compute)
    shard = layout.shards if layout.zero_stage >= 1 else 1
    optimizer = 0.0 if layout.offload != "none" else \
        perf.optimizer_step_s(trainable / shard, optimizer_step_bytes or OPTIMIZER_STEP_BYTES[layout.optimizer], kern)
    offload = offload_s(m, layout, trainable / shard, micro_steps)
    seconds = np.asarray(pipeline + exposed + optimizer + offload, dtype=float) * np.ones(3)
    p50 = (lambda x: float(np.ravel(np.asarray(x, dtype=float) * np.ones(3))[1]))
    breakdown = StepBreakdown(compute_s=micro_steps * p50(micro), tensor_parallel_s=micro_steps * tp,
                              expert_parallel_s=micro_steps * p50(ep_exposed), pipeline_send_s=micro_steps * send,
                              pipeline_bubble_s=p50(bubble), data_parallel_exposed_s=p50(exposed),
                              optimizer_s=p50(optimizer), offload_s=offload)
    return StepTime(seconds=seconds, tokens_per_step=micro_steps * layout.dp * layout.micro_batch * seq_len,
                    breakdown=breakdown)


def mfu(flops_per_token: float, gpu_seconds_per_token, peak_flops_per_s: float) -> Band:
    """Model FLOPs utilisation a step time implies: model FLOPs / (dense peak x time) (Chowdhery et al. 2022, App. B)."""
    return perf.to_band(flops_per_token / (np.asarray(gpu_seconds_per_token) * peak_flops_per_s))
