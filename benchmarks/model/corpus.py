"""A real local text corpus for the quantisation gate: this Python's own standard library sources.

Nothing is downloaded: the .py files under `sysconfig.get_paths()["stdlib"]`, less test
suites and third-party packages. Byte-level tokens (vocabulary 256: one token per UTF-8
byte), so no tokenizer has to be trained or shipped. The split into training and held-out
text is by file, decided by a hash of the file's path relative to the stdlib folder, so it is
the same on every machine with the same Python version and no file's text is in both sets.
"""
from __future__ import annotations

import hashlib
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import torch

VOCAB_SIZE = 256  # byte-level
HELD_OUT_EVERY = 10  # one file in ten (by path hash) is held out
EXCLUDED_DIRS = frozenset({"site-packages", "dist-packages", "test", "tests", "idle_test"})


class CorpusError(RuntimeError):
    """No usable corpus here (a Python installed without its .py sources)."""


@dataclass(frozen=True)
class Corpus:
    """Token streams (uint8 tensors) of the training and held-out files, and where they came from."""

    train: torch.Tensor
    held_out: torch.Tensor
    root: str
    python: str
    n_train_files: int
    n_held_out_files: int

    def describe(self) -> dict:
        return {"source": "Python standard library .py files", "root": self.root, "python": self.python,
                "tokenizer": "bytes (vocab 256)", "split": f"by file: sha1(relative path) % {HELD_OUT_EVERY} == 0 "
                "held out", "train_files": self.n_train_files, "held_out_files": self.n_held_out_files,
                "train_tokens": int(self.train.numel()), "held_out_tokens": int(self.held_out.numel())}


def stdlib_root() -> Path:
    return Path(sysconfig.get_paths()["stdlib"])


def source_files(root: Path) -> list[Path]:
    """Every .py file under `root` outside EXCLUDED_DIRS, sorted by relative path."""
    files = [f for f in root.rglob("*.py") if not EXCLUDED_DIRS.intersection(f.relative_to(root).parts[:-1])]
    return sorted(files, key=lambda f: f.relative_to(root).as_posix())


def is_held_out(relative_path: str) -> bool:
    return int(hashlib.sha1(relative_path.encode()).hexdigest(), 16) % HELD_OUT_EVERY == 0


def _tokens(files: list[Path]) -> torch.Tensor:
    data = b"\n".join(f.read_bytes() for f in files)
    return torch.frombuffer(bytearray(data), dtype=torch.uint8) if data else torch.empty(0, dtype=torch.uint8)


def load_corpus(root: Path | None = None, *, held_out_only: bool = False) -> Corpus:
    """The split corpus; `held_out_only` skips reading the training files (the gate needs none)."""
    root = root or stdlib_root()
    files = source_files(root) if root.is_dir() else []
    held = [f for f in files if is_held_out(f.relative_to(root).as_posix())]
    train = [f for f in files if f not in set(held)]
    if not held or not train:
        raise CorpusError(f"no Python sources under {root} ({len(files)} .py files): cannot build the corpus")
    return Corpus(train=_tokens([]) if held_out_only else _tokens(train), held_out=_tokens(held), root=str(root),
                  python=sys.version.split()[0], n_train_files=len(train), n_held_out_files=len(held))


def windows(stream: torch.Tensor, *, n: int, length: int, seed: int) -> torch.Tensor:
    """`n` windows of `length` + 1 tokens at seeded random offsets: (n, length + 1) int64.

    The extra token is each window's last target (inputs w[:, :-1], targets w[:, 1:]).
    """
    if stream.numel() < length + 2:
        raise CorpusError(f"corpus of {stream.numel()} tokens is shorter than one window of {length + 1}")
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, stream.numel() - length - 1, (n,), generator=g)
    idx = starts[:, None] + torch.arange(length + 1)  # (n, length + 1)
    return stream[idx].long()
