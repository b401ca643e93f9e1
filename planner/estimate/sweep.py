"""`sweep`: inference_speed for thousands of configurations at once, as a DataFrame.

Rows are grouped by what changes the model's shapes or rates (model, GPU, precision, engine, KV
dtype, tensor parallelism); within a group the batch sizes, prompt and output lengths are numpy
columns that broadcast against the (p10, p50, p90) rates, so a group costs one pass of the same
performance model inference_speed calls (perf.py), whatever its number of rows. A row equals
inference_speed at that point (tests/test_array_path.py checks it at random points).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..catalog import lookup as catalog
from ..core import limits as L
from ..core import validate as V
from ..core.errors import InputError, PlannerError, UnknownNameError
from . import inference as inf
from . import moe_serving as moe
from .engine import resolve_engine

DEFAULTS = {"precision": "bf16", "batch_size": 1, "prompt_tokens": 512.0, "output_tokens": 256.0,
            "tensor_parallel": 1, "engine": "vllm", "kv_cache_dtype": None, "attention_dp": False}  # inference_speed's
KEYS = ("model", "gpu", "precision", "engine", "kv_cache_dtype", "tensor_parallel", "attention_dp")  # one pass per distinct key
BANDS = ("prefill_s", "decode_step_s", "e2e_s", "tokens_per_s_per_sequence", "tokens_per_s_total")


def _columns(rows) -> pd.DataFrame:
    """The input as a DataFrame with every column (defaults filled), each value checked."""
    try:
        df = pd.DataFrame(rows).copy()
    except (ValueError, TypeError) as e:
        raise InputError("rows", f"must be a DataFrame, a dict of columns or a list of dicts ({e})") from None
    unknown = sorted(set(df.columns) - {"model", "gpu", *DEFAULTS})
    if unknown:
        raise InputError("rows", f"unknown columns {unknown}; expected model, gpu, {', '.join(DEFAULTS)}")
    for need in ("model", "gpu"):
        if need not in df.columns:
            raise InputError("rows", f"needs a {need!r} column")
    for name, default in DEFAULTS.items():
        if name not in df.columns:
            df[name] = default
        elif default is not None:
            df[name] = df[name].where(df[name].notna(), default)
    df["kv_cache_dtype"] = df["kv_cache_dtype"].astype(object).where(df["kv_cache_dtype"].notna(), None)
    checks = {"batch_size": lambda v: V.whole("batch_size", v, 1, L.MAX_BATCH_SIZE),
              "tensor_parallel": lambda v: V.whole("tensor_parallel", v, 1, L.MAX_TENSOR_PARALLEL),
              "prompt_tokens": lambda v: V.positive("prompt_tokens", v, L.MAX_TOKENS_PER_REQUEST, "tokens"),
              "output_tokens": lambda v: V.positive("output_tokens", v, L.MAX_TOKENS_PER_REQUEST, "tokens")}
    for name, check in checks.items():  # each distinct value once: a 10,000-row sweep has few
        for v in pd.unique(df[name]):
            check(v.item() if isinstance(v, np.generic) else v)
    for name in ("precision", "engine"):
        for v in pd.unique(df[name]):
            V.name_text(name, v)
    for v in pd.unique(df["kv_cache_dtype"]):
        V.name_text("kv_cache_dtype", v, optional=True)
    for v in pd.unique(df["attention_dp"]):
        V.flag("attention_dp", v)
    for name, look in (("model", catalog.model), ("gpu", catalog.gpu)):
        names = {v: look(v).name for v in pd.unique(df[name])}  # an unknown name raises, listing close matches
        df[name] = df[name].map(names)
    for name in pd.unique(df.loc[df["attention_dp"].astype(bool), "model"]):  # a dense model: bad input, not a note
        moe.split(catalog.model(name), 1, True)
    return df.astype({"batch_size": int, "tensor_parallel": int, "prompt_tokens": float, "output_tokens": float})


def _group(key: tuple, part: pd.DataFrame) -> dict[str, np.ndarray]:
    """inference_speed's numbers for every row of one group, in one pass (rows x quantiles)."""
    model, gpu, precision, engine, kv_dtype, tp, dp = key
    kv_dtype = kv_dtype if isinstance(kv_dtype, str) else None  # groupby gives NaN for a missing value
    m, g = catalog.model(model), catalog.gpu(gpu)
    setup = resolve_engine(engine, g, None)
    r = inf.replica(m, g, precision, int(tp), setup, kv_dtype, bool(dp))
    batch = part["batch_size"].to_numpy(dtype=float)[:, None]  # (rows, 1) against the rates' (3,)
    prompt = part["prompt_tokens"].to_numpy(dtype=float)[:, None]
    output = part["output_tokens"].to_numpy(dtype=float)[:, None]
    need = inf.memory_per_gpu_bytes(m, r.precision, batch[:, 0], (prompt + output)[:, 0], r.tp, r.num.kv_bytes,
                                   r.attention_dp)
    pre = inf.prefill_s(r, batch, prompt)
    step, memory_bound = inf.decode_step_s(r, batch, inf.decode_context(prompt, output, setup.static_kv_cache))
    e2e = pre + np.maximum(output - 1.0, 0.0) * step
    out = {"precision_used": np.full(len(part), r.precision, dtype=object),
           "kv_cache_dtype_used": np.full(len(part), r.kv_cache_dtype, dtype=object),
           "fits": need <= r.usable_bytes, "memory_per_gpu_bytes": need,
           "usable_memory_bytes": np.full(len(part), r.usable_bytes),
           "bound": np.where(memory_bound[:, 1], "memory", "compute")}
    values = {"prefill_s": pre, "decode_step_s": step, "e2e_s": e2e, "tokens_per_s_per_sequence": 1.0 / step,
              "tokens_per_s_total": batch / step}
    for name, v in values.items():
        v = np.sort(np.broadcast_to(v, (len(part), 3)), axis=1)  # a Band's order: p10 <= p50 <= p90
        for j, q in enumerate(("p10", "p50", "p90")):
            out[f"{name}_{q}"] = v[:, j]
    return out


