"""Hardware sourcing: rented on demand, reserved, spot or owned; the rent-or-own break-even; their checks."""
import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import planner
from planner.core.errors import PlannerError
from planner.decide.scenario import dumps_scenario, loads_scenario
from planner.decide.sourcing import Hardware, break_even_months, gpu_rate, rent_or_own
from planner.decide.trends import Trends
from planner.uncertainty.montecarlo import Engine

ROOT = Path(__file__).resolve().parent.parent
HOURS = 730.0

# An owned H100 SXM GPU-hour by hand from data/sourcing.toml, with electricity priced at zero so that only the
# hours held count: a $310k 8-GPU server and $136k of network per 4-server rack over 5 x 8,760 hours; colocation
# of its 10.2 kW at $184.06 per kW-month over 730 hours; 0.02 FTE per server at $400k a year over 8,760 hours.
OWNED_H100_NO_POWER = (310_000 / 8 / 43_800 + 136_000 / 4 / 8 / 43_800 + 10.2 * 184.06 / 8 / 730
                       + 0.02 * 400_000 / 8 / 8_760)


def small_fleet(sourcing: str, trends=None, **hardware):
    """Two H100s held all the time (tiny traffic, min_replicas = 2), no fine-tune, 12 months, production after 1;
    prices frozen unless `trends` (a Trends) says otherwise."""
    s = planner.load_scenario(ROOT / "examples" / "customer_support.toml")
    return s.replace(workload=s.workload.with_(requests_per_day=100.0, monthly_growth=0.0, horizon_months=12),
                     trends=trends or Trends(prices="none"),
                     self_host=dataclasses.replace(s.self_host, finetune_method="none", min_replicas=2,
                                                   sourcing=sourcing),
                     scratch=dataclasses.replace(s.scratch, enabled=False), hardware=Hardware(**hardware))


@pytest.mark.parametrize("decline", [0.0, 0.3])
def test_owned_differs_from_on_demand_by_the_hand_computed_amount(decline):
    trends = Trends(gpu_decline_per_year=decline, api_decline_per_year=0.0, residual="straight-line")
    rented = planner.compare(small_fleet("on-demand", trends))
    owned = planner.compare(small_fleet("owned", trends, usd_per_kwh=0.0))  # owned: no rent, so no rent trend
    assert rented.serving_plan.tensor_parallel == 1 and rented.options["self_host"].gpus == 2
    # 2 GPUs x (on-demand at month m's price - owned) per hour x 730 hours over the 11 live months (month 0 is
    # served by the API); the rent falls (1 - decline) ** (m / 12)
    want = sum(2 * (3.99 * (1 - decline) ** (m / 12) - OWNED_H100_NO_POWER) * HOURS for m in range(1, 12))
    got = rented.options["self_host"].total_usd.p50 - owned.options["self_host"].total_usd.p50
    assert got == pytest.approx(want, rel=1e-9)
    assert owned.rates["self_host"].usd_per_gpu_hour == pytest.approx(OWNED_H100_NO_POWER, rel=1e-12)
    assert "GPUs owned" in owned.options["self_host"].breakdown and "GPU rent" in rented.options["self_host"].breakdown


def test_owned_sunk_costs_colocation_staff_and_power_only_by_hand():
    # Electricity priced at zero: an hour of a sunk H100 is its colocation (10.2 kW of an 8-GPU server at
    # $184.06 per kW-month) and its hardware staff (0.02 FTE per server at $400k a year); a live month is two
    # GPUs for 730 hours plus the 0.5 FTE running the serving stack. No purchase, no depreciation.
    c = planner.compare(small_fleet("owned-sunk", usd_per_kwh=0.0))
    per_gpu_hour = 10.2 * 184.06 / 8 / 730 + 0.02 * 400_000 / 8 / 8_760
    assert c.rates["self_host"].usd_per_gpu_hour == pytest.approx(per_gpu_hour, rel=1e-12)
    assert not any("depreciation" in k for k in c.rates["self_host"].parts)
    monthly = c.options["self_host"].monthly_usd
    assert monthly[5] == pytest.approx(2 * 730 * per_gpu_hour + 0.5 * 400_000 / 12, rel=1e-9)
    # against owning with depreciation: exactly the servers' and network's share, 2 GPUs x 730 h x 11 live months
    owned = planner.compare(small_fleet("owned", usd_per_kwh=0.0)).options["self_host"].total_usd.p50
    capital = 310_000 / 8 / 43_800 + 136_000 / 4 / 8 / 43_800
    assert owned - c.options["self_host"].total_usd.p50 == pytest.approx(2 * capital * 730 * 11, rel=1e-9)
    accounting = [a for a in c.rates["self_host"].assumptions if a.name.endswith("accounting")]
    assert accounting[0].value == "sunk"
    # with power priced: an hour held adds the idle GPU and its host (105 + 301 W) at PUE 1.42 and $0.0892/kWh
    powered = planner.compare(small_fleet("owned-sunk")).rates["self_host"]
    assert powered.usd_per_gpu_hour == pytest.approx(per_gpu_hour + (105 + 301) / 1000 * 1.42 * 0.0892, rel=1e-9)
    assert powered.usd_per_busy_gpu_hour == pytest.approx(595 / 1000 * 1.42 * 0.0892, rel=1e-9)


