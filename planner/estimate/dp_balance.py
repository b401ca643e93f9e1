"""The busiest rank of a DP-attention + EP replica sets every step: its own prompts, and its experts' tokens.

With DP attention (SGLang --enable-dp-attention, TensorRT-LLM enable_attention_dp) each rank runs attention, its
projections and the dense layers for its own requests; only the MoE layers see every rank's tokens (gathered
before each MoE layer, moe_serving.py), so every rank waits there for the slowest one (TensorRT-LLM's ADP balance
blog: "the execution time for the Attention module in any given iteration is bounded by the rank with the highest
workload", docs/source/blogs/tech_blog/blog10_ADP_Balance_Strategy.md, read 2026-12-07). Two terms, one function
each, used alike by the steady state (load.steady_state) and the offline waves (offline.py):

- Whole prompts on one rank. A new request goes to one rank and its whole prompt is prefilled there: TensorRT-LLM
  hands each rank its own requests, up to its max_num_active_requests, balancing token counts with a heap over the
  ranks (PyExecutor._schedule_attention_dp_requests / _balance_requests_across_ranks,
  tensorrt_llm/_torch/pyexecutor/py_executor.py, read 2026-12-07); it does not split a prompt, and by default
  does not hold context requests back to start them on every rank in the same step (llm_args
  AttentionDpConfig.enable_balance defaults to False, read 2026-12-07; with it on, ranks wait up to
  batching_wait_iters steps to prefill together, which this leaves out). So the attention side of a step (its
  projections, dense layers and the prompts' causal attention) runs on the busiest rank's rows: its 1/N of the
  decoding sequences plus the whole prompts it admitted, not 1/N of all rows (which is how perf.stack_linears_s
  spreads them, through Split.local). With n prompts joining a step on average over N ranks the busiest
  prefills ceil(n / N) of them; averaged over steps that is max(n / N, min(n, 1)) (`busiest_prompt_rows`;
  fewer than one prompt a step: each lands alone on one rank). `extra_s` is what that adds to the GEMMs,
  `prefill_attention_s` the prompts' attention; without DP attention one rank holds every prompt (N = 1) and
  both reduce to the tensor-parallel step.
- The busiest expert-parallel rank. Routing is not uniform: the rank holding the hottest experts multiplies more
  rows than the mean. The same band as training (moe_train.IMBALANCE, "aux-loss": busiest EP rank over the mean,
  1.3 at p50, from the Megatron MoE Model Zoo's Qwen3-235B-A22B forced-balance vs dropless steps), since the
  served checkpoints are those routers; TensorRT-LLM's own EP statistics of DeepSeek-R1 show per-layer expert
  imbalance ratios of 0.46-2.46 (max over mean, less one) before its EP load balancer (blog4 'Scaling Expert
  Parallelism in TensorRT-LLM', report_load_statistics.py output, read 2026-12-07), the overview's benchmarks
  run without that balancer, and NVIDIA's aiconfigurator times its MoE ops under 'power_law' routing by default
  (sdk ModelConfig.workload_distribution, read 2026-12-07). `ep_extra_s`: the busiest rank's routed experts at IMBALANCE x their mean rows, over
  the mean (nothing while the step is weight-bound: the same experts' bytes on every rank).

Not modelled, on purpose (source read 2026-12-08, issue 21): CUDA graphs under DP attention. CUDAGraphRunner
(tensorrt_llm/_torch/pyexecutor/cuda_graph_runner.py, commit 7b437aaa) all-gathers [can_run_cuda_graph, batch_size]
over the ranks twice: pad_batch first (_get_padded_batch: if every rank is generation-only, each pads to
_round_up_batch_size(max over ranks), capped by the largest captured size), then maybe_get_cuda_graph (eager unless
every rank is generation-only AND every batch size equal). With enable_padding (the overview's llm_options.yml sets
it) generation-only steps of unequal ranks are padded to one size and replayed, so a step runs eagerly on every rank
only when some rank holds a context request: in the offline waves (offline.py) that is the wave's prefill steps,
0.2-16% of the steps of the overview's MoE rows, each priced by its prefill (97-966 ms at p50, vs 35-67 ms for a
decode step), so eager launches could add at most a few percent, not the 19-40% the 128/2048 rows (under 1.1%
prefill steps) are optimistic by. What padding does cost, its dummy rows, is charged in the offline decode steps
(graph_padding.py).
"""
from __future__ import annotations

