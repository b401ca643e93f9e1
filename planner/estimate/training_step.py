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
               + pipeline sends of the micro-batch's activations (overlapped with the interleaved
                 schedule: comm_overlap.pp_send_exposed_s)
               (with layout.tp_overlap, overlapped with the GEMMs: comm_overlap.tp_exposed_s)
    data parallel: gradients reduce-scattered (ZeRO >= 1) or all-reduced, and the weights all-gathered
                   (ZeRO-3: in the forward and again in the backward of every micro-step; ZeRO-1/2: once,
                   before the forward), in fp8 for fp8 linears with layout.fp8_param_gather; each phase's
                   collectives overlap that phase's compute (comm_overlap.dp_exposed_s).
                   Expert-parallel all-to-alls overlap the micro-step's compute the same way.
    optimizer: its update of this GPU's parameter shard, once per step.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numpy as np

from ..catalog.collectives import bus_factor
from ..catalog.specs import GPUSpec, ModelSpec
from ..core import npfast as nf
from ..core.band import Band
from ..core.results import ResultMixin
from . import comm_overlap
from . import communication as comm
from .comm_overlap import exposed_s as _exposed
from .arithmetic import n_moe_layers
from . import fp8 as fp8_gemms
from . import moe_dispatch, moe_grads, moe_host, moe_train, perf
from .layout import BF16, OPTIMIZER_BYTES, OPTIMIZER_STEP_BYTES, PAGED, TrainingLayout, _split_params, params_per_gpu

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
    host_bound_s: float = 0.0  # MoE layers waiting on the CPU's launches after their sync (moe_host.py)

    @property
    def total_s(self) -> float:
        return (self.compute_s + self.tensor_parallel_s + self.expert_parallel_s + self.pipeline_send_s
                + self.pipeline_bubble_s + self.data_parallel_exposed_s + self.optimizer_s + self.offload_s
                + self.host_bound_s)

    def components(self) -> dict[str, float]:
        return {"compute": self.compute_s, "tensor-parallel comm": self.tensor_parallel_s,
                "expert-parallel all-to-all": self.expert_parallel_s, "pipeline sends": self.pipeline_send_s,
                "pipeline bubble": self.pipeline_bubble_s, "data-parallel comm (exposed)": self.data_parallel_exposed_s,
                "optimizer": self.optimizer_s, "CPU offload": self.offload_s,
                "host-bound MoE layers": self.host_bound_s}


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
    layers = max(1, math.ceil(m.n_layers / pp))
    # the leading dense layers (DeepSeek's first 3) sit on the first stages, so the last holds only what spills
    # past (pp - 1) stages: with pp > 1 it is all MoE; an interleaved stage keeps its step unless too short for one
    dense = min(max(0, m.n_dense_layers - (pp - 1) * layers), layers)
    return replace(m, n_layers=layers, n_dense_layers=dense, moe_layer_step=min(m.moe_layer_step, max(1, layers - dense)))


def _link(g: GPUSpec, group, stride):
    """(latency, hop latency, bus bytes/s) of communication.link_for(g, group, stride), for arrays of groups too."""
    span = group * stride
    if not isinstance(span, np.ndarray):  # one layout: the link itself
        link = comm.link_for(g, group, stride)
        return link.latency_s, link.hop_latency_s, link.bus_bytes_per_s
    up, pcie, out = comm.scale_up_link(g), comm.pcie_link(g), comm.scale_out_link(g)
    use_up = span <= g.scale_up_domain_size
    use_pcie = ~use_up & (span <= comm.PCIE_NODE_SIZE) & (g.link_kind in ("pcie", "nvlink"))

    def pick(attr: str):
        return np.where(use_up, getattr(up, attr), np.where(use_pcie, getattr(pcie, attr), getattr(out, attr)))
    return pick("latency_s"), pick("hop_latency_s"), pick("bus_bytes_per_s")


