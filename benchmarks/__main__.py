"""CLI: `python -m benchmarks [run|validate|collectives|train-reference] ...`; `run` is the default.

Results go where --out says; by default into ./bench-results/ under the current directory,
never into the package. Errors are one line on stderr: exit 2 for a usage error, 1 for
anything else that is wrong (a device that is not there, an unwritable --out); --debug
shows the traceback instead.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

DEFAULT_OUT_DIR = Path("bench-results")  # relative: under the directory the command runs in
SUBCOMMANDS = ("run", "validate", "collectives", "train-reference")


class UsageError(Exception):
    """A command line argparse refuses (exit 2)."""


class InputError(Exception):
    """A well-formed command that cannot run here (exit 1)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line instead of argparse's usage block
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _si(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def summary_table(doc: dict) -> str:
    """One line per point: what, sizes, median time with spread, and its rates."""
    rows = [f"{'kind':<10} {'model':<6} {'quant':<16} {'mode':<10} {'params':<44} {'median':>9} {'iqr':>8}  rates"]
    for p in doc["points"]:
        model = (p.get("model") or {}).get("name", "") if isinstance(p.get("model"), dict) else ""
        params = " ".join(f"{k}={v}" for k, v in p["params"].items())[:44]
        head = f"{p['kind']:<10} {model:<6} {p.get('quantized') or '':<16} {p.get('mode', ''):<10} {params:<44}"
        if "skipped" in p:
            rows.append(f"{head} skipped: {p['skipped'][:80]}")
            continue
        rates = [_si(p.get(k), u) for k, u in (("flops_per_s", "FLOP/s"), ("bytes_per_s", "B/s"),
                                                  ("tokens_per_s", "tok/s"), ("busbw_bytes_per_s", "B/s bus"))
                 if p.get(k)]
        rates += [f"{k}={p[k]:.1%}" for k in ("mfu", "mbu") if p.get(k)]
        if (p.get("other_cpu_fraction") or 0) > 0.1:
            rates.append(f"[others used {p['other_cpu_fraction']:.0%} of the CPUs]")
        rows.append(f"{head} {p['median_s'] * 1e3:>7.3f}ms {p['iqr_s'] * 1e3:>6.3f}ms  {', '.join(rates)}")
    return "\n".join(rows)


def gate_lines(doc: dict) -> list[str]:
    out = []
    for fmt, g in doc.get("quality", {}).items():
        if "perplexity" in g:
            out.append(f"gate {fmt}: perplexity {g['perplexity']:.4f} vs reference {g['reference_perplexity']:.4f} "
                       f"({g['ratio'] - 1:+.3%}, allowed {g['max_ratio'] - 1:+.0%}): "
                       f"{'passed' if g['passed'] else 'FAILED: ' + g['reason']}")
        else:
            out.append(f"gate {fmt}: {g.get('reason', 'not run')}")
    return out


def _busy_warning(doc: dict) -> str:
    """A warning when other processes shared the CPUs: those figures read low (and MFU high)."""
    busy = [p for p in doc["points"] if (p.get("other_cpu_fraction") or 0) > 0.1]
    if doc["env"].get("device") != "cpu" or not busy:
        return ""
    return (f"warning: other processes used >10% of the CPUs during {len(busy)} of {len(doc['points'])} points; "
            "their timings are skewed (try --wait-quiet 60)")


def parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n")[1],
                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = ap.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the suite and write one results JSON (default)")
    run.add_argument("--quick", action="store_true", help="small sizes, short timings (~1 min on 2 CPU cores)")
    _device_arg(run)
    _out_args(run, "results file (default: <out-dir>/<device-slug>[-quick].json)")
    run.add_argument("--no-progress", action="store_true", help="no progress bar (none is drawn unless stderr is a TTY)")
    run.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                     help="on a shared machine, wait up to this long before each point for idle CPUs")
    run.add_argument("--deadline-s", type=_seconds, default=None, metavar="SECONDS",
                     help="start no point after this many seconds; the rest are recorded as skipped "
                          "(leave a point's worth of time before any hard limit)")
    val = sub.add_parser("validate", help="calibrate, predict other sizes with the planner, measure, report errors")
    val.add_argument("--quick", action="store_true", help="small sizes, short timings (~1 min on 2 CPU cores)")
    _device_arg(val)
    _out_args(val, "report path without suffix; writes .json and .md (default: <out-dir>/validate-<device>[-quick])")
    _collectives_args(sub.add_parser("collectives", help="all-reduce, all-gather, reduce-scatter, all-to-all "
                                     "over N processes (torch.distributed)"))
    ref = sub.add_parser("train-reference", help="train the quantisation gate's reference model (a few minutes)")
    _out_args(ref, "checkpoint path (default: <out-dir>/tiny-stdlib.pt; the committed one is "
                   "benchmarks/checkpoints/tiny-stdlib.pt)")
    ref.add_argument("--steps", type=int, default=None, help="training steps (default: the recorded setting)")
    for p in (run, val, ref):
        p.add_argument("--debug", action="store_true", help="show tracebacks")
    return ap


