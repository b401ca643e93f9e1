"""Under data-parallel attention a prompt is prefilled whole on one rank: the busiest rank's share of a step.

With DP attention (SGLang --enable-dp-attention, TensorRT-LLM enable_attention_dp) each rank runs attention, its
projections and the dense layers for its own requests; only the MoE layers see every rank's tokens (gathered
before each MoE layer, moe_serving.py). A new request goes to one rank and its whole prompt is prefilled there:
TensorRT-LLM's attention-DP scheduler assigns each waiting request to the rank with the fewest active tokens
(ADP request balancing, tensorrt_llm/_torch/pyexecutor: "assign requests to ranks with lowest token count"), it
does not split a prompt; and by default it does not hold context requests back to start them on every rank in
the same step (llm_args AttentionDpConfig.enable_balance defaults to False, read 2026-12-07; with it on, ranks
wait up to batching_wait_iters steps to prefill together, which this term leaves out). Every rank then waits for
the busiest one at the MoE layers' gather. So the attention
side of a step runs on the busiest rank's rows: its 1/N of the decoding sequences plus the whole prompts it
admitted, not 1/N of all rows (which is how perf.stack_linears_s spreads them, through Split.local).

`busiest_prompt_rows`: with n prompts joining a step on average and N ranks, the busiest rank prefills
ceil(n / N) of them; averaged over steps that is P x max(n / N, min(n, 1)) (fewer than one prompt a step: each
lands alone on one rank, so no prompt work is spread). `extra_s` is what that adds to a steady-state step.
"""
from __future__ import annotations

import numpy as np

from . import arithmetic as ar
from . import perf
from .inference import Replica


def busiest_prompt_rows(prompt_rows, prompt_tokens: float, gpus: int):
    """Prompt tokens the busiest of `gpus` attention ranks prefills in a step carrying `prompt_rows` prompt tokens
    of whole prompts of `prompt_tokens` each (time-averaged)."""
    n = np.asarray(prompt_rows, dtype=float) / max(float(prompt_tokens), 1.0)
    return prompt_tokens * np.maximum(n / gpus, np.minimum(n, 1.0))


def attention_side_s(r: Replica, kern: perf.Kernels, rows):
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


def extra_s(r: Replica, kern: perf.Kernels, decode_rows: float, prompt_rows: float, prompt_tokens: float) -> float:
    """What whole prompts on one rank add to a step of `decode_rows` decoding and `prompt_rows` prompt tokens over
    the even spread the step model assumes; 0 without DP attention."""
    if not r.attention_dp or prompt_rows <= 0:
        return 0.0
    n = r.split.gpus
    spread = (decode_rows + prompt_rows) / n
    busiest = decode_rows / n + float(busiest_prompt_rows(prompt_rows, prompt_tokens, n))
    return max(float(attention_side_s(r, kern, busiest) - attention_side_s(r, kern, spread)), 0.0)
