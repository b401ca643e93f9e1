"""Pin a scenario, change the sidebar: the page shows the inputs that differ and both scenarios' totals."""
from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

import planner
from planner.core.units import usd

ROOT = Path(__file__).resolve().parent.parent


def started() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state["start"] = "customer_support"
    return at.run()


def errors(at) -> str:
    return re.sub(r"\\(.)", r"\1", "\n".join(e.value for e in at.error))


def test_pin_then_change_shows_the_difference():
    at = started()
    pinned = planner.loads_scenario(at.session_state["current_toml"])
    at.button(key="pin").click().run()
    assert at.session_state["pinned_toml"] == at.session_state["current_toml"]
    assert not at.dataframe or all("input" not in d.value.columns for d in at.dataframe)
    at.number_input(key="w.requests_per_day").set_value(90000.0).run()
    assert not at.exception and not at.error
    frames = [d.value for d in at.dataframe]
    inputs = next(f for f in frames if list(f.columns) == ["input", "pinned", "this scenario"])
    assert inputs.to_dict(orient="records") == [
        {"input": "workload.requests_per_day", "pinned": f"{pinned.workload.requests_per_day:g}", "this scenario": "90000"}]
    totals = next(f for f in frames if list(f.columns) == ["option", "pinned", "this scenario"]).set_index("option")
    api = planner.compare(pinned).options["api"]
    assert totals.loc[api.label, "pinned"].startswith(usd(api.total_usd.p50))
    assert "(+$" in totals.loc[api.label, "this scenario"]  # more traffic: the API costs more
    at.button(key="unpin").click().run()
    assert at.session_state["pinned_toml"] is None and not any("input" in f.columns for f in (d.value for d in at.dataframe))


def test_a_pinned_scenario_that_no_longer_loads_is_an_error_not_a_traceback():
    at = started()
    gone = at.session_state["current_toml"].replace('model = "Llama-3.1-8B"', 'model = "my-uploaded-model"')
    assert gone != at.session_state["current_toml"]
    at.session_state["pinned_toml"] = gone  # e.g. it named an uploaded model this session no longer has
    at.run()
    assert not at.exception
    assert "The pinned scenario no longer loads" in errors(at) and "my-uploaded-model" in errors(at)
    assert any("Recommended:" in s.value for s in at.success)  # the page still answers the current scenario
