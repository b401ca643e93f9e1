"""One DP-attention + EP TensorRT-LLM step, term by term: the planner against aiconfigurator-core's per-op tables.

    PYTHONPATH=. python scripts/moe_step_vs_silicon.py [model gpu tp sequences_per_rank]   # needs the `silicon` extra

Default: Qwen3-235B-A22B fp8 on 8 H100s (a calibration system, scripts/silicon_split.toml), 187 sequences a rank
decoding at context 1,152 (the 128/2048 wave), then one 5,000-token prompt a rank prefilled. aiconfigurator-core
0.12.0 sums its measured TensorRT-LLM ops (EngineHandle.run_static_per_op, attention DP = tp, MoE EP = tp, fp8 GEMMs,
MoE, KV and FMHA); the planner's terms come from perf.py, moe_serving.py, simulate.py at p50 rates. Diagnostic only:
nothing in planner/ imports it. Found with it (issue 21): the DP gathers (now nccl_gather.py), the fused-MoE op under
power-law routing (the planner ~10-40% below at 1.5k-40k gathered tokens) and context attention (the planner 2-4x
below the measured FMHA for every Llama/Qwen shape, dense too); a residual the tables do not explain remains.
"""
from __future__ import annotations

import sys

import numpy as np

from planner.catalog import lookup as catalog
from planner.estimate import arithmetic as ar
from planner.estimate import grouped_gemm, perf, simulate as sim
from planner.estimate import inference as inf
from planner.estimate import moe_serving as moe
from planner.estimate.engine import resolve_engine

AIC_MODEL = {"Qwen3-235B-A22B": "Qwen/Qwen3-235B-A22B-FP8", "Llama-4-Scout": "meta-llama/Llama-4-Scout-17B-16E-Instruct",
             "Llama-4-Maverick": "meta-llama/Llama-4-Maverick-17B-128E-Instruct"}
AIC_SYSTEM = {"H100 SXM": "h100_sxm", "H200 SXM": "h200_sxm"}


def planner_terms(r, rank_tokens: float, context: float, prompt: float | None) -> dict:
    """The planner's terms (ms) of one step of `rank_tokens` tokens a rank: decoding at `context`, or one prompt."""
    m, s, k = r.m, r.split, perf.at_quantile(r.kern, 1)
    rows = float(rank_tokens)
    (n_routed, routed, per_expert), *rest = perf._ffn_parts(m, np.asarray(rows), s.tp, s.ep)  # noqa: SLF001
    n_moe = ar.n_moe_layers(m)
    if prompt is None:
        per_context_s = sim.step_model(r, 1, int(rows * s.gpus) + 2, context).attention_per_context_s
        attn = float(per_context_s) * rows * s.gpus * context
    else:
        attn = float(sim.prefill_attention_s(r, 1, np.array([prompt]))[0])
    out = {"attention projections": m.n_layers * perf.gemm_stack_s(rows, perf.attention_shapes(m, s.tp), k, r.num),
           "attention": attn,
           "routed experts + permutation + busiest EP rank":
               n_moe * n_routed * grouped_gemm.stack_s(per_expert, routed, k, r.num)
               + float(np.asarray(moe.step_extra_s(r, k, np.array([rows * s.gpus]), 1))[0]),
           "shared experts + router": n_moe * sum(n * perf.gemm_stack_s(x, shapes, k, r.num) for n, shapes, x in rest),
           "DP all-gather + reduce-scatter": float(inf.collectives_s(r, rows * s.gpus)),
           "element-wise (norms, RoPE, copies)": float(perf.elementwise_s(m, rows, s.tp, k, r.num)),
           "fixed per-pass overheads": float(perf.overheads_s(m, k)),
           "LM head": float(perf.head_s(m, 1.0 if prompt else rows, s.tp, k, r.num))}
    return {name: float(np.asarray(v).ravel()[0]) * 1e3 for name, v in out.items()}


def silicon_ops(model: str, gpu: str, tp: int, batch: int, isl: int, osl: int) -> tuple[list, list]:
    """aiconfigurator-core's (context, generation) per-op lists (name, ms over the run, ...) of `batch` a rank."""
    from aiconfigurator_core.sdk.engine import EngineHandle
    h = EngineHandle.compile(AIC_MODEL[model], AIC_SYSTEM[gpu], "trtllm", tp_size=1, attention_dp_size=tp, moe_tp_size=1,
                             moe_ep_size=tp, gemm_quant_mode="fp8", moe_quant_mode="fp8", kvcache_quant_mode="fp8",
                             fmha_quant_mode="fp8")
    return h.run_static_per_op(batch_size=batch, isl=isl, osl=osl)


def main(model="Qwen3-235B-A22B", gpu="H100 SXM", tp=8, batch=187, isl=128, osl=2048, prompt=5000) -> None:
    m, g = catalog.model(model), catalog.gpu(gpu)
    r = inf.replica(m, g, "fp8", tp, resolve_engine("tensorrt-llm", g), None, True)
    context = isl + osl / 2.0
    print(f"{model} {gpu} DP{tp}/EP{tp}, decode: {batch} sequences a rank at context {context:.0f} (ms a step)")
    for name, v in planner_terms(r, batch, context, None).items():
        print(f"  planner {name:48s} {v:8.2f}")
    _, gen = silicon_ops(model, gpu, tp, batch, isl, osl)
    for op in gen:
        print(f"  silicon {op[0]:48s} {op[1] / (osl - 1):8.2f}")
    print(f"prefill: one {prompt}-token prompt a rank ({prompt * tp} gathered tokens; ms a step)")
    for name, v in planner_terms(r, prompt, 0.0, prompt).items():
        print(f"  planner {name:48s} {v:8.2f}")
    ctx, _ = silicon_ops(model, gpu, tp, 1, prompt, 2)
    for op in ctx:
        print(f"  silicon {op[0]:48s} {op[1]:8.2f}")


if __name__ == "__main__":
    a = sys.argv[1:]
    main(a[0], a[1], int(a[2]), int(a[3])) if len(a) >= 4 else main()
