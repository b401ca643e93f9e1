"""Pin a scenario, then change the sidebar: the page shows which inputs differ from the pinned one and each
option's total in both (planner.present.side_by_side, as `planner compare a.toml b.toml` prints)."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

import planner
from planner.core.errors import PlannerError
from planner.present import side_by_side as sbs

from .views import md

ss = st.session_state
PINNED, THIS = "pinned", "this scenario"


def _pin(toml: str) -> None:
    ss.pinned_toml = toml


def _unpin() -> None:
    ss.pinned_toml = None


def render(current_toml: str, c: planner.Comparison, compare: Callable[[str], planner.Comparison]) -> None:
    """The pin buttons and, once a scenario is pinned, the difference to it. `compare`: TOML -> Comparison
    (the page's cache); a pinned scenario that no longer loads (an uploaded model or GPU it names is gone, a
    catalog entry renamed) is an error that says so, and the rest of the page still renders."""
    pinned = ss.get("pinned_toml")
    a, b = st.columns([1, 4])
    a.button("Pin this scenario", key="pin", on_click=_pin, args=(current_toml,),
             help="Keep it to compare with: change the sidebar and see what differs")
    if pinned is None:
        return
    b.button("Unpin", key="unpin", on_click=_unpin)
    if pinned == current_toml:
        st.caption("This is the pinned scenario: change the sidebar to compare with it.")
        return
    try:
        sp, cp = planner.loads_scenario(pinned, where="pinned scenario"), compare(pinned)
    except PlannerError as e:
        st.error(md(f"The pinned scenario no longer loads: {e}. Unpin it, or load what it needs again."))
        return
    with st.expander("Difference to the pinned scenario", expanded=True):
        inputs = sbs.inputs_that_differ({PINNED: sp, THIS: planner.loads_scenario(current_toml)})
        st.dataframe(inputs, hide_index=True)
        st.caption(md(f"Totals over the horizon, p50; in brackets the difference to the {PINNED} one; * recommended."))
        st.dataframe(sbs.totals_side_by_side({PINNED: cp, THIS: c}), hide_index=True)