def _seconds(text: str) -> float:
    """A positive, finite number of seconds (argparse type)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _device_arg(p) -> None:
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:<index> (default: cuda if available)")


def _collectives_args(p) -> None:
    from .collectives.launch import KIB
    p.add_argument("--nproc", type=int, required=True, help="processes (ranks); on GPUs, one GPU each")
    p.add_argument("--device", default=None, help="cpu (gloo) or cuda (NCCL) (default: cpu)")
    p.add_argument("--min-bytes", type=int, default=KIB, help="smallest message (default 1 KiB)")
    p.add_argument("--max-bytes", type=int, default=None,
                   help="largest message (default: 16 MiB on CPU, 1 GiB on GPU, capped by free memory)")
    p.add_argument("--min-run-s", type=float, default=0.1, help="timed seconds per size (at least 10 calls)")
    _out_args(p, "results file (default: <out-dir>/collectives-<backend>-<nproc>.json)")
    p.add_argument("--debug", action="store_true", help="show tracebacks")


def _out_args(p, out_help: str) -> None:
    p.add_argument("--out", type=Path, default=None, help=out_help)
    p.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR,
                   help=f"folder for default file names (default: ./{DEFAULT_OUT_DIR} under the current directory)")


def _device(args):
    """The Accel asked for (default: cuda if present); InputError if it cannot be used here."""
    from .measure.accel import as_accel, check_device, default_device
    device = args.device or default_device()
    why = check_device(device)
    if why:
        raise InputError(why)
    return as_accel(device)


def cmd_run(args) -> int:
    from .measure.env import slug
    from .measure.schema import check_out_path, measured_points, validate_results, write_results
    from .suite import run_suite

    accel = _device(args)
    out = check_out_path(args.out or args.out_dir / f"{slug(accel)}{'-quick' if args.quick else ''}.json")

    def save(doc: dict) -> None:  # after every point: a killed run keeps what it measured
        if measured_points(doc):
            write_results(validate_results(doc), out)

    doc = run_suite(device=accel, quick=args.quick, progress=not args.no_progress, wait_quiet_s=args.wait_quiet,
                    on_point=save, deadline_s=args.deadline_s)
    print(summary_table(doc))
    print("\n".join(gate_lines(doc)))
    if not measured_points(doc):
        print(f"nothing measured; {out} was not written", file=sys.stderr)
        return 130 if doc["interrupted"] else 1
    save(doc)
    print(f"\nwrote {out} ({len(doc['points'])} points, {doc['wall_s']:.0f} s)")
    busy = _busy_warning(doc)
    if busy:
        print(busy, file=sys.stderr)
    deadline = doc.get("deadline") or {}
    if deadline.get("points_not_run"):
        print(f"deadline: {len(deadline['points_not_run'])} point(s) not run, recorded as skipped "
              f"({deadline['deadline_s']:g} s had passed)", file=sys.stderr)
    if doc["interrupted"]:
        print("interrupted: the file holds the points measured so far", file=sys.stderr)
        return 130
    return 0


def cmd_validate(args) -> int:
    from .measure.schema import check_out_path, write_results
    from .validate import report_markdown, report_text, run_validation

    accel = _device(args)
    out = args.out or args.out_dir / f"validate-{accel.kind}{'-quick' if args.quick else ''}"
    json_out, md_out = check_out_path(out.with_suffix(".json")), check_out_path(out.with_suffix(".md"))
    v = run_validation(device=accel.kind, quick=args.quick)
    write_results(v, json_out)
    md_out.write_text(report_markdown(v), encoding="utf-8")
    print(f"\nwrote {json_out} and {md_out.name} ({v['wall_s']:.0f} s)\n")
    print(report_text(v))
    return 0


def cmd_collectives(args) -> int:
    from .collectives.launch import run_collectives
    from .measure.schema import check_out_path, validate_results, write_results

    device = _device(args).kind if args.device else "cpu"
    if args.nproc < 2:
        raise InputError(f"--nproc must be >= 2 (one process communicates with nobody), got {args.nproc}")
    if device == "cuda":
        import torch
        if torch.cuda.device_count() < args.nproc:
            raise InputError(f"--nproc {args.nproc} on cuda needs {args.nproc} GPUs; torch sees "
                             f"{torch.cuda.device_count()}")
    if not (0 < args.min_bytes <= (args.max_bytes or args.min_bytes)) or not math.isfinite(args.min_run_s) \
            or not 0 < args.min_run_s <= 60:
        raise InputError("need 0 < --min-bytes <= --max-bytes and 0 < --min-run-s <= 60")
    backend = "nccl" if device == "cuda" else "gloo"
    out = check_out_path(args.out or args.out_dir / f"collectives-{backend}-{args.nproc}.json")
    doc = run_collectives(nproc=args.nproc, device=device, min_bytes=args.min_bytes, max_bytes=args.max_bytes,
                          min_run_s=args.min_run_s)
    write_results(validate_results(doc), out)
    print(summary_table(doc))
    for op, f in doc["collective_fit"].items():
        print(f"{op:<15} alpha {f['alpha_s'] * 1e6:8.1f} us   beta {f['beta_bytes_per_s'] / 1e9:8.3f} GB/s "
              f"(max residual {f['max_rel_residual']:.0%} over {f['n_sizes']} sizes)")
    for op, why in doc["collective_fit_skipped"].items():
        print(f"{op:<15} no fit: {why}")
    print(f"\nwrote {out} ({len(doc['points'])} points, {doc['wall_s']:.0f} s)")
    return 0


def cmd_train_reference(args) -> int:
    from dataclasses import replace

    from .measure.schema import check_out_path
    from .model.reference_model import TrainSettings, save, train

    out = check_out_path(args.out or args.out_dir / "tiny-stdlib.pt")
    settings = TrainSettings() if args.steps is None else replace(TrainSettings(), steps=args.steps)
    if settings.steps < 1:
        raise InputError(f"--steps must be >= 1, got {settings.steps}")
    model, record = train(settings)
    save(model, record, out)
    print(f"wrote {out} and {out.with_suffix('.json').name}: held-out perplexity "
          f"{record['held_out_perplexity_fp32']:.3f} after {settings.steps} steps ({record['wall_s']:.0f} s)")
    return 0


COMMANDS = {"run": cmd_run, "validate": cmd_validate, "collectives": cmd_collectives,
            "train-reference": cmd_train_reference}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    first = next((a for a in argv if a != "--debug"), None)
    if first not in SUBCOMMANDS and first not in ("-h", "--help"):
        argv.insert(0, "run")
    try:
        args = parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # every other error: one line, or the traceback with --debug
        if debug:
            raise
        from planner.core.errors import PlannerError
        known = isinstance(e, (InputError, PlannerError, OSError, ValueError))
        text = (str(e).strip().splitlines() or [type(e).__name__])[0]
        print(f"error: {text}" if known else f"error: {type(e).__name__}: {text} (a bug? rerun with --debug)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
