"""The self-host option over a shortlist of models x GPUs: the cheapest meeting the targets, a row for each other."""
import dataclasses
import json
import math

import numpy as np
import pytest

import planner
from planner.core.errors import InputError, UnknownNameError
from planner.decide.scenario import dumps_scenario, loads_scenario
from planner.decide.shortlist import candidates
from planner.present.cli import main
from planner.uncertainty.montecarlo import Engine

MODELS = ("Llama-3.1-8B", "Qwen2.5-7B")
GPUS = ("L4", "A100 80GB SXM")


def scenario(model=MODELS, gpu=GPUS, **self_host) -> planner.Scenario:
    """Small traffic, a LoRA fine-tune, no scratch option: a few candidates cost well under a second each."""
    s = planner.Scenario()
    h = dataclasses.replace(s.self_host, model=model, gpu=gpu, **self_host)
    return s.replace(self_host=h, scratch=dataclasses.replace(s.scratch, enabled=False))


def single(s: planner.Scenario, model: str, gpu: str) -> planner.Scenario:
    return s.replace(self_host=dataclasses.replace(s.self_host, model=model, gpu=gpu))


def test_the_cheapest_candidate_is_the_one_compare_would_price_lowest():
    s = scenario()
    c = planner.compare(s)
    sl = c.shortlist
    assert len(sl.candidates) == 4 and all(k.meets_targets for k in sl.candidates)
    # each candidate alone, compared as a one-model one-GPU scenario, costs what its row says
    alone = {(m, g): planner.compare(single(s, m, g)).options["self_host"].total_usd.p50 for m in MODELS for g in GPUS}
    for k in sl.candidates:
        assert k.total_usd == pytest.approx(alone[(k.model, k.gpu)], rel=1e-12)
    assert (sl.chosen.model, sl.chosen.gpu) == min(alone, key=alone.get)
    assert c.options["self_host"].total_usd.p50 == pytest.approx(sl.chosen.total_usd, rel=1e-12)
    assert c.serving_plan.model == sl.chosen.model and c.serving_plan.gpu == sl.chosen.gpu
    assert [k.total_usd for k in sl.candidates] == sorted(k.total_usd for k in sl.candidates)
    table = sl.table()
    assert list(table.columns[:6]) == ["model", "gpu", "precision", "tensor_parallel", "replicas", "usd_per_month"]
    assert (table["usd_per_month"] > 0).all() and (table["replicas"] >= 2).all()


def test_precision_auto_reports_each_candidates_format():
    c = planner.compare(scenario(model="Llama-3.1-70B", gpu=("L4", "A100 80GB SXM"), precision="auto"))
    by_gpu = {k.gpu: k for k in c.shortlist.candidates}
    assert by_gpu["L4"].precision != "auto" and by_gpu["A100 80GB SXM"].precision != "auto"
    assert c.serving_plan.precision == c.shortlist.chosen.precision


def test_a_list_of_precisions_makes_each_a_candidate():
    c = planner.compare(scenario(model="Llama-3.1-8B", gpu="A100 80GB SXM", precision=["bf16", "int8", "fp8"]))
    rows = {k.precision: k for k in c.shortlist.candidates}
    assert set(rows) == {"bf16", "int8", "fp8"}
    assert not rows["fp8"].meets_targets and "fp8" in rows["fp8"].why_not  # an A100 has no fp8 matrix units
    assert rows["bf16"].meets_targets and rows["int8"].meets_targets
    assert c.serving_plan.precision == c.shortlist.chosen.precision in ("bf16", "int8")
    alone = planner.compare(scenario(model="Llama-3.1-8B", gpu="A100 80GB SXM", precision="int8"))
    assert rows["int8"].total_usd == pytest.approx(alone.options["self_host"].total_usd.p50, rel=1e-12)


def test_nothing_meeting_the_targets_says_why_for_each():
    s = scenario()
    s = s.replace(workload=s.workload.with_(ttft_target_s=1e-4))  # below any GPU's prefill floor
    c = planner.compare(s)
    assert c.shortlist.chosen is None and not c.options["self_host"].available
    assert c.options["self_host"].reason_unavailable.startswith("no candidate of the shortlist meets the targets")
    assert all(not k.meets_targets and k.why_not and math.isinf(k.total_usd) for k in c.shortlist.candidates)
    assert c.options["api"].available and c.recommendation.choice == "api"


