"""The catalog commands of `planner`: models, GPUs and hosted-API prices, each with its sources."""
from __future__ import annotations

import pandas as pd

from ..core.errors import PlannerError
from . import formatting as fmt
from .cli_common import out as _out


def _models_frame() -> pd.DataFrame:
    from ..catalog.lookup import models
    from ..estimate.arithmetic import active_params, total_params
    return pd.DataFrame([{"model": m.name, "params": fmt.count(total_params(m)), "active": fmt.count(active_params(m)),
                          "layers": m.n_layers, "dim": m.dim, "heads/kv": f"{m.n_heads}/{m.n_kv_heads}",
                          "context": m.context_length, "source": m.source.url if m.source else "",
                          "checked": m.source.checked if m.source else ""} for m in models()])


def _gpus_frame() -> pd.DataFrame:
    from ..catalog.lookup import gpus
    def tflops(g, dtype):  # n/a where the GPU has no tensor cores for dtype
        return fmt.number(g.peak_flops.get(dtype, float("nan")) / 1e12, ",.0f")
    rows = []
    for g in gpus():
        src = g.sources
        rows.append({"gpu": g.name, "vendor": g.vendor, "bf16 TFLOP/s": tflops(g, "bf16"), "fp8 TFLOP/s": tflops(g, "fp8"),
                     "memory GiB": fmt.number(g.memory_bytes / 2**30), "TB/s": fmt.number(g.memory_bytes_per_s / 1e12),
                     "$/GPU-hour": f"${g.usd_per_gpu_hour:.2f}", "launched": g.launched, "successor": g.successor,
                     "spec source": src["peak_tflops"].url if "peak_tflops" in src else "",
                     "price source": src["usd_per_gpu_hour"].url if "usd_per_gpu_hour" in src else "",
                     "checked": min((s.checked for s in src.values()), default="")})
    return pd.DataFrame(rows)


def _catalog(frame: pd.DataFrame, a, footer: str) -> int:
    _out(fmt.render(frame, a.format))
    if a.format in ("table", "markdown"):
        _out(f"\n{footer}")
    return 0


def cmd_models(a) -> int:
    return _catalog(_models_frame(), a, "Architectures from each model's config.json (source, checked date).")


def cmd_gpus(a) -> int:
    return _catalog(_gpus_frame(), a, "Dense peaks (no 2:4 sparsity); on-demand prices. `checked`: oldest check date.")


def _history(a, info: dict) -> int:
    from ..catalog.price_history import price_history
    h = price_history(a.history, getattr(a, "provider", None))
    if not h.changes:
        _out(h.note)
        return 0
    df = h.to_frame().rename(columns={"from_date": "from", "input_usd_per_mtok": "input $/1M",
                                      "output_usd_per_mtok": "output $/1M", "cached_input_usd_per_mtok": "cached $/1M"})
    df["from"] = df["from"].replace("", "(before)")
    return _catalog(df, a, f"{h.note}. Data: {info['package']} {info['version']}.")


def cmd_prices(a) -> int:
    from ..catalog.api_prices import price_data_info, search_api_models
    info = price_data_info()
    if getattr(a, "history", None):
        return _history(a, info)
    df = search_api_models(a.search or "", limit=a.limit)
    if df.empty:
        raise PlannerError(f"no API model matches {a.search!r}; try one word, e.g. 'gpt' or 'claude'")
    return _catalog(df, a, f"$ per 1M tokens. Data: {info['package']} {info['version']}, data date {info['data_date']} "
                           f"({info['data_date_note']}).")
