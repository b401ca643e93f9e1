"""A Markdown report of one comparison, for pasting into a planning doc.

`report_markdown` is pure (no file I/O) so the dashboard can offer the same text
for download; `write_report` adds the chart images and writes the folder atomically.
Every number comes from the Comparison; every input is listed with its source.
"""
from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from ..catalog import lookup as catalog
from ..catalog.api_prices import price_data_info
from ..core.errors import PlannerError
from ..decide.compare import Comparison, compare
from ..decide.options import OPTIONS
from ..core import files, validate as V
from ..decide.scenario import Scenario, as_scenario, dumps_scenario
from ..decide.scratch import scratch_model
from ..uncertainty.risk import HEADLINE_SAMPLES, risk_aware
from . import formatting as fmt, labels, models_text as mt, uncertainty_text as ut
from .shortlist_text import self_hosted_phrase, shortlist_markdown
from .report_costs import hardware_section, scratch_section
from .report_side_by_side import others as sbs_others, section as sbs_section

REPORT_MD = "report.md"
SCENARIO_COPY = "scenario.toml"
CHART_FILES = {"cumulative_cost": "cumulative_cost.png", "cost_vs_traffic": "cost_vs_traffic.png",
               "training_memory": "training_memory.png", "training_scaling": "training_scaling.png",
               "tornado": "tornado.png", "frontier": "frontier.png"}
COMPARISON_CHARTS = ("cumulative_cost", "cost_vs_traffic")  # under "Charts"; the others under "How sure..."
REPORT_SAMPLES = HEADLINE_SAMPLES  # one Monte Carlo answers the headline and "How sure": the dashboard's at its default
FRONTIER_AXES = ("workload.requests_per_day", "self_host.usd_per_gpu_hour")  # traffic x GPU price
# What a report folder holds; --force replaces a folder holding nothing else.
REPORT_FILES = frozenset({REPORT_MD, SCENARIO_COPY, *CHART_FILES.values()})


def _question(c: Comparison, s: Scenario) -> str:
    w, h = s.workload, s.self_host
    scratch = f"(c) pretraining {scratch_model(s)} from scratch on {s.scratch.gpu}" if s.scratch.enabled \
        else "(c) training from scratch (disabled in this scenario)"
    targets = ", ".join(f"{k} {fmt.ms(v)}" for k, v in (("TTFT", w.ttft_target_s), ("TPOT", w.tpot_target_s)) if v)
    text = (f"Over {w.horizon_months} months, serving {fmt.count(w.requests_per_day)} requests/day in month 0 "
            f"(growing {w.monthly_growth:.0%} a month; {fmt.count(w.prompt_tokens)} prompt tokens of which "
            f"{fmt.count(w.prompt_overhead_tokens)} fixed prompt, {fmt.count(w.output_tokens)} output tokens"
            f"{f' and {fmt.count(w.reasoning_tokens)} reasoning tokens' if w.reasoning_tokens else ''}; peak "
            f"{w.peak_to_mean:g}x the mean{'; targets ' + targets if targets else ''}): is it cheaper to use (a) the "
            f"hosted API {s.api.model}, (b) open weights {self_hosted_phrase(c, h)}, or {scratch}?")
    return fmt.md_inline(text)  # names are the user's (an uploaded config's _name_or_path included)


def _recommendation(c: Comparison, r) -> str:
    """The risk-aware headline `r` (uncertainty/risk.py), the like-for-like and floor notes, then the reasons."""
    match = [f"**{fmt.md_inline(x)}**" for x in (mt.like_for_like_line(c), mt.floor_line(c)) if x]
    return "\n".join([f"**{fmt.md_inline(r.headline)}**", "", *match, *([""] if match else []),
                      *(f"- {fmt.md_inline(x)}" for x in r.reasons)])


def _options(c: Comparison) -> str:
    lines = [fmt.markdown_table(fmt.comparison_frame(c.table())), ""]
    for o in c.options.values():
        text = o.detail if o.available else f"not available: {o.reason_unavailable}"
        lines.append(f"- **{o.label}**: {fmt.md_inline(text)}")
    lines += ["", fmt.md_inline(fmt.ONE_TIME_SCOPE), "", "Totals are over the horizon; p10-p90 comes from the efficiency bands (and, for training from scratch, the bands of its programme costs). "
              "'Running' is the cost per request without one-time costs; 'all-in' includes them."]
    return "\n".join(lines)


