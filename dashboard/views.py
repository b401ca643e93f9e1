"""The main page's views of a Comparison: one function per tab. Text formatting is
planner.present.formatting's, so the page, the CLI and the Markdown report print the same figures."""
from __future__ import annotations

import pandas as pd
import streamlit as st

import planner
from planner.decide.compare import Comparison
from planner.estimate.serving import latency_curve
from planner.present import formatting as fmt
from planner.present import labels, models_text
from planner.present.markdown import md_plain
from planner.present.shortlist_text import shortlist_frame, shortlist_lines

from . import charts


def md(text) -> str:
    """Plain text for a Markdown element (planner.present.markdown.md_plain): user text such as a model or
    scenario name renders as written, never as an image, link, HTML or LaTeX."""
    return md_plain(text)


def metric_label(key: str, what: str) -> str:
    """Label of one option's metric, unique on the page (tests look metrics up by it)."""
    return f"{labels.SHORT[key]} · {what}"


def recommendation(c: Comparison, r) -> None:
    """The headline: compare()'s pick with its P(cheapest) (`r`, planner.recommendation), then whether the
    options deliver comparable models."""
    lead = f"\n\n{md(r.reasons[0])}" if r.reasons else ""
    (st.success if r.choice else st.error)(f"**{md(r.headline)}**{lead}")
    match = models_text.like_for_like_line(c)
    if match:
        (st.warning if c.model_match.known_to_differ else st.info)(md(match))
    if models_text.floor_line(c):
        st.caption(md(models_text.floor_line(c)))
    with st.expander("All reasons", expanded=False):
        st.markdown("\n".join(f"- {md(x)}" for x in r.reasons))


def unavailable(c: Comparison) -> None:
    """Say plainly why an option is missing: an error for an impossible setting, a note for a disabled one."""
    for o in c.options.values():
        if not o.available:
            chosen = o.reason_unavailable.startswith(("disabled", "regulatory isolation"))  # the user's choice
            show = st.info if chosen else st.error
            show(f"**{o.label}** is not available: {md(o.reason_unavailable)}")


def overview(c: Comparison) -> None:
    cols = st.columns(len(c.options))
    for col, o in zip(cols, c.options.values()):
        with col, st.container(border=True):
            st.markdown(f"**{o.label}**")
            if not o.available:
                st.caption(f"Not available: {md(o.reason_unavailable)}")
                continue
            st.caption(md(o.detail))
            st.metric(metric_label(o.key, f"total over {c.horizon_months} months"), fmt.usd(o.total_usd.p50),
                      help=f"p10-p90: {fmt.usd(o.total_usd.p10)} - {fmt.usd(o.total_usd.p90)}")
            a, b = st.columns(2)
            # Short labels fit the narrow columns; the total's label names the option for lookups.
            a.metric(labels.ONE_TIME_LABEL[o.key], fmt.usd(o.one_time_usd.p50), help=md(labels.ONE_TIME_SCOPE))
            b.metric("monthly, last", fmt.usd(o.monthly_usd[-1]), help=f"first month {fmt.usd(o.monthly_usd[0])}")
            a.metric("per 1k req.", fmt.usd(o.all_in_usd_per_request * 1000),
                     help=f"all-in; running cost only: {fmt.usd(o.usd_per_request * 1000)}")
            b.metric("GPUs", fmt.integer(o.gpus), help="at the last month's peak")
            st.metric("months to production", fmt.number(o.months_to_production.p50, ".1f"),
                      help=f"p10-p90: {fmt.band(o.months_to_production, unit='months')}")
            a.metric("energy, MWh", fmt.amount(o.energy_mwh.p50) if o.energy_mwh else "unknown",
                     help=md(o.energy.note) if o.energy else "no published figure")
            b.metric("tCO2e", fmt.amount(o.co2e_t.p50) if o.co2e_t else "unknown")
    st.dataframe(fmt.comparison_frame(c.table()), hide_index=True)
    st.caption(md(labels.ONE_TIME_SCOPE))
    with st.expander("Models compared: size and published capability", expanded=c.model_match.known_to_differ
                     if c.model_match else False):
        st.dataframe(models_text.models_frame(c), hide_index=True)
    if c.api_price is not None:
        p = c.api_price
        st.caption(md(f"API prices: {p.provider_name} {p.model_id}, price data of {p.price_data_date} ({p.source})."))
    if c.shortlist is not None:
        st.subheader("Self-host shortlist")
        st.markdown(md(" ".join(shortlist_lines(c))))
        st.dataframe(shortlist_frame(c, why_chars=400), hide_index=True)