def test_a_candidate_that_cannot_work_is_kept_with_its_reason():
    c = planner.compare(scenario(gpu=("A100 80GB SXM", "V100 SXM2 16GB")))  # the V100 has no bf16 for the LoRA
    bad = [k for k in c.shortlist.candidates if k.gpu == "V100 SXM2 16GB"]
    assert len(bad) == 2 and all("bf16" in k.why_not for k in bad)
    assert c.shortlist.candidates[-1].gpu == "V100 SXM2 16GB" and c.shortlist.chosen.gpu == "A100 80GB SXM"


@pytest.mark.parametrize("field, value, error, words", [
    ("model", [], InputError, ["self_host.model", "empty shortlist"]),
    ("gpu", [], InputError, ["self_host.gpu", "empty shortlist"]),
    ("model", ["Llama-3.1-8B", ""], InputError, ["self_host.model[1]"]),
    ("model", ["Llama-3.1-8B", 3], InputError, ["self_host.model[1]"]),
    ("model", 7, InputError, ["self_host.model"]),
    ("model", ["Llama-3.1-8B"] * 65, InputError, ["at most 64"]),
])
def test_bad_shortlists_are_refused_naming_the_field(field, value, error, words):
    with pytest.raises(error) as e:
        dataclasses.replace(planner.SelfHostOption(), **{field: value})
    assert all(w in str(e.value) for w in words), str(e.value)


@pytest.mark.parametrize("model, gpu, words", [(("Llama-3.1-8B", "Lama-3.1-70B"), "L4", ["Lama-3.1-70B", "Llama-3.1-70B"]),
                                               ("Llama-3.1-8B", ("L4", "H100 SMX"), ["H100 SMX", "H100 SXM"])])
def test_an_unknown_name_is_an_error_before_any_work(model, gpu, words):
    with pytest.raises(UnknownNameError) as e:
        planner.compare(scenario(model=model, gpu=gpu))
    assert all(w in str(e.value) for w in words)


def test_auto_means_every_catalog_gpu_and_the_custom_ones():
    custom = {"name": "Shortlist ASIC", "peak_tflops": {"bf16": 400.0}, "memory_gib": 64, "memory_tb_per_s": 2.0,
              "interconnect_gb_per_s": 400, "tdp_watts": 500, "usd_per_gpu_hour": 1.5}
    s = scenario(gpu="AUTO").replace(custom_gpu=(custom,))
    assert s.self_host.gpu == "auto"
    got = candidates(s.self_host)
    assert {g for _, g, _ in got} >= {g.name for g in planner.gpus()} | {"Shortlist ASIC"}
    assert len(got) == 2 * len({g for _, g, _ in got})


def test_lists_round_trip_and_a_single_name_stays_a_name():
    for s in (scenario(), scenario(gpu="auto"), scenario(model=["Llama-3.1-8B", "Llama-3.1-8B"])):
        assert loads_scenario(dumps_scenario(s)) == s
    assert scenario(model=["Llama-3.1-8B"]).self_host.model == "Llama-3.1-8B"
    assert 'gpu = [\n    "L4",' in dumps_scenario(scenario()) or 'gpu = ["L4",' in dumps_scenario(scenario())


def test_views_and_monte_carlo_use_the_chosen_candidate(tmp_path, capsys):
    s = scenario()
    c = planner.compare(s)
    d = c.to_dict()
    assert len(d["shortlist"]["candidates"]) == 4 and "scenario" not in d["shortlist"]
    json.dumps(d)
    e = Engine(s, c)
    assert e.scenario.self_host.model == c.shortlist.chosen.model
    assert e.totals({}, 1)[0][e.keys.index("self_host")] == pytest.approx(c.shortlist.chosen.total_usd, rel=1e-9)
    assert np.isfinite(e.totals({}, 1)).all()
    path = tmp_path / "s.toml"
    path.write_text(dumps_scenario(s))
    assert main(["compare", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Self-host shortlist" in out and "Cheapest meeting the targets" in out and "Qwen2.5-7B" in out


def test_report_has_the_shortlist_and_describes_the_chosen_candidate():
    from planner.present.report import report_markdown
    s = scenario()
    c = planner.compare(s)
    text = report_markdown(c, s, samples=2000)
    assert "## Self-host shortlist" in text and "a shortlist of models x GPUs x precisions" in text
    section = text.split("## Self-host shortlist")[1].split("\n## ")[0]
    assert all(m in section for m in MODELS) and all(g in section for g in GPUS)
    assert f"Cheapest meeting the targets: {c.shortlist.chosen.model} on {c.shortlist.chosen.gpu}" in section
