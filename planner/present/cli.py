"""`planner`: the command line. It parses arguments and formats results; every number comes from the API.

Output carries no colour codes, so it reads the same in a terminal and in a pipe. Every error is
one line on stderr; the exit status is 2 for a usage error, 1 for an input error, 3 for a bug
(cli_common.fail); `--debug` adds the traceback. The API checks every value before any work.
"""
from __future__ import annotations

import argparse
import functools
import os
import sys

import pandas as pd

from ..core import limits as L
from ..core import validate as V
from ..core.errors import PlannerError
from ..core.results import as_plain
from ..core.version import __version__
from . import formatting as fmt
from . import models_text as mt
from .cli_catalog import cmd_gpus, cmd_models, cmd_prices
from .cli_common import USAGE, count, fail, one_line, split_debug, split_gpu_files
from .cli_common import ATTENTION_DP_HELP, given as _given, out as _out
from .cli_costs import compare_sections
from .cli_side_by_side import cmd_compare_several
from .cli_sweep import speed_command
from .cli_training import (_layout_options, _print_training, add_finetune_knobs, cmd_scaling, finetune_knobs, parse_layout, recipe_arg,
                           print_max_fit)
from .cli_uncertainty import add_commands as uncertainty_commands

TABLE_FORMATS = ("table", "markdown", "csv", "json")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block (an argument may hold a line break)
        self.exit(2, f"planner: error: {one_line(message)} (see: {self.prog} --help)\n")


# ---- compare, report ----

def _comparison(path: str):
    from ..decide.compare import compare
    from ..decide.scenario import load_scenario
    s = load_scenario(path)
    try:
        return s, compare(s)
    except PlannerError as e:
        raise PlannerError(f"{path}: {e}") from None


def _break_even_frame(c) -> pd.DataFrame:
    rows = [{"Options": f"{c.options[b.a].label} vs {c.options[b.b].label}",
             "Equal total at (req/day)": ", ".join(fmt.count(t) for t in b.requests_per_day) or "never",
             "Cheaper at low traffic": c.options[b.cheaper_below].label,
             "Cumulative costs cross": f"month {b.crossing_month:.1f}" if b.crossing_month is not None else "no"}
            for b in c.break_evens]
    return pd.DataFrame(rows, columns=["Options", "Equal total at (req/day)", "Cheaper at low traffic",
                                       "Cumulative costs cross"])


def cmd_compare(a) -> int:
    if len(a.scenario) > 1:
        return cmd_compare_several(a, _comparison)
    s, c = _comparison(a.scenario[0])
    if a.format == "csv":  # full precision, machine-readable
        _out(c.table().to_csv().rstrip("\n"))
        return 0
    from ..uncertainty.risk import with_headline
    c = with_headline(c, s)  # the recommendation with its P(cheapest): the report's and the dashboard's headline
    if a.format == "json":
        _out(fmt.dumps_json(c.to_dict()))
        return 0
    md = a.format == "markdown"
    table = fmt.markdown_table if md else fmt.text_table
    head = (lambda t: f"## {t}") if md else (lambda t: f"{t}\n{'=' * len(t)}")
    rec = c.recommendation
    unavailable = [f"- {o.label}: not available: {o.reason_unavailable}" for o in c.options.values() if not o.available]
    details = [f"- {o.label}: {o.detail}" for o in c.options.values() if o.available]
    if c.api_price is not None:
        p = c.api_price
        details.append(f"- API prices: {p.provider_name} {p.model_id}, price data of {p.price_data_date} ({p.source})")
    match = [x for x in (mt.like_for_like_line(c), mt.floor_line(c)) if x]
    parts = [head(f"{c.scenario}: {c.horizon_months} months"), *match, table(fmt.comparison_frame(c.table())),
             fmt.ONE_TIME_SCOPE, "\n".join(details), *(["\n".join(unavailable)] if unavailable else []),
             head("Models compared"), table(mt.models_frame(c)),
             head("Break-even"), table(_break_even_frame(c)) if c.break_evens else "fewer than two options available",
             head("Recommendation"), "\n".join([rec.headline, *match]), "\n".join(f"- {r}" for r in rec.reasons),
             *compare_sections(c, s, table, head)]
    _out("\n\n".join(parts))
    return 0


