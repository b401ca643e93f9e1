"""The training half of `planner estimate`: layouts given on the command line, and how a training
estimate prints (its quantities, memory per GPU, where a step's time goes) and scales.

Like cli.py, this only parses and formats; the numbers are planner.pretraining's and
planner.pretraining_scaling's.
"""
from __future__ import annotations

import pandas as pd

from ..core.errors import PlannerError
from ..estimate.qlora_memory import STACKS
from ..core.results import as_plain
from . import formatting as fmt
from .cli_common import given as _given
from .cli_common import out as _out

_LAYOUT_KEYS = {"tp": "tp", "pp": "pp", "v": "virtual_stages", "dp": "dp", "ep": "ep", "cp": "cp", "zero": "zero_stage",
                "mb": "micro_batch", "micro_batch": "micro_batch", "recompute": "recompute", "optimizer": "optimizer",
                "offload": "offload", "etp": "etp", "moe_balance": "moe_balance", "moe_overlap": "moe_overlap",
                "fp8_param_gather": "fp8_param_gather", "tp_overlap": "tp_overlap",
                "moe_dispatcher": "moe_dispatcher", "cuda_graphs": "cuda_graphs"}
_TEXT_KEYS = ("recompute", "optimizer", "offload", "moe_balance", "moe_dispatcher")


def parse_layout(text: str):
    """--layout "tp=8,pp=4,dp=64,zero=1,mb=1,recompute=selective" -> a TrainingLayout (unnamed keys: defaults);
    MoE runs add ep, etp, moe_balance=aux-loss|aux-free|forced and moe_overlap=true|false,
    moe_dispatcher=alltoall|deepep, cuda_graphs=true|false; tp_overlap=true|false
    and fp8_param_gather=true|false say what the framework overlaps and gathers in fp8."""
    from ..estimate.layout import TrainingLayout
    from ..estimate.recipe import FLAG_WORDS
    default, kw = TrainingLayout(), {}
    for part in (p.strip() for p in str(text).split(",") if p.strip()):
        key, _, value = part.partition("=")
        if key.strip() not in _LAYOUT_KEYS or not value.strip():
            raise PlannerError(f"--layout: {part!r} is not key=value with a key among {', '.join(_LAYOUT_KEYS)}")
        field, value = _LAYOUT_KEYS[key.strip()], value.strip()
        if isinstance(getattr(default, field), bool):  # the layout's on/off knobs
            if value.lower() not in FLAG_WORDS:
                raise PlannerError(f"--layout {field}: must be true or false, got {value!r}")
            kw[field] = FLAG_WORDS[value.lower()]
        else:
            kw[field] = value if field in _TEXT_KEYS else _whole(f"--layout {key}", value)
    return TrainingLayout(**kw)


def recipe_arg(a):
    """--recipe "moe_overlap=true,moe_dispatcher=deepep" -> a TrainingRecipe applied to every searched layout
    (recipe.parse_recipe: moe_balance, moe_overlap, moe_dispatcher, tp_overlap, fp8_param_gather, cuda_graphs, fp8_recipe); None
    when not given."""
    from ..estimate.recipe import parse_recipe
    return parse_recipe(a.recipe) if getattr(a, "recipe", None) else None


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
    p.add_argument("--recipe", help='knobs kept while the layout is searched, e.g. "moe_overlap=true,moe_balance=aux-free,'
                                    'moe_dispatcher=deepep,fp8_recipe=blockwise" (also tp_overlap, fp8_param_gather, cuda_graphs; '
                                    "default: Megatron-Core's)")


def add_finetune_knobs(p, count) -> None:
    """The fine-tuning knobs as Trainer / torchtune / litgpt users set them, and --max-fit."""
    p.add_argument("--lora-targets", choices=("all-linear", "all-linear+output", "attention", "qkv", "qv", "mlp"))
    p.add_argument("--micro-batch", type=count, help="per-device batch size (per_device_train_batch_size)")
    p.add_argument("--grad-accum", type=count, help="gradient accumulation steps")
    p.add_argument("--activation-checkpointing", choices=("on", "off"), help="default: the least recomputation that fits")
    p.add_argument("--chunked-loss", action="store_true", default=None, help="chunked cross-entropy (torchtune's)")
    p.add_argument("--no-double-quant", dest="double_quant", action="store_false", default=None,
                   help="QLoRA NF4 without double-quantized constants (4.5 bits per weight, not 4.127)")
    p.add_argument("--qlora-stack", choices=tuple(STACKS),
                   help="what computes QLoRA's NF4 linears (planner/estimate/qlora_memory.py; default peft)")
    p.add_argument("--activation-offload", action="store_true", default=None, help="saved activations in CPU memory")
    p.add_argument("--optimizer-in-backward", action="store_true", default=None,
                   help="the optimizer step fused into the backward (torchtune optimizer_in_bwd)")
    p.add_argument("--recipe", help='knobs kept while the layout is searched, e.g. "moe_overlap=true,moe_balance=forced" '
                                    "(moe_dispatcher, tp_overlap, fp8_param_gather, cuda_graphs too)")
    p.add_argument("--max-fit", action="store_true",
                   help="print the largest micro-batch and longest sequence that fit instead (--tokens is ignored)")


def finetune_knobs(a) -> dict:
    kw = _given(a, "double_quant", "chunked_loss", "activation_offload", "optimizer_in_backward", "qlora_stack")
    if a.activation_checkpointing is not None:
        kw["activation_checkpointing"] = a.activation_checkpointing == "on"
    return kw


def print_max_fit(a) -> int:
    from ..estimate.max_fit import max_fit
    r = max_fit(model=a.model, gpu=a.gpu, **finetune_knobs(a), **{"n_gpus": 1, **_given(
        a, "method", "n_gpus", "seq_len", "lora_rank", "lora_targets", "optimizer", "offload")})
    if a.format == "json":
        _out(fmt.dumps_json(as_plain(r)))
        return 0
    rows = [("Model / GPU / method", f"{r.model} / {r.gpu} / {r.method} on {r.n_gpus} GPU(s)"),
            (f"Largest micro-batch at {r.seq_len:,} tokens", f"{r.max_micro_batch} ({r.max_micro_batch_tight} tight)"),
            ("Longest sequence at micro-batch 1", f"{r.max_seq_len:,} ({r.max_seq_len_tight:,} tight), "
                                                  f"limited by {r.seq_len_limit}")]
    _out(fmt.render(pd.DataFrame(rows, columns=["what fits", "value"]), a.format))
    return 0
