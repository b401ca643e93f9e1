"""Fit the per-GEMM fixed latency (planner/estimate/kernel_floor.py) to aiconfigurator-core's measured GEMM tables.

    python scripts/kernel_floor_fit.py          # needs the `silicon` extra (aiconfigurator-core 0.12.0)

For every system, engine and GEMM dtype, the one-row GEMMs (m = 1: a batch-1 decode's linear layers) are
fitted two ways, least squares on log time: a fixed latency plus streaming, t = t0 + bytes / (bandwidth x e),
and a floor, t = max(t0, bytes / (bandwidth x e)). Bytes: the weights (n k x bytes per weight) and the
16-bit activations in and out. Bandwidth: the catalog's datasheet figure. The split follows
scripts/silicon_split.toml: the held-out system (h200_sxm) is validation; a100_sxm, h100_sxm, b200_sxm and
l40s are calibration. The validation block scores H200's tables with the H100 calibration fit's t0 and e
(same generation) and prints the median absolute error of both forms. Also prints, for each engine's MoE
table on the calibration H100, the fused-MoE op at one token (balanced routing) fitted as fixed + bytes /
bandwidth, bytes = top-k experts' three matrices (the per-layer fixed cost, perf.Kernels.moe_layer_overhead_s).
"""
from __future__ import annotations

import glob
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from decode_attention_fit import data_root  # noqa: E402
BYTES = {"bfloat16": 2.0, "fp8": 1.0, "fp8_block": 1.0, "int8_wo": 1.0, "int4_wo": 0.5}
BANDWIDTH = {"a100_sxm": 2.039e12, "h100_sxm": 3.35e12, "h200_sxm": 4.8e12, "b200_sxm": 8.0e12, "l40s": 0.864e12}


def one_row_gemms(root: str, system: str) -> pd.DataFrame:
    out = []
    for f in sorted(glob.glob(f"{root}/{system}/gemm/*/*/gemm_perf.parquet")):
        d = pd.read_parquet(f, columns=["gemm_dtype", "m", "n", "k", "latency"])
        d = d[(d.m == 1) & d.gemm_dtype.isin(list(BYTES))].copy()
        d["engine"], d["version"] = f.split("/")[-3], f.split("/")[-2]
        out.append(d)
    d = pd.concat(out)
    d["bytes"] = d.n * d.k * d.gemm_dtype.map(BYTES) + 2.0 * (d.n + d.k)
    d["s"] = d.latency * 1e-3  # the tables are in ms
    return d


def predict(t0, e, seconds_at_peak, form):
    return t0 + seconds_at_peak / e if form == "add" else np.maximum(t0, seconds_at_peak / e)


def fit(seconds_at_peak, s, form):
    def loss(p):
        return np.sum(np.log(predict(*np.exp(p), seconds_at_peak, form) / s) ** 2)
    t0, e = np.exp(minimize(loss, [np.log(3e-6), np.log(0.7)], method="Nelder-Mead").x)
    return t0, e, float(np.median(np.abs(predict(t0, e, seconds_at_peak, form) / s - 1)))


def main() -> None:
    root = data_root()
    split = tomllib.loads((ROOT / "scripts" / "silicon_split.toml").read_text())
    held_out = set(split["validation_systems"])
    fits = {}
    print("| set | system | engine | dtype | rows | t0 + bytes/(bw e): t0 us, e, median err | max(t0, ...): t0 us, e, err |")
    print("|---|---|---|---|--:|--:|--:|")
    for system in BANDWIDTH:
        if system in held_out:
            continue
        d = one_row_gemms(root, system)
        for (engine, version, dtype), g in d.groupby(["engine", "version", "gemm_dtype"]):
            x = g.bytes.to_numpy() / BANDWIDTH[system]
            add, floor = fit(x, g.s.to_numpy(), "add"), fit(x, g.s.to_numpy(), "max")
            fits[(system, engine, dtype)] = add
            print(f"| calibration | {system} | {engine} {version} | {dtype} | {len(g)} | {add[0] * 1e6:.2f}, "
                  f"{add[1]:.2f}, {add[2]:.1%} | {floor[0] * 1e6:.2f}, {floor[1]:.2f}, {floor[2]:.1%} |")
    for system in sorted(held_out):
        d = one_row_gemms(root, system)
        for (engine, version, dtype), g in d.groupby(["engine", "version", "gemm_dtype"]):
            if ("h100_sxm", engine, dtype) not in fits:
                continue
            t0, e, _ = fits[("h100_sxm", engine, dtype)]
            x = g.bytes.to_numpy() / BANDWIDTH[system]
            err = np.median(np.abs(predict(t0, e, x, "add") / g.s.to_numpy() - 1))
            no_t0 = np.median(np.abs(predict(0.0, e, x, "add") / g.s.to_numpy() - 1))
            print(f"| validation | {system} | {engine} {version} | {dtype} | {len(g)} | H100's {t0 * 1e6:.2f} us, "
                  f"{e:.2f}: {err:.1%} | without t0: {no_t0:.1%} |")
    print("\nFused-MoE op at one token, balanced routing, h100_sxm (calibration): fixed + bytes / (bw e)")
    for f in sorted(glob.glob(f"{root}/h100_sxm/moe/*/*/moe_perf.parquet")):
        d = pd.read_parquet(f)
        d = d[(d.num_tokens == 1) & (d.distribution == "balanced") & (d.moe_ep_size == 1)]
        for dtype, g in d.groupby("moe_dtype"):
            if dtype not in BYTES and dtype != "float16":
                continue
            wb = g.topk * 3 * g.hidden_size * g.inter_size / g.moe_tp_size * BYTES.get(dtype, 2.0)
            t0, e, err = fit(wb.to_numpy() / BANDWIDTH["h100_sxm"], g.latency.to_numpy() * 1e-3, "add")
            print(f"  {f.split('/')[-3]} {f.split('/')[-2]} {dtype}: {len(g)} shapes, fixed {t0 * 1e6:.1f} us, "
                  f"e {e:.2f}, median err {err:.1%}")


if __name__ == "__main__":
    main()
