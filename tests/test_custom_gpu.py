"""A GPU not in the catalog: from a TOML/JSON spec, in a scenario's [[custom_gpu]], at the command line; bad specs."""
import dataclasses
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import planner
from planner.catalog.custom_gpu import custom_gpu, loads_gpu_file, read_gpu_file
from planner.catalog.lookup import gpu_from_dict
from planner.core.errors import InputError, PlannerError
from planner.decide.scenario import dumps_scenario, loads_scenario
from planner.present.cli import main

SPEC = {"name": "Test ASIC", "peak_tflops": {"bf16": 500.0, "fp8": 1000.0}, "memory_gib": 96, "memory_tb_per_s": 4.0,
        "interconnect_gb_per_s": 900, "tdp_watts": 700, "usd_per_gpu_hour": 2.5}
TOML = "\n".join(f"{k} = {json.dumps(v)}" for k, v in SPEC.items() if k != "peak_tflops") \
    + '\npeak_tflops = { bf16 = 500.0, fp8 = 1000.0 }\n'


def test_spec_in_vendor_units_becomes_si():
    g = custom_gpu(SPEC)
    assert g.memory_bytes == 96 * 2**30 and g.memory_bytes_per_s == 4e12 and g.peak_flops["bf16"] == 500e12
    assert g.interconnect_bytes_per_s == 900e9 and g.usd_per_gpu_hour == 2.5


def test_toml_and_json_files_read_the_same(tmp_path):
    (tmp_path / "g.toml").write_text(TOML)
    (tmp_path / "g.json").write_text(json.dumps(SPEC))
    assert read_gpu_file(tmp_path / "g.toml") == read_gpu_file(tmp_path / "g.json") == [SPEC]
    two = {"custom_gpu": [SPEC, {**SPEC, "name": "Test ASIC 2"}]}
    assert [t["name"] for t in loads_gpu_file(json.dumps(two), fmt="json")] == ["Test ASIC", "Test ASIC 2"]


@pytest.mark.parametrize("change, words", [
    ({"memory_gib": -1}, ["memory_gib", "-1"]),
    ({"memory_gib": 0}, ["memory_gib", "(0,"]),
    ({"memory_tb_per_s": float("nan")}, ["memory_tb_per_s", "nan"]),
    ({"memory_tb_per_s": 3350}, ["memory_tb_per_s", "TB/s"]),  # GB/s typed as TB/s: absurd
    ({"peak_tflops": {"bf16": float("inf")}}, ["peak_tflops.bf16"]),
    ({"peak_tflops": {"bf16": -5}}, ["peak_tflops.bf16"]),
    ({"peak_tflops": {}}, ["peak_tflops", "at least one"]),
    ({"usd_per_gpu_hour": 0}, ["usd_per_gpu_hour"]),
    ({"usd_per_gpu_hour": "2.5"}, ["usd_per_gpu_hour", "str"]),
    ({"tdp_watts": 0}, ["tdp_watts", "> 0"]),
    ({"tdp_watts": True}, ["tdp_watts", "bool"]),
    ({"interconnect_gb_per_s": 0}, ["interconnect_gb_per_s", "> 0"]),
    ({"interconnect_gb_per_s": 1e9}, ["interconnect_gb_per_s"]),
    ({"link_kind": "carrier-pigeon"}, ["link_kind"]),
    ({"hbm_gb": 80}, ["unknown field", "hbm_gb"]),
    ({"name": ""}, ["name"]),
])
def test_a_bad_spec_names_the_field(change, words):
    with pytest.raises(InputError if "unknown field" not in words else PlannerError) as e:
        custom_gpu({**SPEC, **change})
    assert all(w in str(e.value) for w in words), str(e.value)


@pytest.mark.parametrize("missing", ["name", "peak_tflops", "memory_gib", "memory_tb_per_s", "interconnect_gb_per_s",
                                     "tdp_watts", "usd_per_gpu_hour"])
