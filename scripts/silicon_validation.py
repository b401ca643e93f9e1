"""Score the planner's latency estimates on aiconfigurator-core's measured serving runs.

    python scripts/silicon_validation.py [--split validation|calibration] [--out docs/silicon_validation.md]

Needs the `silicon` extra (pip install 'fm-planner[silicon]'). Reads systems/silicon_sample.csv
(5,221 measured runs: TTFT and TPOT of one aggregated engine at a stated concurrency), keeps the
rows the planner can express (below), splits them by scripts/silicon_split.toml (whole models and
whole GPUs held out, fixed before any error was looked at) and estimates each row twice with the
public `planner.inference_speed` at batch = the run's concurrency, prompt = isl, output = osl,
tensor_parallel = tp, engine = the run's: once with the engine profile (literature and judgement,
catalog/data/engines.toml), once after `planner.use_silicon(gpu, engine)` (the newest tables of
that engine). Errors are (estimate p50 / measured - 1); the table gives the median absolute error
and, in brackets, the median signed error (its bias: + the estimate is slower than measured).

TTFT is counted as the serving search counts it (estimate/search.py): one prompt's prefill plus the
decode step in flight at batch = concurrency; queueing behind other prompts' prefills is not counted.

Rows left out, counted in the output: precision fp4 (no planner precision), disaggregated serving,
attention data-parallel or expert-parallel > 1 (inference_speed has no such layout), GPUs the
catalog lacks (B300, GB300), models whose config the planner cannot read, and estimates that do not
fit in memory. Rows without a precision run the checkpoint's own dtype, bf16.
"""
from __future__ import annotations

import argparse
import importlib.util
import math
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import planner  # noqa: E402
from planner.calibration import store  # noqa: E402
from planner.calibration.silicon import OVERHEADS  # noqa: E402
from planner.calibration.silicon_tables import ENGINES, SYSTEMS  # noqa: E402
from planner.core.errors import PlannerError  # noqa: E402

SPLIT = ROOT / "scripts" / "silicon_split.toml"
CATALOG_MODELS = {"meta-llama/Llama-3.1-70B": "Llama-3.1-70B", "meta-llama/Llama-3.1-8B-Instruct": "Llama-3.1-8B",
                  "nvidia/Llama-3.1-8B-Instruct-FP8": "Llama-3.1-8B", "deepseek-ai/DeepSeek-R1": "DeepSeek-V3",
                  "deepseek-ai/DeepSeek-V3": "DeepSeek-V3"}
PRECISIONS = {"fp8": "fp8", "bf16": "bf16", "int4": "int4-weight-only"}
GPU_OF_SYSTEM = {s: g for g, s in SYSTEMS.items()}
ENGINE_OF_BACKEND = {b: e for e, b in ENGINES.items()}


def package_dir() -> Path:
    spec = importlib.util.find_spec("aiconfigurator_core")
    if spec is None:
        sys.exit("needs the silicon extra: pip install 'fm-planner[silicon]'")
    return Path(spec.origin).parent


def model_for(path: str, configs: Path, cache: dict):
    if path not in cache:
        f = configs / f"{path.replace('/', '--')}_config.json"
        try:
            cache[path] = planner.model(CATALOG_MODELS[path]) if path in CATALOG_MODELS else \
                planner.model_from_hf_config(f, name=path)
        except (PlannerError, OSError) as e:
            cache[path] = f"model config not readable ({type(e).__name__})"
    return cache[path]


def _one(x) -> float:
    return 1.0 if x is None or (isinstance(x, float) and math.isnan(x)) or x == 0 else float(x)


def why_left_out(r) -> str | None:
    if r["mode"] != "agg":
        return "disaggregated serving"
    if isinstance(r["precision"], str) and r["precision"] not in PRECISIONS:
        return f"precision {r['precision']}"
    if _one(r["attention_dp_size"]) > 1 or _one(r["moe_ep_size"]) > 1 or _one(r["pp_size"]) > 1:
        return "attention DP, EP or PP > 1"
    if r["system"] not in GPU_OF_SYSTEM:
        return f"GPU {r['system']} not in the catalog"
    return None