def _collective(op: str, n_bytes, n_ranks, link):
    """communication.collective_s over arrays of ranks and links: zero where a group has one rank."""
    latency, hop, bus = link
    if not isinstance(n_ranks, np.ndarray):  # one group size (one layout, or a point-to-point send)
        return 0.0 if n_ranks <= 1 else latency + comm.STEPS[op](n_ranks) * hop + bus_factor(op, n_ranks) * n_bytes / bus
    n = np.maximum(n_ranks, 1)
    t = latency + comm.STEPS[op](n) * hop + bus_factor(op, n) * n_bytes / bus
    return np.where(n_ranks <= 1, 0.0, t)


def _offload_s(offload: str, optimizer: str, local, shard_local, shards, micro_steps):
    """Host traffic of one step: gradients out and weights back (optimizer offload), the optimizer's update on
    the CPU, and with weight offload each micro-step's weights streamed in for the forward and the backward."""
    if offload == "none":
        paged = optimizer in PAGED  # paged states: worst case, in from and back to the host every step
        return 2 * shard_local * OPTIMIZER_BYTES[optimizer] / PCIE_BYTES_PER_S if paged else 0.0
    t = 2 * shard_local * BF16 / PCIE_BYTES_PER_S
    t = t + shard_local * OPTIMIZER_STEP_BYTES[optimizer] / HOST_BYTES_PER_S_PER_GPU
    if offload == "params":
        t = t + micro_steps * 2 * local * BF16 / shards / PCIE_BYTES_PER_S
    return t