def test_a_missing_field_is_named(missing):
    with pytest.raises(InputError, match=f"field {missing}: missing"):
        custom_gpu({k: v for k, v in SPEC.items() if k != missing})


def test_a_catalog_name_cannot_be_taken_over():
    with pytest.raises(PlannerError, match="already in the catalog"):
        planner.Scenario(custom_gpu=({**SPEC, "name": "h100 sxm"},))


def test_catalog_entries_still_pass_the_same_checks():
    assert len(planner.gpus()) >= 20  # every entry was built through gpu_from_dict and GPUSpec's checks
    with pytest.raises(InputError, match="memory_bytes_per_s"):
        dataclasses.replace(planner.gpu("H100 SXM"), memory_bytes_per_s=float("nan"))
    with pytest.raises(InputError, match="memory_gib"):
        gpu_from_dict({**SPEC, "memory_gib": 1e9})  # bytes typed as GiB


def test_scenario_section_round_trips_and_compares():
    s = planner.Scenario(custom_gpu=(SPEC,))
    s = s.replace(self_host=dataclasses.replace(s.self_host, gpu="Test ASIC"),
                  scratch=dataclasses.replace(s.scratch, enabled=False))
    text = dumps_scenario(s)
    assert "[[custom_gpu]]" in text and loads_scenario(text) == s
    c = planner.compare(s)
    assert c.serving_plan.gpu == "Test ASIC" and c.serving_plan.usd_per_gpu_hour == 2.5
    # the same name with faster figures: the memoized estimates see the new spec, not the old one
    faster = s.replace(custom_gpu=({**SPEC, "memory_tb_per_s": 8.0, "peak_tflops": {"bf16": 1000.0}},))
    cf = planner.compare(faster)
    assert cf.serving_plan.requests_per_s_per_replica.p50 > c.serving_plan.requests_per_s_per_replica.p50
    assert cf.finetune.wall_days.p50 < c.finetune.wall_days.p50
    assert planner.compare(s).serving_plan == c.serving_plan  # and back: compare() registers its scenario's spec


def test_a_bad_scenario_section_names_the_index_and_field():
    with pytest.raises(InputError, match=r"custom_gpu\[0\].*memory_gib"):
        loads_scenario('[[custom_gpu]]\nname = "x"\npeak_tflops = {bf16 = 1.0}\nmemory_gib = -80\n'
                       'memory_tb_per_s = 1.0\ninterconnect_gb_per_s = 64\ntdp_watts = 300\nusd_per_gpu_hour = 1.0\n')


def test_cli_gpu_file(tmp_path, capsys):
    (tmp_path / "g.toml").write_text(TOML.replace("Test ASIC", "CLI ASIC"))
    rc = main(["estimate", "finetune", "--gpu", "CLI ASIC", "--tokens", "1e6", "--gpu-file", str(tmp_path / "g.toml")])
    assert rc == 0 and "CLI ASIC" in capsys.readouterr().out
    (tmp_path / "bad.toml").write_text(TOML.replace("Test ASIC", "Bad").replace("memory_gib = 96", "memory_gib = -1"))
    assert main(["--gpu-file", str(tmp_path / "bad.toml"), "gpus"]) == 1
    assert "memory_gib" in capsys.readouterr().err
    assert main(["gpus", "--gpu-file"]) == 1


_VALUES = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10**30, 10**30), st.text(max_size=5),
                    st.booleans(), st.none(), st.lists(st.integers(), max_size=2),
                    st.dictionaries(st.text(max_size=4), st.floats(allow_nan=True), max_size=2))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([*SPEC, "link_kind", "scale_up_domain_size", "scale_out_gbit_per_s", "vendor",
                                        "sources", "hbm"]), _VALUES, max_size=4))
def test_any_spec_is_a_checked_gpu_or_a_planner_error(change):
    try:
        g = custom_gpu({**SPEC, **change})
    except PlannerError:
        return
    for v in (g.memory_bytes, g.memory_bytes_per_s, g.usd_per_gpu_hour, *g.peak_flops.values()):
        assert math.isfinite(v) and v > 0
