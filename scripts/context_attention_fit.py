"""Fit TensorRT-LLM's context (prefill) attention (planner/estimate/context_attention.py) to aiconfigurator-core.

    python scripts/context_attention_fit.py     # needs the `silicon` extra (aiconfigurator-core 0.12.0) and the planner
    AICONFIGURATOR_DATA=/path/to/systems/data python scripts/context_attention_fit.py

Table: systems/data/<system>/attention/trtllm/<version>/context_attention_perf.parquet (one context attention call of
one layer: batch_size prompts of isl tokens into an empty cache, num_heads / num_key_value_heads, head_dim, FMHA and
KV dtypes; latency in ms). Rows: head_dim 128, no window, GQA or MHA up to 16 query heads per KV head (the dense Llama
and Qwen shapes per tensor-parallel rank), at least MIN_FLOPS causal FLOPs a call, two FMHA/KV pairs: bf16/bf16 (a
bf16 checkpoint) and fp8/fp8 (an fp8 checkpoint, whose KV cache TensorRT-LLM keeps in fp8). Causal FLOPs as
planner.estimate.arithmetic.prefill_flops counts them: 2 x heads x head_dim x isl x (isl + 1) a prompt. Model:
t = t0 + FLOPs / (peak x e) + elements x c, peak the catalog's dense peak of the FMHA dtype, elements = prompt tokens x
(heads + 2 x KV heads) x head_dim (the Q, K and V the op reads, ropes and writes to the cache once), least squares on
the relative error. The two-term form (c = 0) is printed beside it: without the per-token term it puts t0 at ~35 us
and e ~25% lower, with twice the error.
Fitted on the calibration systems (scripts/silicon_split.toml: h100_sxm, b200_sxm, a100_sxm, l40s, one per GPU
generation); h200_sxm is held out and scored with H100's t0 and e. The engine profile's flat rate (attention p50 of
the fp8/bf16 peak, t0 0) is scored beside it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from decode_attention_fit import data_root  # noqa: E402
from planner.calibration import silicon_tables as st  # noqa: E402
from planner.catalog.engines import engine_profile  # noqa: E402
from planner.catalog.lookup import gpu  # noqa: E402

CALIBRATION = {"h100_sxm": "H100 SXM", "b200_sxm": "B200", "a100_sxm": "A100 80GB SXM", "l40s": "L40S"}
VALIDATION = {"h200_sxm": ("H200 SXM", "h100_sxm")}  # held out: scored with this calibration system's fit
PAIRS = {"bf16": ("bfloat16", "bfloat16"), "fp8": ("fp8", "fp8")}  # planner compute dtype -> (FMHA, KV) dtypes
MIN_FLOPS = 1e9
MAX_GROUP = 16


def rows(system: str, dtype: str) -> pd.DataFrame:
    root = Path(data_root())
    newest = st.versions(root, system, "context_attention", "trtllm")[-1]
    d = pd.read_parquet(st.table_path(root, system, "context_attention", "trtllm", newest))
    fmha, kv = PAIRS[dtype]
    q = d[(d.head_dim == 128) & (d.window_size == 0) & (d.attn_dtype == fmha) & (d.kv_cache_dtype == kv)
          & (d.num_heads <= MAX_GROUP * d.num_key_value_heads)].copy()
    q["flops"] = 2.0 * q.batch_size * q.num_heads * q.head_dim * q.isl * (q.isl + 1.0)
    q["t_s"] = q.latency * 1e-3
    return q[q.flops >= MIN_FLOPS]


def elements(q: pd.DataFrame) -> pd.Series:
    return q.batch_size * q.isl * (q.num_heads + 2.0 * q.num_key_value_heads) * q.head_dim


def fit(q: pd.DataFrame, peak: float, per_element: bool = True) -> tuple[float, float, float]:
    """(t0 s, e, c s per element) by least squares on the relative error (c = 0 for the two-term form)."""
    w = 1.0 / q.t_s.to_numpy()
    cols = [np.ones(len(q)), q.flops.to_numpy() / peak] + ([elements(q).to_numpy()] if per_element else [])
    coef, *_ = np.linalg.lstsq(np.c_[tuple(cols)] * w[:, None], np.ones(len(q)), rcond=None)
    return float(coef[0]), float(1.0 / coef[1]), float(coef[2]) if per_element else 0.0


def score(q: pd.DataFrame, peak: float, t0: float, e: float, c: float = 0.0) -> tuple[float, float]:
    ratio = (t0 + q.flops / (peak * e) + elements(q) * c) / q.t_s - 1.0
    return float(np.median(ratio)), float(np.median(np.abs(ratio)))


def peak_of(gpu_name: str, dtype: str) -> float | None:
    return gpu(gpu_name).peak_flops.get(dtype)


if __name__ == "__main__":
    flat = engine_profile("tensorrt-llm", gpu("H100 SXM")).attention[1]
    fits = {}
    for system, name in CALIBRATION.items():
        for dtype in PAIRS:
            q, peak = rows(system, dtype), peak_of(name, dtype)
            if peak is None or not len(q):
                print(f"calibration {system} {dtype}: no rows or no {dtype} peak")
                continue
            t0, e, c = fits[system, dtype] = fit(q, peak)
            print(f"calibration {system} {dtype} ({len(q)} rows): t0 {t0 * 1e6:.1f} us, e {e:.3f} of the {dtype} peak "
                  f"({peak * e / 1e12:.0f} TFLOP/s), c {c * 1e12:.2f} ps/element; median signed / |error| "
                  "%.3f / %.3f" % score(q, peak, t0, e, c) + "; two-term (t0 %.1f us, e %.3f) %%.3f / %%.3f"
                  % (lambda f: (f[0] * 1e6, f[1]))(fit(q, peak, False)) % score(q, peak, *fit(q, peak, False))
                  + "; flat profile %.3f / %.3f" % score(q, peak, 0.0, flat))
    for system, (name, like) in VALIDATION.items():
        for dtype in PAIRS:
            q, peak = rows(system, dtype), peak_of(name, dtype)
            if (like, dtype) not in fits or not len(q):
                continue
            print(f"validation {system} {dtype} ({len(q)} rows) with {like}'s t0, e and c: median signed / |error| "
                  "%.3f / %.3f" % score(q, peak, *fits[like, dtype])
                  + "; flat profile %.3f / %.3f" % score(q, peak, 0.0, flat))
