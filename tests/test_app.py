"""The dashboard, driven headless with streamlit's AppTest: the numbers it shows are planner.compare's."""
from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import planner
from dashboard import state as S
from dashboard.views import metric_label
from planner.present import formatting as fmt
from planner.catalog.lookup import register_model
from planner.core.errors import PlannerError

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CONFIGS = Path(__file__).parent / "data" / "hf_configs"
DEFAULT = planner.load_scenario(EXAMPLES / "customer_support.toml")


@pytest.fixture
def at():
    """The dashboard started from the customer-support example (a new page starts from the defaults)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.session_state["start"] = "customer_support"
    return at.run()


def metric(at, key: str, what: str) -> str:
    hits = [m.value for m in at.metric if m.label == metric_label(key, what)]
    assert len(hits) == 1, f"expected one metric {metric_label(key, what)!r}, got {[m.label for m in at.metric]}"
    return hits[0]


def total(at, key: str, horizon: int = 24) -> str:
    return metric(at, key, f"total over {horizon} months")


def expected_total(s: planner.Scenario, key: str) -> str:
    return fmt.usd(planner.compare(s).options[key].total_usd.p50)


def shown_scenario(at) -> planner.Scenario:
    return planner.loads_scenario(at.session_state["current_toml"])


def errors(at) -> str:
    """The errors as the viewer reads them: Markdown's backslash escapes (dashboard.views.md) removed."""
    return re.sub(r"\\(.)", r"\1", "\n".join(e.value for e in at.error))


def test_started_from_an_example_the_page_shows_it(at):
    assert not at.exception
    assert shown_scenario(at) == DEFAULT
    for key in ("api", "self_host", "scratch"):
        assert total(at, key) == expected_total(DEFAULT, key)
    assert any("Recommended:" in s.value for s in at.success)


def test_more_traffic_changes_the_numbers_as_the_planner_does(at):
    at.number_input(key="w.requests_per_day").set_value(400_000.0).run()
    assert not at.exception
    s = DEFAULT.replace(workload=DEFAULT.workload.with_(requests_per_day=400_000.0))
    assert shown_scenario(at) == s
    assert total(at, "api") == expected_total(s, "api") != expected_total(DEFAULT, "api")
    assert total(at, "self_host") == expected_total(s, "self_host")


def test_switching_model_and_gpu(at):
    at.session_state["view"] = "Serving"  # tabs are lazy: open the one with the serving plan
    at.selectbox(key="w.sh_model").set_value("Llama-3.1-70B")
    at.selectbox(key="w.sh_gpu").set_value("H200 SXM").run()
    assert not at.exception
    s = DEFAULT.replace(self_host=dataclasses.replace(DEFAULT.self_host, model="Llama-3.1-70B", gpu="H200 SXM"))
    assert metric(at, "self_host", "parallelism") == planner.compare(s).serving_plan.parallelism
    assert not [m for m in at.metric if m.label == metric_label("self_host", "total over 24 months")]  # lazy
    at.session_state["view"] = "Options"
    at.run()
    assert total(at, "self_host") == expected_total(s, "self_host")


def test_switching_the_api_model(at):
    at.selectbox(key="w.api_model").set_value("anthropic|claude-3-5-haiku-latest").run()
    assert not at.exception
    s = shown_scenario(at)
    assert (s.api.provider, s.api.model) == ("anthropic", "claude-3-5-haiku-latest")
    assert total(at, "api") == expected_total(s, "api") != expected_total(DEFAULT, "api")


def test_impossible_latency_target_is_an_error_and_the_api_still_shows(at):
    at.number_input(key="w.tpot_ms").set_value(0.5).run()
    assert not at.exception
    assert "tpot target" in errors(at) and "below the floor" in errors(at)
    assert total(at, "api") == expected_total(shown_scenario(at), "api")


