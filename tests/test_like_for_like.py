"""Like for like (issue 27): the scratch option trains the self-hosted model unless told otherwise, every model
carries its published capability (or 'unknown'), a capability floor picks the cheapest option meeting it, and
every training cost says what it counts."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

import planner
from dashboard import state as S
from planner.catalog.capability import capabilities, capability, metric
from planner.core.errors import InputError, PlannerError
from planner.decide.scenario import dumps_scenario, loads_scenario
from planner.decide.likeforlike import CAPABILITY_GAP_POINTS, comparable_open_models
from planner.decide.scratch import scratch_model
from planner.present import formatting as fmt
from planner.present import labels
from planner.present import models_text as mt
from planner.present.cli import main
from planner.present.report import report_markdown

ROOT = Path(__file__).resolve().parent.parent
BASE = planner.load_scenario(ROOT / "examples" / "customer_support.toml")  # Llama-3.1-8B self-hosted


def with_(s, **sections):
    return s.replace(**{k: dataclasses.replace(getattr(s, k), **v) for k, v in sections.items()})


@pytest.fixture(scope="module")
def seventy():
    """Self-host a 70B; the scratch option left to follow it."""
    s = with_(BASE, self_host={"model": "Llama-3.1-70B"})
    return s, planner.compare(s)


@pytest.fixture(scope="module")
def unlike():
    """Self-host a 70B, but train an 8B from scratch (set explicitly): the issue's unlike comparison."""
    s = with_(BASE, self_host={"model": "Llama-3.1-70B"}, scratch={"model": "Llama-3.1-8B"})
    return s, planner.compare(s)


# ---- 1. the scratch option trains the self-hosted model's architecture ----

def test_scratch_trains_the_self_hosted_model_unless_set(seventy):
    s, c = seventy
    assert s.scratch.model is None and scratch_model(s) == "Llama-3.1-70B"
    assert c.pretrain.model == c.scratch_serving_plan.model == "Llama-3.1-70B"
    assert c.token_budget.tokens == planner.model("Llama-3.1-70B").pretraining_tokens
    assert not any("not the same model" in d for d in c.model_match.differences)


def test_an_explicit_scratch_model_is_kept_and_the_comparison_says_it_is_unlike(unlike):
    s, c = unlike
    assert c.pretrain.model == "Llama-3.1-8B" and c.serving_plan.model == "Llama-3.1-70B"
    m = c.model_match
    assert not m.like_for_like and m.to_dict()["like_for_like"] is False
    assert any("Llama-3.1-8B" in d and "Llama-3.1-70B" in d and "not the same model" in d for d in m.differences)
    line = mt.like_for_like_line(c)
    assert line.startswith("Not like for like") and "not the same model" in line and m.known_to_differ
    assert f"**{fmt.md_inline(line)}**" in report_markdown(c, s)  # in the Recommendation section, in bold


def test_the_cli_headline_says_unlike(unlike, tmp_path, capsys):
    s, _ = unlike
    path = tmp_path / "unlike.toml"
    path.write_text(dumps_scenario(s), encoding="utf-8")
    assert main(["compare", str(path)]) == 0
    out = capsys.readouterr().out
    first = out.split("Option")[0]  # above the comparison table: prominent
    assert "Not like for like" in first and "not the same model" in first
    assert "Models compared" in out


def test_scratch_model_none_round_trips_and_an_explicit_one_too():
    assert loads_scenario(dumps_scenario(planner.Scenario())).scratch.model is None
    text = dumps_scenario(planner.Scenario())
    assert "[scratch]" in text and not re.search(r"\[scratch\][^\[]*\nmodel =", text)
    s = with_(planner.Scenario(), scratch={"model": "Qwen2.5-7B"})
    assert loads_scenario(dumps_scenario(s)).scratch.model == "Qwen2.5-7B"


def test_a_bad_scratch_model_is_a_clear_error():
    with pytest.raises(InputError, match="scratch.model"):
        planner.ScratchOption(model="")
    with pytest.raises(PlannerError, match="Llama"):  # an unknown name lists close matches
        planner.compare(with_(BASE, scratch={"model": "Llama-9-8B"}))


def test_dashboard_model_selector_defaults_to_same_as_self_host():
    values = S.widget_values(BASE)
    assert values[S.PREFIX + "sc_model"] == S.SAME_AS_SELF_HOST
    assert S.scenario_from_values(BASE, values) == BASE  # untouched: unchanged
    values[S.PREFIX + "sc_model"] = "Llama-3.1-70B"
    picked = S.scenario_from_values(BASE, values)
    assert picked.scratch.model == "Llama-3.1-70B"
    back = S.widget_values(picked)
    back[S.PREFIX + "sc_model"] = S.SAME_AS_SELF_HOST
    assert S.scenario_from_values(picked, back).scratch.model is None


