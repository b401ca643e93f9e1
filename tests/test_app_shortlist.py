"""The dashboard's shortlist multi-selects, custom GPU upload, and fine-tune GPU and count (state and AppTest)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import planner
from dashboard import state as S
from planner.core.errors import InputError, PlannerError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = planner.load_scenario(ROOT / "examples" / "customer_support.toml")
P = S.PREFIX
GPU = {"name": "Dash ASIC", "peak_tflops": {"bf16": 600.0}, "memory_gib": 80, "memory_tb_per_s": 3.0,
       "interconnect_gb_per_s": 600, "tdp_watts": 600, "usd_per_gpu_hour": 1.2}


def test_an_untouched_page_is_the_scenario_single_or_shortlist():
    short = DEFAULT.replace(self_host=dataclasses.replace(DEFAULT.self_host, model=("Llama-3.1-8B", "Qwen2.5-7B"),
                                                          gpu="auto"))
    for s in (DEFAULT, short):
        assert S.scenario_from_values(s, S.widget_values(s)) == s


def test_multi_selects_make_a_shortlist_and_every_gpu_means_auto():
    values = S.widget_values(DEFAULT)
    values.update({P + "sh_search": True, P + "sh_models": ["Llama-3.1-8B", "Qwen2.5-7B"], P + "sh_gpus": ["L4", "A10G"]})
    s = S.scenario_from_values(DEFAULT, values)
    assert (s.self_host.model, s.self_host.gpu) == (("Llama-3.1-8B", "Qwen2.5-7B"), ("L4", "A10G"))
    values[P + "sh_all_gpus"] = True
    assert S.scenario_from_values(DEFAULT, values).self_host.gpu == "auto"
    values[P + "sh_precisions"] = ["bf16", "fp8"]
    assert S.scenario_from_values(DEFAULT, values).self_host.precision == ("bf16", "fp8")
    values[P + "sh_models"] = []
    with pytest.raises(InputError, match="empty shortlist"):
        S.scenario_from_values(DEFAULT, values)
    back = S.widget_values(s)
    back[P + "sh_search"] = False  # switching the search off serves the single selects' model and GPU
    one = S.scenario_from_values(s, back)
    assert (one.self_host.model, one.self_host.gpu) == ("Llama-3.1-8B", "L4")


def test_fine_tune_gpu_and_count_widgets():
    values = S.widget_values(DEFAULT)
    assert (values[P + "ft_gpu"], values[P + "ft_n_gpus"]) == (S.FT_GPU_DEFAULT, 0.0)
    values.update({P + "ft_gpu": "A100 80GB SXM", P + "ft_n_gpus": 4.0})
    s = S.scenario_from_values(DEFAULT, values)
    assert (s.self_host.finetune_gpu, s.self_host.finetune_n_gpus) == ("A100 80GB SXM", 4)
    assert S.bounds("ft_n_gpus")[0] == 0.0  # 0 shows "the fewest that fit"


def test_gpu_spec_upload_is_checked_and_kept_in_the_scenario():
    tables = S.parse_gpu_spec(json.dumps(GPU).encode(), "dash.json")
    s = S.with_custom_gpus(DEFAULT, tables)
    assert s.custom_gpu == (GPU,) and S.with_custom_gpus(s, [{**GPU, "usd_per_gpu_hour": 2.0}]).custom_gpu[0][
        "usd_per_gpu_hour"] == 2.0
    with pytest.raises(InputError, match="memory_tb_per_s"):
        S.parse_gpu_spec(json.dumps({**GPU, "memory_tb_per_s": -3}).encode(), "bad.json")
    with pytest.raises(PlannerError, match="not UTF-8"):
        S.parse_gpu_spec(b"\xff\xfe", "bad.toml")


def test_page_shows_the_shortlist_and_uses_a_custom_gpu():
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    at.checkbox(key=P + "sh_search").check().run()
    at.multiselect(key=P + "sh_models").set_value(["Llama-3.1-8B", "Qwen2.5-7B"])
    at.multiselect(key=P + "sh_gpus").set_value(["L4", "A100 80GB SXM"]).run()
    assert not at.exception, at.exception
    s = planner.loads_scenario(at.session_state["current_toml"])
    c = planner.compare(s)
    assert "Self-host shortlist" in [h.value for h in at.subheader]
    assert c.shortlist.chosen.model in "\n".join(m.value for m in at.markdown)
    # a custom GPU, as the uploader's callback stores it: in the scenario, then selectable
    at.checkbox(key=P + "sh_search").uncheck().run()
    at.session_state["base_toml"] = planner.dumps_scenario(S.with_custom_gpus(
        planner.loads_scenario(at.session_state["base_toml"]), [GPU]))
    at.run()
    at.selectbox(key=P + "sh_gpu").set_value("Dash ASIC").run()
    assert not at.exception, at.exception
    s = planner.loads_scenario(at.session_state["current_toml"])
    assert s.self_host.gpu == "Dash ASIC" and s.custom_gpu == (GPU,)
    assert "Dash ASIC" in "\n".join(m.value for m in at.caption)