def test_owned_sunk_needs_only_the_servers_power_and_size():
    with pytest.raises(PlannerError, match="gpus_per_server, server_watts"):
        gpu_rate(planner.gpu("A10G"), "owned-sunk", Hardware(), usd_per_engineer_year=4e5, use="serving", where="x")
    r = gpu_rate(planner.gpu("A10G"), "owned-sunk", Hardware(gpus_per_server=4, server_watts=1500, usd_per_kwh=0.0),
                 usd_per_engineer_year=4e5, use="serving", where="x")
    assert r.usd_per_gpu_hour == pytest.approx(1.5 * 184.06 / 4 / 730 + 0.02 * 4e5 / 4 / 8760, rel=1e-9)
    with pytest.raises(PlannerError, match="rental"):
        rent_or_own(planner.gpu("H100 SXM"), Hardware(), usd_per_engineer_year=4e5, rental="owned-sunk")


@pytest.mark.parametrize("sourcing, ratio", [("reserved-1y", 1 - 0.37), ("reserved-3y", 1 - 0.57),
                                             ("spot", (1 - 0.60) / 0.90)])
def test_rented_fleet_costs_the_discounted_price(sourcing, ratio):
    base = planner.compare(small_fleet("on-demand")).options["self_host"].breakdown["GPU rent"]
    assert planner.compare(small_fleet(sourcing)).options["self_host"].breakdown["GPU rent"] == pytest.approx(
        base * ratio, rel=1e-9)


def test_spot_training_takes_longer_and_reserved_training_bills_the_term():
    s = planner.load_scenario(ROOT / "examples" / "customer_support.toml")
    runs = {src: planner.compare(s.replace(scratch=dataclasses.replace(s.scratch, sourcing=src))).scratch_costs
            for src in ("on-demand", "spot", "reserved-3y")}
    od, spot, res = runs["on-demand"], runs["spot"], runs["reserved-3y"]
    assert spot.run_gpu_hours.p50 == pytest.approx(1.15 * od.run_gpu_hours.p50, rel=1e-9)
    assert spot.wall_days.p50 == pytest.approx(1.15 * od.wall_days.p50, rel=1e-9)
    term = res.pretrain.n_gpus * 3 * 8760
    assert res.min_gpu_hours == pytest.approx(term)
    compute = sum(res.parts[k] for k in ("final run compute", "ablations and experiments", "failed and restarted runs",
                                         "post-training compute", "data pipeline compute", "reserved term unused"))
    assert compute == pytest.approx(max(term, res.run_gpu_hours.p50 * (1 + res.experiments_fraction.p50)
                                        + res.pipeline_gpu_hours.p50) * 3.99 * (1 - 0.57), rel=1e-9)


def test_default_rent_or_own_by_hand():
    # per GPU: ($310k + $136k / 4) / 8 = $43,000; at full use colocation + staff + electricity of the idle GPU and host
    # (105 + 301 W) and of the work (595 W) at PUE 1.42 and $0.0892/kWh, each hour of 730
    r = rent_or_own(planner.gpu("H100 SXM"), Hardware(), usd_per_engineer_year=400_000)
    running = (10.2 * 184.06 / 8 / 730 + 0.02 * 400_000 / 8 / 8760 + (105 + 301 + 595) / 1000 * 1.42 * 0.0892) * 730
    assert r.purchase_usd_per_gpu == pytest.approx(43_000)
    assert r.owned_running_usd_per_month == pytest.approx(running, rel=1e-9)
    assert r.months_to_break_even == pytest.approx(43_000 / (3.99 * 730 - running), rel=1e-9)
    assert 0 < r.break_even_utilisation < 1


