"""Build vs buy for your own workload: `streamlit run app.py`.

A thin page over the planner: the sidebar describes a Scenario, `planner.compare`
answers it, the tabs lay the answer out. Every number comes from the planner's
Python API (dashboard/ only lays it out); results are cached by the scenario's
TOML text, since Scenarios are frozen dataclasses.
"""
from __future__ import annotations

import json

import streamlit as st

import planner
from dashboard import bench, sidebar, views
from planner.catalog import register_model
from planner.errors import PlannerError


@st.cache_data(max_entries=64, show_spinner="Comparing the options…")
def compare_cached(scenario_toml: str, custom_models: tuple[tuple[str, str], ...]) -> planner.Comparison:
    """planner.compare of a scenario given as TOML, with uploaded models (name, config.json text) registered."""
    for name, text in custom_models:
        register_model(planner.model_from_hf_config(json.loads(text), name=name))
    return planner.compare(planner.loads_scenario(scenario_toml))


def main() -> None:
    st.set_page_config(page_title="Build vs buy: foundation models", page_icon="📐", layout="wide")
    sidebar.init()
    scenario, input_error = sidebar.render()
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
    views.recommendation(c)
    views.unavailable(c)
    tabs = st.tabs(["Options", "Cumulative cost", "Cost vs traffic", "Breakdown", "Serving capacity",
                    "Training estimates", "Benchmarks", "Assumptions", "Export"])
    pages = [lambda: views.overview(c), lambda: views.cumulative(c), lambda: views.traffic(c),
             lambda: views.breakdown(c), lambda: views.serving(c), lambda: views.training(c),
             lambda: bench.render([scenario.self_host.gpu, scenario.scratch.gpu]),
             lambda: views.assumptions(c), lambda: views.export(c, scenario, st.session_state.current_toml)]
    for tab, page in zip(tabs, pages):
        with tab:
            page()


main()
