"""The dashboard's token policy, sourcing and region controls, and its scratch and hardware tabs (headless AppTest)."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import planner
from dashboard import state as S
from planner.core.errors import PlannerError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = planner.load_scenario(ROOT / "examples" / "customer_support.toml")


@pytest.mark.parametrize("policy, amount, tokens, ratio", [
    ("chinchilla", 0.0, "chinchilla", None), ("tokens", 500.0, 5e11, None), ("tokens_per_param", 100.0, "match", 100.0),
    ("match", 0.0, "match", None)])
def test_token_policy_widgets_map_to_the_scenario(policy, amount, tokens, ratio):
    values = S.widget_values(DEFAULT)
    values[S.PREFIX + "sc_policy"], values[S.PREFIX + "sc_amount"] = policy, amount
    s = S.scenario_from_values(DEFAULT, values)
    assert (s.scratch.tokens, s.scratch.tokens_per_param) == (tokens, ratio)
    assert S.token_widgets(s.scratch) == (policy, amount)


def test_an_amount_policy_needs_an_amount():
    values = S.widget_values(DEFAULT)
    values[S.PREFIX + "sc_policy"], values[S.PREFIX + "sc_amount"] = "tokens", 0.0
    with pytest.raises(PlannerError, match="above 0"):
        S.scenario_from_values(DEFAULT, values)


def test_sourcing_and_region_widgets_reach_the_scenario():
    values = S.widget_values(DEFAULT)
    values[S.PREFIX + "sh_sourcing"], values[S.PREFIX + "hw_region"] = "owned", "france"
    s = S.scenario_from_values(DEFAULT, values)
    assert s.self_host.sourcing == "owned" and s.hardware.region == "france"


def test_tabs_show_the_policy_and_the_energy_and_the_control_changes_them():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state["start"] = "customer_support"
    at.run()
    assert not at.exception
    at.session_state["view"] = "Scratch"  # tabs are lazy: open each one
    at.run()
    text = "\n".join(m.value for m in at.markdown)
    assert "Token policy **match**" in text and "chinchilla" in text  # the other policies in one line
    at.session_state["view"] = "Energy"
    at.run()
    assert not at.exception
    assert "Rent or own" in "\n".join(h.value for h in at.subheader)
    at.session_state["view"] = "Scratch"
    at.selectbox(key="w.sc_policy").set_value("chinchilla").run()
    assert not at.exception
    assert planner.loads_scenario(at.session_state["current_toml"]).scratch.tokens == "chinchilla"
    assert "Token policy **chinchilla**" in "\n".join(m.value for m in at.markdown)