def cumulative(c: Comparison) -> None:
    log_y = st.toggle("Log scale", value=True, key="log_cumulative",
                      help="The options differ by orders of magnitude; a linear scale flattens the cheaper ones")
    st.altair_chart(charts.cumulative_cost(c, log_y))
    crossings = [b for b in c.break_evens if b.crossing_month is not None]
    st.caption(("Diamonds mark where two cumulative curves cross. " if crossings else
                f"No two curves cross within {c.horizon_months} months. ")
               + "Each one-time cost counts in the months it is paid: training from scratch over its preparation, "
                 "final run, post-training and evaluation; the fine-tune and setup before self-hosting.")


def traffic(c: Comparison) -> None:
    st.altair_chart(charts.cost_vs_traffic(c))
    rows = []
    for be in c.break_evens:
        other = be.b if be.cheaper_below == be.a else be.a
        rows.append({"options": f"{labels.SHORT[be.a]} vs {labels.SHORT[be.b]}", "cheaper at low traffic": labels.SHORT[be.cheaper_below],
                     "break-even requests/day": ", ".join(fmt.count(t) for t in be.requests_per_day) or
                     f"none: {labels.SHORT[be.cheaper_below]} stays cheaper than {labels.SHORT[other]}",
                     "cumulative curves cross": fmt.number(be.crossing_month, ".1f") if be.crossing_month is not None
                     else "no"})
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)


def breakdown(c: Comparison) -> None:
    if not any(o.available for o in c.options.values()):
        return
    st.altair_chart(charts.breakdown(c))
    table = pd.DataFrame({o.label: o.breakdown for o in c.options.values() if o.available})
    st.table(table.rename_axis("component").map(lambda v: "" if pd.isna(v) else fmt.usd(v)))


def _rows(rows: list[tuple[str, str]]) -> None:
    st.table(pd.DataFrame(rows, columns=["quantity", "p50 [p10-p90]"]), hide_index=True)


def serving(c: Comparison) -> None:
    for title, plan, key in (("Open weights, fine-tuned", c.serving_plan, "self_host"),
                             ("Trained from scratch", c.scratch_serving_plan, "scratch")):
        if plan is None:
            if key == "self_host":
                st.error(f"No serving plan: {md(c.options[key].reason_unavailable)}")
            continue
        w = plan.workload
        st.subheader(md(f"{title}: {plan.model} on {plan.gpu} ({plan.precision})"))
        m = st.columns(5)
        m[0].metric(metric_label(key, "replicas"), fmt.band(plan.replicas))
        m[1].metric(metric_label(key, "parallelism"), plan.parallelism,
                    help="GPUs per replica: tensor parallelism (TP), or for an MoE model data-parallel attention with "
                         "expert-parallel experts (DP attention + EP), whichever costs less (both are searched)")
        m[2].metric(metric_label(key, "batch"), str(plan.batch_size), help=f"limited by {plan.limited_by}")
        m[3].metric(metric_label(key, "TTFT"), fmt.ms(plan.ttft_s.p50),
                    delta=_vs_target(plan.ttft_s.p50, w.ttft_target_s), delta_color="off", delta_arrow="off")
        m[4].metric(metric_label(key, "TPOT"), fmt.ms(plan.tpot_s.p50),
                    delta=_vs_target(plan.tpot_s.p50, w.tpot_target_s), delta_color="off", delta_arrow="off")
        left, right = st.columns(2)
        table = plan.table_frame()
        with left:
            st.altair_chart(charts.batch_latency(table, w.tpot_target_s))
        with right:
            st.dataframe(table.assign(ttft_ms=table.ttft_s * 1e3, tpot_ms=table.tpot_s * 1e3)
                         [["batch", "ttft_ms", "tpot_ms", "requests_per_s", "meets_targets"]],
                         hide_index=True, column_config={"ttft_ms": st.column_config.NumberColumn(format="%.1f"),
                                                         "tpot_ms": st.column_config.NumberColumn(format="%.2f"),
                                                         "requests_per_s": st.column_config.NumberColumn(format="%.2f")})
        _rows(fmt.serving_rows(plan))
        st.markdown(f"**Configurations searched** (each precision and tensor-parallel degree, and for an MoE "
                    f"model DP attention, at its largest batch "
                    f"meeting the targets; p50 rates; the simulated rate meets them at {plan.latency_percentile})")
        st.dataframe(fmt.frontier_frame(plan), hide_index=True)
        st.markdown("**Latency against load** (one replica, simulated continuous batching, Poisson arrivals)")
        st.altair_chart(charts.latency_vs_load(latency_curve(plan), w.ttft_target_s, w.tpot_target_s))


