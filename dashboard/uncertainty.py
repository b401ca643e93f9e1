"""The Uncertainty tab: how sure the recommendation is (Monte Carlo), what moves it (tornado), where
each option wins (frontier). The computations arrive as cached callables from app.py; this module
only lays their results out, with planner.present.formatting's text, so page, CLI and report agree."""
from __future__ import annotations

import streamlit as st

from planner.core.errors import PlannerError
from planner.decide.distributions import INPUTS
from planner.present import formatting as fmt
from planner.present import uncertainty_text as ut
from planner.uncertainty.risk import HEADLINE_SAMPLES

from . import charts
from .views import md, metric_label

SAMPLES = (5_000, 10_000, 20_000, 50_000, 100_000)
DEFAULT_SAMPLES = HEADLINE_SAMPLES  # the headline's own run (shared cache entry): its P(cheapest) is this tab's
FRONTIER_DEFAULTS = ("workload.requests_per_day", "self_host.usd_per_gpu_hour")  # frontier()'s: traffic x GPU price


def render(run_monte_carlo, run_tornado, run_frontier) -> None:
    """The tab. run_monte_carlo(n) -> MonteCarloResult; run_tornado() -> DataFrame;
    run_frontier(x, y) -> (FrontierResult, this scenario's (x, y))."""
    n = st.select_slider("Monte Carlo samples", options=SAMPLES, value=DEFAULT_SAMPLES, key="mc_samples",
                         format_func=lambda v: f"{v:,}", help="More samples: steadier percentiles, slower page")
    try:
        mc = run_monte_carlo(n)
    except PlannerError as e:
        st.error(f"Cannot sample this scenario: {md(e)}")
        return
    same = " (the run behind the headline)" if mc.n == HEADLINE_SAMPLES else \
        f" (the headline uses {HEADLINE_SAMPLES:,}: its P(cheapest) may differ by sampling noise)"
    st.caption(f"{mc.n:,} samples{same}, seed {mc.seed} (the scenario's `seed`): the same scenario and seed give the "
               f"same numbers. {md(ut.uncertain_inputs_caption(mc))} Edit or turn off the scenario's entries in the "
               "sidebar's 'Uncertain inputs'.")
    cols = st.columns(len(mc.options))
    for col, k in zip(cols, mc.options):
        col.metric(metric_label(k, "P(cheapest)"), fmt.percent(mc.prob_cheapest[k]),
                   help=f"total p10-p90: {fmt.usd(mc.total_usd[k].p10)} - {fmt.usd(mc.total_usd[k].p90)}")
    left, right = st.columns(2)
    with left:
        st.altair_chart(charts.prob_cheapest(mc))
    with right:
        st.altair_chart(charts.cost_histogram(mc))
    st.dataframe(ut.monte_carlo_frame(mc), hide_index=True)
    st.subheader("Uncertain inputs")
    st.dataframe(ut.uncertain_inputs_frame(mc), hide_index=True)
    _tornado(run_tornado)
    _frontier(run_frontier)


def _tornado(run_tornado) -> None:
    st.subheader("What moves the answer")
    try:
        df = run_tornado()
    except PlannerError as e:
        st.error(f"No sensitivity for this scenario: {md(e)}")
        return
    st.altair_chart(charts.tornado(df))
    st.caption(md(ut.tornado_caption(df)))
    st.dataframe(ut.tornado_frame(df), hide_index=True)


def _frontier(run_frontier) -> None:
    st.subheader("Where each option wins")
    paths = list(INPUTS)
    a, b = st.columns(2)
    x = a.selectbox("Input across", paths, index=paths.index(FRONTIER_DEFAULTS[0]), key="frontier_x")
    y = b.selectbox("Input up", paths, index=paths.index(FRONTIER_DEFAULTS[1]), key="frontier_y")
    try:
        f, point = run_frontier(x, y)
    except PlannerError as e:
        st.error(f"No frontier for these inputs: {md(e)}")
        return
    st.altair_chart(charts.frontier(f, point))
    st.caption("The cheapest option at each point of the grid (P50/10 to 10 x P50; fractions P50/2 to 1.5 x P50), "
               "every other input at its P50. The diamond marks this scenario.")