import numpy as np

from . import arithmetic as ar
from . import grouped_gemm
from . import moe_train
from . import perf

# `r` below is an inference.Replica (not imported: inference.py calls ep_extra_s, so the import would be a cycle)
SERVING_BALANCE = "aux-loss"  # the served MoE checkpoints' routers were trained with a load-balancing loss


def ranks(r) -> int:
    """Attention ranks that each hold whole requests: the replica's GPUs under DP attention, else 1."""
    return r.split.gpus if r.attention_dp else 1


def busiest_prompt_rows(prompt_rows, prompt_tokens: float, gpus: int):
    """Prompt tokens the busiest of `gpus` attention ranks prefills in a step carrying `prompt_rows` prompt tokens
    of whole prompts of `prompt_tokens` each (time-averaged)."""
    n = np.asarray(prompt_rows, dtype=float) / max(float(prompt_tokens), 1.0)
    return prompt_tokens * np.maximum(n / gpus, np.minimum(n, 1.0))


def prefill_attention_s(r, one_prompt_s: float, prompt_rows: float, prompt_tokens: float) -> float:
    """Causal attention of a step's prompts on its busiest rank: the whole prompts that rank prefills, each
    `one_prompt_s` (all of them without DP attention)."""
    return one_prompt_s * float(busiest_prompt_rows(prompt_rows, prompt_tokens, ranks(r))) / max(prompt_tokens, 1.0)


def attention_side_s(r, kern: perf.Kernels, rows):
    """One rank's attention projections, dense (non-MoE) MLP layers, shared experts and element-wise work for
    `rows` tokens: what runs on the rank's own tokens under DP attention (TensorRT-LLM builds the dense MLPs and the
    shared experts with overridden_tp_size=1 when enable_attention_dp is on: modeling_qwen3.py, modeling_llama.py
    Llama4MoE, read 2026-12-07)."""
    m, tp = r.m, r.split.tp
    shapes = perf.attention_shapes(m, tp)
    counts = [m.n_layers] * len(shapes)
    n_moe = ar.n_moe_layers(m)
    for layers, width in ((m.n_layers - n_moe, m.ffn_dim), (n_moe * m.n_shared_experts, m.shared_expert_ffn_dim)):
        if layers and width:
            part = perf.mlp_shapes(m, width / tp)
            shapes, counts = shapes + part, counts + [layers] * len(part)
    return perf.gemm_stack_s(rows, shapes, kern, r.num, counts) + perf.elementwise_s(m, rows, tp, kern, r.num)


def extra_s(r, kern: perf.Kernels, decode_rows: float, prompt_rows: float, prompt_tokens: float) -> float:
    """What whole prompts on one rank add to a step of `decode_rows` decoding and `prompt_rows` prompt tokens over
    the even spread the step model assumes; 0 without DP attention."""
    if not r.attention_dp or prompt_rows <= 0:
        return 0.0
    n = r.split.gpus
    spread = (decode_rows + prompt_rows) / n
    busiest = decode_rows / n + float(busiest_prompt_rows(prompt_rows, prompt_tokens, n))
    return max(float(attention_side_s(r, kern, busiest) - attention_side_s(r, kern, spread)), 0.0)


def ep_extra_s(r, kern: perf.Kernels, rows, quantile: int | None):
    """What the busiest expert-parallel rank's routed experts add to a step of `rows` tokens (the replica's) over
    the mean rank perf.stack_linears_s charges: its experts at IMBALANCE[quantile] x the mean rows each (quantile
    None: the (p10, p50, p90) band on a last axis, as the replica's own rates are); 0 without expert parallelism."""
    rows = np.asarray(rows, dtype=float)
    if not r.attention_dp or r.split.ep == 1 or not ar.n_moe_layers(r.m):
        return np.zeros(np.shape(rows))
    m, s = r.m, r.split
    local, per_expert = perf.routed_rows(m, s.local(rows), s.ep)
    worst = moe_train.imbalance_factor(SERVING_BALANCE)
    shapes, worst = perf.mlp_shapes(m, m.moe_ffn_dim / s.tp), worst if quantile is None else worst[quantile]
    pair = np.stack(np.broadcast_arrays(per_expert * worst, per_expert * np.ones_like(worst)))  # one numpy pass
    busiest, mean = grouped_gemm.stack_s(pair, shapes, kern, r.num)
    return ar.n_moe_layers(m) * local * (busiest - mean)
