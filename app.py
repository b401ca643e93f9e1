"""Build vs buy for your own workload: `streamlit run app.py`.

A thin page over the planner: the sidebar describes a Scenario, `planner.compare`
answers it, the tabs lay the answer out. Every number comes from the planner's
Python API (dashboard/ only lays it out). Speed after a sidebar change comes from
doing only what changed: results are cached by the scenario's TOML text (Scenarios are
frozen, so the text is the whole input); the comparison is computed once per scenario and
shared by the Monte Carlo, tornado and frontier; only the open tab runs.
"""
from __future__ import annotations

import json

import pandas as pd
import streamlit as st

import planner
from dashboard import bench, costs, pin, sidebar, uncertainty, views
from planner.catalog.lookup import register_model
from planner.core.errors import PlannerError
from planner.uncertainty.montecarlo import Engine
from planner.uncertainty.risk import HEADLINE_SAMPLES, risk_aware

Customs = tuple[tuple[str, str], ...]  # uploaded models: (name, config.json text)
# Short labels: all twelve fit beside the sidebar at 1400 px (tests/test_browser.py checks Export is on screen).
TABS = ("Options", "Cumulative", "Vs traffic", "Breakdown", "Uncertainty", "Serving", "Training", "Scratch",
        "Energy", "Benchmarks", "Assumptions", "Export")


def _scenario(scenario_toml: str, custom_models: Customs) -> planner.Scenario:
    for name, text in custom_models:
        register_model(planner.model_from_hf_config(json.loads(text), name=name))
    return planner.loads_scenario(scenario_toml)


@st.cache_resource
def calibration_from_env() -> tuple:
    """Calibrate from $PLANNER_RESULTS once per server process (the only place the dashboard reads it)."""
    from planner.estimate.calibrated import use_results_from_env
    return tuple(p.source for p in use_results_from_env())


# cache_resource, not cache_data: results are frozen and only read, so every rerun shares one object
# instead of unpickling a copy. Keys: the scenario's TOML text and the uploaded models it may name.
@st.cache_resource(max_entries=64, show_spinner=False)  # ~20 ms: a spinner would cost more than it shows
def compare_cached(scenario_toml: str, custom_models: Customs) -> planner.Comparison:
    """planner.compare of a scenario given as TOML, with uploaded models (name, config.json text) registered."""
    return planner.compare(_scenario(scenario_toml, custom_models))


@st.cache_resource(max_entries=16, show_spinner="Sampling…")
def monte_carlo_cached(scenario_toml: str, custom_models: Customs, n: int) -> planner.MonteCarloResult:
    """planner.monte_carlo with the scenario's seed: cached by scenario text and sample count."""
    return planner.monte_carlo(_scenario(scenario_toml, custom_models), n=n,
                               comparison=compare_cached(scenario_toml, custom_models))


def headline(scenario_toml: str, custom_models: Customs, c: planner.Comparison):
    """compare()'s pick with its P(cheapest): the Uncertainty tab's default run (one cache entry for both)."""
    try:
        mc, why = monte_carlo_cached(scenario_toml, custom_models, HEADLINE_SAMPLES), ""
    except PlannerError as e:
        mc, why = None, str(e)
    return risk_aware(c, mc, why)


@st.cache_resource(max_entries=16, show_spinner=False)
def engine_cached(scenario_toml: str, custom_models: Customs) -> Engine:
    """The Monte Carlo engine (its distributions fitted once) for the tornado and the frontier."""
    return Engine(_scenario(scenario_toml, custom_models), compare_cached(scenario_toml, custom_models))


@st.cache_data(max_entries=16, show_spinner=False)
def tornado_cached(scenario_toml: str, custom_models: Customs) -> pd.DataFrame:
    return planner.tornado(_scenario(scenario_toml, custom_models), comparison=compare_cached(scenario_toml, custom_models))


@st.cache_resource(max_entries=32, show_spinner=False)
def frontier_cached(scenario_toml: str, custom_models: Customs, x: str, y: str):
    """planner.frontier over x and y, and this scenario's (x, y) at their P50s (for the marker)."""
    s = _scenario(scenario_toml, custom_models)
    f = planner.frontier(s, x=x, y=y, comparison=compare_cached(scenario_toml, custom_models))
    medians = engine_cached(scenario_toml, custom_models).medians()
    return f, (medians[x], medians[y])


@st.cache_data(max_entries=16, show_spinner="Costing the other token policies…")
def policy_costs_cached(scenario_toml: str, custom_models: Customs) -> tuple:
    """The scratch option at each token policy (each pretraining run laid out afresh)."""
    try:
        return planner.policy_costs(_scenario(scenario_toml, custom_models))
    except PlannerError:
        return ()


@st.cache_data(max_entries=16, show_spinner="Laying the run out at each GPU count…")
def scaling_cached(model: str, gpu: str, tokens: float, seq_len: int) -> pd.DataFrame:
    return planner.pretraining_scaling(model=model, gpu=gpu, tokens=tokens, seq_len=seq_len)


def main() -> None:
    st.set_page_config(page_title="Build vs buy: foundation models", page_icon="📐", layout="wide")
    try:
        calibration_from_env()
    except PlannerError as e:
        st.error(f"Calibration from ${{PLANNER_RESULTS}} failed, using the literature defaults: {views.md(e)}")
    sidebar.init(TABS)
    scenario, input_error = sidebar.render()
    sidebar.write_link(st.session_state.current_toml, st.session_state.get("view"))
    st.title("Build vs buy for your workload")
    st.caption("Hosted API, open weights fine-tuned and self-hosted, or a model trained from scratch: "
               "what each costs over your horizon, when it pays back, and what it takes to serve. "
               "Change the workload in the sidebar.")
    if st.session_state.get("load_error"):
        st.error(views.md(st.session_state.load_error))
    if input_error:
        st.error(f"Impossible input: {views.md(input_error)}")
        return
    try:
        customs = tuple(sorted(st.session_state.custom_models.items()))
        c = compare_cached(st.session_state.current_toml, customs)
    except PlannerError as e:
        st.error(f"Cannot compare this scenario: {views.md(e)}")
        return
    toml = st.session_state.current_toml
    views.recommendation(c, headline(toml, customs, c))
    views.unavailable(c)
    pin.render(toml, c, lambda t: compare_cached(t, customs))
    # Lazy tabs: only the open one runs, so a sidebar change recomputes one view, not ten.
    tabs = st.tabs(TABS, key="view", on_change="rerun")
    pages = [lambda: views.overview(c), lambda: views.cumulative(c), lambda: views.traffic(c),
             lambda: views.breakdown(c),
             lambda: uncertainty.render(lambda n: monte_carlo_cached(toml, customs, n),
                                        lambda: tornado_cached(toml, customs),
                                        lambda x, y: frontier_cached(toml, customs, x, y)),
             lambda: views.serving(c),
             lambda: views.training(c, (lambda: scaling_cached(c.pretrain.model, c.pretrain.gpu, c.pretrain.tokens,
                                                               c.pretrain.seq_len)) if c.pretrain else None),
             lambda: costs.scratch(c, lambda: policy_costs_cached(toml, customs)),
             lambda: costs.hardware(c),
             lambda: bench.render([(c.shortlist.scenario if c.shortlist else scenario).self_host.gpu,
                                   scenario.scratch.gpu], scenario.self_host.engine),
             lambda: views.assumptions(c), lambda: views.export(c, scenario, st.session_state.current_toml)]
    for tab, page in zip(tabs, pages):
        if tab.open is not False:
            with tab:
                page()


main()
