"""One dense TensorRT-LLM prefill, the planner's terms beside aiconfigurator-core's measured per-op tables (issue 21).

    AICONFIGURATOR_DATA=/path/to/systems/data PYTHONPATH=. python scripts/dense_prefill_vs_silicon.py

Which dense prefill rate, if any, was compensating for the too-fast context attention (context_attention.py)? For one
prompt of P tokens it prints the planner's p50 terms (linears without the head, attention, element-wise, overheads)
and the tables' sums over the layers: the GEMMs at TensorRT-LLM's fused shapes (qkv, o, gate_up, down; the table's
nearest n and k, scaled by n x k; linear in m between measured rows) from gemm/trtllm/<version>/gemm_perf.parquet, and
the context attention at the prompt (linear in isl) from context_attention_perf.parquet; then the planner-over-table
ratio of the four GEMMs at 1,024 / 4,096 / 8,192 rows, fp8 and bf16. Diagnostic only; no number here is a default.
Calibration systems only (h100_sxm, a100_sxm; scripts/silicon_split.toml).
"""
from __future__ import annotations

import sys
from glob import glob
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from context_attention_fit import data_root  # noqa: E402
from planner.catalog import lookup as catalog  # noqa: E402
from planner.estimate import inference as inf  # noqa: E402
from planner.estimate import passes, perf  # noqa: E402
from planner.estimate.engine import resolve_engine  # noqa: E402
from planner.estimate.gemm import gemm_s  # noqa: E402

DTYPE = {"fp8": "fp8", "bf16": "bfloat16"}


def table(system: str, op: str, stem: str) -> pd.DataFrame:
    return pd.read_parquet(sorted(glob(f"{data_root()}/{system}/{op}/trtllm/*/{stem}.parquet"))[-1])


def fused_shapes(m, tp: int) -> list[tuple[int, int]]:
    qkv = int((m.n_heads + 2 * max(m.n_kv_heads // tp, 1) * tp) * m.head_dim / tp)
    return [(qkv, m.dim), (m.dim, int(m.n_heads * m.head_dim / tp)), (int(2 * m.ffn_dim / tp), m.dim),
            (m.dim, int(m.ffn_dim / tp))]


def gemm_table_s(t: pd.DataFrame, rows: float, n: int, k: int) -> float:
    near = [int(u[np.argmin(abs(np.log(u / v)))]) for u, v in ((np.unique(t.n), n), (np.unique(t.k), k))]
    x = t[(t.n == near[0]) & (t.k == near[1])].groupby("m").latency.first()
    return float(np.interp(rows, x.index.values, x.values)) * 1e-3 * n * k / (near[0] * near[1])


def prefill_terms(model: str, gpu: str, system: str, precision: str, tp: int, prompt: float) -> str:
    m, g = catalog.model(model), catalog.gpu(gpu)
    r = inf.replica(m, g, precision, tp, resolve_engine("tensorrt-llm", g))
    k = perf.at_quantile(r.kern, 1)
    w = passes.prefill_work(m, r.num.kv_bytes, batch=1, prompt_tokens=prompt)
    lin = float(perf.stack_linears_s(m, prompt, tp, k, r.num))
    att = float(perf.attention_s(m, 1, prompt, w["attn_flops_per_token"], w["kv_bytes_per_seq"], tp, k)
                + perf.context_attention.qkv_s(m, k, prompt, tp))
    ew, ov = float(perf.elementwise_s(m, prompt, tp, k, r.num)), float(perf.overheads_s(m, k))
    gt = table(system, "gemm", "gemm_perf")
    gt = gt[gt.gemm_dtype == DTYPE[precision]]
    t_gemm = m.n_layers * sum(gemm_table_s(gt, prompt, n, kk) for n, kk in fused_shapes(m, tp))
    c = table(system, "attention", "context_attention_perf")
    c = c[(c.attn_dtype == DTYPE[precision]) & (c.kv_cache_dtype == DTYPE[r.kv_cache_dtype])
          & (c.head_dim == m.head_dim)
          & (c.window_size == 0) & (c.batch_size == 1) & (c.num_heads == m.n_heads // tp)
          & (c.num_key_value_heads == max(m.n_kv_heads // tp, 1))].groupby("isl").latency.first()
    t_att = m.n_layers * float(np.interp(prompt, c.index.values, c.values)) * 1e-3
    return (f"{model} {precision} {gpu} TP{tp}, one {prompt:,.0f}-token prompt: planner linears {lin * 1e3:.2f} ms "
            f"(table {t_gemm * 1e3:.2f}), attention {att * 1e3:.2f} (table {t_att * 1e3:.2f}), element-wise "
            f"{ew * 1e3:.2f}, overheads {ov * 1e3:.2f}")


def gemm_ratios(model: str, gpu: str, system: str, precision: str, tp: int) -> str:
    m, g = catalog.model(model), catalog.gpu(gpu)
    r = inf.replica(m, g, precision, tp, resolve_engine("tensorrt-llm", g))
    k, num = perf.at_quantile(r.kern, 1), r.num
    gt = table(system, "gemm", "gemm_perf")
    gt = gt[gt.gemm_dtype == DTYPE[precision]]
    out = []
    for rows in (1024, 4096, 8192):
        shapes = fused_shapes(m, tp)
        out.append(sum(float(gemm_s(rows, n, kk, k, num)) for n, kk in shapes)
                   / sum(gemm_table_s(gt, rows, n, kk) for n, kk in shapes))
    return f"{model} {precision} {gpu} TP{tp} GEMMs, planner / table at 1,024 / 4,096 / 8,192 rows: " + \
        " / ".join(f"{x:.2f}" for x in out)


if __name__ == "__main__":
    for prompt in (2048.0, 5000.0):
        print(prefill_terms("Llama-3.1-8B", "H100 SXM", "h100_sxm", "fp8", 1, prompt))
    print(prefill_terms("Llama-3.3-70B", "H100 SXM", "h100_sxm", "fp8", 2, 2048.0))
    for args in (("Llama-3.1-8B", "H100 SXM", "h100_sxm", "fp8", 1), ("Llama-3.3-70B", "H100 SXM", "h100_sxm", "fp8", 2),
                 ("Llama-3.1-8B", "H100 SXM", "h100_sxm", "bf16", 1),
                 ("Llama-3.1-8B", "A100 80GB SXM", "a100_sxm", "bf16", 1)):
        print(gemm_ratios(*args))
