"""The benchmarks page: the bundled reference runs (benchmarks/reference/*.json) against catalog peaks.

Read with the torch-free planner.calibration.results_file; torch is never imported here.
"""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import streamlit as st

from planner.calibration import store as calibration
from planner.calibration.results_file import load_results, measured_points
from planner.calibration.store import resolve
from planner.catalog.devices import PEAK_KEY, catalog_gpu
from planner.core.errors import PlannerError
from planner.present.markdown import md_plain

RESULTS_DIR = Path(__file__).resolve().parent.parent / "benchmarks" / "reference"  # shown, never applied




def _peak_frac(measured: float, peak: float | None) -> float | None:
    return measured / peak if peak else None


def tables(d: dict) -> dict[str, pd.DataFrame]:
    """GEMM, bandwidth and model tables of one results document (SI inside, shown as T/G units)."""
    g = catalog_gpu(str(d["env"].get("device_name", "")))
    gemm = pd.DataFrame([{
        "dtype": p["dtype"], "m x n x k": "{m} x {n} x {k}".format(**p["params"]), "median ms": p["median_s"] * 1e3,
        "TFLOP/s": p["flops_per_s"] / 1e12,
        "catalog peak TFLOP/s": g.peak_flops.get(PEAK_KEY.get(p["dtype"], ""), float("nan")) / 1e12 if g else None,
        "fraction of peak": _peak_frac(p["flops_per_s"], g.peak_flops.get(PEAK_KEY.get(p["dtype"], "")) if g else None),
    } for p in measured_points(d, "gemm")])
    bw = pd.DataFrame([{
        "op": p["params"].get("op", ""), "MB": p["params"].get("n_bytes", 0) / 1e6, "median ms": p["median_s"] * 1e3,
        "GB/s": p["bytes_per_s"] / 1e9, "catalog peak GB/s": g.memory_bytes_per_s / 1e9 if g else None,
        "fraction of peak": _peak_frac(p["bytes_per_s"], g.memory_bytes_per_s if g else None),
    } for p in measured_points(d, "bandwidth")])
    models = pd.DataFrame([{
        "kind": p["kind"], "model": (p.get("model") or {}).get("name", ""), "params": str(p["params"]),
        "quantized": p.get("quantized") or "", "tokens/s": p.get("tokens_per_s"),
        "MFU": p.get("mfu"), "MBU": p.get("mbu"), "median ms": p["median_s"] * 1e3,
    } for p in measured_points(d) if p["kind"] in ("train", "prefill", "decode")])
    if g is None:  # no datasheet to compare with: leave the empty columns out
        gemm, bw = (df.drop(columns=[c for c in df.columns if "peak" in c]) for df in (gemm, bw))
    return {"GEMM": gemm, "Memory bandwidth": bw, "Model steps": models}


def render_calibrations() -> None:
    """Which calibration profiles are loaded (and from where), and which results files are not used."""
    profiles = calibration.loaded_profiles()
    where = os.environ.get(calibration.ENV_VAR)
    if profiles:
        st.dataframe(pd.DataFrame([{"GPU": g, "calibration": p.source, "train MFU": str(p.train_mfu or "-"),
                                    "decode MBU": str(p.decode_mbu or "-"),
                                    "fitted GEMM efficiency": str(p.efficiencies().gemm),
                                    "fitted memory efficiency": str(p.efficiencies().memory)}
                                   for g, p in profiles.items()]),
                     hide_index=True)
    else:
        st.caption("No calibration profile in use: every GPU uses the literature defaults. Set "
                   f"{calibration.ENV_VAR} to a results file or folder before starting the dashboard to calibrate"
                   + (f" (it is set to {where}, which held no catalog GPU)." if where else "."))
    for path, why in calibration.load_report():
        st.caption(md_plain(f"Not used for calibration: {Path(path).name}: {why}"))


def render_silicon(gpu_names: list[str]) -> None:
    """The explicit choice of NVIDIA aiconfigurator-core's measured kernel tables (planner.use_silicon) for a
    GPU and engine. Like $PLANNER_RESULTS it applies to this dashboard process; nothing is read unless asked."""
    from planner.calibration.silicon import use_silicon
    from planner.calibration.silicon_tables import ENGINES, SYSTEMS
    st.markdown("**Silicon tables** (NVIDIA aiconfigurator-core's measured kernels; opt-in: on held-out runs "
                "they were not more accurate than the engine profiles, see the README)")
    offered = [g for g in dict.fromkeys(gpu_names) if g in SYSTEMS] + [g for g in SYSTEMS if g not in gpu_names]
    left, right = st.columns(2)
    gpu = left.selectbox("GPU", offered, key="silicon_gpu")
    engine = right.selectbox("Engine", list(ENGINES), key="silicon_engine")
    use, forget = st.columns(2)
    if use.button("Use silicon tables", key="silicon_use"):
        try:
            use_silicon(gpu, engine=engine)
        except PlannerError as e:
            st.error(md_plain(e))
        else:
            _recompute()
    if forget.button("Forget silicon tables", key="silicon_forget"):
        use_silicon(None)
        _recompute()
    held = calibration.silicon_profiles()
    if held:
        st.dataframe(pd.DataFrame([{"GPU": g, "engine": e, "source": p.efficiencies().source,
                                    "GEMM efficiency": str(p.efficiencies().gemm),
                                    "memory efficiency": str(p.efficiencies().memory)}
                                   for (g, e), p in held.items()]), hide_index=True)


def _recompute() -> None:
    """Every cached estimate was made with the old rates: drop them and draw the page again."""
    st.cache_resource.clear()
    st.cache_data.clear()
    st.rerun()


def render(gpu_names: list[str], engine: str | None = None) -> None:
    st.markdown("Which efficiencies the estimates use, per GPU in this scenario:")
    st.dataframe(pd.DataFrame([{"GPU": n, "efficiencies from": resolve(n, engine=engine).source}
                               for n in dict.fromkeys(gpu_names)]), hide_index=True)
    render_calibrations()
    render_silicon(list(gpu_names))
    files = calibration.results_files(RESULTS_DIR) if RESULTS_DIR.is_dir() else []  # validate-*.json left out
    if not files:
        st.info(f"No benchmark results in {RESULTS_DIR}. Run `python -m benchmarks` to measure this machine.")
    for path in files:
        try:
            d = load_results(path)
        except (OSError, ValueError) as e:
            st.error(md_plain(f"Skipped {path.name}: {e}"))
            continue
        env = d["env"]
        g = catalog_gpu(str(env.get("device_name", "")))
        st.subheader(md_plain(f"{path.name}: {env.get('device_name', env.get('device'))}"))
        st.caption(md_plain(f"torch {env.get('torch', '?')}, {env.get('dtype', '')}, measured {env.get('date_utc', '?')}, "
                            f"commit {str(env.get('git_commit', '?'))[:10]}. "
                            + (f"Compared with the catalog's {g.name} datasheet peaks." if g else
                               "Not a catalog GPU: no datasheet peak to compare with; "
                               f"MFU/MBU use {(d.get('peaks') or {}).get('flops_source', 'the best measured figure')}.")))
        for title, df in tables(d).items():
            if not df.empty:
                st.markdown(f"**{title}**")
                st.dataframe(df, hide_index=True)
