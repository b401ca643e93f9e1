"""Formatting at the edges: money, counts, Bands and tables for the CLI, the report and the dashboard.

Numbers are computed elsewhere in SI units; this module only turns them into text.
Money keeps three significant figures ($12.3k, $4.56M): enough for a planning doc,
and the exact values stay in `planner compare --format json`.
"""
from __future__ import annotations

import json
import math
import re

import pandas as pd

from ..core.band import Band
from ..core.units import NA, finite, percent, scaled, three_figures, usd  # noqa: F401  (usd, NA, percent: re-exported)
from .labels import LETTERS, ONE_TIME_SCOPE, SCOPE_FINETUNE, SCOPE_PROGRAMME, SCOPE_RUN, SCOPE_RUN_STAFF, SHORT  # noqa: F401
from .markdown import fenced, md_cell, md_inline, md_quote  # noqa: F401  (re-exported for callers)

_COUNT_UNITS = (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3))


def count(x) -> str:
    """A large count with a suffix: 15.0T, 8.03B, 540k; small numbers with three figures."""
    if not finite(x):
        return NA
    if x == 0:
        return "0"
    if abs(x) < 1:
        return f"{x:.3g}"
    m, suffix = scaled(float(x), _COUNT_UNITS)
    return f"{three_figures(m)}{suffix}"


def number(x, spec: str = ".3g") -> str:
    return format(float(x), spec) if finite(x) else NA


def amount(x) -> str:
    """A physical amount: three figures below 1,000 (0.512, 16.2), whole and grouped above (1,145); n/a if unknown."""
    if not finite(x):
        return NA
    return f"{x:,.0f}" if abs(float(f"{x:.3g}")) >= 1000 else f"{x:.3g}"


def integer(x) -> str:
    return f"{int(x):,}" if finite(x) else NA


def ms(seconds) -> str:
    """A duration in ms below a second, in s above (1.5 s, not 1.5e+03 ms)."""
    if not finite(seconds):
        return NA
    return f"{seconds:.3g} s" if abs(seconds) >= 1 else f"{seconds * 1e3:.3g} ms"


def band(b: Band, fmt=number, unit: str = "") -> str:
    """p50 [p10-p90] unit; a certain value (p10 == p90) prints once."""
    tail = f" {unit}" if unit else ""
    if b.p10 == b.p90:
        return f"{fmt(b.p50)}{tail}"
    return f"{fmt(b.p50)} [{fmt(b.p10)}-{fmt(b.p90)}]{tail}"


def value(v) -> str:
    """Any assumption value: Bands, numbers, None, text."""
    if isinstance(v, Band):
        return band(v)
    if isinstance(v, bool) or v is None:
        return str(v).lower() if isinstance(v, bool) else "none"
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10_000 else str(v)
    if isinstance(v, float):
        if finite(v) and v == int(v) and abs(v) < 1e15:
            return value(int(v))
        return number(v, ".4g")
    return str(v)


def _target(v: Band, target) -> str:
    if target is None:
        return f"{band(v, ms)} (no target)"
    return f"{band(v, ms)} ({'meets' if v.p50 <= target else 'misses'} {ms(target)} at p50)"


def _at_load(plan) -> list[tuple[str, str]]:
    lat, q = plan.load_latency, plan.latency_percentile
    if lat is None:
        return []
    return [(f"TTFT at the peak (p50 / p90 / p99, {number(lat.requests_per_s)} req/s per replica)",
             " / ".join(ms(lat.ttft_s[k]) for k in ("p50", "p90", "p99"))),
            ("TPOT at the peak (p50 / p90 / p99)", " / ".join(ms(lat.tpot_s[k]) for k in ("p50", "p90", "p99"))),
            ("Sized for", f"{q} latency within the targets: {number(plan.max_requests_per_s_per_replica)} req/s per "
                          f"replica ({plan.utilization_ceiling:.0%} of capacity)")]


