"""The page's address carries the scenario (dashboard.link): a link reopens exactly that view, and a link that
does not decode or load is a clear error on the page, never a traceback."""
from __future__ import annotations

import base64
import dataclasses
import re
import zlib
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import planner
from dashboard import link

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DEFAULT = planner.Scenario()  # what a page without a link starts from


def opened(params: dict) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    for k, v in params.items():
        at.query_params[k] = v
    return at.run()


def shown_scenario(at) -> planner.Scenario:
    return planner.loads_scenario(at.session_state["current_toml"])


def errors(at) -> str:
    return re.sub(r"\\(.)", r"\1", "\n".join(e.value for e in at.error))  # as the viewer reads them


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.toml")))
def test_a_link_reopens_the_scenario(example):
    s = planner.load_scenario(EXAMPLES / example)
    s = dataclasses.replace(s, name="Plan B: <b>more</b> traffic", workload=dataclasses.replace(
        s.workload, requests_per_day=s.workload.requests_per_day * 3))
    at = opened({link.PARAM: link.encode(planner.dumps_scenario(s))})
    assert not at.exception and not at.error, errors(at)
    assert shown_scenario(at) == s
    assert at.query_params[link.PARAM] == link.encode(planner.dumps_scenario(s))  # the address still says so


def test_the_address_follows_the_sidebar_and_its_link_round_trips():
    at = opened({})
    assert shown_scenario(at) == DEFAULT
    at.number_input(key="w.requests_per_day").set_value(12345.0).run()
    value = at.query_params[link.PARAM]
    assert planner.loads_scenario(link.decode(value)).workload.requests_per_day == 12345
    again = opened({link.PARAM: value, link.VIEW_PARAM: "Serving"})
    assert not again.exception and not again.error
    assert again.session_state["current_toml"] == at.session_state["current_toml"]
    assert again.session_state["view"] == "Serving"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


@pytest.mark.parametrize("value, message", [
    ("A" * (link.MAX_LINK_CHARS + 1), "the limit is 8,000"),
    ("not*base64!", "not URL-safe base64"),
    (_b64(b"plain bytes, not zlib"), "does not decompress"),
    (_b64(zlib.compress(b"[workload\nrequests_per_day = 1")), "not valid TOML"),
    (_b64(zlib.compress(b"[workload]\nrequests_per_day = -5\ninput_tokens = 1\noutput_tokens = 1")), "requests_per_day"),
    (_b64(zlib.compress(b" " * 1_000_000)), "unpacks to more than"),  # a compression bomb
    (_b64(zlib.compress(b"[workload]\nrequests_per_day = 100")[:-6]), "ends early"),
    (_b64(zlib.compress(b"\xff\xfe")), "not UTF-8"),
])
def test_a_bad_link_is_an_error_on_the_page(value, message):
    at = opened({link.PARAM: value})
    assert not at.exception
    assert message in errors(at) and "Could not open the link's scenario" in errors(at), errors(at)
    assert shown_scenario(at) == DEFAULT  # the page still works, at its start


def test_an_unknown_view_is_ignored():
    at = opened({link.VIEW_PARAM: "<script>"})
    assert not at.exception and not at.error
    assert at.session_state["view"] != "<script>"
