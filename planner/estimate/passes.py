"""What a prefill and a decode step ask of a forward pass: perf.forward_s's arguments for each.

perf.prefill_s and perf.decode_step_s pass these to perf.forward_s; inference.py stacks both on a
leading axis to time a prefill and a decode step in one array pass. One copy of each, so the two
paths cannot drift (tests/test_array_path.py holds them equal).
"""
from __future__ import annotations

import numpy as np

from ..catalog.specs import ModelSpec
from . import arithmetic as ar


def prefill_work(m: ModelSpec, kv_bytes: float, *, batch, prompt_tokens, all_logits: bool = False) -> dict:
    """Prompts of `prompt_tokens` into an empty cache (causal, window-aware attention FLOPs per token); logits of the
    last position only, as a serving engine computes them (`all_logits`: every position, as a training forward does)."""
    p = np.asarray(prompt_tokens, dtype=float) if ar.ndim_of(prompt_tokens) else float(prompt_tokens)
    attn = (ar.prefill_flops(m, p) - p * 2.0 * ar.matmul_params(m)) / p
    batch = np.asarray(batch, dtype=float) if ar.ndim_of(batch) else float(batch)  # a number: a float (one pass)
    return {"batch": batch, "new_tokens": p, "attn_flops_per_token": attn,
            "kv_bytes_per_seq": ar.kv_cache_bytes(m, p, kv_bytes), "logit_rows": batch * p if all_logits else batch}


def decode_work(m: ModelSpec, kv_bytes: float, *, batch, context_tokens) -> dict:
    """One decode step: `batch` new tokens, each attending to `context_tokens` keys in the cache."""
    return {"batch": batch, "new_tokens": 1.0, "attn_flops_per_token": ar.attention_flops_per_token(m, context_tokens),
            "kv_bytes_per_seq": ar.kv_cache_bytes(m, context_tokens, kv_bytes)}
