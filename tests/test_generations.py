"""Hardware generations (catalog launches and successors, decide/generations.py): the move of a rented fleet to the
successor (its month and its re-pricing factor, by hand), owned hardware's resale value (the step at the successor's
launch, by hand), per-provider API declines, the price history genai-prices holds, and the bad inputs."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

import planner
from planner.catalog.custom_gpu import custom_gpu
from planner.catalog.generations import successor_step, yearly_loss, yearly_loss_band
from planner.catalog.lookup import gpu, gpus
from planner.catalog.months import months_between
from planner.catalog.price_history import price_history
from planner.core.errors import PlannerError
from planner.decide.estimates import serving_plan
from planner.decide.residual import capital_factor, residual_fraction
from planner.decide.scenario import loads_scenario
from planner.decide.trends import Trends

ROOT = Path(__file__).resolve().parent.parent
HOURS = 730.0


def _scenario(sourcing="on-demand", **trends) -> planner.Scenario:
    """customer_support on H100s with every price trend frozen at 0 (so only the generation moves costs)."""
    s = planner.load_scenario(ROOT / "examples" / "customer_support.toml")
    t = Trends(api_decline_per_year=0.0, gpu_decline_per_year=0.0, **trends)
    return s.replace(trends=t, self_host=dataclasses.replace(s.self_host, sourcing=sourcing),
                     scratch=dataclasses.replace(s.scratch, enabled=False))


def test_every_launch_is_sourced_and_every_successor_is_a_later_catalog_gpu():
    launched = [g for g in gpus() if g.launched]
    assert {"H100 SXM", "H200 SXM", "A100 80GB SXM", "MI300X"} <= {g.name for g in launched}
    for g in launched:
        src = g.sources["launched"]
        assert src.url.startswith("https://") and src.checked == "2026-12-07"
        if g.successor:
            nxt = gpu(g.successor)
            assert nxt.launched and months_between(g.launched, nxt.launched) > 0, (g.name, nxt.name)


def test_the_yearly_loss_reproduces_the_quoted_three_year_residual():
    # (1 - loss)^3 x (1 - step) = the value left after three years; H100: 30% left, a 25% step -> loss 26.3%
    assert yearly_loss(0.30, 0.25) == pytest.approx(1 - (0.4) ** (1 / 3), rel=1e-12)
    b = yearly_loss_band("H100 SXM")
    assert 0 < b.p10 < b.p50 < b.p90 < 1
    s = successor_step().value.p50
    assert residual_fraction(36, b.p50, s, 6.0) == pytest.approx(0.30, rel=1e-12)


def test_the_fleet_moves_at_the_successors_launch_at_its_cost_per_unit_of_throughput():
    s = _scenario(migrate=True, successor="B200", successor_launch="2027-06", start="2026-12")
    c = planner.compare(s)
    fleet = c.cost_models["self_host"]
    assert fleet.migrate_month == 6.0  # 2026-12 -> 2027-06
    # the factor by hand: each GPU's own serving plan from the same performance model, $/h x GPUs / (requests/s)
    h = s.self_host
    load = s.workload.with_(prompt_overhead_tokens=0.0) if h.drops_prompt_overhead else s.workload  # fine-tuned
    b200 = serving_plan(dataclasses.replace(h, gpu="B200"), h.model, load, gpu("B200").usd_per_gpu_hour)
    h100 = c.serving_plan
    want = (b200.usd_per_gpu_hour * b200.tensor_parallel / b200.requests_per_s_per_replica.p50) / \
           (h100.usd_per_gpu_hour * h100.tensor_parallel / h100.requests_per_s_per_replica.p50)
    assert 0 < want < 1 and fleet.migrate_factor == pytest.approx(want, rel=1e-12)
    # month by month: the rent x the factor from month 6 on, nothing else moves
    stay = planner.compare(s.replace(trends=dataclasses.replace(s.trends, migrate=False)))
    req, ptm = np.asarray(c.requests_per_month), s.workload.peak_rps / s.workload.mean_rps
    rent = fleet._gpus(req, ptm) * fleet.usd_per_gpu_hour * HOURS
    diff = np.asarray(c.options["self_host"].monthly_usd) - np.asarray(stay.options["self_host"].monthly_usd)
    m = np.arange(len(req))
    assert diff[m < 6] == pytest.approx(0.0, abs=1e-9)
    assert diff[m >= 6] == pytest.approx(rent[m >= 6] * (want - 1.0), rel=1e-9)


def test_a_reservation_moves_at_its_first_renewal_and_an_earlier_launch_moves_nothing():
    c = planner.compare(_scenario("reserved-1y", migrate=True, successor="B200", successor_launch="2027-06",
                                  start="2026-12"))
    assert c.cost_models["self_host"].migrate_month == 12.0
    # the catalog's successor of the H100 (the H200) shipped in 2024, before the plan starts: already in the prices
    c = planner.compare(_scenario(migrate=True))
    assert not np.isfinite(c.cost_models["self_host"].migrate_month)


def test_owned_hardware_steps_down_at_the_successors_launch():
    s = _scenario("owned", successor="B200", successor_launch="2027-06", start="2026-12", residual_loss_per_year=0.2,
                  successor_step=0.25)
    curve = planner.compare(s)
    fleet = curve.cost_models["self_host"]
    assert fleet.successor_month == 6.0 and fleet.residual_loss_per_year == 0.2
    # by hand: value 0.8^(m/12), x 0.75 after month 6; month m's capital = straight-line's x 12 x 5 years x the loss
    m = np.arange(12.0)
    value = lambda t: 0.8 ** (t / 12) * np.where(t > 6, 0.75, 1.0)  # noqa: E731
    lost = value(m) - value(m + 1)
    assert lost[6] == pytest.approx(0.8 ** 0.5 - 0.8 ** (7 / 12) * 0.75, rel=1e-12)  # the step lands in month 6
    assert capital_factor(m, 0.2, 0.25, 6.0, 5.0) == pytest.approx(60 * lost, rel=1e-12)
    want = fleet.usd_per_gpu_hour + fleet.capital_usd_per_gpu_hour * (60 * lost - 1)
    assert fleet._rate(m) == pytest.approx(want, rel=1e-12)
    assert fleet._rate(m)[6] > 3 * fleet._rate(m)[5]  # the step: a month of ~25% of the value at once
    # the straight line: the hour's capital every month, the old rule
    line = planner.compare(s.replace(trends=dataclasses.replace(s.trends, residual="straight-line")))
    assert line.cost_models["self_host"].residual_loss_per_year is None
    assert line.cost_models["self_host"]._rate(m) == pytest.approx(np.full(12, fleet.usd_per_gpu_hour), rel=1e-12)
    # the break-even traffic against the API moves with the curve (it is solved on the same cost models)
    be = {c: next(b for b in x.break_evens if {b.a, b.b} == {"api", "self_host"}).requests_per_day
          for c, x in (("curve", curve), ("line", line))}
    assert be["curve"] and be["line"] and be["curve"] != pytest.approx(be["line"], rel=1e-6)


def test_owned_capital_over_the_horizon_is_the_value_lost():
    # a GPU held every month of 36 loses 1 - value(36) of its price: the curve's capital sums to it
    lost = capital_factor(np.arange(36.0), 0.263, 0.25, 10.0, 5.0).sum() / 60.0
    assert lost == pytest.approx(1 - residual_fraction(36, 0.263, 0.25, 10.0), rel=1e-12)


def test_monte_carlo_and_tornado_vary_the_owned_resale_curve():
    from planner.uncertainty.montecarlo import Engine
    s = _scenario("owned", successor="B200", successor_launch="2027-06", start="2026-12")
    e = Engine(s)
    for path in ("trends.residual_loss_per_year", "trends.successor_step"):
        d = e.distributions[path]
        assert d.kind == "triangular" and 0 < d.low < d.high < 1
    fast, slow = (e.evaluate({"trends.residual_loss_per_year": np.array([x])})[0]["self_host"][1].sum()
                  for x in (0.4, 0.1))
    assert fast > slow  # faster loss of value, dearer owned fleet
    rows = planner.tornado(s)
    assert rows.loc["trends.residual_loss_per_year", "swing_usd"] > 0
    assert rows.loc["trends.successor_step", "swing_usd"] > 0
    # rented: nothing to vary
    assert Engine(_scenario()).distributions["trends.residual_loss_per_year"].kind == "point"


def test_per_provider_and_per_model_api_declines():
    s = _scenario()
    api = lambda **t: planner.compare(s.replace(trends=Trends(gpu_decline_per_year=0.0, **t)))  # noqa: E731
    assert api(api_declines={"openai": 0.2}).cost_models["api"].decline_per_year == 0.2
    model = s.api.model
    both = api(api_declines={"openai": 0.2, model: 0.7}).cost_models["api"].decline_per_year
    assert both == 0.7  # the model's entry before its provider's
    assert api(api_declines={"anthropic": 0.2}).cost_models["api"].decline_per_year == 0.5  # another provider: p50
    assert api(api_declines={"openai": 0.2}, api_decline_per_year=0.1).cost_models["api"].decline_per_year == 0.1
    back = loads_scenario(planner.dumps_scenario(s.replace(trends=Trends(api_declines={"openai": 0.2}))))
    assert back.trends.api_declines == (("openai", 0.2),)


@pytest.mark.parametrize("line, field", [
    ('successor = "H300"', "trends.successor"),
    ('api_declines = { openai = 1.0 }', "trends.api_declines.openai"),
    ('api_declines = { openai = -1.2 }', "trends.api_declines.openai"),
    ('api_declines = 0.3', "trends.api_declines"),
    ('migrate = "yes"', "trends.migrate"),
    ('migrate = 1', "trends.migrate"),
    ('start = "2026-13"', "trends.start"),
    ('successor_launch = "soon"', "trends.successor_launch"),
    ('residual = "double-declining"', "trends.residual"),
    ('residual_loss_per_year = 1.0', "trends.residual_loss_per_year"),
    ('successor_step = -0.1', "trends.successor_step"),
])
def test_bad_generation_inputs_are_refused_naming_the_field(line, field):
    with pytest.raises(PlannerError, match=field.replace(".", r"\.")):
        loads_scenario(f'name = "x"\n[trends]\n{line}\n')


def test_a_custom_gpu_successor_must_be_a_gpu_one_can_look_up():
    table = {"name": "My ASIC", "peak_tflops": {"bf16": 500}, "memory_gib": 96, "memory_tb_per_s": 4.0,
             "interconnect_gb_per_s": 900, "tdp_watts": 700, "usd_per_gpu_hour": 2.5, "launched": "2026-01"}
    assert custom_gpu({**table, "successor": "B200"}).successor == "B200"
    with pytest.raises(PlannerError, match="field successor"):
        custom_gpu({**table, "successor": "H300"})
    with pytest.raises(PlannerError, match="field launched"):
        custom_gpu({**table, "launched": "January"})
    # a scenario's own custom GPU may be the successor it names
    s = loads_scenario('name = "x"\n[trends]\nsuccessor = "My ASIC"\n[[custom_gpu]]\n' + "\n".join(
        f"{k} = {v!r}".replace("'", '"') if not isinstance(v, dict) else "peak_tflops = { bf16 = 500 }"
        for k, v in table.items()))
    assert s.trends.successor == "My ASIC"


def test_price_history_shows_dated_changes_or_says_there_are_none():
    h = price_history("claude-sonnet-4-6", "anthropic")
    assert [c.from_date for c in h.changes][0] == "" and "2026-03-13" in [c.from_date for c in h.changes]
    assert "1 dated price change" in h.note
    none = price_history("gpt-4o-mini", "openai")
    assert none.changes == () and "no dated price change" in none.note


def test_cli_price_history(capsys):
    from planner.present.cli import main
    assert main(["prices", "--history", "gpt-4o-mini"]) == 0
    assert "no dated price change" in capsys.readouterr().out
    assert main(["prices", "--history", "claude-sonnet-4-6", "--provider", "anthropic"]) == 0
    assert "2026-03-13" in capsys.readouterr().out


def test_the_resale_break_even_by_hand():
    from planner.decide.residual import resale_break_even_months
    # no loss of value: owning pays from the first month when rent beats the running cost, never otherwise
    assert resale_break_even_months(40_000, 3_000, 400, 0.0, 0.0, None) == 0.0
    assert resale_break_even_months(40_000, 300, 400, 0.0, 0.0, None) is None
    # all value lost at once in month 0 (step 1 - 1e-12 at month 0): the cash break-even, purchase / (rent - running)
    m = resale_break_even_months(40_000, 3_000, 400, 0.0, 1 - 1e-12, 0.0)
    assert m == pytest.approx(40_000 / 2_600, rel=1e-6)
    # a step in month 6 of a fleet otherwise cheaper to own: it is dearer to own and sell just after the step
    m = resale_break_even_months(40_000, 1_400, 400, 0.0, 0.25, 6.0)
    assert m == pytest.approx(10.0, rel=1e-9)  # 40k x 0.25 = 10k lost, recovered at $1,000 a month by month 10


def test_rent_or_own_says_when_owning_then_selling_pays():
    c = planner.compare(_scenario("owned"))
    r = c.rent_or_own
    assert r.months_to_break_even_resold is not None and r.months_to_break_even_resold <= r.months_to_break_even
    from planner.present.costs_text import rent_or_own_lines
    assert "sold at its market value" in rent_or_own_lines(r)[0]


def test_a_catalog_successor_not_in_the_catalog_is_refused_naming_the_field(monkeypatch):
    from planner.catalog import lookup
    real = lookup._read("gpus.toml")
    bad = {"gpu": [dict(g, successor="H300") if g["name"] == "H100 SXM" else g for g in real["gpu"]]}
    monkeypatch.setattr(lookup, "_read", lambda name: bad if name == "gpus.toml" else real)
    lookup._gpus.cache_clear()
    try:
        with pytest.raises(PlannerError, match=r"gpus.toml: gpu 'H100 SXM' field successor.*H300"):
            lookup.gpus()
    finally:
        monkeypatch.undo()
        lookup._gpus.cache_clear()
    assert gpu("H100 SXM").successor == "H200 SXM"


def test_the_report_and_the_cli_say_what_the_generation_did():
    from planner.present.costs_text import generation_lines
    from planner.present.report_costs import hardware_section
    c = planner.compare(_scenario(migrate=True, successor="B200", successor_launch="2027-06", start="2026-12"))
    lines = generation_lines(c)
    assert "Plan start: 2026-12" in lines and "H100 SXM successor: B200 from 2027-06" in lines
    assert any(x.startswith("Open weights + fine-tune + self-host: move to B200: month 6, rent x 0.") for x in lines)
    assert "### Hardware generation" in hardware_section(c)
    # nothing self-hosted available: no generation lines
    s = _scenario()
    api_only = planner.compare(s.replace(self_host=dataclasses.replace(s.self_host, model="Llama-3.1-405B",
                                                                       gpu="L4", tensor_parallel=1)))
    assert not api_only.options["self_host"].available and generation_lines(api_only) == []


def test_a_fleet_does_not_move_to_dearer_or_unfitting_capacity():
    # an A100 40GB successor for an H100 fleet: less throughput per dollar (or none at this precision): no move
    c = planner.compare(_scenario(migrate=True, successor="A100 40GB SXM", successor_launch="2027-06",
                                  start="2026-12"))
    assert not np.isfinite(c.cost_models["self_host"].migrate_month)
    assert any(a.name.endswith("move to A100 40GB SXM") and str(a.value).startswith("none:") for a in c.assumptions)
