"""Per-term breakdown of one batch-small MoE decode step as the planner charges it (p50 rates), per figure.

`PYTHONPATH=. python scripts/moe_decode_breakdown.py` prints, for each small-batch MoE figure of
serving_published.toml, the decode step's terms in microseconds: attention projections, dense MLPs, routed
experts, shared experts, router, head, attention, element-wise, fixed overheads, collectives, MoE extras and
the small-batch terms of planner/estimate/moe_decode.py.
"""
from __future__ import annotations

import numpy as np

from planner.catalog.published import published_serving_figures
from planner.catalog.lookup import gpu as lookup_gpu, model as lookup_model
from planner.estimate import arithmetic as ar, grouped_gemm, inference, moe_decode, moe_serving as moe, perf
from planner.estimate.engine import resolve_engine


def terms(f) -> dict:
    m, g = lookup_model(f.model), lookup_gpu(f.gpu)
    r = inference.replica(m, g, f.precision, f.tensor_parallel, resolve_engine(f.engine, g), f.kv_cache_dtype,
                          bool(f.attention_dp))
    k = perf.at_quantile(r.kern, 1)
    s, b = r.split, float(f.batch_size)
    rows, tp, ep, num = s.local(b), s.tp, s.ep, r.num
    n_moe = ar.n_moe_layers(m)
    (n_routed, routed, per_expert), (n_sh, shared, _), (_, router, _) = perf._ffn_parts(m, rows, tp, ep)
    ctx = inference.mean_decode_context(f.prompt_tokens, f.output_tokens)
    work = perf.passes.decode_work(m, num.kv_bytes, batch=rows, context_tokens=ctx)
    out = {
        "attn_proj": m.n_layers * perf.gemm_stack_s(rows, perf.attention_shapes(m, tp), k, num),
        "dense_mlp": (m.n_layers - n_moe) * perf.gemm_stack_s(rows, perf.mlp_shapes(m, m.ffn_dim / tp), k, num),
        "routed": n_moe * n_routed * grouped_gemm.stack_s(per_expert, routed, k, num),
        "shared": n_moe * n_sh * perf.gemm_stack_s(rows, shared, k, num) if n_sh else 0.0,
        "router": n_moe * perf.gemm_stack_s(rows, router, k, num),
        "head": perf.head_s(m, rows, tp, k, num),
        "attention": perf.attention_s(m, rows, 1.0, work["attn_flops_per_token"], work["kv_bytes_per_seq"], tp, k),
        "elementwise": perf.elementwise_s(m, rows, tp, k, num),
        "overheads": perf.overheads_s(m, k),
        "collectives": inference.collectives_s(r, b),
        "moe_extra": moe.step_extra_s(r, k, b, None) - moe_decode.step_s(r, k, b),  # permutation, busiest EP rank
        "small_batch": moe_decode.step_s(r, k, b),
    }
    return {key: float(np.ravel(v)[0]) * 1e6 for key, v in out.items()}


def main() -> None:
    for f in published_serving_figures():
        if f.kind == "throughput" or not lookup_model(f.model).is_moe:
            continue
        t = terms(f)
        total = sum(t.values())
        print(f"{f.id} [{f.set}] batch {f.batch_size}: step {total / 1e3:.2f} ms")
        print("   " + ", ".join(f"{key} {v:.0f}" for key, v in t.items()) + " (us)")


if __name__ == "__main__":
    main()
