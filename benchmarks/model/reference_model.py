"""The trained reference model of the quantisation gate: "tiny" trained on the stdlib corpus.

`python -m benchmarks train-reference` reproduces the committed checkpoint
(checkpoints/tiny-stdlib.pt, bf16 weights) and writes its settings and figures next to it
(tiny-stdlib.json). The architecture is transformer.CONFIGS["tiny"] with the byte-level
vocabulary of corpus.py. Training: AdamW, linear warm-up then cosine decay, seeded windows
of the training files; a fixed number of steps, so the result does not depend on the machine's
speed (only its wall time does).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .corpus import VOCAB_SIZE, load_corpus, windows
from .transformer import Transformer, build, config

REFERENCE = dataclasses.replace(config("tiny"), name="tiny-stdlib", vocab_size=VOCAB_SIZE)
CHECKPOINT = Path(__file__).resolve().parents[1] / "checkpoints" / "tiny-stdlib.pt"  # benchmarks/checkpoints/
STORED_DTYPE = torch.bfloat16  # halves the file; the reference IS these rounded weights


@dataclass(frozen=True)
class TrainSettings:
    steps: int = 200
    batch: int = 8
    seq_len: int = 256
    lr: float = 3e-3  # high for a transformer, usual for one this small (nanoGPT's char model uses 1e-3)
    min_lr: float = 3e-4
    warmup_steps: int = 20
    weight_decay: float = 0.1
    betas: tuple = (0.9, 0.95)  # as nanoGPT and Llama
    grad_clip: float = 1.0
    seed: int = 0
    eval_windows: int = 32  # held-out windows for the perplexity recorded in the JSON
    eval_seq_len: int = 256


def lr_at(step: int, s: TrainSettings) -> float:
    """Linear warm-up, then cosine decay to min_lr (nanoGPT's get_lr)."""
    if step < s.warmup_steps:
        return s.lr * (step + 1) / s.warmup_steps
    frac = (step - s.warmup_steps) / max(1, s.steps - s.warmup_steps)
    return s.min_lr + 0.5 * (1 + math.cos(math.pi * min(frac, 1.0))) * (s.lr - s.min_lr)


def fresh_model(seed: int) -> Transformer:
    """`tiny` with byte vocabulary; the head is initialised on its own (N(0, 0.02)), not from the embedding."""
    model = build(REFERENCE, seed=seed)
    with torch.no_grad():
        nn.init.normal_(model.output.weight, std=0.02)
    return model


@torch.no_grad()
def perplexity(model: nn.Module, w: torch.Tensor, *, batch: int = 8) -> float:
    """exp(mean next-token cross-entropy) over windows w (n, T + 1) of token ids."""
    device = model.rope.device
    nll, count = 0.0, 0
    for chunk in w.split(batch):
        x = chunk.to(device)
        logits = model(x[:, :-1]).float()  # (B, T, vocab)
        nll += F.cross_entropy(logits.flatten(0, 1), x[:, 1:].flatten(), reduction="sum").item()
        count += x[:, 1:].numel()
    return math.exp(nll / count)


def train(s: TrainSettings, *, log=print) -> tuple[Transformer, dict]:
    """Train from scratch; returns the model and a record of what was done."""
    corpus = load_corpus()
    model = fresh_model(s.seed).train()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": s.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=s.lr, betas=s.betas)
    started, losses = time.perf_counter(), []
    for step in range(s.steps):
        for group in opt.param_groups:
            group["lr"] = lr_at(step, s)
        w = windows(corpus.train, n=s.batch, length=s.seq_len, seed=s.seed * 1_000_003 + step)  # (B, T + 1)
        logits = model(w[:, :-1])  # (B, T, vocab)
        loss = F.cross_entropy(logits.flatten(0, 1), w[:, 1:].flatten())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if step % 50 == 0 or step == s.steps - 1:
            log(f"step {step:>5}/{s.steps}  loss {loss.item():.3f}  lr {lr_at(step, s):.2e}  "
                f"{time.perf_counter() - started:.0f} s")
    model = model.to(STORED_DTYPE).float().eval()  # evaluate exactly the weights that are stored
    ppl = perplexity(model, windows(corpus.held_out, n=s.eval_windows, length=s.eval_seq_len, seed=1))
    record = {"config": REFERENCE.arch(), "settings": asdict(s), "corpus": corpus.describe(),
              "final_train_loss_mean_last_50": sum(losses[-50:]) / len(losses[-50:]),
              "held_out_perplexity_fp32": ppl, "stored_dtype": str(STORED_DTYPE).removeprefix("torch."),
              "wall_s": time.perf_counter() - started, "torch": torch.__version__, "threads": torch.get_num_threads(),
              "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    return model, record


def save(model: Transformer, record: dict, path: Path) -> None:
    """The bf16 state dict at `path` and the record beside it (.json), each written atomically."""
    import os

    from ..measure.schema import write_results
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save({k: v.to(STORED_DTYPE) for k, v in model.state_dict().items()}, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    write_results(record, path.with_suffix(".json"))


def load_reference(*, device: str = "cpu", dtype: torch.dtype = torch.float32,
                   path: Path = CHECKPOINT) -> Transformer:
    """The trained reference in `dtype` on `device`; FileNotFoundError if the checkpoint is absent."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = Transformer(REFERENCE)  # rope is a non-persistent buffer, rebuilt here; the rest is loaded
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.to(device=device, dtype=dtype).eval()