def step_terms(m: ModelSpec, g: GPUSpec, kern: perf.Kernels, *, tp, pp, dp, ep, cp, micro_batch, virtual_stages,
               zero_stage, full, micro, global_batch, seq_len: float, trainable, fp8: bool, optimizer: str,
               offload: str, optimizer_step_bytes: float | None = None, etp=None, moe_balance: str = "aux-loss",
               moe_overlap: bool = False, fp8_param_gather: bool = True, tp_overlap: bool = False,
               moe_dispatcher: str = "alltoall", cuda_graphs: bool = False) -> dict:
    """The parts of one optimizer step (see the module docstring) for one layout or many: every size a number
    or a column that broadcasts, `full` whether recomputation is full, `micro` the performance model's
    micro-step (rates on the last axis), `trainable` the trained parameters per GPU before ZeRO sharding, `etp`
    the expert tensor parallelism (None: tp), `moe_balance` the routing's balance (layout.MOE_BALANCE) and
    `moe_overlap` whether the recipe hides the all-to-alls behind compute, `fp8_param_gather` whether fp8 linears'
    weights are gathered in fp8 and `tp_overlap` whether TP collectives overlap the GEMMs (comm_overlap.py),
    `moe_dispatcher` how tokens cross nodes (NCCL's all-to-all, or DeepEP's forwarding: moe_dispatch.py),
    `cuda_graphs` whether the whole step is one CUDA graph (then no MoE layer waits on the host: moe_host.py)."""
    micro_steps = nf.maximum(1, nf.ceil(global_batch / (dp * micro_batch)))
    rows = micro_batch * seq_len / cp
    tp_s = comm_overlap.tp_exposed_s(nf.where(full, 6, 4) * nf.ceil(m.n_layers / pp) * _collective(
        "all_reduce", rows * m.dim * BF16, tp, _link(g, tp, 1)), micro, tp_overlap)  # 4 per layer, 6 recomputing all
    ep_s = 0.0
    if m.is_moe:  # dispatch (fp8 when the GEMMs are, as DeepSeek-V3 does) and combine (bf16), forward and backward,
        # of each rank's sequence-parallel share; the ep ranks lie etp apart
        # (Megatron-Core's expert rank order: etp innermost, then ep); the busiest rank receives the most
        etp = tp if etp is None else etp
        moe_layers = nf.ceil(n_moe_layers(m) / pp)
        copies = moe_train.dispatch_bytes(m, rows, tp, fp8)
        a2a = moe_dispatch.deepep_s(m, g, copies, ep, etp) if moe_dispatcher == "deepep" else \
            _collective("all_to_all", copies, ep, _link(g, ep, etp))
        ep_s = 4 * moe_layers * moe_train.imbalance_factor(moe_balance) * a2a
    send = 2 * virtual_stages * _collective("send_recv", rows * m.dim * BF16 / tp, 2, _link(g, 2, tp * cp * dp))
    send = nf.where(pp > 1, comm_overlap.pp_send_exposed_s(send, micro, virtual_stages), 0.0)
    ep_exposed = _exposed(ep_s, micro) if moe_overlap else moe_train.A2A_NOT_OVERLAPPED * ep_s \
        + (1 - moe_train.A2A_NOT_OVERLAPPED) * _exposed(ep_s, micro)
    host = 0.0 if cuda_graphs else moe_host.host_bound_s(m, micro, pp=pp, ep=ep, full_recompute=full)
    per_micro = micro + host + tp_s + ep_exposed + send
    bubble = (pp - 1) / virtual_stages * per_micro
    total, experts = _split_params(m)
    dense, expert = moe_grads.split_local(total, experts, tp, pp, ep, tp if etp is None else etp)
    local = dense + expert  # layout.params_per_gpu
    shards = dp * cp
    grads = trainable * BF16  # reduce-scattered (ZeRO >= 1) or all-reduced once per step

    def dp_collective(op, n_bytes):  # inside each node over the fast link, across nodes 1/local of the bytes;
        # the experts' share over their own group (moe_grads.py)
        def time_of(o, b, n, st):
            return _collective(o, b, n, _link(g, n, st))
        if not m.is_moe:
            return comm.hierarchical_collective_s(op, n_bytes, shards, tp, g, time_of)
        edp, edp_stride = moe_grads.expert_group(dp, cp, tp, ep, tp if etp is None else etp)
        return comm.hierarchical_collective_s(op, n_bytes * dense / local, shards, tp, g, time_of) \
            + comm.hierarchical_collective_s(op, n_bytes * expert / local, edp, edp_stride, g, time_of)
    # ZeRO-3: in the forward and the backward of every micro-step; else once
    gather = dp_collective("all_gather", local * comm_overlap.gather_bytes_per_param(m, fp8 and fp8_param_gather))
    reduce = nf.where(zero_stage == 0, dp_collective("all_reduce", grads), dp_collective("reduce_scatter", grads))
    shard_local = trainable / nf.where(zero_stage >= 1, shards, 1)
    return {"micro_steps": micro_steps, "micro": micro, "host": host, "tp": tp_s, "ep": ep_exposed, "send": send, "bubble": bubble,
            "pipeline": micro_steps * per_micro + bubble,
            "dp": comm_overlap.dp_exposed_s(gather, reduce, zero_stage, micro_steps, micro_steps * micro, full),
            "optimizer": 0.0 if offload != "none" else perf.optimizer_step_s(
                shard_local, optimizer_step_bytes or OPTIMIZER_STEP_BYTES[optimizer], kern),
            "offload": _offload_s(offload, optimizer, local, shard_local, shards, micro_steps),
            "tokens": micro_steps * dp * micro_batch * seq_len}


def micro_compute_s(m: ModelSpec, kern: perf.Kernels, layout: TrainingLayout, seq_len: float, weight_grads: bool,
                    cache: dict | None = None, numerics: perf.Numerics | None = None,
                    fp8: fp8_gemms.Fp8Gemms | None = None):
    """The performance model's forward + backward of one micro-batch on one GPU of `layout`, with the stack's
    linear layers in fp8 where `fp8` is given (fp8.py), plus the MoE layer's costs (moe_train.py) (cached by
    what it depends on, when a search passes a `cache`)."""
    key = (layout.tp, layout.pp, layout.cp, layout.ep, layout.micro_batch, layout.recompute, weight_grads,
           layout.expert_tp, layout.moe_balance, fp8)
    if cache is not None and key in cache:
        return cache[key]
    work = perf.StepWork(micro_batch=layout.micro_batch, seq_len=seq_len / layout.cp, tp=layout.tp,
                         recompute=layout.recompute, weight_grads=weight_grads, expert_parallel=layout.ep,
                         context_parallel=layout.cp)
    stage, num = stage_model(m, layout.pp), numerics or perf.DEFAULT_NUMERICS
    t = fp8_gemms.micro_step_s(stage, kern, num, work, fp8) + moe_train.micro_step_moe_s(
        stage, kern, num, rows=layout.micro_batch * seq_len / layout.cp, tp=layout.tp, etp=layout.expert_tp,
        ep=layout.ep, full_recompute=layout.recompute == "full", weight_grads=weight_grads, balance=layout.moe_balance,
        fp8=fp8)
    if cache is not None:
        cache[key] = t
    return t