def cmd_report(a) -> int:
    from .report import REPORT_MD, write_report
    out = write_report(a.scenario[0], a.output, force=a.force, compare_with=a.scenario[1:])
    _out(f"wrote {out / REPORT_MD}")
    return 0


# ---- estimate ----


def _print_rows(rows, est, a) -> int:
    if a.format == "json":
        _out(fmt.dumps_json(as_plain(est)))
        return 0
    _out(fmt.render(pd.DataFrame(rows, columns=["quantity", "p50 [p10-p90]"]), a.format))
    return 0


def cmd_pretrain(a) -> int:
    from ..estimate.pretraining import Staffing, pretraining
    staff = Staffing(**_given(a, "researchers", "months")) if (a.researchers or a.months) else None
    layout = parse_layout(a.layout) if a.layout else None
    est = pretraining(model=a.model, gpu=a.gpu, staffing=staff, layout=layout, fp8=a.fp8, recipe=recipe_arg(a),
                      **_given(a, "tokens", "n_gpus", "seq_len", "prep_months"))
    return _print_training(fmt.pretraining_rows(est), est, a)


def cmd_finetune(a) -> int:
    from ..estimate.finetuning import finetuning
    layout = parse_layout(a.layout) if a.layout else None
    if a.max_fit:
        return print_max_fit(a)
    est = finetuning(model=a.model, gpu=a.gpu, tokens=a.tokens, layout=layout, recipe=recipe_arg(a), **finetune_knobs(a),
                     **_given(a, "method", "epochs", "n_gpus", "seq_len", "lora_rank", "lora_targets", "packing",
                              "example_tokens", "optimizer", "offload", "framework", "micro_batch", "grad_accum"))
    return _print_training(fmt.finetuning_rows(est), est, a)


def _precision(text: str | None):
    """--precision: one name, "auto", or a comma-separated list to search."""
    if text is None or "," not in text:
        return text
    return [p.strip() for p in text.split(",") if p.strip()]


def cmd_serve(a) -> int:
    from ..catalog.lookup import gpu as lookup_gpu
    from ..estimate.serving import serving
    from ..estimate.workload import Workload
    w = Workload(requests_per_day=a.requests_per_day, input_tokens=a.input_tokens, output_tokens=a.output_tokens,
                 **_given(a, "prompt_overhead_tokens", "reasoning_tokens", "peak_to_mean", "ttft_target_s", "tpot_target_s", "length_sigma"))
    price = None if a.usd_per_gpu_hour is None else \
        V.positive("--usd-per-gpu-hour", a.usd_per_gpu_hour, L.MAX_USD_PER_GPU_HOUR, "$/GPU-hour")
    g = lookup_gpu(a.gpu) if price is None else lookup_gpu(a.gpu).with_price(price)
    given = _given(a, "engine", "kv_cache_dtype", "tensor_parallel", "max_batch_size", "latency_percentile",
                   "utilization_ceiling", "min_replicas", "attention_dp")
    if a.chunked_prefill:
        given["chunked_prefill"] = a.chunked_prefill == "on"
    plan = serving(model=a.model, gpu=g, workload=w, **({"precision": _precision(a.precision)} if a.precision else {}),
                   **given)
    if a.format == "json":
        _out(fmt.dumps_json(as_plain(plan)))
        return 0
    _out(fmt.render(pd.DataFrame(fmt.serving_rows(plan), columns=["quantity", "p50 [p10-p90]"]), a.format))
    if a.frontier:
        _out(("\n## " if a.format == "markdown" else "\n") + "Configurations searched (p50 rates; TTFT and TPOT without "
             "queueing; the simulated rate meets the targets at " + plan.latency_percentile + ")")
        _out(fmt.render(fmt.frontier_frame(plan, all_rows=a.frontier == "all"), a.format))
    return 0


def cmd_throughput(a) -> int:
    from ..estimate.throughput import max_throughput
    t = max_throughput(model=a.model, gpu=a.gpu, **({"precision": a.precision} if a.precision else {}),
                       **_given(a, "engine", "kv_cache_dtype", "tensor_parallel", "prompt_tokens", "output_tokens",
                                "max_batch_size", "attention_dp"))
    return _print_rows(fmt.throughput_rows(t), t, a)


