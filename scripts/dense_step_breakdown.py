"""Per-term breakdown of one decode step of a TensorRT-LLM offline (trtllm-bench) wave, for dense models.

`PYTHONPATH=. python scripts/dense_step_breakdown.py` prints, for the 8B H100 128/2048 and 70B H200 TP1 128/2048
perf-overview rows, the wave batch (and what limits it), then one decode step at the wave's mean context split
into the planner's terms: weight streaming of the GEMMs, the GEMMs' fixed latency (t0 x GEMMs), output head, KV
read (attention), element-wise work, per-pass overhead. Diagnostic only (issue 21); no number here is a default.
"""
from __future__ import annotations

import math

from planner.catalog import lookup as catalog
from planner.estimate import arithmetic as ar
from planner.estimate import inference as inf
from planner.estimate import load as ld
from planner.estimate import offline, perf
from planner.estimate import search as sr
from planner.estimate import simulate as sim
from planner.estimate.engine import resolve_engine

ROWS = [("Llama-3.1-8B", "H100 SXM", 1, 128, 2048, 3000, 22714.0),
        ("Llama-3.3-70B", "H200 SXM", 1, 128, 2048, 3000, 4336.0)]


def bench_settings(m, g, tp: int, prompt: float, output: float, fraction: float = 0.95) -> tuple[int, int]:
    """max_batch_size and max_num_tokens trtllm-bench sets itself when not given (tensorrt_llm/bench/build/tuning.py
    calc_engine_setting + finetune_setting, commit 04cba882, read 2026-12-08): KV requests = (GPU GiB x tp - fp8
    weights GiB) x fraction / (KV GiB per token x (ISL + OSL)); the batch rounded UP ("slightly optimistic")."""
    gib = 1024.0 ** 3
    per_token = 2 * m.n_layers * max(tp, m.n_kv_heads) * m.head_dim * 1.0 / gib  # fp8 KV
    requests = (g.memory_bytes / gib * tp - ar.total_params(m) * 1.0 / gib) * fraction / (per_token * (prompt + output))
    raw_bs = min(requests, 4096)
    raw_tok = min(raw_bs * (1 + prompt / output), 32768)
    bs = (max(64, 32 * math.ceil(raw_bs / 32)) if raw_bs < 256 else 128 * math.ceil(raw_bs / 128) if raw_bs < 1024
          else 256 * math.ceil(raw_bs / 256))
    tok = (max(2048, 256 * math.ceil(raw_tok / 256)) if raw_tok < 4096 else 512 * math.ceil(raw_tok / 512)
           if raw_tok < 8192 else 1024 * math.ceil(raw_tok / 1024))
    return bs, tok


def breakdown(model: str, gpu: str, tp: int, prompt: float, output: float, n_req: int, published: float) -> None:
    m, g = inf._resolve(model, gpu)  # noqa: SLF001
    setup = resolve_engine("tensorrt-llm", g)
    r = inf.replica(m, g, "fp8", tp, setup, "fp8", False)
    cap = setup.batch_cap
    load = ld.load_for(r, setup, cap, prompt, output, quantile=1)
    steps = ld._steps(load)  # noqa: SLF001
    kv_limit = sr.max_batch_for_kv(r, prompt + output)
    d = offline.wave_batch(r, cap, prompt, output)
    kern = perf.at_quantile(r.kern, 1)
    shapes = perf.attention_shapes(m, tp) + perf.mlp_shapes(m, m.ffn_dim / tp)
    n_gemms = len(shapes) * m.n_layers
    lin = ld.linears_s(load, steps, d)
    t0 = kern.gemm_overhead_s * n_gemms
    mean_ctx = prompt + output / 2
    attn = steps.attention_per_context_s * d * mean_ctx
    head = float(steps.head_s[d])
    elem = steps.per_row_s * d
    state = offline.offline_state(load, n_req)
    total = lin + head + elem + steps.fixed_s + attn
    print(f"== {model} {gpu} TP{tp} {prompt:.0f}/{output:.0f}: published {published:.0f} tok/s, planner "
          f"{state.output_tokens_per_s:.0f} ({state.output_tokens_per_s / published - 1:+.1%})")
    print(f"   KV tokens {steps.kv_tokens:,.0f} -> KV limit {kv_limit} seq at {prompt + output:.0f} tokens; cap {cap}; "
          f"wave batch {d}")
    print(f"   rates p50: memory {kern.memory_efficiency:.2f} x {kern.peak_bytes_per_s / 1e12:.2f} TB/s; "
          f"weight_stream {kern.weight_stream_factor}; K/V read x{kern.kv_stream_factor:.3f} "
          f"(decode_attention.py); GEMM t0 {kern.gemm_overhead_s * 1e6:.2f} us")
    mbs, mnt = bench_settings(m, g, tp, prompt, output)
    print(f"   trtllm-bench's own heuristic (tuning.py, fraction 0.95): max_batch_size {mbs}, max_num_tokens {mnt}")
    for name, v in [("stack GEMMs (incl t0)", lin), (f"  of which t0 ({n_gemms} GEMMs)", t0), ("output head", head),
                    ("decode attention (KV read)", attn), ("element-wise", elem), ("fixed (pass + per-layer attention t0)",
                                                                                    steps.fixed_s)]:
        print(f"   {name:34s} {v * 1e3:7.3f} ms  {v / total:6.1%}")
    print(f"   step at mean context {total * 1e3:.3f} ms; planner step_s {state.step_s * 1e3:.3f} ms; "
          f"published implies {d / published * 1e3:.3f} ms per step at batch {d} (ignoring prefill)")


if __name__ == "__main__":
    for row in ROWS:
        breakdown(*row)
