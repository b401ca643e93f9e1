"""Train from scratch as a programme: the token policy, the costs besides the final run, the frontier example."""
import dataclasses
from pathlib import Path

import pytest

import planner
from planner.core.errors import PlannerError
from planner.decide.scenario import loads_scenario
from planner.decide.scratch import Programme, scratch_model, token_budget
from planner.estimate.arithmetic import active_params

ROOT = Path(__file__).resolve().parent.parent


def scenario(name="customer_support", **scratch):
    s = planner.load_scenario(ROOT / "examples" / f"{name}.toml")
    return s.replace(scratch=dataclasses.replace(s.scratch, **scratch)) if scratch else s


def test_default_budget_is_the_replaced_models_published_tokens():
    c = planner.compare(scenario())
    llama = planner.model("Llama-3.1-8B")
    assert c.token_budget.policy == "match" and llama.pretraining_tokens == 15e12
    assert c.pretrain.tokens == llama.pretraining_tokens


def test_match_follows_the_self_host_model_when_the_architecture_differs():
    s = scenario()
    s = s.replace(self_host=dataclasses.replace(s.self_host, model="Qwen2.5-7B"))
    assert token_budget(s.scratch, s.self_host.model).tokens == planner.model("Qwen2.5-7B").pretraining_tokens == 18e12


def test_match_without_published_tokens_falls_back_to_chinchilla_and_warns():
    s = scenario(model="Mistral-7B-v0.1")
    s = s.replace(self_host=dataclasses.replace(s.self_host, model="Mistral-7B-v0.1"))
    b = token_budget(s.scratch, s.self_host.model)
    assert b.policy == "match" and b.warning and b.tokens == pytest.approx(20 * active_params(
        planner.model("Mistral-7B-v0.1")))
    c = planner.compare(s)
    assert any(a.name == "scratch.tokens WARNING" for a in c.assumptions)


@pytest.mark.parametrize("fields, want", [
    ({"tokens": "chinchilla"}, lambda n: 20 * n),
    ({"tokens_per_param": 100.0}, lambda n: 100 * n),
    ({"tokens": 1e12}, lambda n: 1e12),
])
def test_token_policies(fields, want):
    s = scenario(**fields)
    n = active_params(planner.model(scratch_model(s)))
    assert planner.compare(s).pretrain.tokens == pytest.approx(want(n), rel=1e-12)


@pytest.mark.parametrize("text, words", [
    ('[scratch]\ntokens = "lots"', ["scratch.tokens", "'match'", "lots"]),
    ('[scratch]\ntokens = -5', ["scratch.tokens"]),
    ('[scratch]\ntokens = "chinchilla"\ntokens_per_param = 50', ["tokens_per_param", "not both"]),
    ('[scratch]\ntokens_per_param = 0', ["tokens_per_param", "(0, 1e+06]"]),
    ('[programme]\nablation_fraction = -1', ["programme.ablation_fraction"]),
    ('[programme]\nablations = 1', ["ablation_fraction"]),
])
def test_bad_token_and_programme_inputs_name_the_field(text, words):
    with pytest.raises(PlannerError) as e:
        loads_scenario(text)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_the_programme_parts_add_up_and_each_override_moves_its_part():
    c = planner.compare(scenario())
    sc, o = c.scratch_costs, c.options["scratch"]
    assert sum(sc.parts.values()) == pytest.approx(o.one_time_usd.p50, rel=1e-9)
    assert {"ablations and experiments", "failed and restarted runs", "data pipeline compute", "data licences",
            "post-training compute", "post-training data", "data engineers", "evaluation"} <= set(sc.parts)
    more = planner.compare(scenario().replace(programme=Programme(ablation_fraction=1.3, data_acquisition_usd=5e6)))
    assert more.scratch_costs.parts["ablations and experiments"] == pytest.approx(1.3 * sc.run_gpu_hours.p50 * 3.99)
    assert more.scratch_costs.parts["data licences"] == 5e6


def test_calendar_is_preparation_run_post_training_and_evaluation():
    c = planner.compare(scenario())
    sc = c.scratch_costs
    assert c.options["scratch"].months_to_production.p50 == pytest.approx(
        3.0 + sc.wall_days.p50 / 30.4375 + 2.0 + 1.0, rel=1e-12)


def test_policy_costs_show_the_spread():
    s = scenario()
    rows = planner.policy_costs(s)
    assert rows[0].chosen and rows[0].policy == "match"
    chin = next(r for r in rows if r.policy == "chinchilla")
    assert chin.tokens < rows[0].tokens and chin.one_time_usd < rows[0].one_time_usd


def test_match_raises_the_scratch_cost_over_chinchilla_by_the_extra_compute():
    match, chin = (planner.compare(scenario(tokens=t)).scratch_costs for t in ("match", "chinchilla"))
    assert match.budget.tokens / chin.budget.tokens == pytest.approx(15e12 / (20 * active_params(
        planner.model("Llama-3.1-8B"))))
    assert match.run_gpu_hours.p50 > 50 * chin.run_gpu_hours.p50


def test_the_frontier_example_lands_where_published_runs_say():
    """shared/background/what-are-foundation-models.txt: '>$10M compute spend plus a team of ~50 researchers plus
    a year'; Llama 3.1 70B: 15T tokens, 7.0M H100-hours (model card)."""
    s = planner.load_scenario(ROOT / "examples" / "frontier_lab.toml")
    c = planner.compare(s)
    sc, o = c.scratch_costs, c.options["scratch"]
    assert sc.budget.tokens == 15e12 and s.scratch.researchers >= 30
    compute = sum(sc.parts[k] for k in ("final run compute", "ablations and experiments", "failed and restarted runs",
                                        "post-training compute", "data pipeline compute", "reserved term unused"))
    assert compute > 10e6 and o.one_time_usd.p50 > 10e6
    assert 9.0 <= o.months_to_production.p50 <= 15.0  # about a year
    assert 3e6 <= sc.run_gpu_hours.p50 <= 1.2e7  # the same order as Meta's 7.0M H100-hours


def test_the_report_states_the_policy_and_a_row_per_cost():
    from planner.present.report import report_markdown
    s = planner.load_scenario(ROOT / "examples" / "frontier_lab.toml")
    c = planner.compare(s)
    text = report_markdown(c, s, samples=500)
    assert "Token policy **match**" in text and "At the other policies: chinchilla" in text
    for part in c.scratch_costs.parts:
        assert f"| {part} |" in text
    names = {a.name for a in c.assumptions}
    assert {f"programme.{k}" for k in ("ablation_fraction", "failed_run_fraction", "data_acquisition_usd",
                                       "data_pipeline_gpu_hours_per_ttok", "post_training_compute_fraction",
                                       "post_training_data_usd", "evaluation_months")} <= names
