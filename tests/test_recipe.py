"""A training recipe fixed by the user while the layout search picks the sizes (planner/estimate/recipe.py):
applied to every searched layout, refused field by field when wrong, read from the CLI and from a scenario."""
from __future__ import annotations

from pathlib import Path

import pytest

import planner
from planner.core.errors import InputError, PlannerTypeError
from planner.decide.scenario import dumps_scenario, loads_scenario, scenario_from_dict
from planner.estimate.recipe import DEFAULT_RECIPE, TrainingRecipe, parse_recipe, recipe_from
from planner.present.cli import main

MOE = dict(model="Mixtral-8x7B", gpu="H100 SXM", tokens=1e12, n_gpus=256, seq_len=4096)
DENSE = dict(model="Llama-3.1-8B", gpu="H100 SXM", tokens=1e12, n_gpus=64, seq_len=4096)


def test_recipe_reaches_the_searched_layout():
    r = TrainingRecipe(moe_overlap=True, moe_balance="aux-free", moe_dispatcher="deepep", tp_overlap=True)
    est = planner.pretraining(**MOE, recipe=r)
    assert r.apply(est.layout) == est.layout  # every knob of the recipe is the layout's
    assert next(a for a in est.assumptions if a.name == "recipe").value == r.describe()


def test_a_dict_is_the_same_recipe():
    a = planner.pretraining(**MOE, recipe={"moe_overlap": True, "moe_balance": "forced"})
    b = planner.pretraining(**MOE, recipe=TrainingRecipe(moe_overlap=True, moe_balance="forced"))
    assert a.gpu_hours == b.gpu_hours and a.layout == b.layout


@pytest.mark.parametrize("knob", [{"moe_overlap": True}, {"moe_balance": "aux-free"}, {"moe_balance": "forced"},
                                  {"tp_overlap": True}])
def test_a_faster_recipe_makes_an_moe_search_no_slower(knob):
    """Overlap, better balance: each hides or removes time, so the searched best can only get faster."""
    base, better = planner.pretraining(**MOE), planner.pretraining(**MOE, recipe=knob)
    assert better.gpu_hours.p50 <= base.gpu_hours.p50 * (1 + 1e-12)


def test_overlap_and_balance_make_deepseek_v3_faster():
    kw = dict(model="DeepSeek-V3", gpu="H800 SXM", tokens=14.8e12, n_gpus=2048, seq_len=4096, fp8=True)
    base = planner.pretraining(**kw)
    fast = planner.pretraining(**kw, recipe=dict(moe_overlap=True, moe_balance="aux-free", moe_dispatcher="deepep"))
    assert fast.gpu_hours.p50 < 0.8 * base.gpu_hours.p50
    assert fast.step.expert_parallel_s < base.step.expert_parallel_s


def test_a_dense_model_ignores_the_moe_knobs():
    base = planner.pretraining(**DENSE)
    moe = planner.pretraining(**DENSE, recipe=dict(moe_overlap=True, moe_balance="aux-free", moe_dispatcher="deepep"))
    assert moe.gpu_hours == base.gpu_hours
    assert moe.layout == TrainingRecipe(moe_overlap=True, moe_balance="aux-free", moe_dispatcher="deepep").apply(base.layout)


def test_the_fp8_scaling_recipe_reaches_the_search():
    kw = dict(DENSE, fp8=True)
    est = planner.pretraining(**kw, recipe=dict(fp8_recipe="blockwise"))
    assert est.layout.fp8_recipe == "blockwise"
    assert next(a for a in est.assumptions if a.name == "fp8_recipe").value == "blockwise"


@pytest.mark.parametrize("recipe, field", [
    ({"moe_balance": "even"}, "recipe.moe_balance"),
    ({"moe_overlap": "yes"}, "recipe.moe_overlap"),
    ({"moe_dispatcher": "nccl"}, "recipe.moe_dispatcher"),
    ({"tp_overlap": 1}, "recipe.tp_overlap"),
    ({"fp8_param_gather": None}, "recipe.fp8_param_gather"),
    ({"fp8_recipe": "fp4"}, "recipe.fp8_recipe"),
    ({"moe_overlp": True}, "recipe.moe_overlp"),
    ({"tp": 8}, "recipe.tp"),  # a size is the search's, not the recipe's
    ({"fp8_recipe": "blockwise"}, "recipe.fp8_recipe"),  # without fp8
    ("moe_overlap=true", "recipe"),
])
def test_a_bad_recipe_is_refused_naming_the_field(recipe, field):
    with pytest.raises(InputError) as e:
        planner.pretraining(**DENSE, recipe=recipe)
    assert e.value.field == field


def test_mxfp8_off_blackwell_is_refused_as_the_recipe_field():
    with pytest.raises(InputError) as e:
        planner.pretraining(**DENSE, fp8=True, recipe=dict(fp8_recipe="mxfp8"))
    assert e.value.field == "recipe.fp8_recipe" and "Blackwell" in str(e.value)


def test_a_recipe_with_a_given_layout_is_refused():
    with pytest.raises(InputError, match="layout") as e:
        planner.pretraining(**DENSE | {"n_gpus": None}, layout=planner.TrainingLayout(tp=8, dp=8),
                            recipe=dict(tp_overlap=True))
    assert e.value.field == "recipe"


