"""Fit the fused-MoE op's small-batch form t = t0 + bytes / (bandwidth x e) to aiconfigurator-core's MoE tables.

    python scripts/moe_decode_fit.py              # needs the `silicon` extra (aiconfigurator-core 0.12.0)
    AICONFIGURATOR_DATA=/path/to/systems/data python scripts/moe_decode_fit.py

Rows: systems/data/<gpu>/moe/<engine>/<newest version>/moe_perf.parquet, balanced routing, no expert parallelism,
1-32 tokens, the 16-bit and fp8 formats; bytes = the routed experts the step touches (uniform routing, balls in
bins: E (1 - (1 - k/E)^T)) x 3 x hidden x inter / moe_tp x bytes per weight. Fitted per (GPU, engine) by least
squares on relative error over a grid of e; only the calibration systems of scripts/silicon_split.toml (A100, H100,
B200, L40S) set the constants in planner/estimate/moe_decode.py; H200 is printed as the held-out check.
"""
from __future__ import annotations

import glob
import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from decode_attention_fit import data_root  # noqa: E402
from planner.calibration.silicon_tables import version_key  # noqa: E402

PEAK = {"a100_sxm": 2.039e12, "h100_sxm": 3.35e12, "h200_sxm": 4.8e12, "b200_sxm": 8.0e12, "l40s": 0.864e12}
BYTES = {"bfloat16": 2.0, "float16": 2.0, "fp8": 1.0, "fp8_block": 1.0}


def newest(paths):
    """The table of the latest engine release (silicon_tables.version_key's order)."""
    return max(paths, key=lambda p: version_key(p.split("/")[-2]))


def touched_bytes(d: pd.DataFrame) -> np.ndarray:
    """Routed-expert weight bytes one GPU reads per row: distinct experts touched x one expert's share."""
    touched = d.num_experts * (1 - (1 - d.topk / d.num_experts) ** d.num_tokens)
    return (touched * 3 * d.hidden_size * d.inter_size / d.moe_tp_size * d.moe_dtype.map(BYTES)).to_numpy()


def fit(d: pd.DataFrame, peak: float):
    """(t0, e, median |relative error|) of t = t0 + bytes / (peak x e) over a grid of e, t0 the median residual."""
    byt = touched_bytes(d)
    t = d.latency.to_numpy() * 1e-3
    best = None
    for e in np.linspace(0.05, 1.0, 96):
        mem = byt / (peak * e)
        t0 = max(0.0, float(np.median(t - mem)))
        err = np.median(np.abs((t0 + mem) / t - 1))
        if best is None or err < best[2]:
            best = (t0, e, err)
    return best


FITTED: dict = {}


def score(d: pd.DataFrame, peak: float, t0: float, e: float) -> float:
    """Median |relative error| of t0 + bytes / (peak x e) on the rows of `d`."""
    return float(np.median(np.abs((t0 + touched_bytes(d) / (peak * e)) / (d.latency.to_numpy() * 1e-3) - 1)))


def main() -> None:
    for gpu, peak in PEAK.items():
        for engine in ("vllm", "sglang", "trtllm"):
            paths = glob.glob(f"{data_root()}/{gpu}/moe/{engine}/*/moe_perf.parquet")
            if not paths:
                continue
            p = newest(paths)
            d = pd.read_parquet(p)
            d = d[(d.distribution == "balanced") & (d.moe_ep_size == 1) & (d.num_tokens <= 32)
                  & d.moe_dtype.isin(list(BYTES))]
            if d.empty:
                continue
            d = d.groupby(["moe_dtype", "num_tokens", "hidden_size", "inter_size", "topk", "num_experts",
                           "moe_tp_size"], as_index=False).latency.min()  # the fastest kernel per shape
            t0, e, err = fit(d, peak)
            tag = "held out" if gpu == "h200_sxm" else "calibration"
            if gpu == "h200_sxm" and (engine, "h100") in FITTED:
                h0, he = FITTED[(engine, "h100")]
                tag += f"; scored with H100's t0 and e: median |err| {score(d, peak, h0, he):.1%}"
            FITTED[(engine, gpu[:4])] = (t0, e)
            print(f"{gpu:9s} {engine:7s} {os.path.basename(os.path.dirname(p)):12s} rows {len(d):4d}  "
                  f"t0 {t0 * 1e6:5.1f} us  e {e:.2f}  median |err| {err:.1%}  ({tag})")


if __name__ == "__main__":
    main()