def _break_evens(c: Comparison) -> str:
    if not c.break_evens:
        return "Fewer than two options are available: no break-even."
    rows = []
    for be in c.break_evens:
        a, b = c.options[be.a].label, c.options[be.b].label
        rows.append({"Options": f"{a} vs {b}",
                     "Equal total at (requests/day)": ", ".join(fmt.count(t) for t in be.requests_per_day) or "never",
                     "Cheaper at low traffic": c.options[be.cheaper_below].label,
                     "Cumulative costs cross": f"month {be.crossing_month:.1f}" if be.crossing_month is not None
                     else "not within the horizon"})
    return fmt.markdown_table(pd.DataFrame(rows))


_CAPTIONS = {"cumulative_cost": "Cumulative cost (p50) by month, each one-time cost counted in the months it is paid "
                                "(the programme's phases, the fine-tune, the setup); dots mark where two options cross.",
             "cost_vs_traffic": "Total cost over the horizon against traffic (log-log); dots mark break-evens, "
                                "the dashed line this scenario's traffic.",
             "tornado": "The cost gap between the two cheapest options as each input moves from its P10 to its P90.",
             "frontier": f"Cheapest option over {FRONTIER_AXES[0]} x {FRONTIER_AXES[1]}, every other input at its "
                         "P50; the star marks this scenario.",
             "training_memory": "Memory per GPU of the training run by component, against what the GPU offers.",
             "training_scaling": "Pretraining GPU-hours (p50, p10-p90 shaded) and wall-clock days against the "
                                 "number of GPUs, each count laid out afresh."}


def _images(chart_files: dict[str, str] | None, names) -> list[str]:
    return [f"![{_CAPTIONS.get(k, k)}]({v})\n\n_{_CAPTIONS.get(k, k)}_"
            for k, v in (chart_files or {}).items() if k in names]


def _charts(c: Comparison, chart_files: dict[str, str] | None) -> str:
    return "\n\n".join(_images(chart_files, COMPARISON_CHARTS)) or \
        "_Charts are written next to the report by `planner report`._"


def _sampled(c: Comparison, s: Scenario, samples: int):
    """The report's one Monte Carlo (headline and "How sure"), or None and why not."""
    from ..uncertainty.montecarlo import monte_carlo
    try:
        return monte_carlo(s, n=samples, comparison=c), ""
    except PlannerError as e:
        return None, str(e)


def _confidence(c: Comparison, s: Scenario, chart_files: dict[str, str] | None, mc, why_not: str) -> str:
    """Monte Carlo summary, P(cheapest), what moves the answer (tornado, frontier) and the uncertain inputs."""
    from ..uncertainty.sensitivity import tornado
    if mc is None:
        return f"Not available for this scenario: {why_not}"
    try:
        swing = tornado(s, comparison=c)
    except PlannerError as e:
        return f"Not available for this scenario: {e}"
    name = labels.SHORT
    best = max(mc.prob_cheapest, key=mc.prob_cheapest.get)
    others = "; ".join(f"{name[k]} in {fmt.percent(p)}" for k, p in mc.prob_cheapest.items() if k != best)
    lines = [f"Monte Carlo over {mc.n:,} samples (seed {mc.seed}), the run behind the recommendation's odds: each "
             "input below is drawn from its distribution and every option is costed per sample. "
             + fmt.md_inline(ut.uncertain_inputs_caption(mc)),
             fmt.markdown_table(ut.monte_carlo_frame(mc)),
             f"**{OPTIONS[best]} is the cheapest in {fmt.percent(mc.prob_cheapest[best])} of samples**"
             + (f"; {others}." if others else "."),
             f"'Costs cross': the month the option's cumulative cost crosses {name[mc.reference]}'s (the lowest "
             "median total), p50 [p10-p90] over the samples where they cross within the horizon.",
             "### What moves the answer", fmt.markdown_table(ut.tornado_frame(swing)), ut.tornado_caption(swing),
             *_images(chart_files, ("tornado", "frontier")),
             "### Uncertain inputs", fmt.markdown_table(ut.uncertain_inputs_frame(mc)),
             f"Reproduce: `planner uncertainty scenario.toml --samples {mc.n} --seed {mc.seed}`, "
             "`planner sensitivity scenario.toml`, `planner frontier scenario.toml`."]
    return "\n\n".join(lines)


