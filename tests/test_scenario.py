"""Scenario files: exact round trips, strict keys and types, safe saving."""
from pathlib import Path

import pytest

import planner
from planner.decide.scenario import dumps_scenario, load_scenario, loads_scenario, save_scenario

EXAMPLES = sorted(Path(__file__).parent.parent.joinpath("examples").glob("*.toml"))


def test_three_examples_exist():
    assert len(EXAMPLES) >= 3


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_round_trip_exact(path, tmp_path):
    s = load_scenario(path)
    assert loads_scenario(dumps_scenario(s)) == s
    out = save_scenario(s, tmp_path / "copy.toml")
    assert load_scenario(out) == s
    assert dumps_scenario(load_scenario(out)) == dumps_scenario(s)


def test_serving_fields_round_trip_and_reach_the_plan():
    s = planner.Scenario(self_host=planner.SelfHostOption(engine="sglang", kv_cache_dtype="fp8", tensor_parallel=2,
                                                          max_batch_size=64, latency_percentile="p99"))
    text = dumps_scenario(s)
    assert 'engine = "sglang"' in text and 'kv_cache_dtype = "fp8"' in text
    s = loads_scenario(text)
    h = s.self_host
    assert (h.engine, h.kv_cache_dtype, h.tensor_parallel, h.max_batch_size, h.latency_percentile) == \
        ("sglang", "fp8", 2, 64, "p99")
    assert loads_scenario(dumps_scenario(s)) == s
    plan = planner.compare(s).serving_plan
    assert (plan.engine, plan.kv_cache_dtype, plan.tensor_parallel, plan.latency_percentile) == ("sglang", "fp8", 2, "p99")
    assert plan.batch_size <= 64


def test_round_trip_with_optional_fields_and_uncertainty(tmp_path):
    s = planner.Scenario(api=planner.ApiOption(model="gpt-4o", provider="openai", input_usd_per_mtok=1.5),
                         self_host=planner.SelfHostOption(usd_per_gpu_hour=2.25),
                         uncertainty={"workload.requests_per_day": {"dist": "lognormal", "sigma": 0.5},
                                      "self_host.ops_engineers": {"dist": "uniform", "low": 1, "high": 3,
                                                                  "relative": False}})
    assert loads_scenario(dumps_scenario(s)) == s


@pytest.mark.parametrize("text,needle", [
    ("[workload]\nrequests_per_dya = 5\n", "unknown key 'requests_per_dya'; did you mean requests_per_day"),
    ("[workload]\nrequests_per_day = 'many'\ninput_tokens=1\noutput_tokens=1\n", "workload.requests_per_day: must be a number in [0.001, 1e+12] (requests/day), got str 'many'"),
    ("[self_host]\nmin_replicas = 1.5\n", "self_host.min_replicas: must be a whole number in [1, 1,000,000] (replicas), got 1.5"),
    ("[flags]\nregulatory_isolation = 'yes'\n", "flags.regulatory_isolation: must be true or false, got str 'yes'"),
    ("[sefl_host]\n", "unknown key 'sefl_host'; did you mean self_host"),
    ("workload = 3\n", "[workload] must be a table"),
    ("[workload\n", "not valid TOML"),
    ("[workload]\nrequests_per_day = -3\ninput_tokens=1\noutput_tokens=1\n", "requests_per_day: must be a number in [0.001, 1e+12]"),
])
def test_bad_files_name_the_key(text, needle):
    with pytest.raises(planner.PlannerError) as e:
        loads_scenario(text, where="x.toml")
    assert needle in str(e.value) and str(e.value).startswith("x.toml")


def test_missing_file():
    with pytest.raises(planner.PlannerError, match="no such scenario file"):
        load_scenario("/nonexistent/s.toml")


def test_save_never_overwrites_silently(tmp_path):
    p = tmp_path / "mine.toml"
    p.write_text("# my notes\n")
    with pytest.raises(planner.PlannerError, match="exists"):
        save_scenario(planner.Scenario(), p)
    assert p.read_text() == "# my notes\n"
    save_scenario(planner.Scenario(), p, overwrite=True)
    assert load_scenario(p) == planner.Scenario()
    assert [q.name for q in tmp_path.iterdir()] == ["mine.toml"]  # no temp files left