def test_model_that_does_not_fit_is_an_error(at):
    at.selectbox(key="w.sh_model").set_value("Llama-3.1-405B")
    at.selectbox(key="w.sh_gpu").set_value("L4").run()
    assert not at.exception
    assert "Open weights + fine-tune + self-host** is not available" in errors(at)
    assert total(at, "api") == expected_total(shown_scenario(at), "api")


def test_uploaded_config_is_used_for_self_hosting(at):
    spec, text = S.parse_hf_config((CONFIGS / "qwen2.5-7b.json").read_bytes(), "qwen2.5-7b.json")
    assert spec.name == "qwen2.5-7b (uploaded)"  # the file name is a catalog alias: not shadowed
    at.session_state["custom_models"] = {spec.name: text}  # what the uploader's callback stores
    at.run()
    at.selectbox(key="w.sh_model").set_value(spec.name).run()
    assert not at.exception, at.exception
    register_model(spec)
    s = shown_scenario(at)
    assert s.self_host.model == spec.name
    assert total(at, "self_host") == expected_total(s, "self_host")


@pytest.mark.parametrize("data, message", [
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "must hold a JSON object"),
    (json.dumps({"model_type": "gpt2"}).encode(), "not supported"),
    (json.dumps({"model_type": "llama"}).encode(), "is missing"),
    (b" " * (S.MAX_UPLOAD_BYTES + 1), "the limit is 1,000,000 bytes"),
    (b"\xff\xfe", "not UTF-8"),
])
def test_bad_config_uploads_are_clear_errors(data, message):
    with pytest.raises(PlannerError, match=message):
        S.parse_hf_config(data)


def test_loading_a_scenario_text_replaces_every_input(at):
    text = (EXAMPLES / "code_completion.toml").read_text()
    at.text_area(key="scenario_text").input(text)
    at.button(key="load_pasted").click().run()
    assert not at.exception
    s = planner.loads_scenario(text)
    assert shown_scenario(at) == s
    assert at.number_input(key="w.requests_per_day").value == s.workload.requests_per_day
    assert total(at, "api", s.workload.horizon_months) == expected_total(s, "api")


@pytest.mark.parametrize("text, message", [
    ("[workload\nrequests_per_day = 1", "not valid TOML"),
    ("[workload]\nrequests_per_dya = 1", "did you mean requests_per_day"),
    ('[api]\nmodel = "no-such-model-xyz"', "[api]"),
])
def test_a_bad_scenario_is_an_error_and_the_current_one_stays(at, text, message):
    at.text_area(key="scenario_text").input(text)
    at.button(key="load_pasted").click().run()
    assert not at.exception
    assert message in errors(at) and "the current scenario stays" in errors(at)
    assert shown_scenario(at) == DEFAULT
    assert total(at, "api") == expected_total(DEFAULT, "api")


def test_impossible_workload_is_an_error_not_a_traceback(at):
    at.number_input(key="w.input_tokens").set_value(0.0)
    at.number_input(key="w.prompt_overhead_tokens").set_value(0.0).run()
    assert not at.exception
    assert "input_tokens" in errors(at)


def test_sweep_of_settings_never_raises(at):
    """Each GPU, each precision, each fine-tuning method: errors are messages, never exceptions."""
    settings = [("w.sh_gpu", g.name) for g in planner.gpus()] + [("w.sh_precision", p) for p in S.PRECISIONS] \
        + [("w.sh_engine", e) for e in S.ENGINES] + [("w.sh_kv_cache_dtype", k) for k in S.KV_CACHE_DTYPES] \
        + [("w.ft_method", m) for m in S.FINETUNE_METHODS] + [("w.flag_regulatory_isolation", True)]
    for key, value in settings:
        widget = at.checkbox(key=key) if isinstance(value, bool) else at.selectbox(key=key)
        widget.set_value(value).run()
        assert not at.exception, (key, value, at.exception)
        assert at.success or at.error, (key, value)


