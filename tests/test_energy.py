"""Energy and carbon: by hand for a run and a fleet, per option in every example, and more traffic never less."""
import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import planner
from planner.decide.costmodel import FleetCostModel
from planner.decide.energy import api_footprint, co2e_tonnes, fleet_mwh, power_draw, training_mwh
from planner.decide.sourcing import Hardware

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
H100 = planner.gpu("H100 SXM")


def test_training_energy_by_hand():
    # 1,000 H100-hours at 700 W (the TDP) + a 301 W host (0.43 x 700), x PUE 1.2 (rented) = 1.2012 MWh
    assert training_mwh(1000.0, power_draw(H100, "on-demand", Hardware())) == pytest.approx(1.2012, rel=1e-12)
    # owned: the colocation PUE of 1.42
    assert training_mwh(1000.0, power_draw(H100, "owned", Hardware())) == pytest.approx(1.001 * 1.42, rel=1e-12)
    assert co2e_tonnes(1.0, 390.0) == pytest.approx(0.39)  # 1 MWh at 390 g/kWh is 390 kg


def _fleet(capacity=10.0, ttp=0.0):
    return FleetCostModel(capacity_rps_per_replica=capacity, gpus_per_replica=1, usd_per_gpu_hour=1.0,
                          utilization_ceiling=0.5, min_replicas=1, fixed_monthly_usd=0.0, one_time_usd=0.0,
                          months_to_production=ttp)


def test_fleet_energy_by_hand():
    # mean 2 requests/s, peak 4: 4 / (10 x 0.5) = 0.8 replicas -> the minimum 1 GPU held; 0.2 GPUs' worth of work.
    # 730 h x PUE 1.2 x (1 x (105 idle + 301 host) + 0.2 x (700 - 105)) W = 459.9 kWh
    requests = 2.0 * 30.4375 * 86_400
    got = fleet_mwh(_fleet(), np.array([requests]), np.array([0.0]), 2.0, power_draw(H100, "on-demand", Hardware()))
    assert got[0] == pytest.approx(730 * 1.2 * (406 + 0.2 * 595) / 1e6, rel=1e-12)
    # before production (the API bridge serves), the fleet uses nothing
    assert fleet_mwh(_fleet(ttp=1.0), np.array([requests]), np.array([0.0]), 2.0,
                     power_draw(H100, "on-demand", Hardware()))[0] == 0.0


@settings(max_examples=80, deadline=None)
@given(rps=st.floats(0.0, 1e4), more=st.floats(1.0, 100.0), ptm=st.floats(1.0, 5.0), cap=st.floats(0.1, 100.0))
def test_more_traffic_never_lowers_fleet_energy(rps, more, ptm, cap):
    draw, months = power_draw(H100, "owned", Hardware()), np.array([3.0])
    month = 30.4375 * 86_400
    low = fleet_mwh(_fleet(cap), np.array([rps * month]), months, ptm, draw)[0]
    high = fleet_mwh(_fleet(cap), np.array([rps * more * month]), months, ptm, draw)[0]
    assert high >= low * (1 - 1e-12)


def test_more_traffic_never_lowers_an_options_energy():
    s = planner.load_scenario(ROOT / "examples" / "customer_support.toml")
    a, b = (planner.compare(s.replace(workload=s.workload.with_(requests_per_day=r))) for r in (4e4, 4e5))
    for k in ("api", "self_host", "scratch"):
        assert b.options[k].energy_mwh.p50 > a.options[k].energy_mwh.p50, k


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_every_option_reports_its_energy(path):
    c = planner.compare(planner.load_scenario(path))
    for o in c.options.values():
        if not o.available:
            continue
        if o.key == "api" and o.energy_mwh is None:  # unknown, and said so, never zero
            assert "unknown" in o.energy.note
            continue
        assert o.energy_mwh.p50 > 0 and o.co2e_t.p50 > 0 and o.energy is not None
    assert "energy_mwh" in c.table().columns and "co2e_t" in c.table().columns


def test_api_energy_is_published_or_unknown():
    openai = api_footprint("openai", 300, 481.0)
    assert openai.wh_per_request == 0.34 and openai.gco2e_per_request == pytest.approx(0.34 * 481 / 1000)
    google = api_footprint("google", 300, 481.0)
    assert (google.wh_per_request, google.gco2e_per_request) == (0.24, 0.03)
    mistral = api_footprint("mistral", 400, 481.0)
    assert mistral.wh_per_request is None and mistral.gco2e_per_request == pytest.approx(1.14)
    unknown = api_footprint("anthropic", 300, 481.0)
    assert unknown.wh_per_request is None and unknown.gco2e_per_request is None


def test_an_api_without_a_figure_is_unknown_in_the_comparison_and_the_report():
    s = planner.load_scenario(ROOT / "examples" / "customer_support.toml")
    s = s.replace(api=dataclasses.replace(s.api, model="claude-sonnet-4-5"))
    c = planner.compare(s)
    assert c.options["api"].energy_mwh is None and c.options["api"].co2e_t is None
    assert np.isnan(c.table().loc[c.options["api"].label, "energy_mwh"])
    assert "excludes" in c.options["self_host"].energy.note  # the bridge months are not counted, and it says so
    from planner.present.report import report_markdown
    assert "not published" in report_markdown(c, s, samples=500)


def test_region_sets_the_carbon():
    s = planner.load_scenario(ROOT / "examples" / "regulated_documents.toml")
    us, fr = (planner.compare(s.replace(hardware=Hardware(region=r))).options["self_host"] for r in ("us", "france"))
    assert fr.energy_mwh.p50 == pytest.approx(us.energy_mwh.p50)
    assert fr.co2e_t.p50 == pytest.approx(us.co2e_t.p50 * 56 / 390, rel=1e-9)
