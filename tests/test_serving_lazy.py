"""plan.load_latency (the peak's simulated run) and plan.frontier (every configuration searched) are made when first
read (core/lazy.py): the same values as the eager code's, whenever and however they are read (to_dict, ==, pickle,
copy, threads), and unread they cost nothing. Whole plans as JSON: test_golden.py."""
from __future__ import annotations

import copy
import dataclasses
import json
import pickle
import threading

import numpy as np
import pytest

import planner
from planner.catalog import lookup as catalog
from planner.core.lazy import Deferred, LazyField, is_pending
from planner.decide.scenario import load_scenario
from planner.estimate import inference as inf
from planner.estimate import load as ld
from planner.estimate.engine import resolve_engine

MODELS = ("Llama-3.1-8B", "Mixtral-8x7B", "Llama-3.1-70B", "Qwen2.5-72B")
LAZY = ("load_latency", "frontier")


def _random_call(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    w = planner.Workload(requests_per_day=float(10 ** rng.uniform(4, 6.5)), input_tokens=float(rng.integers(50, 4000)),
                         output_tokens=float(rng.integers(1, 800)), length_sigma=float(rng.choice([0.0, 0.5])),
                         ttft_target_s=float(rng.choice([1.0, 2.0, 5.0])), tpot_target_s=float(rng.choice([0.05, 0.1])))
    return dict(model=MODELS[seed % len(MODELS)], gpu=str(rng.choice(["H100 SXM", "H200"])), workload=w,
                precision=str(rng.choice(["bf16", "fp8", "auto"])), latency_percentile=str(rng.choice(["p50", "p90", "p99"])))


def _eager(plan: planner.ServingPlan) -> ld.LoadLatency:
    """The run the eager code made: the chosen replica at the plan's batch cap, at the peak over the median replicas."""
    g, m, w = catalog.gpu(plan.gpu), catalog.model(plan.model), plan.workload
    setup = dataclasses.replace(resolve_engine(plan.engine, g), chunked_prefill=plan.chunked_prefill)
    r = inf.replica(m, g, plan.precision, plan.tensor_parallel, setup, plan.kv_cache_dtype, plan.attention_dp)
    load = ld.load_for(r, setup, plan.batch_size, w.prompt_tokens, w.generated_tokens, w.length_sigma)
    replicas = plan.replicas
    return ld.latency(load, w.peak_rps / float(np.median([replicas.p10, replicas.p50, replicas.p90])))


def _clear_load_caches():
    for fn in (ld.run, ld._machinery, ld._steps, ld.max_rate):
        fn.cache_clear()
    ld._TABLES.clear()


@pytest.mark.parametrize("seed", range(6))
def test_the_lazy_peak_latency_is_the_eager_one_whenever_it_is_read(seed):
    kw = _random_call(seed)
    now, later = planner.serving(**kw), planner.serving(**kw)
    for plan, name in ((p, n) for p in (now, later) for n in LAZY):
        assert is_pending(plan, name)  # unread: not made (the peak not simulated)
    read_now, rows_now = now.load_latency, now.frontier
    assert not is_pending(now, "load_latency") and not is_pending(now, "frontier")
    assert sum(r.chosen for r in rows_now) == 1 and any(r.max_requests_per_s for r in rows_now)
    planner.serving(**_random_call(seed + 100))  # other plans between, and every cache of the load model emptied
    _clear_load_caches()
    assert later.load_latency == read_now == _eager(now) and later.frontier == rows_now
    assert json.dumps(later.to_dict(), sort_keys=True) == json.dumps(now.to_dict(), sort_keys=True)
    assert later == now


def test_to_dict_repr_pickle_and_copies_hold_the_value_not_the_computation():
    plan = planner.serving(**_random_call(7))
    d = plan.to_dict()  # reads it
    assert d["load_latency"] == dataclasses.asdict(_eager(plan)) and d["load_latency"]["ttft_s"]["p90"] > 0
    for other in (planner.serving(**_random_call(7)) for _ in range(4)):  # each read by another route first
        assert pickle.loads(pickle.dumps(other)).to_dict() == d
    assert copy.deepcopy(planner.serving(**_random_call(7))).to_dict() == d
    assert copy.copy(planner.serving(**_random_call(7))).load_latency == plan.load_latency
    assert dataclasses.replace(planner.serving(**_random_call(7)), min_replicas=2).load_latency == plan.load_latency
    assert "load_latency=LoadLatency(" in repr(planner.serving(**_random_call(7)))
    assert planner.serving(**_random_call(7)) == plan


def test_the_field_stays_a_frozen_dataclass_field():
    plan = planner.serving(**_random_call(8))
    fields = {f.name: f for f in dataclasses.fields(plan)}
    assert fields["load_latency"].default is None and fields["frontier"].default == ()  # built by hand: as before
    for name in LAZY:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(plan, name, None)
    costed = planner.serving(**_random_call(8), peak_latency=False)
    assert costed.load_latency is None and not is_pending(costed, "load_latency")


def test_compare_leaves_the_peak_run_unread_and_its_to_dict_holds_it():
    s = load_scenario("examples/customer_support.toml")  # a traffic no other test asks for: a plan built here, not
    s = s.replace(workload=dataclasses.replace(s.workload, requests_per_day=12_347))  # one memoized and read before
    c = planner.compare(s)
    assert all(is_pending(c.serving_plan, n) for n in LAZY)  # compare() and its totals never read them: saved
    got = c.to_dict()["serving_plan"]
    assert got["load_latency"] == dataclasses.asdict(_eager(c.serving_plan)) == \
        dataclasses.asdict(c.serving_plan.load_latency)
    assert len(got["frontier"]) == len(c.serving_plan.frontier) > 1


def test_a_deferred_runs_once_under_concurrent_readers():
    calls, gate = [], threading.Event()

    def slow():
        gate.wait(5)
        calls.append(1)
        return object()

    @dataclasses.dataclass(frozen=True)
    class Holder:
        x: object = LazyField()

    h = Holder(Deferred(slow))
    seen = []
    threads = [threading.Thread(target=lambda: seen.append(h.x)) for _ in range(8)]
    for t in threads:
        t.start()
    gate.set()
    for t in threads:
        t.join(5)
    assert len(calls) == 1 and len(seen) == 8 and all(v is seen[0] for v in seen)
    assert Holder().x is None and Holder(3).x == 3
