"""`planner uncertainty | sensitivity | frontier`: how sure the recommendation is, from the command line.

Like cli.py, this only parses and formats: the numbers are monte_carlo(), tornado()
and frontier()'s, and `--format json` prints the result's to_dict() unchanged.
"""
from __future__ import annotations

import pandas as pd

from ..core.errors import PlannerError
from . import formatting as fmt
from . import uncertainty_text as ut
from . import labels
from .cli_common import count
from .cli_common import out as _out

TABLE_FORMATS = ("table", "markdown", "csv", "json")


def _load(path: str):
    from ..decide.scenario import load_scenario
    return load_scenario(path)


def _run(path: str, fn, *args, **kwargs):
    """fn(scenario, ...) with the file's name in front of any planner error."""
    s = _load(path)
    try:
        return s, fn(s, *args, **kwargs)
    except PlannerError as e:
        raise PlannerError(f"{path}: {e}") from None


def _heads(a):
    md = a.format == "markdown"
    table = fmt.markdown_table if md else fmt.text_table
    head = (lambda t: f"## {t}") if md else (lambda t: f"{t}\n{'=' * len(t)}")
    return table, head


def tornado_dict(df: pd.DataFrame) -> dict:
    """tornado()'s frame and attrs as plain data: the JSON of `planner sensitivity`."""
    rows = df.reset_index().to_dict(orient="records")
    return {**df.attrs, "inputs": [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in rows]}


def cmd_uncertainty(a) -> int:
    from ..uncertainty.montecarlo import monte_carlo
    kwargs = {k: v for k, v in (("n", a.samples), ("seed", a.seed)) if v is not None}  # defaults: the API's
    s, mc = _run(a.scenario, monte_carlo, **kwargs, physics=not a.fixed_estimates)
    if a.format == "json":
        _out(fmt.dumps_json(mc.to_dict()))
        return 0
    if a.format == "csv":  # full precision, one row per option
        _out(mc.summary_frame().to_csv().rstrip("\n"))
        return 0
    table, head = _heads(a)
    cheapest = ", ".join(f"{labels.SHORT[k]} {fmt.percent(p)}" for k, p in mc.prob_cheapest.items())
    parts = [head(f"{mc.scenario}: {mc.n:,} samples, seed {mc.seed}, {mc.horizon_months} months"),
             table(ut.monte_carlo_frame(mc)),
             f"Probability each option is cheapest: {cheapest}.",
             f"Break-even: the month the cumulative costs cross those of {labels.SHORT[mc.reference]} "
             "(lowest median total), p50 [p10-p90] over the samples that cross.",
             head("Uncertain inputs"), ut.uncertain_inputs_caption(mc), table(ut.uncertain_inputs_frame(mc))]
    _out("\n\n".join(parts))
    return 0


def cmd_sensitivity(a) -> int:
    from ..uncertainty.sensitivity import tornado
    _, df = _run(a.scenario, tornado, a.input or None)
    if a.format == "json":
        _out(fmt.dumps_json(tornado_dict(df)))
        return 0
    if a.format == "csv":
        _out(df.to_csv().rstrip("\n"))
        return 0
    table, head = _heads(a)
    _out("\n\n".join([head("Sensitivity: which inputs decide the recommendation"), table(ut.tornado_frame(df)),
                      ut.tornado_caption(df)]))
    return 0


def cmd_frontier(a) -> int:
    from ..uncertainty.sensitivity import frontier
    axes = {k: v for k, v in (("x", a.x), ("y", a.y)) if v is not None}  # defaults: the API's
    _, f = _run(a.scenario, frontier, **axes)
    if a.format == "json":
        _out(fmt.dumps_json(f.to_dict()))
        return 0
    if a.format == "csv":  # one row per grid point: both inputs, every option's total, the winner
        _out(f.long_frame().to_csv(index=False).rstrip("\n"))
        return 0
    _, head = _heads(a)
    grid = ut.frontier_map(f)
    grid = f"```\n{grid}\n```" if a.format == "markdown" else grid
    _out("\n\n".join([head("Cheapest option over two inputs"), grid]))
    return 0


def add_commands(sub) -> None:
    """The three subcommands, on cli.py's subparsers."""
    p = sub.add_parser("uncertainty", help="Monte Carlo: cost percentiles, P(cheapest) and break-even months")
    p.add_argument("scenario", help="scenario TOML file; its [uncertainty] table and seed are used")
    p.add_argument("--samples", type=count, help="number of samples (default: the API's, 100,000; at most 10 million)")
    p.add_argument("--seed", type=count, help="random seed (default: the scenario's `seed`)")
    p.add_argument("--fixed-estimates", action="store_true",
                   help="read the pretraining run's time off a table of the step-time model instead of re-running it "
                        "per sample (monte_carlo(physics=False): about 2x faster, within 5e-4)")
    p.add_argument("--format", choices=TABLE_FORMATS, default="table",
                   help="json: the full result, machine-readable (default: table)")
    p.set_defaults(run=cmd_uncertainty)
    p = sub.add_parser("sensitivity", help="tornado: the cost gap as each uncertain input moves from P10 to P90")
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument("--input", action="append", metavar="PATH",
                   help="an input path such as workload.requests_per_day (repeat; default: every uncertain input)")
    p.add_argument("--format", choices=TABLE_FORMATS, default="table")
    p.set_defaults(run=cmd_sensitivity)
    p = sub.add_parser("frontier", help="which option is cheapest over a grid of two inputs")
    p.add_argument("scenario", help="scenario TOML file")
    p.add_argument("--x", metavar="PATH", help="input along x (default workload.requests_per_day)")
    p.add_argument("--y", metavar="PATH", help="input along y (default self_host.usd_per_gpu_hour)")
    p.add_argument("--format", choices=TABLE_FORMATS, default="table",
                   help="csv: one row per grid point; json: the full grid")
    p.set_defaults(run=cmd_frontier)
