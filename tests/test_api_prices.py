"""Hosted-API prices: parity with genai-prices' own calculator, overrides, fine-tuning."""
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest
from genai_prices import Usage, calc_price
from hypothesis import given
from hypothesis import strategies as st

from planner.catalog.api_prices import (
    ApiPrice,
    api_price,
    hosted_finetune_cost_usd,
    hosted_finetune_price,
    price_data_info,
    search_api_models,
)
from planner.core.errors import PlannerError, UnknownNameError

AS_OF = date(2026, 11, 29)
TS = datetime(2026, 11, 29, 12, tzinfo=UTC)
# Below the prompt-length tiers of MODELS (the data's lowest tier anywhere starts at 32k;
# these models tier at 128k or more), so the base tier applies and parity is exact.
TOKENS = dict(input_tokens=100_000, cached_input_tokens=40_000, output_tokens=20_000)
MODELS = [("gpt-4o-mini", "openai"), ("gpt-4o", "openai"), ("claude-sonnet-4-5", "anthropic"),
          ("gemini-2.5-flash", "google"), ("deepseek-chat", "deepseek")]


def _reference_usd(model, provider, batch=False):
    usage = Usage(input_tokens=TOKENS["input_tokens"], cache_read_tokens=TOKENS["cached_input_tokens"],
                  output_tokens=TOKENS["output_tokens"])
    calc = calc_price(usage, model, provider_id=provider, genai_request_timestamp=TS,
                      price_context={"processing": "batch"} if batch else None)
    return float(calc.total_price)


@pytest.mark.parametrize("model,provider", MODELS)
def test_cost_matches_genai_prices_calculator(model, provider):
    p = api_price(model, provider, as_of=AS_OF)
    assert p.cost_usd(**TOKENS) == pytest.approx(_reference_usd(model, provider), rel=1e-12)


@pytest.mark.parametrize("model,provider", MODELS)
def test_batch_cost_matches_genai_prices_calculator(model, provider):
    p = api_price(model, provider, as_of=AS_OF)
    if p.batch_discount is None:
        with pytest.raises(PlannerError, match="batch_discount"):
            p.cost_usd(**TOKENS, batch=True)
    else:
        assert p.cost_usd(**TOKENS, batch=True) == pytest.approx(
            _reference_usd(model, provider, batch=True), rel=1e-12)


def test_known_values_and_provenance():
    p = api_price("GPT-4o-mini", as_of=AS_OF)
    assert (p.provider_id, p.model_id) == ("openai", "gpt-4o-mini")
    assert "openai" in p.source and "genai-prices" in p.source
    assert p.price_data_date <= AS_OF.isoformat() and p.overridden == ()


@pytest.mark.parametrize("model,provider", MODELS)
def test_cached_input_is_cheaper(model, provider):
    p = api_price(model, provider, as_of=AS_OF)
    assert p.cached_input_usd_per_mtok is not None
    assert p.cached_input_usd_per_mtok < p.input_usd_per_mtok


def test_vendor_is_default_for_ambiguous_model():
    assert api_price("claude-sonnet-4-5").provider_id == "anthropic"
    p = api_price("gpt-4o")
    assert p.provider_id == "openai" and "pass provider=" in p.source


def test_overrides_win_and_are_marked():
    p = api_price("gpt-4o-mini", input_usd_per_mtok=9.0, batch_discount=0.25)
    assert p.input_usd_per_mtok == 9.0 and p.batch_discount == 0.25
    assert p.overridden == ("input_usd_per_mtok", "batch_discount")
    assert "user override" in p.source
    assert p.cost_usd(1e6, 0, batch=True) == pytest.approx(9.0 * 0.75)


def test_bad_override_is_rejected():
    with pytest.raises(PlannerError):
        api_price("gpt-4o-mini", batch_discount=1.5)


@given(st.floats(0, 100), st.floats(0, 100), st.floats(0, 1),
       st.integers(0, 10**9), st.integers(0, 10**9), st.floats(0, 1))
def test_lower_price_never_costs_more(in_p, out_p, shrink, input_tokens, output_tokens, cached_frac):
    hi = api_price("gpt-4o-mini", input_usd_per_mtok=in_p, output_usd_per_mtok=out_p,
                   cached_input_usd_per_mtok=in_p / 4, as_of=AS_OF)
    lo = api_price("gpt-4o-mini", input_usd_per_mtok=in_p * shrink, output_usd_per_mtok=out_p * shrink,
                   cached_input_usd_per_mtok=in_p * shrink / 4, as_of=AS_OF)
    cached = int(input_tokens * cached_frac)
    assert lo.cost_usd(input_tokens, output_tokens, cached) <= hi.cost_usd(input_tokens, output_tokens, cached)


def test_unknown_model_lists_close_matches():
    with pytest.raises(UnknownNameError) as e:
        api_price("gpt-4o-mni")
    assert "gpt-4o-mini" in e.value.suggestions
    with pytest.raises(UnknownNameError):
        api_price("gpt-4o-mini", provider="no-such-cloud")


