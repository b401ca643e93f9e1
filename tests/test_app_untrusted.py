"""User text on the page is text: a model or scenario name holding Markdown or HTML (an image, a link, a
script tag) renders as written, so a page opened from someone's link or file fetches nothing from elsewhere."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import state as S
from planner.catalog.lookup import register_model
from planner.present.markdown import md_plain

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = Path(__file__).parent / "data" / "hf_configs"
HOSTILE = "![x](https://evil.example/p.png) <img src=https://evil.example/q.png> [a](https://evil.example) $x$"

# What a Markdown renderer would turn into a fetch, a link, HTML or maths, unless backslash-escaped.
_ACTIVE = re.compile(r"(?<!\\)!(?<!\\)\[|(?<!\\)\[[^\]]*(?<!\\)\]\(|(?<!\\)<[a-z/]|(?<!\\)\$|https?(?<!\\):|www(?<!\\)\.",
                     re.IGNORECASE)


@pytest.mark.parametrize("text", [
    HOSTILE, "<script>alert(1)</script>", "see www.evil.example or https://evil.example/a", "me@evil.example",
    "# a heading\n- a list\n1. numbered\n> quote", "a | table | row", "`code` **bold** _em_ ~strike~",
])
def test_md_plain_leaves_nothing_that_renders(text):
    out = md_plain(text)
    assert not _ACTIVE.search(out), out
    assert not re.search(r"(?m)^\s*([#>+\-]|\d+[.)])", out), out  # no line opens a block
    assert re.sub(r"\\(.)", r"\1", out).replace("  \n", "\n") == text  # nothing lost: only escapes added


def _shown(at) -> list[str]:
    kinds = (at.markdown, at.caption, at.success, at.error, at.info, at.warning, at.subheader, at.title, at.header)
    return [e.value for kind in kinds for e in kind]


def test_uploaded_model_name_with_markup_is_shown_as_text():
    cfg = json.loads((CONFIGS / "qwen2.5-7b.json").read_text())
    cfg["_name_or_path"] = HOSTILE
    spec, text = S.parse_hf_config(json.dumps(cfg).encode(), "x.json")
    register_model(spec)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["start"] = "customer_support"
    at.run()
    at.session_state["custom_models"] = {spec.name: text}  # what the uploader's callback stores
    at.run()
    at.selectbox(key="w.sh_model").set_value(spec.name).run()
    assert not at.exception, at.exception
    shown = _shown(at)
    assert any(md_plain(spec.name) in v for v in shown), "the name is on the page (escaped)"
    for v in shown:
        assert "evil.example" not in v or not _ACTIVE.search(v), v


def test_a_link_whose_scenario_name_holds_markup_shows_it_as_text():
    import dataclasses

    import planner
    from dashboard import link
    s = dataclasses.replace(planner.load_scenario(ROOT / "examples" / "customer_support.toml"), name=HOSTILE,
                            description=HOSTILE + "\n# heading <script>alert(1)</script>")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.query_params[link.PARAM] = link.encode(planner.dumps_scenario(s))
    at.run()
    assert not at.exception and not at.error
    assert planner.loads_scenario(at.session_state["current_toml"]) == s
    for v in _shown(at):
        assert "evil.example" not in v or not _ACTIVE.search(v), v