def _p50(x) -> float:
    """The middle of (p10, p50, p90) rates, or x itself where one number stands for all three."""
    if type(x) is np.ndarray and x.shape == (3,):
        return float(x[1])
    if type(x) in (float, int):
        return float(x)
    return float(x) if np.ndim(x) == 0 else float(np.ravel(np.asarray(x, dtype=float) * np.ones(3))[1])


def step_time(m: ModelSpec, g: GPUSpec, kern: perf.Kernels, layout: TrainingLayout, *, seq_len: float,
              global_batch: int, weight_grads: bool = True, trainable_local: float | None = None,
              cache: dict | None = None, numerics: perf.Numerics | None = None,
              optimizer_step_bytes: float | None = None) -> StepTime:
    """One optimizer step of `layout` on `g`; `kern` holds the GPU's rates at the bf16 peak (with layout.fp8 the
    stack's linear layers run at the fp8 peak, attention and the head stay bf16: fp8.py).
    `numerics` (default bf16) and `optimizer_step_bytes` (default the layout optimizer's) describe other setups,
    such as the fp32 reference model the benchmarks time."""
    lay = layout
    fp8 = fp8_gemms.gemms_for(g, lay.fp8_recipe) if lay.fp8 else None
    micro = micro_compute_s(m, kern, lay, seq_len, weight_grads, cache, numerics, fp8)
    trainable = params_per_gpu(m, lay) if trainable_local is None else trainable_local
    t = step_terms(m, g, kern, tp=lay.tp, pp=lay.pp, dp=lay.dp, ep=lay.ep, cp=lay.cp, micro_batch=lay.micro_batch,
                   virtual_stages=lay.virtual_stages, zero_stage=lay.zero_stage, full=lay.recompute == "full",
                   micro=micro, global_batch=global_batch, seq_len=seq_len, trainable=trainable, fp8=lay.fp8,
                   optimizer=lay.optimizer, offload=lay.offload, optimizer_step_bytes=optimizer_step_bytes,
                   etp=lay.expert_tp, moe_balance=lay.moe_balance, moe_overlap=lay.moe_overlap,
                   fp8_param_gather=lay.fp8_param_gather, tp_overlap=lay.tp_overlap,
                   moe_dispatcher=lay.moe_dispatcher, cuda_graphs=lay.cuda_graphs)
    seconds = np.asarray(t["pipeline"] + t["dp"] + t["optimizer"] + t["offload"], dtype=float) * np.ones(3)
    p50 = _p50
    n = float(t["micro_steps"])
    breakdown = StepBreakdown(compute_s=n * p50(micro), tensor_parallel_s=n * p50(t["tp"]),
                              expert_parallel_s=n * p50(t["ep"]), pipeline_send_s=n * p50(t["send"]),
                              pipeline_bubble_s=p50(t["bubble"]), data_parallel_exposed_s=p50(t["dp"]),
                              optimizer_s=p50(t["optimizer"]), offload_s=float(t["offload"]),
                              host_bound_s=n * p50(t["host"]))
    return StepTime(seconds=seconds, tokens_per_step=float(t["tokens"]), breakdown=breakdown)


def mfu(flops_per_token: float, gpu_seconds_per_token, peak_flops_per_s: float) -> Band:
    """Model FLOPs utilisation a step time implies: model FLOPs / (dense peak x time) (Chowdhery et al. 2022, App. B)."""
    return perf.to_band(flops_per_token / (np.asarray(gpu_seconds_per_token) * peak_flops_per_s))