def _vs_target(value_s: float, target_s: float | None) -> str:
    if target_s is None:
        return "no target"
    return f"{'meets' if value_s <= target_s else 'misses'} {fmt.ms(target_s)} target"


def training(c: Comparison, scaling=None) -> None:
    """Fine-tuning and pretraining: their numbers, memory per GPU, and (pretraining) the scaling curve.
    `scaling()`: the cached pretraining_scaling frame of the scratch option, or None."""
    left, right = st.columns(2)
    with left:
        st.subheader("Fine-tuning")
        if c.finetune is not None:
            r = c.rates.get("self_host_training")
            _rows(fmt.finetuning_rows(c.finetune, r.time_factor if r is not None else 1.0))
        else:
            st.info("No fine-tune in this scenario (method: none)" if c.options["self_host"].available
                    else f"Not estimated: {md(c.options['self_host'].reason_unavailable)}")
        if c.prompt_trades:
            st.markdown("**Fine-tune instead of a few-shot prompt**")
            st.dataframe(pd.DataFrame([{
                "where": t.where, "prompt tokens saved": fmt.count(t.prompt_tokens_saved),
                "monthly saving": fmt.usd(t.monthly_saving_usd), "tuning cost": fmt.usd(t.tuning_cost_usd),
                "payback (months)": fmt.number(t.payback_months, ".1f") if t.payback_months is not None else "never",
                "note": t.note} for t in c.prompt_trades]), hide_index=True)
    with right:
        st.subheader("Pretraining from scratch")
        if c.pretrain is not None:
            _rows(fmt.pretraining_rows(c.pretrain, c.scratch_costs))
        else:
            st.info(f"Not estimated: {md(c.options['scratch'].reason_unavailable)}")
    for est, what in ((c.finetune, "Fine-tuning"), (c.pretrain, "Pretraining")):
        if est is not None:
            st.altair_chart(charts.memory(est.memory, f"{what}: memory per GPU ({est.layout.describe()})"))
            if est.memory_fit:
                st.warning(f"{what} memory is {est.memory_fit}")
            _rows(fmt.step_rows(est.step))
    if c.pretrain is not None and scaling is not None and st.toggle("Show how pretraining scales with the GPU count"):
        df = scaling()
        st.altair_chart(charts.scaling(df, f"Pretraining {c.pretrain.model}: GPU-hours against GPUs"))


def assumptions(c: Comparison) -> None:
    st.dataframe(pd.DataFrame([{"name": a.name, "value": fmt.value(a.value), "unit": a.unit, "source": str(a.source)}
                               for a in c.assumptions]), hide_index=True)
    info = planner.price_data_info()
    st.caption(f"API prices: {info['package']} {info['version']}, data as of {info['data_date']} "
               f"({info['data_date_note']}).")


def export(c: Comparison, s: planner.Scenario, scenario_toml: str) -> None:
    st.markdown("Take these numbers into a planning document: the scenario file reproduces them "
                "(`planner report scenario.toml`), the Markdown report quotes them.")
    a, b = st.columns(2)
    a.download_button("Scenario (.toml)", scenario_toml, file_name="scenario.toml", mime="application/toml",
                      key="save_export", on_click="ignore")
    try:
        from planner.present.report import report_zip  # optional: the report module may be absent
    except ImportError as e:
        b.warning(f"The report is not available in this install ({e}).")
        return
    # Built on click (charts and a Monte Carlo take seconds): what `planner report` writes, zipped.
    b.download_button("Report with charts (.zip)", lambda: report_zip(c, s), file_name="report.zip",
                      mime="application/zip", key="save_report", on_click="ignore",
                      help="report.md, its chart images and scenario.toml: the folder `planner report` writes")
