"""Fit TensorRT-LLM's decode-attention kernel (planner/estimate/decode_attention.py) to aiconfigurator-core's table.

    python scripts/decode_attention_fit.py              # needs the `silicon` extra (aiconfigurator-core 0.12.0)
    AICONFIGURATOR_DATA=/path/to/systems/data python scripts/decode_attention_fit.py

Table: systems/data/<gpu>/attention/trtllm/1.3.0rc20/generation_attention_perf.parquet (one decode attention call of
one layer: batch_size sequences, `step` cached tokens, num_heads / num_key_value_heads, head_dim, KV dtype; latency
in ms). Rows: GQA (1 < heads per KV head <= 8, the dense Llama shapes), head_dim 128, no window, fp8 KV, at least
10 MB of K/V per call. Model: t = t0 + K/V bytes / (bandwidth x e), least squares on relative error. Fitted on the
calibration system (h100_sxm, scripts/silicon_split.toml); h200_sxm is held out and scored with H100's t0 and e.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from planner.calibration.silicon_tables import SiliconError  # noqa: E402
from planner.calibration.silicon_tables import data_root as tables_root  # noqa: E402

BANDWIDTH = {"h100_sxm": 3.35e12, "h200_sxm": 4.8e12}
TABLE = "attention/trtllm/1.3.0rc20/generation_attention_perf.parquet"
MIN_BYTES = 1e7


def data_root() -> str:
    """The fit scripts' tables: AICONFIGURATOR_DATA if set, else the installed aiconfigurator-core's
    (silicon_tables.data_root); exits with its message when neither is there."""
    try:
        return str(tables_root(os.environ.get("AICONFIGURATOR_DATA") or None))
    except SiliconError as e:
        sys.exit(str(e))


def rows(system: str) -> pd.DataFrame:
    d = pd.read_parquet(Path(data_root()) / system / TABLE)
    q = d[(d.head_dim == 128) & (d.window_size == 0) & (d.kv_cache_dtype == "fp8") & (d.num_key_value_heads < d.num_heads)
          & (d.num_heads <= 8 * d.num_key_value_heads)].copy()
    q["bytes"] = q.batch_size * (q.step + 1) * 2 * q.num_key_value_heads * q.head_dim * 1.0
    q["t_s"] = q.latency * 1e-3
    return q[q.bytes >= MIN_BYTES]


def fit(q: pd.DataFrame, bandwidth: float) -> tuple[float, float]:
    w = 1.0 / q.t_s.to_numpy()
    a = np.c_[np.ones(len(q)), q.bytes.to_numpy() / bandwidth] * w[:, None]
    (t0, inv_e), *_ = np.linalg.lstsq(a, np.ones(len(q)), rcond=None)
    return float(t0), float(1.0 / inv_e)


def score(q: pd.DataFrame, bandwidth: float, t0: float, e: float) -> tuple[float, float]:
    ratio = (t0 + q.bytes / (bandwidth * e)) / q.t_s - 1.0
    return float(np.median(ratio)), float(np.median(np.abs(ratio)))


if __name__ == "__main__":
    cal = rows("h100_sxm")
    t0, e = fit(cal, BANDWIDTH["h100_sxm"])
    print(f"calibration h100_sxm ({len(cal)} rows): t0 {t0 * 1e6:.1f} us, e {e:.3f}; "
          "median signed / |error| %.3f / %.3f" % score(cal, BANDWIDTH["h100_sxm"], t0, e))
    val = rows("h200_sxm")
    print(f"validation h200_sxm ({len(val)} rows) with H100's t0 and e: median signed / |error| "
          "%.3f / %.3f" % score(val, BANDWIDTH["h200_sxm"], t0, e))
    print("flat engine memory efficiency 0.68 on h100_sxm: median signed / |error| %.3f / %.3f"
          % score(cal, BANDWIDTH["h100_sxm"], 0.0, 0.68))
