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

TTFT here is inference_speed's: the prefill of the whole batch at once, as a concurrency benchmark's
first wave sees it; a steady stream of arrivals sees less (bias stated, not corrected).

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
    s = planner.inference_speed(model=m, gpu=GPU_OF_SYSTEM[r["system"]],
                                precision=PRECISIONS.get(r["precision"], "bf16"), batch_size=int(r["batch_size"]),
                                prompt_tokens=float(r["isl"]), output_tokens=float(r["osl"]),
                                tensor_parallel=int(r["tp_size"]), engine=ENGINE_OF_BACKEND[r["backend"]])
    return s.tpot_s.p50 * 1e3, s.ttft_s.p50 * 1e3, s.efficiency_source


def score(rows: pd.DataFrame, configs: Path) -> tuple[pd.DataFrame, dict]:
    """Each row estimated with the engine profile and with silicon tables; the rows left out, by reason."""
    models, out, left = {}, [], {}
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
    store.reset()
    return pd.DataFrame(out), left


def table(df: pd.DataFrame) -> str:
    lines = ["| group | rows | TPOT error, engine profile | TPOT error, silicon | TTFT error, engine profile | TTFT error, silicon |",
             "|---|---:|---:|---:|---:|---:|"]
    med = (lambda s: f"{np.median(np.abs(s)):.0%} ({np.median(s):+.0%})")
    for by in ("engine", "gpu", "kind", "precision", None):
        groups = [("all rows", df)] if by is None else [(f"{by}: {k}", g) for k, g in df.groupby(by)]
        for name, g in groups:
            lines.append(f"| {name} | {len(g)} | {med(g.tpot_lit)} | {med(g.tpot_sil)} | {med(g.ttft_lit)} | {med(g.ttft_sil)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", choices=("validation", "calibration"), default="validation")
    ap.add_argument("--out", type=Path, help="also write the markdown here")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    pkg = package_dir()
    runs = pd.read_csv(pkg / "systems" / "silicon_sample.csv")
    rule = tomllib.loads(SPLIT.read_text())
    runs["split"] = [split_of(r, rule) for _, r in runs.iterrows()]
    runs["left_out"] = [why_left_out(r) for _, r in runs.iterrows()]
    part = runs[runs["split"] == a.split]
    left = part["left_out"].dropna().value_counts().to_dict()
    df, more = score(part[part["left_out"].isna()], pkg / "model_configs")
    for k, v in more.items():
        left[k] = left.get(k, 0) + v
    from importlib.metadata import version
    text = (f"Median absolute error (median signed error) of the p50 estimate, {a.split} rows of aiconfigurator-core "
            f"{version('aiconfigurator-core')}'s systems/silicon_sample.csv ({len(part)} {a.split} rows of "
            f"{len(runs)}; split: scripts/silicon_split.toml; {len(df)} scored). Left out: "
            + "; ".join(f"{k} {v}" for k, v in sorted(left.items(), key=lambda kv: -kv[1])) + ".\n\n" + table(df) + "\n")
    print(text)
    print(f"({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    if a.out:
        a.out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