def test_dashboard_floor_widget_maps_to_the_scenario():
    values = S.widget_values(BASE)
    assert values[S.PREFIX + "capability_floor"] == 0.0  # no floor
    values[S.PREFIX + "capability_floor"] = 60.0
    s = S.scenario_from_values(BASE, values)
    assert s.capability_floor == 60.0 and S.widget_values(s)[S.PREFIX + "capability_floor"] == 60.0
    values = S.widget_values(s)
    values[S.PREFIX + "capability_floor"] = 0.0
    assert S.scenario_from_values(s, values).capability_floor is None


# ---- 2. published capability, and the floor ----

def test_every_capability_figure_is_sourced_dated_and_a_percentage():
    assert metric().name == "MMLU-Pro" and metric().source.url
    names = {m.name for m in planner.models()}
    caps = capabilities()
    assert len(caps) >= 10
    for cap in caps:
        assert 0 < cap.score < 100 and cap.variant
        assert cap.source.url.startswith("https://") and re.fullmatch(r"\d{4}-\d{2}-\d{2}", cap.source.checked)
    # every figure for an open model names a catalog model, and the catalog's Llama 3.1 and Qwen2.5 have one
    open_ = {c.model for c in caps if c.model[0].isupper()}
    assert open_ <= names
    assert {"Llama-3.1-8B", "Llama-3.1-70B", "Llama-3.1-405B", "Qwen2.5-7B", "Qwen2.5-72B"} <= open_


def test_no_published_figure_is_unknown_not_zero():
    assert capability("gpt-4o-mini") is None and capability("LLaMA-7B") is None and capability(None) is None
    assert capability("LLAMA-3.1-8b").score == 48.3  # any case; the model card's Instruct figure


def test_default_comparison_states_each_models_capability():
    c = planner.compare(BASE)
    m = c.model_match
    assert m.models["self_host"].capability == capability("Llama-3.1-8B").score
    assert m.models["scratch"].capability == m.models["self_host"].capability  # same architecture, same tokens
    assert "assumed" in m.models["scratch"].basis
    assert m.models["api"].capability is None and "unknown" in m.models["api"].basis  # gpt-4.1-mini: none published
    assert any("gpt-4.1-mini" in d and "not known" in d for d in m.differences)
    # Only an unpublished figure: the headline says it is not known, and claims no difference.
    assert not m.like_for_like and not m.known_to_differ
    assert mt.like_for_like_line(c).startswith("Like for like? Not known: ")


def test_scratch_on_fewer_tokens_than_published_has_unknown_capability():
    c = planner.compare(with_(BASE, scratch={"tokens": "chinchilla"}))
    d = c.model_match.models["scratch"]
    assert d.capability is None and "fewer tokens" in d.basis


def test_a_capability_gap_between_known_models_is_called_out():
    s = with_(BASE, api={"model": "gpt-4o"}, scratch={"enabled": False})  # GPT-4o 72.55 vs Llama 3.1 8B 48.3
    c = planner.compare(s)
    gap = [d for d in c.model_match.differences if "points apart" in d]
    assert gap and "Llama-3.1-405B (73.3)" in gap[0] and "DeepSeek-V3 (75.9)" in gap[0]  # the comparable open models
    assert "Llama-3.1-8B (48.3)" not in gap[0]
    assert c.to_dict()["model_match"]["like_for_like"] is False
    close = planner.compare(with_(s, self_host={"model": "Llama-3.1-405B"}))  # 73.3: within the gap
    assert not any("points apart" in d for d in close.model_match.differences)
    assert close.model_match.like_for_like and mt.like_for_like_line(close).startswith("Like for like")


def test_comparable_open_models_are_within_the_gap_or_above():
    near = comparable_open_models(70.0)
    assert near and all(score >= 70.0 - CAPABILITY_GAP_POINTS for _, score in near)
    assert [s for _, s in near] == sorted((s for _, s in near), reverse=True)
    assert comparable_open_models(99.0) == []


def test_the_floor_recommends_the_cheapest_option_meeting_it():
    s = BASE.replace(capability_floor=45.0)
    c = planner.compare(s)
    base = planner.compare(BASE)
    assert base.recommendation.choice == "api"  # cheapest, but its capability is unknown
    assert c.recommendation.choice == "self_host" and "capability floor" in c.recommendation.headline
    api = [r for r in c.recommendation.reasons if r.startswith("Hosted API: below the capability floor")]
    assert api and "unknown" in api[0]
    assert c.model_match.falls_short("api") and not c.model_match.falls_short("self_host")
    assert "met by" in mt.floor_line(c)
    # the costs themselves do not move with the floor
    assert c.options["api"].total_usd == base.options["api"].total_usd


def test_a_floor_no_option_meets_says_why_each_falls_short():
    c = planner.compare(BASE.replace(capability_floor=90.0))
    r = c.recommendation
    assert r.choice == "" and r.headline.startswith("No option meets the capability floor (MMLU-Pro >= 90)")
    for o in c.options.values():
        assert o.label in r.headline and any(x.startswith(o.label) and "below" in x for x in r.reasons)
    assert "48.3 is below the floor of 90" in r.headline
    assert "no available option meets it" in mt.floor_line(c)