def split_of(r, rule: dict) -> str:
    held = r["model_path"] in rule["validation_models"] or r["system"] in rule["validation_systems"]
    return "validation" if held else "calibration"


def estimate(r, m):
    """(TPOT ms, TTFT ms, source) as the serving search (estimate/search.py) counts them at a batch:
    TPOT the decode step at batch = concurrency; TTFT one prompt's prefill plus the step in flight."""
    def speed(batch):
        return planner.inference_speed(model=m, gpu=GPU_OF_SYSTEM[r["system"]],
                                       precision=PRECISIONS.get(r["precision"], "bf16"), batch_size=batch,
                                       prompt_tokens=float(r["isl"]), output_tokens=float(r["osl"]),
                                       tensor_parallel=int(r["tp_size"]), engine=ENGINE_OF_BACKEND[r["backend"]])
    s, one = speed(int(r["batch_size"])), speed(1)
    return s.tpot_s.p50 * 1e3, (one.ttft_s.p50 + s.tpot_s.p50) * 1e3, s.efficiency_source


AIC_MODELS = {"meta-llama/Llama-3.1-70B": "meta-llama/Meta-Llama-3.1-70B",  # aiconfigurator's bundled config names
              "meta-llama/Llama-3.1-8B-Instruct": "meta-llama/Meta-Llama-3.1-8B",
              "nvidia/Llama-3.1-8B-Instruct-FP8": "meta-llama/Meta-Llama-3.1-8B"}


def aic_estimate(r, cache: dict) -> tuple[float, float]:
    """aiconfigurator-core's own (TPOT ms, TTFT ms) for a row, counted as for the planner: its decode step
    at batch = concurrency, and one prompt's prefill plus that step. NaN where it cannot compile the row."""
    import logging
    logging.getLogger("aiconfigurator_core").setLevel(logging.ERROR)
    from aiconfigurator_core.sdk.engine import EngineHandle
    quant = r["gemm_quant_mode"] if isinstance(r["gemm_quant_mode"], str) else None
    key = (AIC_MODELS.get(r["model_path"], r["model_path"]), r["system"], r["backend"], int(r["tp_size"]), quant,
           r["moe_quant_mode"] if isinstance(r["moe_quant_mode"], str) else None)
    if key not in cache:
        try:
            cache[key] = EngineHandle.compile(key[0], key[1], key[2], tp_size=key[3], moe_tp_size=key[3],
                                              gemm_quant_mode=key[4], moe_quant_mode=key[5])
        except Exception:  # noqa: BLE001 - any failure of the third-party estimator: that row has no comparison
            cache[key] = None
    h = cache[key]
    if h is None:
        return math.nan, math.nan
    try:
        step = h.decode_step_latency(int(r["batch_size"]), int(r["isl"]), int(r["osl"]))
        return step, h.predict_prefill_latency(1, int(r["isl"])) + step
    except Exception:  # noqa: BLE001
        return math.nan, math.nan


