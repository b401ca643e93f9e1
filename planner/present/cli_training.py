"""The training half of `planner estimate`: layouts given on the command line, and how a training
estimate prints (its quantities, memory per GPU, where a step's time goes) and scales.

Like cli.py, this only parses and formats; the numbers are planner.pretraining's and
planner.pretraining_scaling's.
"""
from __future__ import annotations

import pandas as pd

from ..core.errors import PlannerError
from ..core.results import as_plain
from . import formatting as fmt
from .cli_common import given as _given
from .cli_common import out as _out

_LAYOUT_KEYS = {"tp": "tp", "pp": "pp", "v": "virtual_stages", "dp": "dp", "ep": "ep", "cp": "cp", "zero": "zero_stage",
                "mb": "micro_batch", "micro_batch": "micro_batch", "recompute": "recompute", "optimizer": "optimizer",
                "offload": "offload"}


def parse_layout(text: str):
    """--layout "tp=8,pp=4,dp=64,zero=1,mb=1,recompute=selective" -> a TrainingLayout (unnamed keys: defaults)."""
    from ..estimate.layout import TrainingLayout
    kw = {}
    for part in (p.strip() for p in str(text).split(",") if p.strip()):
        key, _, value = part.partition("=")
        if key.strip() not in _LAYOUT_KEYS or not value.strip():
            raise PlannerError(f"--layout: {part!r} is not key=value with a key among {', '.join(_LAYOUT_KEYS)}")
        field, value = _LAYOUT_KEYS[key.strip()], value.strip()
        kw[field] = value if field in ("recompute", "optimizer", "offload") else _whole(f"--layout {key}", value)
    return TrainingLayout(**kw)


def _whole(name: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise PlannerError(f"{name}: must be a whole number, got {text!r}") from None


def _print_training(rows, est, a) -> int:
    """A training estimate: its quantities, then memory per GPU and where a step's time goes."""
    if a.format == "json":
        _out(fmt.dumps_json(as_plain(est)))
        return 0
    frame = (lambda r, cols: fmt.render(pd.DataFrame(r, columns=cols), a.format))
    _out("\n\n".join([frame(rows, ["quantity", "p50 [p10-p90]"]),
                       frame(fmt.memory_rows(est.memory), ["memory per GPU", "bytes"]),
                       frame(fmt.step_rows(est.step), ["one optimizer step (p50)", "time"])]))
    return 0


def cmd_scaling(a) -> int:
    from ..estimate.scaling import pretraining_scaling
    counts = [_whole("--gpus", x) for x in a.gpus.split(",")] if a.gpus else None
    df = pretraining_scaling(model=a.model, gpu=a.gpu, gpu_counts=counts, fp8=a.fp8, **_given(a, "tokens", "seq_len"))
    if a.format == "json":
        _out(fmt.dumps_json(df.reset_index().to_dict(orient="records")))
        return 0
    rows = [{"GPUs": f"{n:,}", "layout": r["layout"], "MFU": f"{r['mfu_p50']:.0%}",
             "GPU-hours": f"{fmt.count(r['gpu_hours_p50'])} [{fmt.count(r['gpu_hours_p10'])}-{fmt.count(r['gpu_hours_p90'])}]",
             "days": fmt.number(r["wall_days_p50"]), "cost": fmt.usd(r["cost_usd_p50"])} for n, r in df.iterrows()]
    _out(fmt.render(pd.DataFrame(rows), a.format))
    return 0


def _layout_options(p) -> None:
    p.add_argument("--layout", help='a training layout, e.g. "tp=8,pp=4,v=2,dp=64,zero=1,mb=1,recompute=selective" '
                                    "(default: the fastest fitting layout, searched)")
    p.add_argument("--fp8", action="store_true", help="GEMMs in fp8 (Transformer Engine / DeepSeek-V3 style)")
