"""The quantisation gate: held-out perplexity of the trained reference model, full precision vs quantised.

A format is benchmarked only if its perplexity is within 1% of the reference's on the same
held-out tokens: MLPerf Inference's "99%" accuracy target (llama2-70b-99 must reach 99% of
the reference's score; docs.mlcommons.org/inference/benchmarks/language/llama2-70b, checked
2026-11-29), applied to perplexity. The reference is the trained checkpoint
(reference_model.py) in the run's compute dtype; the gate evaluates the quantised weights
through the plain dequantise-then-matmul kernel, so it judges the format's numbers, while
kernels.py checks that the faster kernel computes the same thing.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from ..measure.accel import Accel
from .corpus import load_corpus, windows
from .quantize import DEQUANT, FORMATS, linear_numel, linear_weight_bytes, quantize_int8_weight_only, quantized_layers
from .reference_model import CHECKPOINT, load_reference, perplexity

MAX_PERPLEXITY_RATIO = 1.01  # quantised / reference; the MLPerf 99% bar
MAX_BYTES_VS_BF16 = 0.55  # int8 weights plus bf16 scales: ~0.5x bf16; more means layers were not quantised
EVAL_WINDOWS, EVAL_LEN, EVAL_SEED = 32, 256, 1  # 8,192 held-out tokens


@dataclass(frozen=True)
class GateReport:
    format: str
    passed: bool
    perplexity: float
    reference_perplexity: float
    ratio: float  # perplexity / reference_perplexity
    max_ratio: float
    bytes_vs_bf16: float
    reason: str  # why it failed; "" when passed
    evaluated_with: dict  # checkpoint, corpus, tokens, device, dtype, kernel

    def to_dict(self) -> dict:
        return asdict(self)


def judge(fmt: str, ref_ppl: float, q_ppl: float, quant: nn.Module, evaluated_with: dict) -> GateReport:
    """Pass if perplexity is within MAX_PERPLEXITY_RATIO of the reference and the weights did shrink."""
    ratio = q_ppl / ref_ppl
    size = linear_weight_bytes(quant) / (2 * linear_numel(quant))
    reasons = []
    if not ratio <= MAX_PERPLEXITY_RATIO:  # `not <=` also catches NaN
        reasons.append(f"perplexity {q_ppl:.4f} is {ratio - 1:+.2%} over the reference {ref_ppl:.4f} "
                       f"(allowed {MAX_PERPLEXITY_RATIO - 1:+.0%})")
    if not size <= MAX_BYTES_VS_BF16:
        reasons.append(f"weight bytes {size:.3f} x bf16 > {MAX_BYTES_VS_BF16}")
    if quantized_layers(quant) == 0:
        reasons.append("no quantised layers")
    return GateReport(fmt, not reasons, q_ppl, ref_ppl, ratio, MAX_PERPLEXITY_RATIO, size, "; ".join(reasons),
                      evaluated_with)


QUANTIZERS = {"int8-weight-only": lambda m: quantize_int8_weight_only(m, kernel=DEQUANT)}
assert set(QUANTIZERS) == set(FORMATS)


def run_gate(fmt: str, *, accel: Accel, dtype: torch.dtype, n_windows: int = EVAL_WINDOWS,
             ref: nn.Module | None = None, eval_windows: torch.Tensor | None = None) -> GateReport:
    """Quantise the trained reference to `fmt` and compare held-out perplexities on `accel`."""
    if eval_windows is None:
        corpus = load_corpus(held_out_only=True)
        eval_windows = windows(corpus.held_out, n=n_windows, length=EVAL_LEN, seed=EVAL_SEED)
        source = {k: v for k, v in corpus.describe().items() if not k.startswith("train")}
    else:
        source = {"source": "windows given by the caller"}
    ref = ref if ref is not None else load_reference(device=accel.tensor_device, dtype=dtype)
    quant = QUANTIZERS[fmt](copy.deepcopy(ref))
    evaluated_with = {"checkpoint": CHECKPOINT.name, "corpus": source, "tokens": int(eval_windows[:, 1:].numel()),
                      "device": accel.kind, "dtype": str(dtype).removeprefix("torch."), "kernel": DEQUANT}
    return judge(fmt, perplexity(ref, eval_windows), perplexity(quant, eval_windows), quant, evaluated_with)
