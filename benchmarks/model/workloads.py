"""Model-level points: a training step, prefill and KV-cache decode of the reference transformer.

FLOPs come from the planner's arithmetic (via to_model_spec), so the MFU here is the
planner's convention: 6N + attention for training, causal prefill_flops for prefill.
Prefill and decode on a GPU are timed as a replayed CUDA graph (mode "cuda-graph"): a forward
pass of the 1B model launches ~1,000 kernels, and timed eagerly a short prompt measures the
host's launches (tests/test_calibration.py: in a synthetic H100 run, eager batch-1 prefills of
128-512 tokens at 250 us of host time per layer make the fit fail). An eagerly
timed prefill or decode on a GPU (mode "eager") is kept as a framework-overhead figure and
marked `calibration: false`. On a CPU every point is eager: that is how a CPU runs it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from planner.estimate import arithmetic

from ..measure.accel import Accel, as_accel
from ..measure.micro import point
from .transformer import ModelArgs, Transformer, to_model_spec
from .quantize import linear_weight_bytes
from ..measure.timing import measure

EAGER, GRAPH = "eager", "cuda-graph"


def _model_fields(cfg: ModelArgs, model: Transformer, mode: str = EAGER, calibration: bool = True) -> dict:
    return {"model": cfg.arch(), "quantized": model.quantized, "kernel": model.kernel, "mode": mode,
            "calibration": calibration}


def _mode(mode: str | None, accel: Accel) -> str:
    """The mode asked for, by default the device's own: a CUDA graph on a GPU, eager on a CPU."""
    mode = mode or (GRAPH if accel.is_cuda else EAGER)
    if mode not in (EAGER, GRAPH):
        raise ValueError(f"mode must be {EAGER!r} or {GRAPH!r}, got {mode!r}")
    if mode == GRAPH and not accel.is_cuda:
        raise ValueError("mode 'cuda-graph' needs a CUDA device")
    return mode


def _timed(step, mode: str, accel: Accel, min_run_s: float):
    """Timing of `step` run eagerly, or captured in a CUDA graph (checked against eager) and replayed."""
    from ..measure.graphs import capture
    return measure(capture(step, accel) if mode == GRAPH else step, device=accel, min_run_s=min_run_s, warmup=3)


def _calibrates(mode: str, accel: Accel) -> bool:
    return not (accel.is_cuda and mode == EAGER)  # eager on a GPU: the host's launches, not the GPU


def _ratio(value: float, peak: float | None) -> float | None:
    return value / peak if peak else None


def _tokens(cfg: ModelArgs, batch: int, seq_len: int, accel: Accel) -> torch.Tensor:
    g = torch.Generator(device="cpu").manual_seed(0)
    return torch.randint(0, cfg.vocab_size, (batch, seq_len), generator=g).to(accel.tensor_device)


def train_step(model: Transformer, *, batch: int, seq_len: int, device: str | Accel, dtype: str,
               peak_flops_per_s: float | None, min_run_s: float) -> dict:
    """One forward + backward + AdamW step on random tokens; next-token cross-entropy."""
    accel, cfg = as_accel(device), model.cfg
    x = _tokens(cfg, batch, seq_len + 1, accel)
    inputs, targets = x[:, :-1], x[:, 1:]  # (B, T) each
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=accel.is_cuda)

    def step():
        logits = model(inputs)  # (B, T, vocab)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten())
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    model.train()
    t = measure(step, device=accel, min_run_s=min_run_s, warmup=2)
    tokens_per_s = batch * seq_len / t.median_s
    flops_per_s = tokens_per_s * arithmetic.training_flops_per_token(to_model_spec(cfg), seq_len)
    return point("train", dtype, {"batch": batch, "seq_len": seq_len, "optimizer": "AdamW"}, t,
                 tokens_per_s=tokens_per_s, flops_per_s=flops_per_s, mfu=_ratio(flops_per_s, peak_flops_per_s),
                 peak_flops_per_s=peak_flops_per_s) | _model_fields(cfg, model)


@torch.no_grad()
def prefill(model: Transformer, *, batch: int, prompt_len: int, device: str | Accel, dtype: str,
            peak_flops_per_s: float | None, min_run_s: float, last_only: bool = False,
            mode: str | None = None) -> dict:
    """Process a prompt of `prompt_len` tokens into an empty KV cache (logits for every position,
    or with `last_only` the last one's, as a serving engine computes them).

    `mode`: "cuda-graph" (the default on a GPU) or "eager" (the only mode on a CPU; on a GPU
    a framework-overhead figure, `calibration: false`).
    """
    accel, cfg = as_accel(device), model.cfg
    mode = _mode(mode, accel)
    model.eval()
    model.setup_caches(batch, prompt_len)
    x = _tokens(cfg, batch, prompt_len, accel)
    t = _timed(lambda: model(x, 0, last_only=last_only), mode, accel, min_run_s)
    flops_per_s = batch * arithmetic.prefill_flops(to_model_spec(cfg), prompt_len) / t.median_s
    return point("prefill", dtype, {"batch": batch, "prompt_len": prompt_len, "all_logits": not last_only}, t,
                 tokens_per_s=batch * prompt_len / t.median_s, flops_per_s=flops_per_s,
                 mfu=_ratio(flops_per_s, peak_flops_per_s), peak_flops_per_s=peak_flops_per_s) \
        | _model_fields(cfg, model, mode, _calibrates(mode, accel))


@torch.no_grad()
def decode(model: Transformer, *, batch: int, context_len: int, device: str | Accel, dtype: str,
           peak_bytes_per_s: float | None, min_run_s: float, mode: str | None = None) -> dict:
    """One decode step: `batch` new tokens at position `context_len`, reading the KV cache.

    `mode`: "cuda-graph" (the default on a GPU) or "eager" (the only mode on a CPU).
    Bytes per step: every linear weight once (plus int8 scales) and the K and V of
    context_len + 1 positions per sequence; norms, embedding rows and activations are ignored
    (bias: a slight under-count of traffic, so achieved bytes/s reads a little low).
    """
    accel, cfg = as_accel(device), model.cfg
    mode = _mode(mode, accel)
    model.eval()
    model.setup_caches(batch, context_len + 1)
    x = _tokens(cfg, batch, 1, accel)
    t = _timed(lambda: model(x, context_len), mode, accel, min_run_s)
    kv_elem_bytes = model.layers[0].attention.kv_cache.k.element_size()
    kv_bytes = batch * (context_len + 1) * arithmetic.kv_cache_bytes_per_token(to_model_spec(cfg), kv_elem_bytes)
    bytes_per_step = linear_weight_bytes(model) + kv_bytes
    bytes_per_s = bytes_per_step / t.median_s
    return point("decode", dtype, {"batch": batch, "context_len": context_len}, t,
                 tokens_per_s=batch / t.median_s, bytes_per_step=bytes_per_step, bytes_per_s=bytes_per_s,
                 mbu=_ratio(bytes_per_s, peak_bytes_per_s), peak_bytes_per_s=peak_bytes_per_s) \
        | _model_fields(cfg, model, mode, _calibrates(mode, accel))