def test_zero_means_no_target_end_to_end(at):
    at.number_input(key="w.ttft_ms").set_value(0.0)
    at.number_input(key="w.tpot_ms").set_value(0.0).run()
    assert not at.exception
    s = shown_scenario(at)  # the scenario the page computes with, read back from its saved TOML
    assert s.workload.ttft_target_s is None and s.workload.tpot_target_s is None
    assert total(at, "self_host") == expected_total(s, "self_host")
    at.text_area(key="scenario_text").input(at.session_state["current_toml"])
    at.button(key="load_pasted").click().run()  # save, then load the saved file: still no target
    assert not at.exception and shown_scenario(at) == s
    assert at.number_input(key="w.ttft_ms").value == 0.0


def test_a_scenario_beyond_the_old_widget_ranges_loads(at):
    s = DEFAULT.replace(workload=DEFAULT.workload.with_(horizon_months=120, requests_per_day=0.5),
                        self_host=dataclasses.replace(DEFAULT.self_host, finetune_epochs=0.05, precision="fp32"))
    at.text_area(key="scenario_text").input(planner.dumps_scenario(s))
    at.button(key="load_pasted").click().run()
    assert not at.exception
    assert shown_scenario(at) == s


@pytest.mark.parametrize("text, message", [
    ("a = " + "[" * 3000 + "]" * 3000, "nested more than 32"),
    ("a" + ".a" * 3000 + " = 1", "nested more than 32"),
    ("seed = " + "1" * 5000, "4300 digits"),
    ("[costs]\nusd_per_engineer_year = nan", "costs.usd_per_engineer_year"),
    ("[workload]\nrequests_per_day = 5\noutput_tokens = 3", "needs input_tokens"),
    ("[workload]\nrequests_per_day = 1e8\ninput_tokens = 1\noutput_tokens = 1\nhorizon_months = 100000000",
     "horizon_months"),
])
def test_malformed_scenarios_are_messages_not_exceptions(at, text, message):
    at.text_area(key="scenario_text").input(text)
    at.button(key="load_pasted").click().run()
    assert not at.exception
    assert message in errors(at) and "the current scenario stays" in errors(at)


# ---- issue 27: neutral defaults, the example picker, editable name, precision "auto", the report's charts ----

@pytest.fixture
def fresh():
    return AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()


def test_a_new_page_starts_from_the_shared_defaults(fresh):
    """The dashboard, the CLI and a Python caller share one copy of the defaults: planner.Scenario()."""
    assert not fresh.exception and not errors(fresh)
    assert shown_scenario(fresh) == planner.Scenario()
    w = planner.Scenario().workload
    assert fresh.number_input(key="w.tpot_ms").value == w.tpot_target_s * 1e3 == 100.0  # the CLI's target too
    assert fresh.number_input(key="w.peak_to_mean").value == w.peak_to_mean
    assert fresh.number_input(key="w.ops_engineers").value == 0.0  # 0: staff scale with the fleet
    assert total(fresh, "self_host") == expected_total(planner.Scenario(), "self_host")


@pytest.mark.parametrize("stem", [p.stem for p in sorted(EXAMPLES.glob("*.toml"))])
def test_the_picker_loads_each_example_and_back(fresh, stem):
    fresh.selectbox(key="start").set_value(stem).run()
    assert not fresh.exception and not errors(fresh)
    assert shown_scenario(fresh) == planner.load_scenario(EXAMPLES / f"{stem}.toml")
    fresh.selectbox(key="start").set_value("new").run()
    assert shown_scenario(fresh) == planner.Scenario()


def test_name_and_description_are_editable_and_title_the_report(fresh):
    fresh.text_input(key="w.name").input("Support bot, 2027 plan")
    fresh.text_area(key="w.description").input("Plan for the\nsupport team").run()
    s = shown_scenario(fresh)
    assert (s.name, s.description) == ("Support bot, 2027 plan", "Plan for the\nsupport team")
    from planner.present.report import report_markdown
    assert report_markdown(planner.compare(s), s, samples=200).startswith("# Support bot, 2027 plan\n")
    fresh.text_input(key="w.name").input("").run()
    assert "name" in errors(fresh)  # an empty name is refused with the field's name, not a traceback


