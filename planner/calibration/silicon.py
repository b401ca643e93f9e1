"""Silicon calibration: aiconfigurator-core's measured kernel tables -> the performance model's rates.

`silicon_profile("H100 SXM", engine="vllm")` reads one GPU's tables for one engine version
(calibration.silicon_tables) and summarises them as the CalibrationProfile a benchmark run
gives (calibration.profiles), its `fitted` Efficiencies read off the tables against the
catalog's dense datasheet peaks:

- gemm: large bf16 GEMMs (m, n, k >= 4096), FLOPs / (peak x time), p10/p50/p90 over shapes;
  `gemm_scale["fp8"]`: the same for fp8 GEMMs against the fp8 peak, relative to bf16;
- gemm_half_rows: the rows at which a GEMM runs at half its large-GEMM rate (Hockney n_1/2),
  the median over the compute-bound shapes with n, k >= 4096;
- memory: one-row bf16 GEMMs (decode at batch 1) with n, k >= 4096: weight bytes / (bandwidth x time);
  `weight_stream["fp8"]`: fp8 over bf16 one-row speed, per byte (the planner's weight-stream factor);
- gemm_overhead_s: the median time of the smallest GEMMs (n, k <= 256): a kernel's fixed cost, kept in
  the profile (`env["gemm_fixed_s"]`) but not charged per GEMM: perf.py counts an MoE layer's experts
  as one GEMM each, where engines run them as one grouped kernel (charged per expert, the fixed cost
  tripled DeepSeek-V3's decode step on the first validation run); the fitted per-layer cost carries it;
- attention: causal prefill attention (bf16, full window, isl >= 4096): FLOPs / (peak x time);
- decode_mbu: decode attention's K/V bytes / (bandwidth x time) at >= 4096 cached tokens;
- moe: grouped-GEMM FLOP rate by tokens per expert and routing skew (descriptive: the planner
  times experts as GEMMs);
- collectives: t = alpha + bytes / beta per op at the largest group (replaces the catalog link).
`use_silicon` registers the result (calibration.store) for later estimates; nothing runs unless asked.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from pathlib import Path

from ..catalog.lookup import gpu as catalog_gpu
from ..core.band import Band
from .collectives import CollectiveFit
from .efficiency import DEFAULTS, Efficiencies
from .profiles import CalibrationProfile
from .silicon_tables import (SiliconError, backend_for, data_root, read_table, system_for, table_path,  # noqa: F401
                             version_key, versions)

LARGE = 4096  # m, n, k at and above which a GEMM or prompt counts as large (judgement: past tile-quantisation effects)
TINY = 256  # n, k at and below which a GEMM's time is its fixed cost
QUANTILES = (0.1, 0.5, 0.9)


@dataclass(frozen=True)
class SiliconSource:
    """Which tables a profile was read from."""

    package_version: str
    system: str
    engine: str
    versions: dict  # op -> engine version of its table (each op's own newest where the asked version lacks it)

    def label(self) -> str:
        return (f"silicon: aiconfigurator-core {self.package_version} tables, {self.system} "
                f"{self.engine} {self.versions.get('gemm')}")


def _band(values, cap: float = 1.0) -> Band:
    import numpy as np
    q = np.quantile(np.asarray(values, dtype=float), QUANTILES)
    return Band(*(float(min(x, cap)) for x in q))


def gemm_rates(df, peak_flops: dict, peak_bytes_per_s: float) -> dict:
    """GEMM summaries of a gemm table (see the module docstring); keys absent where no row qualifies."""
    import numpy as np
    out: dict = {}
    bf = df[df["gemm_dtype"] == "bfloat16"]
    flops = 2.0 * bf["m"] * bf["n"] * bf["k"]
    eff = flops / (bf["latency_s"] * peak_flops["bf16"])
    large = (bf["m"] >= LARGE) & (bf["n"] >= LARGE) & (bf["k"] >= LARGE)
    if large.any():
        out["gemm"] = _band(eff[large])
        big_nk = bf[(bf["n"] >= LARGE) & (bf["k"] >= LARGE) & (bf["m"] >= 16) & (bf["m"] < LARGE)]
        e = eff[big_nk.index]
        compute_bound = flops[big_nk.index] / peak_flops["bf16"] > 2 * big_nk["n"] * big_nk["k"] / peak_bytes_per_s
        half = big_nk["m"][compute_bound] * (out["gemm"].p50 / e[compute_bound] - 1.0)
        if len(half):
            out["gemm_half_rows"] = float(max(np.median(half), 0.0))
    one = bf[(bf["m"] == 1) & (bf["n"] >= LARGE) & (bf["k"] >= LARGE)]
    if len(one):
        out["memory"] = _band(2.0 * one["n"] * one["k"] / (one["latency_s"] * peak_bytes_per_s))
    tiny = bf[(bf["n"] <= TINY) & (bf["k"] <= TINY) & (bf["m"] <= 16)]
    if len(tiny):
        out["gemm_overhead_s"] = float(tiny["latency_s"].median())
    fp8 = df[df["gemm_dtype"] == "fp8"]
    if len(fp8) and "fp8" in peak_flops and "gemm" in out:
        f_large = fp8[(fp8["m"] >= LARGE) & (fp8["n"] >= LARGE) & (fp8["k"] >= LARGE)]
        if len(f_large):
            f_eff = 2.0 * f_large["m"] * f_large["n"] * f_large["k"] / (f_large["latency_s"] * peak_flops["fp8"])
            out["gemm_scale"] = {"fp8": float(f_eff.median() / out["gemm"].p50)}
        pair = one.merge(fp8[fp8["m"] == 1], on=["m", "n", "k"], suffixes=("_bf16", "_fp8"))
        if len(pair):  # per byte: fp8 moves half the bytes, so 2x faster would be a factor of 1
            out["weight_stream"] = {"fp8": float((pair["latency_s_bf16"] / pair["latency_s_fp8"]).median() / 2.0)}
    return out


def attention_rates(ctx, gen, peak_bf16: float, peak_bytes_per_s: float) -> dict:
    """Prefill attention efficiency (causal FLOPs, as arithmetic.prefill_flops counts them) and decode K/V MBU."""
    out: dict = {}
    if ctx is None or gen is None:  # an engine version measured without one of the two: both left to the defaults
        return out
    c = ctx[(ctx["attn_dtype"] == "bfloat16") & (ctx["kv_cache_dtype"] == "bfloat16") & (ctx["window_size"] == 0)
            & (ctx["isl"] >= LARGE)]
    if len(c):  # QK^T and PV: 2 x 2 x s^2 x d per head, half of it under the causal mask
        flops = 2.0 * c["batch_size"] * c["num_heads"] * c["isl"] ** 2 * c["head_dim"]
        out["attention"] = _band(flops / (c["latency_s"] * peak_bf16))
    g = gen[(gen["kv_cache_dtype"] == "bfloat16") & (gen["window_size"] == 0) & (gen["step"] >= LARGE - 1)]
    if len(g):  # K and V of every cached token, bf16
        moved = g["batch_size"] * (g["step"] + 1) * 2.0 * g["num_key_value_heads"] * g["head_dim"] * 2.0
        out["decode_mbu"] = _band(moved / (g["latency_s"] * peak_bytes_per_s))
    return out


def moe_rates(df, peak_flops: dict) -> tuple:
    """(dtype, distribution, tokens per expert, median fraction of dense peak) rows of the MoE table:
    grouped-GEMM FLOPs (gate, up, down: 3 x 2 x hidden x inter per routed token) over time."""
    d = df[(df["moe_tp_size"] == 1) & (df["moe_ep_size"] == 1)]
    d = d[d["moe_dtype"].isin(["bfloat16", "fp8"])]
    peak = d["moe_dtype"].map({"bfloat16": peak_flops.get("bf16"), "fp8": peak_flops.get("fp8")}).astype(float)
    eff = 6.0 * d["hidden_size"] * d["inter_size"] * d["num_tokens"] * d["topk"] / (d["latency_s"] * peak)
    tpe = (d["num_tokens"] * d["topk"] / d["num_experts"]).round(2)
    grouped = eff.groupby([d["moe_dtype"], d["distribution"], tpe]).median().dropna()  # no fp8 peak: no fp8 rows
    return tuple((k[0], k[1], float(k[2]), float(v)) for k, v in grouped.items())


def collective_rates(nccl, custom, source: str) -> dict[str, CollectiveFit]:
    """op -> t = alpha + n_bytes / beta at the largest group measured: alpha the smallest message's
    time, beta from the largest message. All-reduce from the engine's own kernel (custom all-reduce,
    CUDA-graph variant) where the engine has one, else NCCL (16-bit messages)."""
    out = {}
    names = {"all_reduce": "all_reduce", "all_gather": "all_gather", "reduce_scatter": "reduce_scatter",
             "all_to_all": "alltoall"}  # planner op -> the table's op_name
    tables = {op: nccl[(nccl["op_name"] == name) & (nccl["nccl_dtype"] == "half")] for op, name in names.items()} \
        if nccl is not None else {}
    if custom is not None and len(custom):
        graph = custom[custom["kernel_source"].str.contains("graph", case=False)]
        tables["all_reduce"] = graph if len(graph) else custom
    for op, t in tables.items():
        if not len(t):
            continue
        t = t[t["num_gpus"] == t["num_gpus"].max()].sort_values("message_size")
        alpha = float(t["latency_s"].iloc[0])
        big = t.iloc[-1]
        beta = float(big["message_size"]) / max(float(big["latency_s"]) - alpha, 1e-12)
        out[op] = CollectiveFit(op=op, nproc=int(t["num_gpus"].iloc[0]), alpha_s=alpha, beta_bytes_per_s=beta,
                                busbw_bytes_per_s=None, source=source)
    return out


def _pick_version(root: Path, system: str, backend: str, version: str | None) -> str:
    """The asked engine version (its GEMM table must exist), else the newest with a GEMM table."""
    have = versions(root, system, "gemm", backend)
    if not have:
        gemm = root / system / "gemm"
        there = sorted(p.name for p in gemm.iterdir()) if gemm.is_dir() else []
        raise SiliconError(f"no silicon GEMM tables for {system} with {backend}; measured engines there: "
                           + (", ".join(there) or "none (the package ships no GEMM table for this system)"))
    if version is None:
        return have[-1]
    if str(version) not in have:
        raise SiliconError(f"no silicon tables for {backend} version {version!r} on {system}; "
                           f"available: {', '.join(have)}")
    return str(version)


def _op_version(root: Path, system: str, op: str, backend: str, version: str) -> str | None:
    have = versions(root, system, op, backend)
    return version if version in have else (have[-1] if have else None)


def _table(root, system, op, backend, version):
    return read_table(table_path(root, system, op, backend, version), op) if version else None


def _package_version(root: str | Path | None) -> str:
    if root is not None:
        return f"slice at {root}"
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("aiconfigurator-core")
    except PackageNotFoundError:
        return "unknown"


@functools.lru_cache(maxsize=32)
def silicon_profile(gpu_name: str, engine: str = "vllm", version: str | None = None,
                    root: str | None = None) -> CalibrationProfile:
    """One GPU's silicon calibration for one engine version (see the module docstring); cached.

    Refused (SiliconError, listing what is available): the extra not installed, a GPU, engine
    or version without tables, a table whose columns changed (the file and column named)."""
    base = data_root(root)
    g = catalog_gpu(gpu_name)
    system, backend = system_for(g.name, base), backend_for(engine)
    version = _pick_version(base, system, backend, version)
    ops = {op: _op_version(base, system, op, backend, version)
           for op in ("gemm", "context_attention", "generation_attention", "moe", "custom_allreduce")}
    nccl = versions(base, system, "nccl", "nccl")
    ops["nccl"] = nccl[-1] if nccl else None
    src = SiliconSource(_package_version(root), system, engine, {k: v for k, v in ops.items() if v})
    t = {op: _table(base, system, op, "nccl" if op == "nccl" else backend, v) for op, v in ops.items()}
    peaks = {k: v for k, v in g.peak_flops.items() if k in ("bf16", "fp8")}
    bw = g.memory_bytes_per_s
    rates = gemm_rates(t["gemm"], peaks, bw)
    rates |= attention_rates(t["context_attention"], t["generation_attention"], peaks["bf16"], bw)
    label = src.label()
    fitted = _efficiencies(rates | _overheads(engine, g), label)
    return CalibrationProfile(
        device_name=g.name, gpu=g.name, device="cuda", dtype="bfloat16",
        results_file=f"aiconfigurator-core {src.package_version}: {system}/{backend}/{version}", date_utc="",
        peak_flops_per_s=peaks["bf16"], peak_bytes_per_s=bw, peak_source=f"catalog {g.name} dense peaks",
        gemm_flops_per_s={"bfloat16": Band(*(x * peaks["bf16"] for x in _as_tuple(rates.get("gemm"))))}
        if "gemm" in rates else {},
        copy_bytes_per_s=None, train_mfu=None, prefill=rates.get("attention"), decode_mbu=rates.get("decode_mbu"),
        int8_decode_speedup=None, memory_bytes=g.memory_bytes,
        env={"source": "silicon", "versions": src.versions, "gemm_fixed_s": rates.get("gemm_overhead_s"),
             "system": system, "engine": engine,
             "moe": moe_rates(t["moe"], peaks) if t["moe"] is not None else (),
             "collectives": collective_rates(t["nccl"], t["custom_allreduce"], label)},
        fitted=fitted)


OVERHEADS = Path(__file__).resolve().parent.parent / "catalog" / "data" / "silicon_overheads.toml"


@functools.lru_cache(maxsize=1)
def _overhead_table() -> dict:
    import tomllib
    return tomllib.loads(OVERHEADS.read_text()) if OVERHEADS.is_file() else {}


def _overheads(engine: str, g) -> dict:
    """What the kernel tables do not hold: the engine's cost per step and per layer outside the timed
    kernels (scheduling, sampling, norms, launches), fitted on the calibration runs
    (catalog/data/silicon_overheads.toml); without a fit, the engine profile's step cost."""
    fit = _overhead_table().get("engine", {}).get(engine)
    if fit is not None:
        note = f"fitted on measured runs: {_overhead_table().get('source', '')}"
        return {"pass_overhead_s": float(fit["pass_overhead_s"]), "layer_overhead_s": float(fit["layer_overhead_s"]),
                "overhead_note": note}
    from ..catalog.engines import engine_profile
    p = engine_profile(engine, g)
    return {"pass_overhead_s": p.pass_overhead_s if p else 0.0, "overhead_note": f"engine profile {engine}"}