def _serving(plan, title: str) -> str:
    table = pd.DataFrame(fmt.serving_rows(plan), columns=["Quantity", "p50 [p10-p90]"])
    batches = pd.DataFrame([{"Batch": r.batch, "TTFT": fmt.ms(r.ttft_s), "TPOT": fmt.ms(r.tpot_s),
                             "Requests/s": fmt.number(r.requests_per_s), "Meets targets": "yes" if r.meets_targets else "no"}
                            for r in plan.table])
    chosen = (f"Chosen configuration: {plan.precision} weights, KV cache {plan.kv_cache_dtype}, {plan.engine}, "
              f"tensor parallel {plan.tensor_parallel}, at most {plan.batch_size} sequences per replica; replicas sized "
              f"so the {plan.latency_percentile} TTFT and TPOT meet the targets at the peak (simulated continuous "
              "batching under Poisson arrivals).")
    return "\n\n".join([f"### {title}", chosen, fmt.markdown_table(table),
                         "Configurations searched (each precision and tensor-parallel degree at its largest batch "
                         "meeting the targets; p50 rates, TTFT and TPOT without queueing):",
                         fmt.markdown_table(fmt.frontier_frame(plan)),
                         "Batch sizes of the chosen configuration (p50 efficiencies):", fmt.markdown_table(batches)])


def _capacity(c: Comparison) -> str:
    parts = [_serving(p, t) for p, t in ((c.serving_plan, "Open weights, self-hosted"),
                                         (c.scratch_serving_plan, "Own pretrained model, self-hosted")) if p]
    return "\n\n".join(parts) or "No self-hosted option is available."


def _finetune_time_factor(c: Comparison) -> float:
    r = c.rates.get("self_host_training")
    return r.time_factor if r is not None else 1.0


def _training(c: Comparison, chart_files: dict[str, str] | None = None) -> str:
    out = []
    for title, est, rows in (("Pretraining", c.pretrain, lambda e: fmt.pretraining_rows(e, c.scratch_costs)),
                             ("Fine-tuning", c.finetune, lambda e: fmt.finetuning_rows(e, _finetune_time_factor(c)))):
        if est is not None:
            out += [f"### {title}", fmt.markdown_table(pd.DataFrame(rows(est), columns=["Quantity", "p50 [p10-p90]"])),
                    f"Memory per GPU ({est.layout.describe()}):",
                    fmt.markdown_table(pd.DataFrame(fmt.memory_rows(est.memory), columns=["Component", "Per GPU"])),
                    "One optimizer step, by where the time goes (p50):",
                    fmt.markdown_table(pd.DataFrame(fmt.step_rows(est.step), columns=["Part", "Seconds"]))]
    out += _images(chart_files, ("training_memory", "training_scaling"))
    return "\n\n".join(out) or "No training in this scenario."


def _prompt_trades(c: Comparison) -> str:
    if not c.prompt_trades:
        return "No fixed prompt to drop (or no fine-tune in this scenario): no trade to weigh."
    rows = [{"Where": "self-hosted" if t.where == "self_host" else "hosted API",
             "Prompt tokens saved/request": fmt.count(t.prompt_tokens_saved),
             "Monthly saving (month 0)": fmt.usd(t.monthly_saving_usd), "Fine-tuning cost": fmt.usd(t.tuning_cost_usd),
             "Pays back in": f"{t.payback_months:.1f} months" if t.payback_months is not None else "never",
             "Note": t.note} for t in c.prompt_trades]
    return fmt.markdown_table(pd.DataFrame(rows))


def _assumptions(c: Comparison, s: Scenario) -> str:
    rows = pd.DataFrame([{"Name": a.name, "Value": fmt.value(a.value), "Unit": a.unit, "Source": a.source}
                         for a in c.assumptions])
    return "\n\n".join([fmt.markdown_table(rows), "Every scenario input, defaults filled in (`planner report` "
                        "also saves it as scenario.toml, so this report can be regenerated):",
                        fmt.fenced(dumps_scenario(s).rstrip(), "toml")])


def _catalog_dates(s: Scenario) -> str:
    dates = []
    for name in {s.self_host.gpu, *([s.scratch.gpu] if s.scratch.enabled else [])}:
        g = catalog.gpu(name)
        dates += [f"{g.name} {k} checked {src.checked}" for k, src in sorted(g.sources.items())]
    for name in {s.self_host.model, *([scratch_model(s)] if s.scratch.enabled else [])}:
        m = catalog.model(name)
        dates.append(f"{m.name} config checked {m.source.checked}" if m.source else f"{m.name}: no source")
    return "; ".join(sorted(dates))


