"""The dashboard's views of hardware sourcing, energy and carbon, and the train-from-scratch programme.
The words and tables are planner.present.costs_text's, so the page, the CLI and the report agree."""
from __future__ import annotations

import streamlit as st

from planner.decide.compare import Comparison
from planner.present import costs_text as ct

from .views import md


def hardware(c: Comparison) -> None:
    st.subheader("How the self-hosted options get their GPUs")
    if len(c.rates):
        st.dataframe(ct.sourcing_frame(c), hide_index=True)
    else:
        st.info("No self-hosted option is available.")
    owned = ct.owned_parts_frame(c)
    if owned is not None:
        st.markdown("**An owned GPU-hour, by part**")
        st.dataframe(owned, hide_index=True)
    gen = ct.generation_lines(c)
    if gen:
        st.subheader("Hardware generation")
        st.markdown("\n".join(f"- {md(x)}" for x in gen))
    st.subheader("Rent or own")
    for line in ct.rent_or_own_lines(c.rent_or_own):
        st.markdown(md(line))
    st.subheader("Energy and carbon over the horizon")
    st.dataframe(ct.energy_frame(c), hide_index=True)
    st.caption("Energy: each GPU-hour's (GPU + host) watts x PUE; carbon at the grid region's intensity. The hosted "
               "API counts only what its provider publishes: n/a means no figure is published, not zero.")


def scratch(c: Comparison, policies=None) -> None:
    """The token policy, what it implies, the cost at the other policies (`policies()`: cached), the programme."""
    sc = c.scratch_costs
    if sc is None:
        st.info(f"Not estimated: {md(c.options['scratch'].reason_unavailable)}")
        return
    for line in ct.token_policy_lines(sc.budget, policies() if policies else ()):
        bold = f"**{sc.budget.policy}**"  # the planner's own emphasis, kept; the rest shown as written
        (st.warning if line.startswith("Warning") else st.markdown)(md(line).replace(md(bold), f"**{md(sc.budget.policy)}**"))
    st.dataframe(ct.programme_frame(c), hide_index=True)
    st.caption(md(ct.calendar_line(c)))
    for line in ct.published_lines(c):
        st.caption(md(line))