def _profile_rows(p) -> list[tuple[str, str]]:
    """A calibration profile as (quantity, value) rows; units at the edge."""
    def opt(b, unit="", scale=1.0):
        return fmt.band(b.map(lambda v: v / scale), unit=unit) if b is not None else "not measured"
    rows = [("hardware", f"{p.device_name} ({p.device}, {p.dtype})"),
            ("used for estimates on", p.gpu or "none: no catalog GPU (CPUs have none)"),
            ("source", p.source)]
    rows += [(f"GEMM {d}", opt(b, "TFLOP/s", 1e12)) for d, b in p.gemm_flops_per_s.items()]
    rows += [("copy bandwidth", opt(p.copy_bytes_per_s, "GB/s", 1e9)),
             ("fractions of", f"{fmt.number((p.peak_flops_per_s or 0) / 1e12)} TFLOP/s, "
                              f"{fmt.number((p.peak_bytes_per_s or 0) / 1e9)} GB/s ({p.peak_source})"),
             ("training MFU", opt(p.train_mfu)), ("prefill efficiency", opt(p.prefill)),
             ("decode MBU", opt(p.decode_mbu)), ("int8 / dense decode speed-up", opt(p.int8_decode_speedup, "x"))]
    eff = p.efficiencies()
    rows += [(f"fitted {a.name}", fmt.value(a.value) + (f" {a.unit}" if a.unit else "")) for a in eff.assumptions()]
    return rows


def cmd_calibrate(a) -> int:
    from ..estimate.calibrated import calibrate
    profile = calibrate(a.results)
    if a.format == "json":
        _out(fmt.dumps_json(as_plain(profile)))
        return 0
    _out(fmt.text_table(pd.DataFrame(_profile_rows(profile), columns=["quantity", "p50 [p10-p90]"])))
    return 0


def _use_results(a) -> None:
    """Calibrate only when asked: --results PATH, else $PLANNER_RESULTS; otherwise the literature defaults.
    --silicon GPU[:ENGINE[:VERSION]]: aiconfigurator-core's tables for that GPU (every engine measured
    there when no ENGINE is named); a GPU's own results still win."""
    from ..estimate.calibrated import use_results, use_results_from_env
    if getattr(a, "results", None):
        use_results(a.results)
    else:
        use_results_from_env()
    for spec in getattr(a, "silicon", None) or []:
        _use_silicon(spec)


def _use_silicon(spec: str) -> None:
    from ..calibration.silicon import use_silicon
    from ..calibration.silicon_tables import ENGINES, SiliconError
    gpu, _, rest = str(spec).partition(":")
    engine, _, version = rest.partition(":")
    if engine:
        use_silicon(gpu, engine=engine, version=version or None)
        return
    found = []
    for name in ENGINES:
        try:
            found.append(use_silicon(gpu, engine=name))
        except SiliconError as e:
            if "extra" in str(e):
                raise
    if not found:
        raise SiliconError(f"--silicon {spec}: no engine has tables for {gpu!r}")


# ---- the parser ----