def _provenance(c: Comparison, s: Scenario, sha: str | None) -> str:
    from ..core.version import __version__
    prices = price_data_info()
    effs = {f"{name}: {est.efficiency_source}" for name, est in (
        ("serving", c.serving_plan), ("serving (scratch)", c.scratch_serving_plan),
        ("fine-tuning", c.finetune), ("pretraining", c.pretrain)) if est is not None}
    lines = [f"- planner {__version__}, generated {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}",
             f"- Catalog: {fmt.md_inline(_catalog_dates(s))}",
             f"- API prices: {prices['package']} {prices['version']}, data date {prices['data_date']} "
             f"({prices['data_date_note']})" + (f"; prices as of {c.api_price.prices_as_of}" if c.api_price else ""),
             f"- Efficiencies: {fmt.md_inline('; '.join(sorted(effs))) or 'none used'}",
             f"- Scenario sha256: `{sha}`" if sha else "- Scenario sha256: not recorded (no scenario file)",
             "- Regenerate: `planner report scenario.toml -o <folder>`"]
    return "\n".join(lines)


def report_markdown(comparison: Comparison, scenario: Scenario, *, chart_files: dict[str, str] | None = None,
                    scenario_sha256: str | None = None, samples: int = REPORT_SAMPLES, beside=None) -> str:
    """The report as Markdown; `chart_files` maps chart name -> image path relative to the report.

    `samples`: Monte Carlo samples for "How sure is the recommendation?" (seeded by the scenario's `seed`);
    `beside`: other scenarios for a "Side by side" section (report_side_by_side.others)."""
    c, s = comparison, scenario
    mc, why_not = _sampled(c, s, samples)
    title = f"# {fmt.md_inline(c.scenario)}" + (f"\n\n{fmt.md_quote(s.description)}" if s.description.strip() else "")
    question = _question(c, s)
    s = c.shortlist.scenario if c.shortlist is not None else s  # the rest describes the chosen candidate
    searched = [("Self-host shortlist", shortlist_markdown(c))] if c.shortlist is not None else []
    searched += [("Side by side", sbs_section("this report", scenario, c, beside))] if beside else []
    sections = [(None, title),
                ("The question", question), ("Recommendation", _recommendation(c, risk_aware(c, mc, why_not))),
                *searched, ("Comparison", _options(c)), ("Models compared", mt.models_markdown(c)),
                ("Break-even", _break_evens(c)), ("Charts", _charts(c, chart_files)),
                ("How sure is the recommendation?", _confidence(c, s, chart_files, mc, why_not)),
                ("Serving capacity", _capacity(c)), ("Training estimates", _training(c, chart_files)),
                ("Train from scratch: tokens and programme", scratch_section(c, s)),
                ("Hardware, energy and carbon", hardware_section(c)),
                ("Prompt vs fine-tune", _prompt_trades(c)), ("Assumptions", _assumptions(c, s)),
                ("Provenance", _provenance(c, s, scenario_sha256))]
    return "\n\n".join(text if title is None else f"## {title}\n\n{text}" for title, text in sections) + "\n"