def score(rows: pd.DataFrame, configs: Path, aic: bool = False) -> tuple[pd.DataFrame, dict]:
    """Each row estimated with the engine profile and with silicon tables; the rows left out, by reason."""
    models, out, left, handles = {}, [], {}, {}
    for (system, backend), group in rows.groupby(["system", "backend"]):
        gpu, engine = GPU_OF_SYSTEM[system], ENGINE_OF_BACKEND[backend]
        store.reset()
        try:
            planner.use_silicon(gpu, engine=engine)
            silicon_ok = True
        except PlannerError as e:
            silicon_ok = str(e)
        for _, r in group.iterrows():
            m = model_for(r["model_path"], configs, models)
            if isinstance(m, str) or silicon_ok is not True:
                reason = m if isinstance(m, str) else "no silicon tables for this GPU and engine"
                left[reason] = left.get(reason, 0) + 1
                continue
            try:
                store.reset()
                lit = estimate(r, m)
                planner.use_silicon(gpu, engine=engine)
                sil = estimate(r, m)
            except PlannerError as e:
                reason = type(e).__name__
                left[reason] = left.get(reason, 0) + 1
                continue
            out.append({"engine": engine, "gpu": gpu, "kind": "MoE" if m.is_moe else "dense",
                        "precision": PRECISIONS.get(r["precision"], "bf16"), "model": r["model_path"],
                        "tpot_lit": lit[0] / r["silicon_tpot_ms"] - 1, "tpot_sil": sil[0] / r["silicon_tpot_ms"] - 1,
                        "ttft_lit": lit[1] / r["silicon_ttft_ms"] - 1, "ttft_sil": sil[1] / r["silicon_ttft_ms"] - 1})
            if aic:
                tpot, ttft = aic_estimate(r, handles)
                out[-1] |= {"tpot_aic": tpot / r["silicon_tpot_ms"] - 1, "ttft_aic": ttft / r["silicon_ttft_ms"] - 1}
    store.reset()
    return pd.DataFrame(out), left


def fit_overheads(rows: pd.DataFrame, configs: Path) -> dict:
    """Per engine, the step and per-layer cost outside the timed kernels: TPOT_measured ~ TPOT(kernels
    of the silicon tables, no overheads) + pass_overhead_s + n_layers x layer_overhead_s, fitted on
    relative error (soft-L1, both >= 0) over the calibration rows only."""
    from dataclasses import replace

    from scipy.optimize import least_squares
    models, pts = {}, {}
    for (system, backend), group in rows.groupby(["system", "backend"]):
        gpu, engine = GPU_OF_SYSTEM[system], ENGINE_OF_BACKEND[backend]
        store.reset()
        try:
            prof = planner.use_silicon(gpu, engine=engine)
        except PlannerError:
            continue
        bare = replace(prof.fitted, pass_overhead_s=0.0, layer_overhead_s=0.0)
        for _, r in group.iterrows():
            m = model_for(r["model_path"], configs, models)
            if isinstance(m, str):
                continue
            try:
                s = planner.inference_speed(model=m, gpu=gpu, precision=PRECISIONS.get(r["precision"], "bf16"),
                                            batch_size=int(r["batch_size"]), prompt_tokens=float(r["isl"]),
                                            output_tokens=float(r["osl"]), tensor_parallel=int(r["tp_size"]),
                                            engine=engine, efficiencies=bare)
            except PlannerError:
                continue
            pts.setdefault(engine, []).append((s.tpot_s.p50, m.n_layers, r["silicon_tpot_ms"] / 1e3))
    store.reset()
    out = {}
    for engine, p in sorted(pts.items()):
        k, layers, meas = (np.array(x, dtype=float) for x in zip(*p))
        f = least_squares(lambda x: (k + x[0] * 1e-3 + x[1] * 1e-5 * layers) / meas - 1, [0.5, 1.0],
                          bounds=([0, 0], [np.inf, np.inf]), loss="soft_l1", f_scale=0.1)
        out[engine] = {"pass_overhead_s": float(f.x[0] * 1e-3), "layer_overhead_s": float(f.x[1] * 1e-5),
                       "rows": len(p)}
    return out


