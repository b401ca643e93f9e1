"""CLI: `python -m benchmarks [run] [--quick] [--device cpu|cuda] [--out FILE]`.

`run` is the default subcommand, so `python -m benchmarks --quick` works; more
subcommands (e.g. `validate`) attach to the same subparsers.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

RESULTS_DIR = Path(__file__).resolve().parent / "results"
SUBCOMMANDS = ("run", "validate")


def _si(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    for factor, prefix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def summary_table(doc: dict) -> str:
    """One line per point: what, sizes, median time with spread, and its rates."""
    rows = [f"{'kind':<9} {'model':<6} {'quant':<5} {'dtype':<13} {'params':<34} {'median':>9} {'iqr':>8}  rates"]
    for p in doc["points"]:
        model = (p.get("model") or {}).get("name", "") if isinstance(p.get("model"), dict) else ""
        params = " ".join(f"{k}={v}" for k, v in p["params"].items())[:34]
        if "skipped" in p:
            rows.append(f"{p['kind']:<9} {model:<6} {p.get('quantized') or '':<5} {p.get('dtype', ''):<13} "
                        f"{params:<34} skipped: {p['skipped'][:70]}")
            continue
        rates = [_si(p.get(k), u) for k, u in (("flops_per_s", "FLOP/s"), ("bytes_per_s", "B/s"),
                                                  ("tokens_per_s", "tok/s")) if p.get(k)]
        rates += [f"{k}={p[k]:.1%}" for k in ("mfu", "mbu") if p.get(k)]
        if (p.get("other_cpu_fraction") or 0) > 0.1:
            rates.append(f"[others used {p['other_cpu_fraction']:.0%} of the CPUs]")
        rows.append(f"{p['kind']:<9} {model:<6} {p.get('quantized') or '':<5} {p['dtype']:<13} {params:<34} "
                    f"{p['median_s'] * 1e3:>7.2f}ms {p['iqr_s'] * 1e3:>6.2f}ms  {', '.join(rates)}")
    return "\n".join(rows)


def _busy_warning(doc: dict) -> str:
    """A warning when other processes shared the CPUs: those figures read low (and MFU high)."""
    busy = [p for p in doc["points"] if (p.get("other_cpu_fraction") or 0) > 0.1]
    if doc["env"].get("device") != "cpu" or not busy:
        return ""
    return (f"warning: other processes used >10% of the CPUs during {len(busy)} of {len(doc['points'])} points; "
            "their timings are skewed (try --wait-quiet 60)")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the suite and write one results JSON (default)")
    run.add_argument("--quick", action="store_true", help="tiny config, short timings (~1 min on 2 CPU cores)")
    run.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda if available")
    run.add_argument("--out", type=Path, default=None,
                     help="results file (default: <out-dir>/<device-slug>[-quick].json)")
    run.add_argument("--out-dir", type=Path, default=RESULTS_DIR, help=f"default: {RESULTS_DIR}")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    run.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                     help="on a shared machine, wait up to this long before each point for idle CPUs")
    _validate_parser(sub)
    return ap


def _validate_parser(sub) -> None:
    val = sub.add_parser("validate", help="calibrate, predict other sizes with the planner, measure, report errors")
    val.add_argument("--quick", action="store_true", help="small sizes, short timings (~1 min on 2 CPU cores)")
    val.add_argument("--device", choices=("cpu", "cuda"), default=None, help="default: cuda if available")
    val.add_argument("--out", type=Path, default=None,
                     help="report path; writes .json and .md (default: results/validate-<device>[-quick])")


def _device(args) -> str | None:
    """The device asked for (default: cuda if present); None after printing why it cannot be used."""
    from .suite import check_device, default_device

    device = args.device or default_device()
    why = check_device(device)
    if why:
        print(f"error: {why}", file=sys.stderr)
        return None
    return device


def cmd_run(args) -> int:
    from .env import slug
    from .schema import write_results
    from .suite import run_suite

    device = _device(args)
    if device is None:
        return 2
    out = args.out or args.out_dir / f"{slug(device)}{'-quick' if args.quick else ''}.json"
    doc = run_suite(device=device, quick=args.quick, progress=not args.no_progress, wait_quiet_s=args.wait_quiet)
    write_results(doc, out)
    print(summary_table(doc))
    print(f"\nwrote {out} ({len(doc['points'])} points, {doc['wall_s']:.0f} s)")
    busy = _busy_warning(doc)
    if busy:
        print(busy, file=sys.stderr)
    if doc["interrupted"]:
        print("interrupted: the file holds the points measured so far", file=sys.stderr)
        return 130
    return 0


def cmd_validate(args) -> int:
    from .schema import write_results
    from .validate import report_markdown, report_text, run_validation

    device = _device(args)
    if device is None:
        return 2
    out = args.out or RESULTS_DIR / f"validate-{device}{'-quick' if args.quick else ''}"
    v = run_validation(device=device, quick=args.quick)
    write_results(v, out.with_suffix(".json"))
    out.with_suffix(".md").write_text(report_markdown(v), encoding="utf-8")
    print(f"\nwrote {out.with_suffix('.json')} and .md ({v['wall_s']:.0f} s)\n")
    print(report_text(v))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help"):
        argv.insert(0, "run")
    args = parser().parse_args(argv)
    return {"run": cmd_run, "validate": cmd_validate}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