def _scenario_commands(sub) -> None:
    p = sub.add_parser("compare", help="compare the three options for a scenario file (several: side by side)")
    p.add_argument("scenario", nargs="+", help="scenario TOML file (see examples/); several are shown side by side, "
                                                "with the inputs that differ")
    p.add_argument("--format", choices=TABLE_FORMATS, default="table",
                   help="json: the full result, machine-readable (default: table)")
    _results_option(p)
    p.set_defaults(run=cmd_compare)
    p = sub.add_parser("report", help="write a Markdown report with charts for a planning doc")
    p.add_argument("scenario", nargs="+", help="scenario TOML file; more: shown beside it (a side-by-side section)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="folder to write (created)")
    p.add_argument("--force", action="store_true", help="replace an earlier report in DIR")
    _results_option(p)
    p.set_defaults(run=cmd_report)


def _catalog_commands(sub) -> None:
    for name, run, what in (("models", cmd_models, "open-weights models"), ("gpus", cmd_gpus, "GPUs")):
        p = sub.add_parser(name, help=f"list the catalog's {what} with sources")
        p.add_argument("--format", choices=TABLE_FORMATS, default="table")
        p.set_defaults(run=run)
    p = sub.add_parser("prices", help="search hosted-API prices (genai-prices data)")
    p.add_argument("search", nargs="?", help="words that provider, model id or name must contain")
    p.add_argument("--limit", type=count, default=50, help="at most this many rows (default 50)")
    p.add_argument("--history", metavar="MODEL", help="the dated price changes genai-prices holds for MODEL")
    p.add_argument("--provider", help="with --history: the provider id (default: the model's vendor)")
    p.add_argument("--format", choices=TABLE_FORMATS, default="table")
    p.set_defaults(run=cmd_prices)
    p = sub.add_parser("calibrate", help="fit efficiencies to benchmark results and print the profile")
    p.add_argument("results", help="benchmark results JSON file")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(run=cmd_calibrate)


def _hardware(p, *, model_required: bool = False) -> None:
    p.add_argument("--model", required=model_required, default=None if model_required else "Llama-3.1-8B",
                   help="catalog model (see `planner models`)" + ("" if model_required else "; default Llama-3.1-8B"))
    p.add_argument("--gpu", default="H100 SXM", help="catalog GPU (see `planner gpus`); default 'H100 SXM'")
    p.add_argument("--format", choices=TABLE_FORMATS, default="table")
    _results_option(p)


def _results_option(p) -> None:
    p.add_argument("--results", metavar="PATH", default=None,
                   help="benchmark results file or folder to calibrate from "
                        "(default: $PLANNER_RESULTS if set, else no calibration: literature efficiencies)")
    p.add_argument("--silicon", metavar="GPU[:ENGINE[:VERSION]]", action="append", default=None,
                   help="calibrate GPU from NVIDIA aiconfigurator-core's measured kernel tables (needs the "
                        "'silicon' extra); ENGINE vllm, sglang or tensorrt-llm (default: each measured); repeatable")


def _estimate_commands(sub) -> None:
    est = sub.add_parser("estimate", help="one-off estimates without a scenario file").add_subparsers(
        dest="what", required=True, metavar="{pretrain,scaling,finetune,serve,throughput,speed}")
    p = est.add_parser("pretrain", help="pretraining compute, time and cost")
    _hardware(p, model_required=True)
    p.add_argument("--tokens", type=float, help="training tokens (default: 20 per parameter, Chinchilla)")
    p.add_argument("--n-gpus", type=count, help="cluster size (default: fewest finishing in 90 days)")
    p.add_argument("--seq-len", type=count)
    p.add_argument("--researchers", type=float, help="staff on the project (with --months)")
    p.add_argument("--months", type=float, help="how long the staff is needed")
    p.add_argument("--prep-months", type=float)
    _layout_options(p)
    p.set_defaults(run=cmd_pretrain)
    p = est.add_parser("scaling", help="pretraining GPU-hours, days and MFU against the number of GPUs")
    _hardware(p, model_required=True)
    p.add_argument("--tokens", type=float, help="training tokens (default: 20 per parameter, Chinchilla)")
    p.add_argument("--seq-len", type=count)
    p.add_argument("--gpus", help="comma-separated GPU counts (default: powers of two from the fewest that fit)")
    p.add_argument("--fp8", action="store_true", help="GEMMs in fp8 (Transformer Engine style)")
    p.set_defaults(run=cmd_scaling)
    p = est.add_parser("finetune", help="fine-tuning compute, time and cost")
    _hardware(p)
    p.add_argument("--method", choices=("full", "lora", "qlora"))
    p.add_argument("--tokens", type=float, required=True, help="training tokens per epoch")
    for flag, kind in (("--epochs", float), ("--n-gpus", count), ("--seq-len", count), ("--lora-rank", count),
                       ("--example-tokens", float)):
        p.add_argument(flag, type=kind)
    add_finetune_knobs(p, count)
    p.add_argument("--no-packing", dest="packing", action="store_false", default=None,
                   help="one example per sequence, padded to --seq-len (with --example-tokens real tokens)")
    p.add_argument("--optimizer", choices=("adamw", "adamw-bf16", "adamw-8bit", "paged-adamw-8bit", "sgd"))
    p.add_argument("--offload", choices=("none", "optimizer", "params"))
    p.add_argument("--framework", choices=("eager", "compiled"))
    p.add_argument("--layout", help='a training layout, e.g. "tp=2,dp=4,zero=3,mb=2,recompute=full" (default: searched)')
    p.set_defaults(run=cmd_finetune)
    p = est.add_parser("serve", help="replicas, batch, latency and cost to serve a workload")
    _hardware(p)
    _engine_options(p)
    p.add_argument("--precision", help="bf16, fp16, fp8, int8 (W8A8), int8-weight-only, int4-weight-only; "
                                       "a comma-separated list or 'auto' to search (default bf16)")
    for flag in ("--requests-per-day", "--input-tokens", "--output-tokens"):
        p.add_argument(flag, type=float, required=True)
    for flag in ("--prompt-overhead-tokens", "--reasoning-tokens", "--peak-to-mean", "--ttft-target-s", "--tpot-target-s",
                 "--utilization-ceiling", "--usd-per-gpu-hour", "--length-sigma"):
        p.add_argument(flag, type=float)
    p.add_argument("--min-replicas", type=count)
    p.add_argument("--latency-percentile", choices=("p50", "p90", "p99"),
                   help="the percentile of TTFT and TPOT that must meet the targets at the peak (default p90)")
    p.add_argument("--chunked-prefill", choices=("on", "off"), help="override the engine's chunked prefill")
    p.add_argument("--frontier", nargs="?", const="best", choices=("best", "all"),
                   help="also print the configurations searched (best: each one's largest batch; all: every batch)")
    p.set_defaults(run=cmd_serve)
    p = est.add_parser("throughput", help="output tokens/s of one replica under unlimited load (benchmark-style)")
    _hardware(p)
    _engine_options(p)
    p.add_argument("--precision", help="bf16, fp16, fp8, int8, int8-weight-only, int4-weight-only (default bf16)")
    p.add_argument("--prompt-tokens", type=float, help="default 512")
    p.add_argument("--output-tokens", type=float, help="default 256")
    p.set_defaults(run=cmd_throughput)
    speed_command(est, _hardware)


def _engine_options(p) -> None:
    p.add_argument("--engine", help="vllm, tensorrt-llm, sglang, torch-compile, roofline (default vllm)")
    p.add_argument("--kv-cache-dtype", help="bf16, fp8, int8 (default: the engine's default at the precision)")
    p.add_argument("--tensor-parallel", type=count, help="GPUs per replica (default: searched, 1-8)")
    p.add_argument("--max-batch-size", type=count, help="cap on running sequences (default: the engine's)")
    p.add_argument("--attention-dp", action=argparse.BooleanOptionalAction, help=ATTENTION_DP_HELP)


@functools.cache  # argparse takes ~15 ms to build; one parser serves every call in a process
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="planner", description="Build-vs-buy cost and capacity planner for foundation models.")
    parser.add_argument("--version", action="version", version=f"planner {__version__}")
    parser.add_argument("--debug", action="store_true", help="print the traceback of an error (any position)")
    parser.add_argument("--gpu-file", metavar="PATH", action="append",
                        help="a custom GPU spec (TOML or JSON, the catalog's fields; any position, repeatable): "
                             "--gpu NAME and scenarios can then name it")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _scenario_commands(sub)
    uncertainty_commands(sub)
    _catalog_commands(sub)
    _estimate_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 input error, 2 usage error, 3 bug)."""
    argv, debug = split_debug(argv)
    try:
        argv, gpu_files = split_gpu_files(argv)
        args = build_parser().parse_args(argv)
    except SystemExit as e:  # --help, --version, usage errors
        return e.code if isinstance(e.code, int) else 0 if e.code is None else USAGE
    except Exception as e:  # noqa: BLE001 - e.g. argv that is not text: one line, never a traceback
        return fail(e, debug)
    try:
        for path in gpu_files:
            from ..catalog.custom_gpu import register_gpu_file
            register_gpu_file(path)
        if args.command != "calibrate":
            _use_results(args)
        return args.run(args)
    except BrokenPipeError:  # `planner models | head`: the reader left; not an error worth a line
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as e:  # noqa: BLE001 - every error is one line; --debug shows the traceback
        return fail(e, debug)


if __name__ == "__main__":
    sys.exit(main())