def test_vectorized_cost_equals_scalar_loop():
    p = api_price("claude-sonnet-4-5", as_of=AS_OF)
    rng = np.random.default_rng(0)
    i = rng.integers(0, 10**7, 50)
    o = rng.integers(0, 10**6, 50)
    c = (i * rng.random(50)).astype(int)
    for batch in (False, True):
        loop = [p.cost_usd(int(a), int(b), int(d), batch=batch) for a, b, d in zip(i, o, c)]
        np.testing.assert_allclose(p.cost_usd(i, o, c, batch=batch), loop, rtol=1e-12)
    assert isinstance(p.cost_usd(1, 1), float)


def test_cached_tokens_cannot_exceed_input():
    with pytest.raises(PlannerError, match="cached"):
        api_price("gpt-4o-mini").cost_usd(10, 0, 11)


def test_search_returns_dataframe():
    df = search_api_models("gpt-4o", limit=5)
    assert isinstance(df, pd.DataFrame) and 0 < len(df) <= 5
    assert {"provider", "model", "name", "input_usd_per_mtok", "output_usd_per_mtok",
            "cached_input_usd_per_mtok"} <= set(df.columns)
    assert df["model"].str.contains("gpt-4o").all()
    assert len(search_api_models("", limit=10_000)) > 500


@pytest.mark.parametrize("query", ["gpt-4.1", "gpt 4.1", "GPT_4.1", "openai gpt-4.1"])
def test_search_matches_provider_ids_whatever_the_separators(query):
    """OpenAI names gpt-4.1 'gpt 4.1', OpenRouter 'GPT-4.1': an id or a name finds both providers' entries."""
    df = search_api_models(query, limit=10_000)
    found = set(zip(df["provider"], df["model"]))
    assert ("openai", "gpt-4.1") in found
    if not query.startswith("openai"):
        assert ("openrouter", "openai/gpt-4.1") in found
    assert df["model"].str.replace("_", "-").str.contains("gpt-4.1").all()


def test_dashboard_label_leads_with_the_model_id():
    from dashboard.state import api_label
    row = search_api_models("gpt-4.1", limit=10_000).set_index(["provider", "model"]).loc[("openai", "gpt-4.1")]
    assert row["name"] == "gpt 4.1"
    assert api_label("openai", "gpt-4.1", row["name"]) == "gpt-4.1 · openai"  # typing the id finds it
    assert api_label("acme", "m-7", "Acme Turbo") == "m-7 (Acme Turbo) · acme"  # a name that says more shows


def test_price_data_info():
    info = price_data_info()
    assert info["package"] == "genai-prices" and info["version"]
    assert info["providers"] > 10 and info["models"] > 100
    assert len(info["data_date"]) == 10


def test_fine_tuned_inference_price_matches_data():
    p = api_price("gpt-4o-mini", fine_tuned=True, as_of=AS_OF)
    assert p.model_id.startswith("ft:")
    usage = Usage(input_tokens=1000, output_tokens=500)
    ref = calc_price(usage, "ft:gpt-4o-mini-2024-07-18:org::abc", provider_id="openai",
                     genai_request_timestamp=TS)
    assert p.cost_usd(1000, 500) == pytest.approx(float(ref.total_price), rel=1e-12)


def test_fine_tuned_without_data_says_so():
    with pytest.raises(PlannerError, match="no fine-tuned inference price"):
        api_price("claude-sonnet-4-5", fine_tuned=True)
    p = api_price("claude-sonnet-4-5", fine_tuned=True, input_usd_per_mtok=6, output_usd_per_mtok=30)
    assert p.overridden == ("input_usd_per_mtok", "output_usd_per_mtok")


def test_hosted_finetune_price_and_cost():
    p = hosted_finetune_price("GPT-4o-mini", "openai")
    assert p.training_usd_per_mtok > 0 and p.source.checked == "2026-11-29"
    assert hosted_finetune_cost_usd(p, 2_000_000, 3) == pytest.approx(
        p.training_usd_per_mtok * 2_000_000 * 3 / 1e6)
    tokens = np.array([0, 1e6, 5e6])
    np.testing.assert_allclose(hosted_finetune_cost_usd(p, tokens, 2),
                               p.training_usd_per_mtok * tokens * 2 / 1e6)
    assert hosted_finetune_price("llama-3.1-8b").provider == "fireworks"


def test_hosted_finetune_unknown_lists_close_matches():
    with pytest.raises(UnknownNameError) as e:
        hosted_finetune_price("gpt-4o-mnii")
    assert "gpt-4o-mini" in e.value.suggestions


def test_api_price_is_frozen():
    p = api_price("gpt-4o-mini")
    assert isinstance(p, ApiPrice)
    with pytest.raises(AttributeError):
        p.input_usd_per_mtok = 0.0