def serving_rows(plan) -> list[tuple[str, str]]:
    """(quantity, text) for a ServingPlan: configuration, capacity, latency against the targets, cost."""
    w = plan.workload
    return [("Model / GPU / precision", f"{plan.model} / {plan.gpu} / {plan.precision}"),
            ("Engine / KV cache", f"{plan.engine} / {plan.kv_cache_dtype} "
                                  f"(chunked prefill {'on' if plan.chunked_prefill else 'off'})"),
            ("GPUs per replica (parallelism)", f"{plan.tensor_parallel} ({plan.parallelism})"),
            ("Batch (sequences per replica)", f"{plan.batch_size} (KV cache fits {plan.max_batch_kv}; "
                                              f"limited by {plan.limited_by})"),
            ("Requests/s per replica (capacity)", band(plan.requests_per_s_per_replica)),
            ("Replicas (month-0 peak)", band(plan.replicas)), ("GPUs", band(plan.gpus)),
            ("TTFT, no queueing", _target(plan.ttft_s, w.ttft_target_s)),
            ("TPOT, no queueing", _target(plan.tpot_s, w.tpot_target_s)), *_at_load(plan),
            ("End-to-end per request", band(plan.e2e_s, ms)),
            ("Mean utilization", band(plan.mean_utilization, lambda x: f"{x:.0%}")),
            ("Monthly GPU cost (month 0)", band(plan.monthly_cost_usd, usd)),
            ("$ per 1M tokens", band(plan.usd_per_million_tokens, usd)),
            ("$ per 1k requests", band(plan.usd_per_request * 1000, usd)),
            ("Efficiencies", plan.efficiency_source)]


FRONTIER_COLUMNS = {"precision": "Precision", "tensor_parallel": "TP", "attention_dp": "DP attention", "batch": "Batch",
                    "tokens_per_s_per_gpu": "Output tok/s per GPU", "ttft_s": "TTFT", "tpot_s": "TPOT",
                    "usd_per_million_tokens": "$/Mtok at full load", "meets_targets": "Meets targets",
                    "max_requests_per_s": "Req/s per replica (simulated)", "monthly_cost_usd": "Monthly cost",
                    "chosen": "Chosen"}


def frontier_frame(plan, *, all_rows: bool = False) -> pd.DataFrame:
    """The searched configurations as text: by default each candidate's largest batch meeting the
    targets (the rows a decision compares); `all_rows`: every batch of the frontier too."""
    df = plan.frontier_frame()
    if df.empty:
        return pd.DataFrame(columns=list(FRONTIER_COLUMNS.values()))
    if not all_rows:
        met = df[df["meets_targets"]]
        df = met[met["batch"] == met.groupby(["precision", "tensor_parallel", "attention_dp"])["batch"].transform("max")]
    out = pd.DataFrame({
        "Precision": df["precision"], "TP": df["tensor_parallel"],
        "DP attention": df["attention_dp"].map(lambda b: "yes" if b else "no"), "Batch": df["batch"],
        "Output tok/s per GPU": df["tokens_per_s_per_gpu"].map(lambda x: number(x, ",.0f")),
        "TTFT": df["ttft_s"].map(ms), "TPOT": df["tpot_s"].map(ms),
        "$/Mtok at full load": df["usd_per_million_tokens"].map(lambda x: f"${x:.3g}"),
        "Meets targets": df["meets_targets"].map(lambda b: "yes" if b else "no"),
        "Req/s per replica (simulated)": df["max_requests_per_s"].map(lambda x: number(x) if finite(x) else "-"),
        "Monthly cost": df["monthly_cost_usd"].map(lambda x: usd(x) if finite(x) else "-"),
        "Chosen": df["chosen"].map(lambda b: "<-" if b else "")})
    return out.reset_index(drop=True)


def throughput_rows(t) -> list[tuple[str, str]]:
    """(quantity, text) for a Throughput (max_throughput)."""
    return [("Model / GPU / precision", f"{t.model} / {t.gpu} / {t.precision}"),
            ("Engine / KV cache", f"{t.engine} / {t.kv_cache_dtype}"),
            ("GPUs per replica (tensor parallel)", str(t.tensor_parallel)),
            ("Prompt / output tokens", f"{t.prompt_tokens:g} / {t.output_tokens:g}"),
            ("Output tokens/s (replica)", band(t.tokens_per_s, lambda x: number(x, ",.0f"))),
            ("Output tokens/s per GPU", band(t.tokens_per_s_per_gpu, lambda x: number(x, ",.0f"))),
            ("Requests/s", band(t.requests_per_s)), ("Step time (TPOT)", band(t.tpot_s, ms)),
            ("Batch (sequences decoding)", f"{t.batch_size:,.0f} (cap {t.batch_cap}, KV cache fits {t.max_batch_kv}; "
                                           f"limited by {t.limited_by})"),
            ("Efficiencies", t.efficiency_source)]