def _check_target(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise PlannerError(f"{out} exists and is not a folder")
    if not out.is_dir():
        return
    present = {p.name for p in out.iterdir()}
    if present and not force:
        raise PlannerError(f"{out} exists and is not empty; pass --force to replace the report in it")
    foreign = sorted(present - REPORT_FILES)
    if foreign:  # --force replaces a report, never a folder of other work
        raise PlannerError(f"{out} holds files a report does not write ({', '.join(foreign[:5])}); "
                           "choose another folder")


def _sensitivity_figures(c: Comparison, s: Scenario) -> dict:
    """Tornado and frontier Figures by chart name; none where the scenario has no such answer."""
    from ..uncertainty.montecarlo import Engine
    from ..uncertainty.sensitivity import frontier, tornado
    from .charts import frontier_figure, tornado_figure
    out = {}
    try:
        out["tornado"] = tornado_figure(tornado(s, comparison=c))
        medians = Engine(s, c).medians()
        out["frontier"] = frontier_figure(frontier(s, *FRONTIER_AXES, comparison=c),
                                          tuple(medians[p] for p in FRONTIER_AXES))
    except PlannerError:  # e.g. no self-hosted option, so no GPU price to vary: the section says why
        pass
    return out


def _training_figures(c: Comparison, s: Scenario) -> dict:
    """The pretraining run's memory per GPU and its scaling curve (the fine-tune's memory without one)."""
    from ..estimate.scaling import pretraining_scaling
    from .charts import memory_figure, scaling_figure
    est = c.pretrain or c.finetune
    if est is None:
        return {}
    out = {"training_memory": memory_figure(est.memory, f"{est.model} on {est.n_gpus} x {est.gpu}: memory per GPU")}
    if c.pretrain is not None:
        p = c.pretrain
        df = pretraining_scaling(model=p.model, gpu=p.gpu, tokens=p.tokens, seq_len=p.seq_len)
        out["training_scaling"] = scaling_figure(df, f"Pretraining {p.model} on {fmt.count(p.tokens)} tokens: "
                                                     "GPU-hours and days against GPUs")
    return out


def _render(c: Comparison, s: Scenario, folder: Path, scenario_bytes: bytes, sha: str, beside=None) -> None:
    from .charts import cost_vs_traffic_figure, cumulative_cost_figure
    chosen = c.shortlist.scenario if c.shortlist is not None else s
    figures = {"cumulative_cost": cumulative_cost_figure(c), "cost_vs_traffic": cost_vs_traffic_figure(c),
               **_sensitivity_figures(c, chosen), **_training_figures(c, chosen)}
    for name, fig in figures.items():
        fig.savefig(folder / CHART_FILES[name], dpi=120)
    (folder / SCENARIO_COPY).write_bytes(scenario_bytes)
    text = report_markdown(c, s, chart_files={k: CHART_FILES[k] for k in figures}, scenario_sha256=sha, beside=beside)
    (folder / REPORT_MD).write_text(text, encoding="utf-8")


def report_zip(comparison: Comparison, scenario: Scenario) -> bytes:
    """The report folder `write_report` writes (report.md, its chart PNGs, scenario.toml) as one zip file, in
    memory: the dashboard's download. Written by the same `_render`, so it is the CLI's report."""
    V.instance("comparison", comparison, Comparison, "a Comparison (compare(scenario))")
    s = V.instance("scenario", scenario, Scenario, "a Scenario")
    data = dumps_scenario(s).encode()
    with tempfile.TemporaryDirectory(prefix="planner-report-") as tmp:
        _render(comparison, s, Path(tmp), data, hashlib.sha256(data).hexdigest())
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
            for f in sorted(Path(tmp).iterdir()):
                z.write(f, f"report/{f.name}")
    return buffer.getvalue()


def _move_into_place(tmp: Path, out: Path) -> None:
    """Swap the finished folder in, the old report set aside until then (and put back if a move fails)."""
    aside = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-")) if out.exists() else None
    try:
        if aside is not None:
            os.replace(out, aside / out.name)
        try:
            os.replace(tmp, out)
        except BaseException:
            if aside is not None and (aside / out.name).exists():
                os.replace(aside / out.name, out)
            raise
    finally:
        if aside is not None and (out.exists() or not (aside / out.name).exists()):
            shutil.rmtree(aside, ignore_errors=True)


def _why(out: Path, e: OSError) -> str:
    """The reason a folder cannot be made: name the ancestor that is a file, if one is."""
    for parent in out.absolute().parents:
        if parent.exists():
            return f"{parent} is a file, not a folder" if not parent.is_dir() else (e.strerror or str(e))
    return e.strerror or str(e)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_report(scenario: Scenario | str | os.PathLike, out_dir: str | os.PathLike, *,
                 scenario_path: str | os.PathLike | None = None, force: bool = False, compare_with=()) -> Path:
    """Write report.md, its charts and a copy of the scenario into `out_dir`, all or nothing.

    `scenario` is a Scenario or a path to one; `compare_with`, others (Scenarios or paths) shown beside it in a
    "Side by side" section. A non-empty `out_dir` is replaced only with force=True, and only if it holds nothing
    but an earlier report.
    """
    beside = sbs_others(compare_with) if compare_with else None  # fails before anything is written
    if not isinstance(scenario, Scenario):
        scenario_path, scenario = scenario, as_scenario(scenario)
    data = files.read_text(scenario_path, "scenario file").encode() if scenario_path is not None \
        else dumps_scenario(scenario).encode()
    out = V.path("out_dir", out_dir)
    V.flag("force", force)
    _check_target(out, force)
    c = compare(scenario)  # fails before anything is written
    made, done, tmp = next((p for p in reversed([out.parent, *out.parent.parents]) if not p.exists()), None), False, None
    try:  # whatever fails, nothing of this attempt is left: the temporary folder, the folders made for it
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
        except OSError as e:
            raise PlannerError(f"cannot write to {out}: {_why(out, e)}") from None
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes it private; a report folder is not
        _render(c, scenario, tmp, data, hashlib.sha256(data).hexdigest(), beside)
        _move_into_place(tmp, out)
        done = True
    except OSError as e:
        raise PlannerError(f"cannot write the report to {out}: {e.strerror or e}") from None
    finally:  # (the folder set aside goes in _move_into_place, unless it holds the only copy of a report)
        for folder in filter(None, (tmp, None if done else made)):
            shutil.rmtree(folder, ignore_errors=True)
    return out
