"""Term-by-term breakdown of what the planner charges for one trtllm-bench throughput row (issue 21).

Usage: PYTHONPATH=. python scripts/moe_prefill_breakdown.py [model gpu tp isl osl num_requests]
(default: Qwen3-235B-A22B, H200 SXM, TP8 with DP attention, 5000/500, 1500 requests); --profile-defaults: the
engine profile's max_batch_size and max_num_tokens instead of the benchmark's own (trtllm_bench.py). Prints the scheduler's
settings (trtllm_bench.py), the KV budget and the wave, then one prefill step and one decode step split into
their terms, and the wave's time. Diagnostic only: nothing in planner/ imports it.
"""
from __future__ import annotations

import sys

import numpy as np

from planner.catalog import lookup as catalog
from planner.estimate import dp_balance, kv_budget, offline, perf, trtllm_bench
from planner.estimate import inference as inf
from planner.estimate import load as ld
from planner.estimate import simulate as sim
from planner.estimate.engine import resolve_engine


def main(model="Qwen3-235B-A22B", gpu="H200 SXM", tp=8, isl=5000.0, osl=500.0, n_req=1500) -> None:
    m, g = catalog.model(model), catalog.gpu(gpu)
    setup = resolve_engine("tensorrt-llm", g)
    if "--profile-defaults" not in sys.argv:  # as max_throughput: the limits trtllm-bench picks (trtllm_bench.py)
        setup = trtllm_bench.bench_setup(setup, m, g, "fp8", tp, setup.kv_cache_dtype("fp8"), isl, osl)
    r = inf.replica(m, g, "fp8", tp, setup, None, True)
    cap = kv_budget.replica_batch_cap(setup.batch_cap, setup, tp, True)
    load = ld.load_for(r, setup, cap, isl, osl, quantile=1)
    steps = ld._steps(load)  # noqa: SLF001
    gib = 1024 ** 3
    print(f"{model} {gpu} TP{tp} DP-attn {isl:.0f}/{osl:.0f}: batch cap {setup.batch_cap}/rank -> {cap}, "
          f"max_num_tokens {load.chunk_tokens}/rank, chunked {load.chunked}")
    print(f"  per GPU: usable {r.usable_bytes / gib:.1f} GiB, MoE workspace {kv_budget.engine_workspace_bytes(r) / gib:.2f} GiB, "
          f"CUDA-graph pool {kv_budget.graph_pool_bytes(r) / gib:.2f} GiB, "
          f"KV {kv_budget.kv_budget_bytes(r) / gib:.1f} GiB; KV tokens (replica) {steps.kv_tokens:,.0f}")
    d = max(offline.wave_batch(r, cap, isl, osl), 1)
    d = min(d, n_req)
    per_step = offline.prompts_per_step(load)
    rows = per_step * isl
    kern = perf.at_quantile(r.kern, 1)
    one_prompt = float(sim.prefill_attention_s(r, 1, np.array([isl]))[0])
    terms = {
        "GEMMs (all layers, gathered MoE rows)": ld.linears_s(load, steps, rows),
        "DP imbalance + EP busiest rank": dp_balance.extra_s(r, kern, 0.0, rows, isl),
        "LM head": float(np.interp(max(1.0, per_step), np.arange(len(steps.head_s)), steps.head_s)),
        "per-row (element-wise, collectives)": steps.per_row_s * rows,
        "fixed (launch, MoE layer overhead)": steps.fixed_s,
        "prompt attention (busiest rank)": dp_balance.prefill_attention_s(r, one_prompt, rows, isl),
    }
    n_pre = d / per_step
    print(f"  wave: {d} sequences; prefill {n_pre:.1f} steps of {per_step:.1f} prompts ({rows:,.0f} rows)")
    tot = sum(terms.values())
    for k, v in terms.items():
        print(f"    {k:40s} {v * 1e3:9.2f} ms  ({v / tot:5.1%})")
    print(f"    {'one prefill step':40s} {tot * 1e3:9.2f} ms; phase {n_pre * tot:.2f} s")
    dec = offline.decode_phase_s(load, steps, d)
    print(f"  decode phase: {osl - 1:.0f} steps at batch {d}: {dec:.2f} s ({dec / max(osl - 1, 1) * 1e3:.1f} ms/step)")
    st = offline.offline_state(load, n_req)
    print(f"  wave {n_pre * tot + dec:.2f} s (prefill share {n_pre * tot / (n_pre * tot + dec):.0%}); "
          f"throughput {st.output_tokens_per_s:,.0f} tok/s")


if __name__ == "__main__":
    a = [x for x in sys.argv[1:] if not x.startswith("--")]
    main(*(a[:2] + [int(a[2]), float(a[3]), float(a[4]), int(a[5])])) if a else main()
