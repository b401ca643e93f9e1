"""Fit NCCL's all-gather and reduce-scatter over NVLink (planner/estimate/nccl_gather.py) to aiconfigurator-core's table.

    python scripts/nccl_gather_fit.py              # needs the `silicon` extra (aiconfigurator-core 0.12.0)
    AICONFIGURATOR_DATA=/path/to/systems/data python scripts/nccl_gather_fit.py

Table: systems/data/<gpu>/comm/nccl/2.29.2/nccl_perf.parquet (one collective over num_gpus GPUs of one node;
message_size in elements of nccl_dtype, the whole gathered buffer (all-gather) or input (reduce-scatter); latency in
ms). Rows: the dtype TensorRT-LLM's DP-attention MoE layer sends (all-gather int8 = fp8 hidden states, reduce-scatter
half = bf16 expert outputs), 2, 4 and 8 GPUs, buffers of 1 MB to 1 GB (the range a DP-attention step sends: ~1 MB a
layer at a decode step of a few hundred tokens, hundreds of MB at a prefill step). Model: t = alpha + (n-1)/n x bytes /
busbw, least squares on the relative error. Fitted on the calibration system (h100_sxm, scripts/silicon_split.toml);
h200_sxm (the same NVLink 4 and NVSwitch) is held out and scored with H100's alpha and busbw.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from decode_attention_fit import data_root  # noqa: E402

TABLE = "comm/nccl/2.29.2/nccl_perf.parquet"
DTYPES = {"all_gather": ("int8", 1), "reduce_scatter": ("half", 2)}
RANKS = (2, 4, 8)
MIN_BYTES, MAX_BYTES = 1e6, 1.1e9


def rows(system: str, op: str, n: int) -> pd.DataFrame:
    d = pd.read_parquet(Path(data_root()) / system / TABLE)
    dtype, size = DTYPES[op]
    q = d[(d.op_name == op) & (d.nccl_dtype == dtype) & (d.num_gpus == n)].copy()
    q["bytes"] = q.message_size * float(size)
    q["t_s"] = q.latency * 1e-3
    return q[(q.bytes >= MIN_BYTES) & (q.bytes <= MAX_BYTES)]


def fit(q: pd.DataFrame, n: int) -> tuple[float, float]:
    w = 1.0 / q.t_s.to_numpy()
    a = np.c_[np.ones(len(q)), (n - 1) / n * q.bytes.to_numpy()] * w[:, None]
    (alpha, inv_bw), *_ = np.linalg.lstsq(a, np.ones(len(q)), rcond=None)
    return float(alpha), float(1.0 / inv_bw)


def score(q: pd.DataFrame, n: int, alpha: float, busbw: float) -> tuple[float, float]:
    ratio = (alpha + (n - 1) / n * q.bytes / busbw) / q.t_s - 1.0
    return float(np.median(ratio)), float(np.median(np.abs(ratio)))


if __name__ == "__main__":
    for op in DTYPES:
        for n in RANKS:
            cal = rows("h100_sxm", op, n)
            alpha, busbw = fit(cal, n)
            print(f"{op} {n} GPUs h100_sxm ({len(cal)} rows): alpha {alpha * 1e6:.1f} us, busbw {busbw / 1e9:.0f} GB/s; "
                  "median signed / |error| %.3f / %.3f" % score(cal, n, alpha, busbw))
            val = rows("h200_sxm", op, n)
            print(f"  held-out h200_sxm ({len(val)} rows) with H100's fit: median signed / |error| %.3f / %.3f"
                  % score(val, n, alpha, busbw))
            print("  the catalog link (6.6 + 0.6 (n-1) us, 360 GB/s) on h100_sxm: median signed / |error| %.3f / %.3f"
                  % score(cal, n, 6.6e-6 + (n - 1) * 0.6e-6, 360e9))