@pytest.mark.parametrize("value", [150, -1, float("nan"), True])
def test_a_bad_floor_is_a_clear_error(value):
    with pytest.raises(PlannerError, match="capability_floor"):
        planner.Scenario(capability_floor=value)


def test_the_floor_round_trips_and_a_bad_one_in_a_file_names_the_key():
    s = BASE.replace(capability_floor=60.0)
    assert loads_scenario(dumps_scenario(s)) == s
    assert "capability_floor" not in dumps_scenario(BASE)
    with pytest.raises(PlannerError, match="capability_floor"):
        loads_scenario('capability_floor = "high"')
    with pytest.raises(PlannerError, match="capability_floor"):
        loads_scenario("capability_flor = 50")  # a misspelling: did you mean


# ---- 3. one number per quantity, its scope in its label ----

_COST = re.compile(r"^(Pretraining|Fine-tuning) cost \((?P<scope>[^)]*)\)$")


def _scoped(rows) -> dict[str, str]:
    """scope -> p50 text of the training-cost rows; a cost row without a scope fails."""
    out = {}
    for label, text in rows:
        if "cost" in label.lower() and label not in ("Research staff",):
            m = _COST.match(label)
            assert m, f"a cost without its scope: {label!r}"
            out[f"{label.split()[0]} {m['scope']}"] = text.split(" [")[0]
    return out


def test_standalone_estimates_label_every_cost_with_its_scope(capsys):
    assert main(["estimate", "pretrain", "--model", "Llama-3.1-8B", "--gpu", "H100 SXM", "--tokens", "1e11"]) == 0
    out = capsys.readouterr().out
    assert "Staff cost" not in out and "$0" not in out  # no staff given: not counted, not "$0"
    assert f"Pretraining cost ({labels.SCOPE_RUN})" in out
    assert f"Pretraining cost ({labels.SCOPE_PROGRAMME})" in out and "not estimated here" in out
    est = planner.pretraining(model="Llama-3.1-8B", gpu="H100 SXM", tokens=1e11,
                              staffing=planner.Staffing(researchers=2, months=3))
    scoped = _scoped(fmt.pretraining_rows(est))
    assert scoped[f"Pretraining {labels.SCOPE_RUN}"] == fmt.usd(est.cost_usd.p50)
    assert scoped[f"Pretraining {labels.SCOPE_RUN_STAFF}"] == fmt.usd(est.total_cost_usd.p50)
    ft = planner.finetuning(model="Llama-3.1-8B", gpu="H100 SXM", tokens=1e7)
    assert _scoped(fmt.finetuning_rows(ft)) == {f"Fine-tuning {labels.SCOPE_FINETUNE}": fmt.usd(ft.cost_usd.p50)}


def test_pretraining_cost_is_one_number_per_scope_across_tab_card_cli_and_report(tmp_path, capsys):
    """The Training estimates tab (AppTest), the Options card, `planner compare`/`estimate pretrain` and the
    report: the same scope label never carries two figures, and the programme figure is the card's."""
    from streamlit.testing.v1 import AppTest
    from dashboard.views import metric_label  # noqa: F401  (the card's labels come from labels.ONE_TIME_LABEL)
    c = planner.compare(BASE)
    seen: dict[str, set[str]] = {}

    def add(scope: str, value: str) -> None:
        seen.setdefault(scope, set()).add(value)

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
    assert not at.exception
    card = [m.value for m in at.metric if m.label == labels.ONE_TIME_LABEL["scratch"]]
    assert card == [fmt.usd(c.options["scratch"].one_time_usd.p50)]
    add(f"Pretraining {labels.SCOPE_PROGRAMME}", card[0])
    at.session_state["view"] = "Training"
    at.run()
    assert not at.exception
    tab_rows = [tuple(r) for t in at.table for r in t.value.itertuples(index=False)]
    tab = _scoped(tab_rows)
    assert tab, "the Training estimates tab shows no training cost"
    for k, v in tab.items():
        add(k, v)
    report = report_markdown(c, BASE)
    found = re.findall(r"^\| ((?:Pretraining|Fine-tuning) cost \([^)]*\)) +\| ([^|]+?) *\|$", report, flags=re.M)
    assert len(found) >= 3  # the final run's compute, the programme, the fine-tune
    for label, value in found:
        add(*_scoped([(label, re.sub(r"\\([][])", r"\1", value))]).popitem())  # as read: "\[" is "["
    path = tmp_path / "s.toml"
    path.write_text(dumps_scenario(BASE), encoding="utf-8")
    assert main(["compare", str(path)]) == 0
    assert labels.ONE_TIME_SCOPE in capsys.readouterr().out  # the table's One-time says what it counts
    assert all(len(v) == 1 for v in seen.values()), f"one scope, several figures: {seen}"
    assert seen[f"Pretraining {labels.SCOPE_PROGRAMME}"] == {fmt.usd(c.scratch_costs.one_time_usd.p50)}
    assert f"Pretraining {labels.SCOPE_RUN}" in seen  # the final run's compute, its own label