def test_recipe_from_and_its_defaults():
    assert recipe_from(None) is DEFAULT_RECIPE and DEFAULT_RECIPE.is_default()
    assert DEFAULT_RECIPE.apply(planner.TrainingLayout()) == planner.TrainingLayout()  # the layout's own defaults
    assert recipe_from({"moe_balance": "AUX-FREE"}).moe_balance == "aux-free"
    with pytest.raises(PlannerTypeError, match="recipe"):
        recipe_from({1: True})


def test_cli_parse():
    r = parse_recipe("moe_overlap=true, moe_dispatcher=deepep,moe_balance=aux-free,tp_overlap=0,fp8_recipe=blockwise")
    assert r == TrainingRecipe(moe_overlap=True, moe_dispatcher="deepep", moe_balance="aux-free", tp_overlap=False,
                               fp8_recipe="blockwise")
    for text, field in (("moe_overlap=maybe", "recipe.moe_overlap"), ("moe_overlap", "recipe"),
                        ("ep=8", "recipe.ep"), ("moe_balance=even", "recipe.moe_balance")):
        with pytest.raises(InputError) as e:
            parse_recipe(text)
        assert e.value.field == field, text


def test_cli_pretrain_takes_a_recipe(capsys):
    args = ["estimate", "pretrain", "--model", "Mixtral-8x7B", "--gpu", "H100 SXM", "--n-gpus", "256", "--tokens", "1e12",
            "--format", "json"]
    assert main(args + ["--recipe", "moe_overlap=true,moe_balance=forced"]) == 0
    out = capsys.readouterr().out
    assert '"moe_overlap": true' in out and '"moe_balance": "forced"' in out
    assert main(args + ["--recipe", "moe_balance=even"]) == 1
    assert "recipe.moe_balance" in capsys.readouterr().err


def _scenario_text():
    return (Path(__file__).parent.parent / "examples" / "code_completion.toml").read_text(encoding="utf-8")


def test_scenario_scratch_recipe_round_trips_and_is_checked():
    s = loads_scenario(_scenario_text() + "\n[scratch.recipe]\nmoe_overlap = true\nmoe_balance = \"aux-free\"\n")
    assert s.scratch.recipe == TrainingRecipe(moe_overlap=True, moe_balance="aux-free")
    assert loads_scenario(dumps_scenario(s)).scratch.recipe == s.scratch.recipe
    assert "recipe" not in dumps_scenario(loads_scenario(_scenario_text()))  # defaults are not written
    for bad, field in (("moe_balance = \"even\"", "scratch.recipe.moe_balance"),
                       ("moe_overlp = true", "scratch.recipe.moe_overlp"),
                       ("fp8_recipe = \"blockwise\"", "scratch.recipe.fp8_recipe")):
        with pytest.raises(InputError) as e:
            loads_scenario(_scenario_text() + f"\n[scratch.recipe]\n{bad}\n")
        assert e.value.field == field
    with pytest.raises(PlannerTypeError) as e:
        scenario_from_dict({"scratch": {"recipe": 3}})
    assert e.value.field == "scratch.recipe"


def test_scenario_scratch_recipe_reaches_the_pretraining_estimate(monkeypatch):
    from planner.decide import estimates
    seen = []
    real = estimates.pretraining
    monkeypatch.setattr(estimates, "pretraining", lambda **kw: seen.append(kw.get("recipe")) or real(**kw))
    estimates._pretrain.cache_clear()
    planner.compare(loads_scenario(_scenario_text() + "\n[scratch.recipe]\ntp_overlap = true\n"))
    assert TrainingRecipe(tp_overlap=True) in seen


def test_finetuning_takes_a_recipe_too(capsys):
    kw = dict(model="Mixtral-8x7B", gpu="H100 SXM", method="full", tokens=1e8, n_gpus=64)
    base = planner.finetuning(**kw)
    est = planner.finetuning(**kw, recipe={"moe_overlap": True, "moe_balance": "forced"})
    assert est.layout.moe_overlap and est.layout.moe_balance == "forced"
    assert est.gpu_hours.p50 <= base.gpu_hours.p50 * (1 + 1e-12)
    for bad, field in (({"fp8_recipe": "blockwise"}, "recipe.fp8_recipe"), ({"moe_overlap": 2}, "recipe.moe_overlap")):
        with pytest.raises(InputError) as e:
            planner.finetuning(**kw, recipe=bad)
        assert e.value.field == field
    with pytest.raises(InputError) as e:
        planner.finetuning(**kw | {"n_gpus": None}, layout=planner.TrainingLayout(dp=64, ep=8), recipe={"tp_overlap": True})
    assert e.value.field == "recipe"
    assert main(["estimate", "finetune", "--model", "Mixtral-8x7B", "--gpu", "H100 SXM", "--method", "full", "--tokens",
                 "1e8", "--n-gpus", "64", "--recipe", "moe_overlap=true", "--format", "json"]) == 0
    assert '"moe_overlap": true' in capsys.readouterr().out
