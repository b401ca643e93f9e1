"""The plumbing that makes a scalar estimate fast (issue 23) changes no number and keeps no stale answer: the prefill
and decode step in one forward pass equal the two passes, the caches of sub-lookups follow registrations and
explicit rates made after a first call, and the faster lookups answer as the scans they replaced."""
from __future__ import annotations

import dataclasses
import pickle

import numpy as np
import pytest

import planner
from planner.calibration import store
from planner.calibration.collectives import CollectiveFit
from planner.calibration.efficiency import DEFAULTS
from planner.catalog import api_prices as AP
from planner.core.band import Band
from planner.core.errors import UnknownNameError
from planner.core.memo import by_identity
from planner.estimate import inference as inf
from planner.estimate.engine import resolve_engine

CASES = [("Llama-2-70B", "H100 SXM", "fp8", 4), ("Llama-3.1-8B", "A100 80GB SXM", "bf16", 1),
         ("Mixtral-8x7B", "H200", "int4-weight-only", 2), ("DeepSeek-V3", "H200", "fp8", 8),
         ("Mistral-7B-v0.1", "H100 SXM", "int8", 1)]


@pytest.mark.parametrize("model, gpu, precision, tp", CASES)
@pytest.mark.parametrize("batch, prompt, context", [(1, 1.0, 2.0), (8, 512.0, 640.0), (64, 8000.0, 9000.0)])
def test_one_pass_equals_the_prefill_and_decode_passes(model, gpu, precision, tp, batch, prompt, context):
    g = planner.gpu(gpu)
    r = inf.replica(planner.model(model), g, precision, tp, resolve_engine("vllm", g))
    pre, step, bound = inf.prefill_and_decode_s(r, batch, prompt, context)
    step_alone, bound_alone = inf.decode_step_s(r, batch, context)
    np.testing.assert_allclose(pre, inf.prefill_s(r, batch, prompt), rtol=1e-12, atol=0)
    np.testing.assert_allclose(step, step_alone, rtol=1e-12, atol=0)
    assert np.shape(pre) == np.shape(step) == (3,) and bound == bound_alone.tolist()


def test_a_collective_fit_registered_after_a_first_estimate_moves_the_next():
    kw = dict(model="Llama-3.1-70B", gpu="H100 SXM", precision="fp8", batch_size=8, tensor_parallel=4)
    before = planner.inference_speed(**kw)  # warms every cache on the way
    slow = CollectiveFit("all_reduce", 4, alpha_s=1e-3, beta_bytes_per_s=1e9, busbw_bytes_per_s=1e9, source="test")
    store.register_collectives("H100 SXM", {"all_reduce": slow})
    try:
        after = planner.inference_speed(**kw)
    finally:
        store.reset(silicon=False)
    assert after.prefill_s.p50 > before.prefill_s.p50 and after.decode_step_s.p50 > before.decode_step_s.p50
    assert planner.inference_speed(**kw) == before  # and forgetting it restores the first answer


def test_rates_measured_or_given_after_a_first_estimate_move_the_next(monkeypatch):
    kw = dict(model="Llama-3.1-8B", gpu="H100 SXM", batch_size=4)
    before = planner.inference_speed(**kw)
    slow = dataclasses.replace(DEFAULTS, memory=Band(0.1, 0.2, 0.3), source="calibration: test")
    assert planner.inference_speed(**kw, efficiencies=slow).decode_step_s.p50 > before.decode_step_s.p50
    monkeypatch.setattr(store, "calibrated", lambda name, engine=None: slow if name == "H100 SXM" else None)
    measured = planner.inference_speed(**kw)
    assert measured.decode_step_s.p50 > before.decode_step_s.p50 and measured.efficiency_source == "calibration: test"


def test_identity_cache_keys_numbers_by_value_and_objects_by_identity():
    calls = []

    @by_identity(maxsize=3)
    def f(spec, x):
        calls.append((spec, x))
        return len(calls)

    a, b = {"k": 1}, {"k": 1}  # equal, unhashable, distinct
    assert f(a, 1) == f(a, 1) == 1 and f(a, 1.0) == 2 and f(a, True) == 3  # 1, 1.0 and True are not one key
    assert f(b, 1) == 4  # an equal object is not the same object
    assert len(calls) == 4 and f(a, 1) == 5  # past maxsize the cache started again: asked anew, never stale


def test_a_model_spec_hash_is_its_fields_hash_once():
    m = planner.model("Llama-3.1-8B")
    twin = dataclasses.replace(m)
    assert twin == m and twin is not m and hash(twin) == hash(m) == hash(pickle.loads(pickle.dumps(m)))
    other = dataclasses.replace(m, n_layers=m.n_layers + 1)
    assert other != m and {m: 1, twin: 2, other: 3} == {m: 2, other: 3}


def test_api_model_lookup_by_name_lists_what_a_scan_of_the_data_lists():
    providers = AP._providers()
    for p in providers[:: max(1, len(providers) // 12)]:
        for m in p.models[:5]:
            for ref in {m.id, m.id.upper(), m.name or m.id}:
                r = ref.lower()
                scan = [(q, x) for q in providers for x in q.models if x.id.lower() == r or (x.name or "").lower() == r]
                assert AP._candidates(ref) == (scan or [(q, x) for q in providers for x in q.models if x.is_match(r)])


def test_a_hosted_fine_tune_lookup_without_an_entry_is_none_and_the_strict_one_still_names_matches():
    assert AP.find_hosted_finetune_price("no-such-model-anywhere") is None
    with pytest.raises(UnknownNameError, match="hosted fine-tuning model"):
        AP.hosted_finetune_price("no-such-model-anywhere")
    with pytest.raises(UnknownNameError, match="fine-tuning provider"):
        AP.find_hosted_finetune_price("gpt-4.1-mini", "no-such-provider")


def test_a_comparison_with_new_traffic_reuses_the_replicas_and_setups_it_built():
    from pathlib import Path
    from planner.estimate import engine
    s0 = planner.load_scenario(Path(__file__).resolve().parents[1] / "examples" / "customer_support.toml")
    again = lambda n: planner.compare(dataclasses.replace(  # noqa: E731
        s0, workload=dataclasses.replace(s0.workload, input_tokens=s0.workload.input_tokens + n)))
    again(1)
    held = inf._replica.cache_size(), engine._setup.cache_size(), inf._common_assumptions.cache_size()
    again(2)  # a priced GPU is one spec per price (decide/estimates.py), so nothing built on it is built again
    assert (inf._replica.cache_size(), engine._setup.cache_size(), inf._common_assumptions.cache_size()) == held