def write_overheads(fits: dict, path: Path, pkg_version: str) -> None:
    lines = ["# Engine cost outside the kernels aiconfigurator-core times: per step (scheduling, sampling, graph",
             "# launch) and per layer (norms, rotary, activation quantisation, launches between kernels), that",
             "# calibration/silicon.py adds to the silicon tables' kernel rates. Written by",
             "# `python scripts/silicon_validation.py --fit` (do not edit by hand): fitted on relative TPOT error",
             "# (soft-L1, both >= 0) over the CALIBRATION rows of scripts/silicon_split.toml only.",
             f'source = "aiconfigurator-core {pkg_version} systems/silicon_sample.csv, calibration rows '
             f'(scripts/silicon_split.toml), fitted 2026-12-07"', ""]
    for engine, f in fits.items():
        layer = f["layer_overhead_s"] if f["layer_overhead_s"] > 1e-9 else 0.0  # the solver's ~1e-26 is 0
        lines += [f'[engine."{engine}"]', f"pass_overhead_s = {f['pass_overhead_s']:.3e}",
                  f"layer_overhead_s = {layer:.3e}", f"rows = {f['rows']}", ""]
    path.write_text("\n".join(lines))


def table(df: pd.DataFrame) -> str:
    cols = [("tpot_lit", "TPOT error, engine profile"), ("tpot_sil", "TPOT error, silicon"),
            ("ttft_lit", "TTFT error, engine profile"), ("ttft_sil", "TTFT error, silicon")]
    if "tpot_aic" in df:
        cols[2:2] = [("tpot_aic", "TPOT error, aiconfigurator")]
        cols.append(("ttft_aic", "TTFT error, aiconfigurator"))
    lines = ["| group | rows | " + " | ".join(c[1] for c in cols) + " |", "|---|---:|" + "---:|" * len(cols)]

    def med(s):
        s = s.dropna()
        return f"{np.median(np.abs(s)):.0%} ({np.median(s):+.0%})" if len(s) else "-"
    for by in ("engine", "gpu", "kind", "precision", None):
        groups = [("all rows", df)] if by is None else [(f"{by}: {k}", g) for k, g in df.groupby(by)]
        for name, g in groups:
            lines.append(f"| {name} | {len(g)} | " + " | ".join(med(g[c]) for c, _ in cols) + " |")
    if "tpot_aic" in df:
        same = df.dropna(subset=["tpot_aic"])
        cells = " | ".join(med(same[c]) for c, _ in cols)
        lines.append(f"| rows aiconfigurator estimated | {len(same)} | {cells} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("validation", "calibration"), default="validation")
    ap.add_argument("--out", type=Path, help="also write the markdown here")
    ap.add_argument("--aic", action="store_true", help="also score aiconfigurator-core's own estimates (slow: "
                    "it compiles one engine per model, GPU, engine, TP and quantisation)")
    ap.add_argument("--fit", action="store_true", help="fit the engines' overheads on the calibration rows and "
                    "write planner/catalog/data/silicon_overheads.toml")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    pkg = package_dir()
    runs = pd.read_csv(pkg / "systems" / "silicon_sample.csv")
    rule = tomllib.loads(SPLIT.read_text())
    runs["split"] = [split_of(r, rule) for _, r in runs.iterrows()]
    runs["left_out"] = [why_left_out(r) for _, r in runs.iterrows()]
    from importlib.metadata import version
    if a.fit:
        usable = runs[(runs["split"] == "calibration") & runs["left_out"].isna()]
        fits = fit_overheads(usable, pkg / "model_configs")
        write_overheads(fits, OVERHEADS, version("aiconfigurator-core"))
        print(fits)
        return 0
    part = runs[runs["split"] == a.split]
    left = part["left_out"].dropna().value_counts().to_dict()
    df, more = score(part[part["left_out"].isna()], pkg / "model_configs", aic=a.aic)
    for k, v in more.items():
        left[k] = left.get(k, 0) + v
    text = (f"Median absolute error (median signed error) of the p50 estimate, {a.split} rows of aiconfigurator-core "
            f"{version('aiconfigurator-core')}'s systems/silicon_sample.csv ({len(part)} {a.split} rows of "
            f"{len(runs)}; split: scripts/silicon_split.toml; {len(df)} scored). Left out: "
            + "; ".join(f"{k} {v}" for k, v in sorted(left.items(), key=lambda kv: -kv[1]))
            + ".\n\n" + table(df) + "\n")
    print(text)
    print(f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    if a.out:
        a.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