@settings(max_examples=60, deadline=None)
@given(rent=st.floats(0.5, 12.0), use=st.floats(0.05, 1.0), server=st.floats(2e4, 8e5),
       kwh=st.floats(0.0, 0.4), colo=st.floats(0.0, 400.0))
def test_owning_is_cheaper_than_renting_past_the_break_even(rent, use, server, kwh, colo):
    hw = Hardware(usd_per_server=server, usd_per_kwh=kwh, colocation_usd_per_kw_month=colo)
    r = rent_or_own(planner.gpu("H100 SXM").with_price(rent), hw, usd_per_engineer_year=400_000, utilisation=use)
    own = lambda m: r.purchase_usd_per_gpu + r.owned_running_usd_per_month * m  # noqa: E731
    renting = lambda m: rent * use * HOURS * m  # noqa: E731
    if r.months_to_break_even is None:
        assert all(own(m) >= renting(m) for m in (1, 12, 120, 1200))
    else:
        m = r.months_to_break_even
        assert own(m * 1.01 + 0.01) < renting(m * 1.01 + 0.01) and own(m * 0.99) > renting(m * 0.99)
    owned = gpu_rate(planner.gpu("H100 SXM").with_price(rent), "owned", hw, usd_per_engineer_year=400_000,
                     use="serving", where="x")
    life_own = lambda u: owned.usd_per_gpu_hour + owned.usd_per_busy_gpu_hour * u  # noqa: E731 (per hour held)
    if r.break_even_utilisation is not None:
        u = r.break_even_utilisation
        assert life_own(min(1.0, u * 1.01 + 1e-6)) < rent * min(1.0, u * 1.01 + 1e-6) or u > 0.99
        assert life_own(u * 0.99) > rent * u * 0.99


def test_break_even_months_is_none_when_renting_stays_cheaper():
    assert break_even_months(1000.0, 100.0, 150.0) is None
    assert break_even_months(1000.0, 150.0, 50.0) == pytest.approx(10.0)


def test_engine_matches_compare_under_each_sourcing():
    s = small_fleet("on-demand").replace(workload=small_fleet("on-demand").workload.with_(requests_per_day=3e5))
    for sourcing in ("reserved-1y", "spot", "owned", "owned-sunk"):
        t = s.replace(self_host=dataclasses.replace(s.self_host, sourcing=sourcing, finetune_method="lora"))
        e = Engine(t)
        got = e.totals({"self_host.usd_per_gpu_hour": np.array([2.0])}, 1)[0]
        want = planner.compare(t.replace(self_host=dataclasses.replace(t.self_host, usd_per_gpu_hour=2.0)))
        for i, k in enumerate(e.keys):
            assert got[i] == pytest.approx(want.options[k].total_usd.p50, rel=1e-9), (sourcing, k)


@pytest.mark.parametrize("text, words", [
    ('[self_host]\nsourcing = "leased"', ["self_host.sourcing", "owned", "leased"]),
    ('[scratch]\nsourcing = "buy"', ["scratch.sourcing", "reserved-1y"]),
    ('[hardware]\npue = 0.5', ["hardware.pue", "[1, 5]"]),
    ('[hardware]\nspot_discount = 1.0', ["hardware.spot_discount", "[0, 0.99]"]),
    ('[hardware]\nregion = "atlantis"', ["region", "atlantis"]),
    ('[hardware]\nregion = "frnace"', ["france"]),
])
def test_bad_sourcing_inputs_name_the_field(text, words):
    with pytest.raises(PlannerError) as e:
        loads_scenario(text)
    assert all(w in str(e.value) for w in words), str(e.value)


def test_owning_a_gpu_without_a_server_price_says_what_to_give():
    with pytest.raises(PlannerError, match="usd_per_server"):
        gpu_rate(planner.gpu("A10G"), "owned", Hardware(), usd_per_engineer_year=4e5, use="serving", where="x")
    hw = Hardware(usd_per_server=20_000, gpus_per_server=4, server_watts=1500, servers_per_rack=10,
                  network_usd_per_rack=5000)
    assert gpu_rate(planner.gpu("A10G"), "owned", hw, usd_per_engineer_year=4e5, use="serving", where="x").parts


def test_new_sections_round_trip():
    s = small_fleet("owned", usd_per_kwh=0.12, region="france").replace(
        programme=planner.Programme(ablation_fraction=0.5))
    assert loads_scenario(dumps_scenario(s)) == s
