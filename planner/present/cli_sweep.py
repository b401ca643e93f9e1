"""`planner estimate speed`: inference speed of one configuration, or of every row of a CSV (`--sweep`).

Only parsing and formatting: the numbers are planner.sweep's (one numpy pass per model x GPU x
precision x engine x KV dtype x tensor-parallel group), which equal planner.inference_speed's.
"""
from __future__ import annotations

import io

import pandas as pd

from ..core.errors import InputError
from ..core.files import read_text
from ..core.results import as_plain
from . import formatting as fmt
from .cli_common import count
from .cli_common import out as _out

SHOWN = {"model": "model", "gpu": "gpu", "precision": "precision", "tensor_parallel": "TP", "attention_dp": "DP attn",
         "batch_size": "batch", "prompt_tokens": "prompt", "output_tokens": "output", "prefill_s_p50": "TTFT s (p50)",
         "decode_step_s_p50": "TPOT s (p50)", "tokens_per_s_total_p50": "tokens/s (p50)",
         "memory_per_gpu_bytes": "GB/GPU", "note": "note"}
_ONE = ("model", "gpu", "precision", "batch_size", "prompt_tokens", "output_tokens", "tensor_parallel", "engine",
        "kv_cache_dtype", "attention_dp")


def _rows(a) -> pd.DataFrame:
    if a.sweep is None:
        return pd.DataFrame([{k: getattr(a, k) for k in _ONE if getattr(a, k) is not None}])
    try:
        return pd.read_csv(io.StringIO(read_text(a.sweep, "sweep file")), skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise InputError("--sweep", f"{a.sweep} is not a CSV with a header row ({' '.join(str(e).split())})") from None


def cmd_speed(a) -> int:
    from ..estimate.sweep import sweep
    df = sweep(_rows(a))
    if a.out:
        df.to_csv(a.out, index=False)
    if a.format == "json":
        _out(fmt.dumps_json(as_plain(df.to_dict(orient="records"))))
    elif a.format == "csv":
        _out(df.to_csv(index=False))
    else:
        shown = df[list(SHOWN)].rename(columns=SHOWN)
        shown["GB/GPU"] = shown["GB/GPU"] / 1e9
        shown["DP attn"] = shown["DP attn"].map(lambda b: "yes" if b else "no")
        for col in ("prompt", "output", "TTFT s (p50)", "TPOT s (p50)", "tokens/s (p50)", "GB/GPU"):
            shown[col] = shown[col].map(lambda v: "-" if v != v else f"{v:.4g}")
        _out(fmt.render(shown, a.format))
    return 0


def speed_command(est, hardware) -> None:
    p = est.add_parser("speed", help="prefill and decode speed at a fixed batch; --sweep: every row of a CSV")
    hardware(p)
    p.add_argument("--engine", help="vllm, tensorrt-llm, sglang, torch-compile, roofline (default vllm)")
    p.add_argument("--kv-cache-dtype", help="bf16, fp8, int8 (default: the engine's default at the precision)")
    p.add_argument("--tensor-parallel", type=count, help="GPUs per replica (default 1)")
    p.add_argument("--precision", help="bf16, fp16, fp8, int8, int8-weight-only, int4-weight-only (default bf16)")
    p.add_argument("--batch-size", type=count, help="default 1")
    p.add_argument("--prompt-tokens", type=float, help="default 512")
    p.add_argument("--output-tokens", type=float, help="default 256")
    p.add_argument("--attention-dp", action="store_true", default=None,
                   help="an MoE model with data-parallel attention and expert-parallel experts over the "
                        "--tensor-parallel GPUs (SGLang --enable-dp-attention, TensorRT-LLM enable_attention_dp)")
    p.add_argument("--sweep", metavar="CSV", help="a CSV with a header row: model, gpu and any of precision, "
                   "batch_size, prompt_tokens, output_tokens, tensor_parallel, engine, kv_cache_dtype, attention_dp; one estimate per row")
    p.add_argument("--out", metavar="CSV", help="also write every column of the result to this CSV")
    p.set_defaults(run=cmd_speed)