def pretraining_rows(p, programme=None) -> list[tuple[str, str]]:
    """(quantity, text) for a PretrainingEstimate; each cost labelled with what it counts (its scope).

    `programme`: the scratch option's ScratchCosts, in a comparison. Then the run's hours, days and compute
    are the programme's (sourcing applied), and the whole programme's cost and months replace the run's
    staff and calendar, so the figures are the Options card's."""
    rows = [("Model / GPU", f"{p.model} / {p.gpu}"), ("GPUs (fewest that fit)", f"{p.n_gpus:,} ({p.min_gpus:,})"),
            ("Layout", p.layout.describe()), ("Global batch", f"{count(p.global_batch_tokens)} tokens"),
            ("Training tokens", count(p.tokens)), ("Training compute", f"{p.training_flops:.3g} FLOP"),
            ("Predicted MFU", band(p.mfu, lambda x: f"{x:.0%}"))]
    rows[3:3] = [("Recipe (given)", a.value) for a in p.assumptions if a.name == "recipe" and a.source.startswith("given")]
    if programme is not None:
        sc = programme
        return rows + [
            ("GPU-hours, final run", band(sc.run_gpu_hours, count)), ("Wall-clock, final run", band(sc.wall_days, unit="days")),
            (f"Pretraining cost ({SCOPE_RUN})", band(sc.run_gpu_hours * sc.rate.usd_per_gpu_hour, usd)),
            (f"Pretraining cost ({SCOPE_PROGRAMME})", band(sc.one_time_usd, usd)),
            ("Months to production (whole programme)", band(sc.months_to_production, unit="months")),
            ("Efficiencies", p.efficiency_source)]
    staff = p.staff_cost_usd
    return rows + [
        ("GPU-hours, final run", band(p.gpu_hours, count)), ("Wall-clock, final run", band(p.wall_days, unit="days")),
        (f"Pretraining cost ({SCOPE_RUN})", band(p.cost_usd, usd)),
        ("Research staff", usd(staff) if staff else "not counted (give researchers and months)"),
        *([(f"Pretraining cost ({SCOPE_RUN_STAFF})", band(p.total_cost_usd, usd))] if staff else []),
        ("Calendar: preparation + final run", band(p.calendar_months, unit="months")),
        (f"Pretraining cost ({SCOPE_PROGRAMME})", "not estimated here: `planner compare` costs it for the scratch option"),
        ("Efficiencies", p.efficiency_source)]


def memory_rows(mem) -> list[tuple[str, str]]:
    """(component, GB per GPU) of a MemoryBreakdown, with the total against what the GPU offers."""
    rows = [(k, f"{v / 1e9:.1f} GB") for k, v in mem.components().items()]
    return rows + [("allocated (tensors)", f"{mem.allocated / 1e9:.1f} GB"),
                   ("reserved (+ allocator)", f"{mem.reserved / 1e9:.1f} GB"),
                   ("total on the device", f"{mem.total / 1e9:.1f} GB of {mem.usable / 1e9:.1f} GB usable")]


def step_rows(step) -> list[tuple[str, str]]:
    """(where the time goes, seconds and share) of a StepBreakdown; zero components left out."""
    total = step.total_s
    return [(k, f"{ms(v)} ({v / total:.0%})") for k, v in step.components().items() if v > 0] + [("step", ms(total))]


def memory_text(mem) -> str:
    """A training MemoryBreakdown per GPU: central GiB, its band, the card's GiB, and how tight it is."""
    b, gib = mem.band, 2**30
    text = f"{b.p50 / gib:.3g} GiB [{b.p10 / gib:.3g}-{b.p90 / gib:.3g}] of {mem.capacity / gib:.3g} GiB"
    return text + (f"; {mem.fit_note()}" if mem.fit_note() else "")


def finetuning_rows(f, time_factor: float = 1.0) -> list[tuple[str, str]]:
    """(quantity, text) for a FinetuningEstimate. `time_factor`: the sourcing's hours factor (spot interruptions),
    in a comparison, so the compute cost is the one the self-host option's one-time cost holds."""
    return [("Model / GPU / method", f"{f.model} / {f.gpu} / {f.method}"),
            ("GPUs (fewest that fit)", f"{f.n_gpus} ({f.min_gpus})"), ("Layout", f.layout.describe()),
            ("Predicted MFU", band(f.mfu, lambda x: f"{x:.0%}")),
            ("Tokens x epochs", f"{count(f.tokens)} x {f.epochs:g}"), ("Trainable parameters", count(f.trainable_params)),
            ("Memory per GPU", memory_text(f.memory)),
            ("GPU-hours", band(f.gpu_hours * time_factor)), ("Wall-clock", band(f.wall_days * time_factor, unit="days")),
            (f"Fine-tuning cost ({SCOPE_FINETUNE})", band(f.cost_usd * time_factor, usd)),
            ("Efficiencies", f.efficiency_source)]