def test_precision_auto_in_the_dashboard(at):
    at.session_state["view"] = "Serving"
    at.selectbox(key="w.sh_precision").set_value("auto").run()
    assert not at.exception and not errors(at)
    s = DEFAULT.replace(self_host=dataclasses.replace(DEFAULT.self_host, precision="auto"))
    assert shown_scenario(at) == s
    chosen = planner.compare(s).serving_plan.precision
    assert any(f"({chosen})" in h.value for h in at.subheader)  # the serving tab names the chosen format
    at.session_state["view"] = "Options"
    at.run()
    assert total(at, "self_host") == expected_total(s, "self_host")


def test_every_offered_option_compares(at):
    """Nothing the sidebar offers fails: each precision, engine, KV cache and percentile on the example."""
    for key in ("w.sh_precision", "w.sh_engine", "w.sh_kv_cache_dtype", "w.sh_latency_percentile", "w.ft_method",
                "w.sh_sourcing", "w.sc_sourcing", "w.sc_policy"):
        for option in list(S.TOKEN_POLICIES) if key == "w.sc_policy" else at.selectbox(key=key).options:
            at.selectbox(key=key).set_value(option).run()
            assert not at.exception, (key, option)
            # an option may be unavailable with its reason (fp16 on a GPU the catalog gives no fp16 peak); the page
            # must not fail: no refused input, no comparison that cannot run
            assert "Cannot compare" not in errors(at) and "Impossible input" not in errors(at), (key, option, errors(at))
        at.session_state[key] = S.widget_values(DEFAULT)[key]
        at.run()


def test_export_offers_the_report_with_its_charts(at):
    at.session_state["view"] = "Export"
    at.run()
    assert not at.exception
    import io
    import zipfile
    from planner.present.report import report_zip
    data = report_zip(planner.compare(DEFAULT), DEFAULT)
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "report/report.md" in names and "report/cumulative_cost.png" in names
    text = zipfile.ZipFile(io.BytesIO(data)).read("report/report.md").decode()
    assert "](cumulative_cost.png)" in text  # the Markdown shows the images beside it


def test_every_tab_renders_on_a_new_scenario(fresh):
    labels = [t.label for t in fresh.tabs]
    assert len(labels) == 12 and labels[-1] == "Export"
    for tab in labels:
        fresh.session_state["view"] = tab
        fresh.run()
        assert not fresh.exception, (tab, fresh.exception)
        assert "Cannot compare" not in errors(fresh), tab


def test_dp_attention_control_reaches_the_plan(at):
    """The sidebar's DP-attention select (default: search) sets [self_host] attention_dp; on an MoE model its choice
    is the plan's, and forcing it on a dense model is a message naming attention_dp, not a traceback."""
    assert at.selectbox(key="w.sh_attention_dp").value == "search" == DEFAULT.self_host.attention_dp
    assert at.selectbox(key="w.sh_attention_dp").options == [S.ATTENTION_DP_LABELS.get(v, v) for v in S.ATTENTION_DP]
    at.selectbox(key="w.sh_model").set_value("Qwen3-30B-A3B")
    at.selectbox(key="w.sh_attention_dp").set_value("off").run()
    assert not at.exception and not errors(at)
    off = DEFAULT.replace(self_host=dataclasses.replace(DEFAULT.self_host, model="Qwen3-30B-A3B", attention_dp="off"))
    assert shown_scenario(at) == off and not planner.compare(off).serving_plan.attention_dp
    assert total(at, "self_host") == expected_total(off, "self_host")
    at.selectbox(key="w.sh_attention_dp").set_value("on").run()
    on = off.replace(self_host=dataclasses.replace(off.self_host, attention_dp="on"))
    assert not at.exception and shown_scenario(at) == on and planner.compare(on).serving_plan.attention_dp
    assert total(at, "self_host") == expected_total(on, "self_host")
    at.selectbox(key="w.sh_model").set_value(DEFAULT.self_host.model).run()  # dense, forced on
    assert not at.exception and "attention_dp" in errors(at)
