"""The Monte Carlo's months-first array pass (uncertainty/rows.py) and its fixed-estimates mode (issue 23).

rows.chunk_results is held equal to chunks.chunk_results, the samples x months pass written as compare() costs
(cumulative curves from costmodel.cumulative, crossings from crossing.crossing_months), on every bundled example
and on scenarios whose curves cross; its pieces are held to the plain formulas on random spends and curves; the
fixed-estimates table (physics.tabled) to the step-time model re-run per sample.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import planner
from planner.core.band import Band
from planner.core.errors import PlannerError
from planner.decide.costmodel import Spend, cumulative
from planner.uncertainty import chunks, montecarlo, percentiles, rows
from planner.uncertainty.crossing import crossing_months
from planner.uncertainty.montecarlo import Engine, monte_carlo
from planner.uncertainty.physics import TABLE_NODES, tabled

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.toml"))
WIDE = {  # the benchmark's inputs: every option's main cost drivers uncertain at once
    "workload.requests_per_day": {"dist": "lognormal", "p10": 20_000, "p90": 80_000, "relative": False},
    "workload.monthly_growth": {"dist": "uniform", "low": 0.0, "high": 0.08, "relative": False},
    "api.price_scale": {"dist": "triangular", "low": 0.4, "mode": 0.8, "high": 1.2, "relative": False},
    "costs.usd_per_engineer_year": {"dist": "uniform", "low": 250_000, "high": 450_000, "relative": False},
}


def _crossing():
    """Self-hosting dearer up front, cheaper per month (tests/test_uncertainty.py's crossing scenario), traffic
    spread so that some samples cross early, some late and some never."""
    s = planner.load_scenario(ROOT / "examples" / "code_completion.toml")
    s = s.replace(workload=s.workload.with_(requests_per_day=1e7), scratch=s.scratch.__class__(enabled=False))
    return s.replace(uncertainty={"workload.requests_per_day": {"dist": "lognormal", "p10": 1e6, "p90": 3e7,
                                                                "relative": False}})


SCENARIOS = [pytest.param(lambda p=p: planner.load_scenario(p), id=p.stem) for p in EXAMPLES] + [
    pytest.param(lambda: planner.load_scenario(ROOT / "examples" / "customer_support.toml").replace(
        uncertainty=WIDE), id="customer_support_wide"),
    pytest.param(_crossing, id="crossing")]


@pytest.mark.parametrize("make", SCENARIOS)
@pytest.mark.parametrize("physics", [True, False])
def test_rows_pass_equals_the_samples_by_months_pass(make, physics):
    e = Engine(make())
    n = 700
    values = e.with_run_speed(e.sample(n, 11), n, physics)
    want_totals, want_per_request, want_pairs = chunks.chunk_results(e, values, n)
    got_totals, got_per_request, got_pairs = rows.chunk_results(e, values, n, {})
    assert got_totals == pytest.approx(want_totals, rel=1e-12)
    assert got_per_request == pytest.approx(want_per_request, rel=1e-12)
    assert got_pairs.keys() == want_pairs.keys()
    for pair, want in want_pairs.items():
        got = got_pairs[pair]
        assert np.array_equal(np.isnan(got), np.isnan(want)), pair
        assert got[~np.isnan(got)] == pytest.approx(want[~np.isnan(want)], abs=1e-9)


def test_the_crossing_scenario_crosses():
    """The case above that exercises crossing months: some samples cross, some do not."""
    e = Engine(_crossing())
    _, _, pairs = rows.chunk_results(e, e.sample(2000, 3), 2000)
    months = next(iter(pairs.values()))
    assert 0.05 < np.mean(~np.isnan(months)) < 0.95


def test_cumulative_rows_equals_costmodel_cumulative_on_random_spends():
    """Lumps and ramps, fixed and sampled months (shared by several spends, at whole months, past the horizon),
    sampled and fixed amounts."""
    rng = np.random.default_rng(5)
    n, T = 64, 12
    start = rng.uniform(0, 14, n)
    start[:6] = np.arange(6)  # at whole months
    end = start + rng.uniform(0, 6, n)
    end[6:12] = start[6:12]  # lumps
    spends = (Spend("a", rng.uniform(1, 9, n), start, end), Spend("b", 4.0, start, end),
              Spend("c", rng.uniform(1, 9, n), 0.0, 3.0), Spend("d", rng.uniform(1, 9, n), 0.0, 3.0),
              Spend("e", 7.0, 0.0, 0.0), Spend("f", rng.uniform(1, 9, n), end, end + 2.0),
              Spend("g", 1.5, 30.0, 40.0), Spend("h", 2.0, 2.5, 2.5), Spend("i", rng.uniform(0, 3, n), 0.0, end))
    monthly = rng.uniform(0, 5, (n, T))
    want = cumulative(tuple(Spend(s.what, np.reshape(s.usd, (-1, 1)) if np.ndim(s.usd) else s.usd,
                                  np.reshape(s.start_month, (-1, 1)) if np.ndim(s.start_month) else s.start_month,
                                  np.reshape(s.end_month, (-1, 1)) if np.ndim(s.end_month) else s.end_month)
                            for s in spends), monthly)
    got = rows.cumulative_rows(spends, monthly.T, n)
    assert got.T == pytest.approx(want, rel=1e-12, abs=1e-12)
    assert rows.cumulative_rows(spends[4:5], np.full((T, 1), 2.0), 3).T == pytest.approx(
        np.broadcast_to(cumulative(spends[4:5], np.full(T, 2.0)), (3, T + 1)))


@pytest.mark.parametrize("seed", range(5))
def test_crossing_rows_equals_crossing_months(seed):
    """Random walks that cross several times, touch zero, start at zero or never cross."""
    rng = np.random.default_rng(seed)
    n, T = 400, 24
    a = np.cumsum(rng.integers(0, 4, (n, T + 1)).astype(float), axis=1)
    b = np.cumsum(rng.integers(0, 4, (n, T + 1)).astype(float), axis=1) + rng.integers(-6, 6, (n, 1))
    b[:40] = a[:40] + 1.0  # never cross
    want = crossing_months(a, b)
    got = rows.crossing_rows(a.T.copy(), b.T.copy())
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert got[~np.isnan(got)] == pytest.approx(want[~np.isnan(want)], abs=1e-12)


@pytest.mark.parametrize("shift", [-5.0, 5.0, 0.0])
def test_crossing_rows_when_no_column_crosses_or_all_touch(shift):
    """One option dearer throughout in every sample (either way), and curves equal throughout: no crossing, as
    crossing_months finds; then the order flipped in the last row of every sample: all cross there."""
    rng = np.random.default_rng(6)
    a = np.cumsum(rng.uniform(0, 3, (300, 25)), axis=1)
    b = a + shift
    want = crossing_months(a, b)
    assert np.all(np.isnan(want))
    assert np.array_equal(rows.crossing_rows(a.T.copy(), b.T.copy()), want, equal_nan=True)
    b[:, -1] = a[:, -1] + (1.0 if shift < 0 else -1.0)  # the last row crosses in every sample (unless equal before)
    want = crossing_months(a, b)
    assert np.all(np.isnan(want) == (shift == 0))
    assert rows.crossing_rows(a.T.copy(), b.T.copy()) == pytest.approx(want, abs=1e-12, nan_ok=True)


@pytest.mark.parametrize("make", SCENARIOS[:-1])  # every example (each has a scratch option) and the benchmark's
def test_fixed_estimates_table_is_within_5e_4_of_the_model(make):
    e = Engine(make())
    assert e.speed is not None  # the run is re-timed here: a scratch option
    n = 20_000
    values = e.sample(n, 2)
    exact = e.with_run_speed(values, n)[montecarlo.RUN_SPEED]
    table = e.with_run_speed(values, n, physics=False)[montecarlo.RUN_SPEED]
    assert np.max(np.abs(table / exact - 1.0)) < 5e-4
    fixed, rerun = monte_carlo(make(), n=5000, physics=False), monte_carlo(make(), n=5000)
    for k in rerun.options:
        assert fixed.total_usd[k].p50 == pytest.approx(rerun.total_usd[k].p50, rel=5e-4)


def test_tabled_reads_the_grid_exactly_at_its_nodes_and_takes_a_constant_axis():
    f = lambda x, y: 1.0 / x + 2.0 / y + 0.5 / (x * y)  # noqa: E731  bilinear in 1/x, 1/y: read exactly
    x = np.random.default_rng(1).uniform(0.3, 0.9, 500)
    y = np.random.default_rng(2).uniform(0.4, 0.8, 500)
    assert tabled(f, x, y, TABLE_NODES) == pytest.approx(f(x, y), rel=1e-12)
    assert tabled(f, x, np.full(500, 0.5), 5) == pytest.approx(f(x, 0.5), rel=1e-12)
    assert tabled(f, np.full(3, 0.5), np.full(3, 0.5), 5) == pytest.approx(f(0.5, 0.5), rel=1e-12)


def test_results_do_not_depend_on_the_chunk_size(monkeypatch):
    s = _crossing()
    a = monte_carlo(s, n=3000, physics=False)
    monkeypatch.setattr(montecarlo, "CHUNK", 1000)
    b = monte_carlo(s, n=3000, physics=False)
    assert np.array_equal(a.samples_usd, b.samples_usd)
    for k, be in a.break_even_months.items():
        assert be.to_dict() == b.break_even_months[k].to_dict()


def test_physics_must_be_a_bool_and_the_result_says_which_mode():
    with pytest.raises(PlannerError, match="physics"):
        monte_carlo(_crossing(), n=10, physics="no")
    assert monte_carlo(_crossing(), n=10).physics is True
    assert monte_carlo(_crossing(), n=10, physics=False).to_dict()["physics"] is False


@pytest.mark.parametrize("per", [1.0, 12.0])
def test_month_powers_by_rows_equals_the_power(per):
    """The months-first recurrence against base ** (m / per); other shapes (months along the last axis, months
    not 0 .. T - 1, a scalar base) take exp(m / per x log(base)), also equal to the power."""
    from planner.core.series import month_powers
    base = np.random.default_rng(4).uniform(0.05, 3.0, 300)
    months = np.arange(48, dtype=float)
    want = base[None, :] ** (months[:, None] / per)
    assert month_powers(np.log(base), months[:, None], per) == pytest.approx(want, rel=1e-13)
    assert month_powers(np.log(base)[:, None], months, per) == pytest.approx(want.T, rel=1e-13)
    odd = np.array([[0.0], [2.0], [5.0]])
    assert month_powers(np.log(base), odd, per) == pytest.approx(base ** (odd / per), rel=1e-13)
    assert month_powers(np.log(2.0), 3.0, per) == pytest.approx(2.0 ** (3.0 / per), rel=1e-15)


@pytest.mark.parametrize("make", [SCENARIOS[-1], SCENARIOS[-2]])  # two options; three
def test_a_wrong_first_guess_of_the_reference_recomputes_its_pairs(monkeypatch, make):
    """monte_carlo costs only the reference's pairs after the first chunk, the reference guessed from that chunk;
    when the guess is wrong, the results are the same as when it is right."""
    s = make()
    monkeypatch.setattr(montecarlo, "CHUNK", 1000)
    right = monte_carlo(s, n=3500, physics=False)
    keys = right.options
    monkeypatch.setattr(montecarlo, "_reference", lambda k, totals: next(o for o in keys if o != right.reference))
    wrong = monte_carlo(s, n=3500, physics=False)
    assert wrong.reference == right.reference and wrong.break_even_months.keys() == right.break_even_months.keys()
    for k, be in right.break_even_months.items():
        assert be.to_dict() == wrong.break_even_months[k].to_dict()
    assert np.array_equal(wrong.samples_usd, right.samples_usd)


def _tabled_before(f, x, y, nodes):
    """physics.tabled as it was before the per-node rises (2026-12-08): the reference it must equal bit for bit."""
    axes = []
    for a in (x, y):
        v = 1.0 / np.asarray(a, dtype=float)
        lo, hi = float(v.min()), float(v.max())
        if not hi > lo:
            axes.append(((np.zeros(v.size, dtype=np.intp), np.zeros(v.size)), np.array([lo])))
            continue
        g = (v - lo) * ((nodes - 1) / (hi - lo))
        i = np.minimum(g.astype(np.intp), nodes - 2)
        axes.append(((i, g - i), np.linspace(lo, hi, nodes)))
    ((i, fx), ux), ((j, fy), wy) = axes
    grid_x, grid_y = np.meshgrid(1.0 / ux, 1.0 / wy, indexing="ij")
    t = np.asarray(f(grid_x.ravel(), grid_y.ravel()), dtype=float)
    flat = i * wy.size + j
    sx, sy = (wy.size if ux.size > 1 else 0), (1 if wy.size > 1 else 0)
    low = t[flat] + fy * (t[flat + sy] - t[flat])
    high = t[flat + sx] + fy * (t[flat + sx + sy] - t[flat + sx])
    return low + fx * (high - low)


@pytest.mark.parametrize("nodes", [2, 5, TABLE_NODES])
def test_tabled_equals_its_plain_formula_exactly(nodes):
    """tabled's per-node rises and in-place passes give the plain bilinear formula's numbers bit for bit (so fixed
    estimates do not move), with either axis or both a single node."""
    rng = np.random.default_rng(12)
    f = lambda x, y: 1.0 / x + 0.3 / y + np.sin(7 * x * y)  # noqa: E731
    x, y = rng.uniform(0.2, 0.9, 5000), rng.uniform(0.4, 0.95, 5000)
    for a, b in ((x, y), (np.full(9, 0.5), y[:9]), (x[:9], np.full(9, 0.6)), (np.full(3, 0.5), np.full(3, 0.6))):
        assert np.array_equal(tabled(f, a, b, nodes), _tabled_before(f, a, b, nodes))


def _paid_rows_before(spends, T, n):
    """rows.paid_rows as it was before the in-place path (2026-12-07): every phase through costmodel._share_paid
    and a matrix product, the reference the in-place one is held to bit for bit."""
    from planner.decide.costmodel import _share_paid
    phases = {}
    for s in spends:
        key = (rows._phase_key(s.start_month), rows._phase_key(s.end_month))
        phases[key] = [s.start_month, s.end_month, np.asarray(s.usd, dtype=float) + (
            phases[key][2] if key in phases else 0.0)]
    fixed = [(a, b, usd) for a, b, usd in phases.values() if np.ndim(a) == 0 and np.ndim(b) == 0]
    shares = np.asarray(_share_paid(np.arange(T + 1.0)[:, None], np.array([a for a, _, _ in fixed]),
                                    np.array([b for _, b, _ in fixed])), dtype=float)
    shares[-1] = 1.0
    out = shares @ np.stack([np.broadcast_to(usd, (n,)) for _, _, usd in fixed])
    for a, b, usd in phases.values():
        if np.ndim(a) or np.ndim(b):
            a, b = np.broadcast_arrays(np.reshape(a, -1), np.reshape(b, -1))
            first, full = max(int(np.floor(a.min())), 0), min(int(np.ceil(max(a.max(), b.max()))), T)
            if first < full:
                out[first:full] += _share_paid(np.arange(first, full, dtype=float)[:, None], a, b) * np.reshape(usd, -1)
    return out


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("scratch", [False, True])
def test_paid_rows_in_place_equals_the_matrix_product_and_shares_bit_for_bit(seed, scratch):
    """The in-place path (a sampled lump added where it falls, a ramp built in a kept array, one fixed phase as an
    outer product) against the share-times-amount formula, exactly: the Monte Carlo's results do not move."""
    rng = np.random.default_rng(seed)
    n, T = 300, 24
    a = rng.uniform(2, 9, n)
    a[:20] = np.floor(a[:20])  # at whole months: paid in that row
    b = a + rng.uniform(0.5, 8, n)
    mixed = b.copy()
    mixed[::3] = a[::3]  # some samples a lump, the others a ramp
    sampled = (Spend("ramp", rng.uniform(1, 9e6, n), 3.0, b), Spend("lump", rng.uniform(0, 5e6, n), a, a),
               Spend("mixed", 1e5, a, mixed), Spend("after", rng.uniform(1, 9, n), b, b + 3.0))
    buffer = np.full((T + 1, n), np.nan) if scratch else None
    for fixed in [(Spend("one", 1e4, 0.0, 0.5),),
                  (Spend("staff", rng.uniform(2e6, 4e6, n), 0.0, 12.0), Spend("data", 5e5, 0.0, 3.0))]:
        got, _ = rows.paid_rows(fixed + sampled, T, n, np.full((T + 1, n), np.nan), buffer)
        assert np.array_equal(got, _paid_rows_before(fixed + sampled, T, n))


def test_bands_are_np_percentile_exactly_and_leave_the_samples_unchanged():
    """monte_carlo's Bands come from percentiles.py's bracketed selection: np.percentile's values bit for bit
    (skewed, tied and constant columns, sizes on both sides of its SMALL cut-off), the samples untouched."""
    rng = np.random.default_rng(8)
    for n in (10_001, percentiles.SMALL, 100_003):
        for x in (rng.lognormal(size=(n, 3)), rng.integers(0, 4, (n, 3)).astype(float), np.full((n, 3), 2.5),
                  np.sort(rng.random((n, 3)), axis=0)):
            kept = x.copy()
            want = np.percentile(x, [10, 50, 90], axis=0)
            assert np.array_equal(percentiles.percentiles(x), want), (n, x[:2])
            assert montecarlo._bands(("a", "b", "c"), x) == {k: Band(*want[:, i]) for i, k in enumerate("abc")}
            assert np.array_equal(x, kept)


def test_a_bracket_that_misses_falls_back_to_the_full_selection():
    """A subsample unlike the rest (here: the strided subsample sees only the smallest values) still gives the
    exact order statistics."""
    n = 100_000
    x = np.arange(n, dtype=float)
    stride = n // percentiles.SUBSAMPLE
    x[::stride] -= 1e9  # every subsampled value far below the others: each bracket misses its rank
    sub = np.sort(x[::stride])
    s = np.sort(x)
    for j in (9_999, 49_999, 89_999):
        assert percentiles.order_statistics(x, sub, j, j + 1) == (s[j], s[j + 1])
    assert np.array_equal(percentiles.percentiles(np.stack([x, -x], axis=1)),
                          np.percentile(np.stack([x, -x], axis=1), [10, 50, 90], axis=0))