def sweep(rows) -> pd.DataFrame:
    """inference_speed for every row of `rows` (a DataFrame, a dict of columns or a list of dicts) with
    columns model, gpu and optionally precision, batch_size, prompt_tokens, output_tokens, tensor_parallel,
    engine, kv_cache_dtype, attention_dp (an MoE model's DP attention + EP; missing: inference_speed's defaults). Returns the rows with, per row, the
    p10/p50/p90 of prefill_s (= TTFT), decode_step_s (= TPOT), e2e_s and tokens/s, the memory per GPU, whether
    it fits, the decode bound at p50, and `note`: why a row has no estimate (it does not fit, or the GPU has
    no peak for the precision). Rows without an estimate keep NaN times."""
    df = _columns(rows)
    results = []
    for key, part in df.groupby(list(KEYS), sort=False, dropna=False):
        try:
            got = _group(key, part)
        except UnknownNameError:  # a misspelt engine, precision or KV dtype is bad input, not a row's answer
            raise
        except PlannerError as e:  # e.g. the GPU has no peak for this precision: every row of the group says so
            got = {"note": np.full(len(part), str(e), dtype=object), "fits": np.zeros(len(part), dtype=bool)}
        else:
            got["note"] = np.where(got["fits"], "", "does not fit: weights + KV cache exceed the usable memory")
            for name in BANDS:
                for q in ("p10", "p50", "p90"):
                    got[f"{name}_{q}"] = np.where(got["fits"], got[f"{name}_{q}"], np.nan)
        results.append(pd.DataFrame(got, index=part.index))
    out = pd.concat([df, pd.concat(results).reindex(df.index)], axis=1) if results else df
    out["fits"] = out["fits"].astype(bool) if len(out) else out.get("fits")
    return out
