"""What every `planner` command shares: writing its output, passing on only the options given, whole-number
flags, and how an error is reported (one line on stderr, an exit status per kind, --debug for the traceback)."""
from __future__ import annotations

import argparse
import os
import sys
import traceback

from ..core.errors import PlannerError


def out(text: str) -> None:
    sys.stdout.write(text.rstrip("\n") + "\n")


def given(a, *names) -> dict:
    """Only the options the user gave: every default lives in the planner API, not here."""
    return {n: getattr(a, n) for n in names if getattr(a, n) is not None}


def count(text: str) -> int:
    """argparse type of a whole number; accepts 100000, 1e5 and 100_000 (the API checks the range)."""
    try:
        value = float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid whole number: {text[:40]!r}") from None
    if isinstance(value, float):
        if not value.is_integer():
            raise argparse.ArgumentTypeError(f"not a whole number: {text[:40]!r}")
        value = int(value)
    return value


def one_line(text: str) -> str:
    """Text with every line break and run of white space (\\n, \\r, \\u2028, ...) as one space."""
    return " ".join(text.split())


def _one_line(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return one_line(f"{e.filename}: {e.strerror}" if e.filename else e.strerror)
    return one_line(str(e)) or type(e).__name__


USAGE, INPUT, BUG = 2, 1, 3  # exit statuses


def fail(e: BaseException, debug: bool) -> int:
    """One line on stderr (and the traceback with --debug); the exit status for the kind of error."""
    if debug:
        traceback.print_exception(e, file=sys.stderr)
    if isinstance(e, (PlannerError, OSError)):
        sys.stderr.write(f"planner: error: {_one_line(e)}\n")
        return INPUT
    if isinstance(e, MemoryError):
        sys.stderr.write("planner: error: out of memory: ask for less (fewer samples, a shorter horizon)\n")
        return INPUT
    hint = "" if debug else "; run with --debug for the traceback"
    sys.stderr.write(f"planner: error: internal error (a bug in the planner, please report it): "
                     f"{type(e).__name__}: {_one_line(e)[:300]}{hint}\n")
    return BUG


def split_debug(argv: list[str] | None) -> tuple[list[str], bool]:
    argv = [os.fspath(a) if isinstance(a, os.PathLike) else a for a in (sys.argv[1:] if argv is None else argv)]
    debug = "--debug" in argv or os.environ.get("PLANNER_DEBUG", "") not in ("", "0")
    return [a for a in argv if a != "--debug"], debug


def split_gpu_files(argv: list[str]) -> tuple[list[str], list[str]]:
    """`--gpu-file PATH` (any position, repeatable) taken out of argv: custom GPU specs to register first."""
    rest, paths, i = [], [], 0
    while i < len(argv):
        a = argv[i]
        if a == "--gpu-file":
            if i + 1 >= len(argv):
                raise PlannerError("--gpu-file needs a path (a TOML or JSON GPU spec)")
            paths.append(argv[i + 1])
            i += 2
            continue
        if isinstance(a, str) and a.startswith("--gpu-file="):
            paths.append(a.split("=", 1)[1])
        else:
            rest.append(a)
        i += 1
    return rest, paths


ATTENTION_DP_HELP = ("MoE: data-parallel attention + expert parallelism over the replica's GPUs (SGLang "
                     "--enable-dp-attention, TensorRT-LLM enable_attention_dp); default: serve searches both, others off")