def _as_tuple(b: Band) -> tuple:
    return b.p10, b.p50, b.p90


def _efficiencies(rates: dict, label: str) -> Efficiencies:
    """The planner's rates; the literature default (named) for any the tables lack."""
    cite = {k: f"{label}" if k in rates else f"not in the tables: {DEFAULTS.citations.get(k, 'literature default')}"
            for k in ("gemm", "memory", "attention", "gemm_half_rows")}
    cite["gemm_overhead_s"] = "0: a GEMM's fixed cost is in the fitted layer_overhead_s (see calibration/silicon.py)"
    cite |= {k: rates["overhead_note"] for k in ("pass_overhead_s", "layer_overhead_s") if k in rates}
    return replace(DEFAULTS, gemm=rates.get("gemm", DEFAULTS.gemm), memory=rates.get("memory", DEFAULTS.memory),
                   attention=rates.get("attention", DEFAULTS.attention),
                   gemm_half_rows=rates.get("gemm_half_rows", DEFAULTS.gemm_half_rows),
                   gemm_overhead_s=0.0, pass_overhead_s=rates.get("pass_overhead_s", 0.0),
                   layer_overhead_s=rates.get("layer_overhead_s", 0.0),
                   weight_stream=rates.get("weight_stream", {}), gemm_scale=rates.get("gemm_scale", {}),
                   source=label, citations={**DEFAULTS.citations, **cite})


def use_silicon(gpu: str | None, engine: str = "vllm", version: str | None = None, *,
                root: str | Path | None = None) -> CalibrationProfile | None:
    """Use aiconfigurator-core's measured tables for `gpu` on `engine` in every later estimate on
    that GPU and engine (a GPU's own results from planner.use_results still win). `version`: the
    engine version measured (default the newest); `root`: a tables folder (default the installed
    package's). None: forget every silicon calibration. Needs the `silicon` extra."""
    from . import store
    from ..catalog.engines import engine_name
    if gpu is None:
        store.reset_silicon()
        return None
    name = engine_name(engine)
    profile = silicon_profile(str(gpu), name, None if version is None else str(version),
                              None if root is None else str(root))
    store.register_silicon(profile, name)
    return profile