# The comparison table: Comparison.table() column -> (header, formatter). The report,
# the CLI and the tests all go through this one mapping.
COMPARISON_COLUMNS = {
    "one_time_usd": ("One-time", usd),
    "monthly_usd_first": ("Monthly, first", usd),
    "monthly_usd_last": ("Monthly, last", usd),
    "total_usd": ("Total (p50)", usd),
    "total_usd_p10": ("Total p10", usd),
    "total_usd_p90": ("Total p90", usd),
    "usd_per_request": ("Running $/1k req", lambda x: usd(x * 1000)),
    "all_in_usd_per_request": ("All-in $/1k req", lambda x: usd(x * 1000)),
    "gpus": ("GPUs", integer),
    "months_to_production": ("Months to production", lambda x: number(x, ".1f")),
    "energy_mwh": ("Energy MWh", lambda x: amount(x)),
    "co2e_t": ("tCO2e", lambda x: amount(x)),
}


def comparison_frame(table: pd.DataFrame) -> pd.DataFrame:
    """Comparison.table() as text: one row per option, unavailable options as n/a."""
    rows = []
    for option, r in table.iterrows():
        cells = {"Option": option}
        for col, (header, fmt) in COMPARISON_COLUMNS.items():
            cells[header] = fmt(r[col]) if r["available"] else NA
        rows.append(cells)
    return pd.DataFrame(rows, columns=["Option", *(h for h, _ in COMPARISON_COLUMNS.values())])


# ---- tables as text ----

def _numeric(cells) -> bool:
    """Every cell a number, an amount of money or n/a: right-align the column."""
    return all(re.match(r"^-?\$?[\d.]", str(c)) or str(c) == NA for c in cells)


def markdown_table(df: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table; numeric columns right-aligned."""
    cols = [str(c) for c in df.columns]
    align = ["--:" if i and _numeric(df.iloc[:, i]) else "---" for i in range(len(cols))]
    lines = ["| " + " | ".join(md_cell(c) for c in cols) + " |", "|" + "|".join(align) + "|"]
    for row in df.itertuples(index=False):
        lines.append("| " + " | ".join(md_cell(v) for v in row) + " |")
    return "\n".join(lines)


def text_table(df: pd.DataFrame) -> str:
    """Columns aligned with spaces for a terminal: numbers right, text left."""
    cols = [str(c) for c in df.columns]
    rows = [[str(v) for v in r] for r in df.itertuples(index=False)]
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(cols)]
    right = [i > 0 and _numeric(df.iloc[:, i]) for i in range(len(cols))]

    def line(cells):
        return "  ".join(c.rjust(w) if r else c.ljust(w) for c, w, r in zip(cells, widths, right)).rstrip()
    return "\n".join([line(cols), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def render(df: pd.DataFrame, fmt: str) -> str:
    """table | markdown | csv | json for a frame of records."""
    if fmt == "markdown":
        return markdown_table(df)
    if fmt == "csv":
        return df.to_csv(index=False).rstrip("\n")
    if fmt == "json":
        return dumps_json(df.to_dict(orient="records"))
    return text_table(df)


def _no_nan(obj):
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _no_nan(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_no_nan(v) for v in obj]
    return obj


def dumps_json(obj) -> str:
    """Stable JSON: sorted keys, NaN as null, never the non-standard NaN/Infinity tokens."""
    return json.dumps(_no_nan(obj), sort_keys=True, indent=2, allow_nan=False, ensure_ascii=False)


# ---- uncertainty and sensitivity (MonteCarloResult, tornado, frontier) as text ----



def quantity(x) -> str:
    """An input value: 0.687, 2.25, 300k (three figures, a suffix from 1,000 up)."""
    return count(x) if finite(x) and abs(x) >= 1000 else number(x)


def months(b: Band | None) -> str:
    return "never" if b is None else band(b, lambda x: number(x, ".1f"))
