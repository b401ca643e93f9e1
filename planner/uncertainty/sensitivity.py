"""Which inputs decide the recommendation: a one-at-a-time tornado and a two-input break-even frontier.

Both evaluate every variant in one array pass of uncertainty.Engine. "Recommended"
here is the cheapest option with every input at its P50 (cost only; compare()'s
recommendation may also weigh the scenario's flags), the runner-up the next cheapest.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core.errors import InputError, close_matches
from ..core.results import ResultMixin
from ..decide.distributions import INPUTS, InputSpec
from ..decide.scenario import Scenario
from .montecarlo import Engine


def _check_path(path: str) -> InputSpec:
    if path not in INPUTS:
        near = close_matches(path, INPUTS)
        raise InputError(path, "unknown input" + (f"; did you mean {', '.join(near)}?" if near else
                                                  f"; known: {', '.join(INPUTS)}"))
    return INPUTS[path]


def _at_medians(engine: Engine, rows: int) -> dict[str, np.ndarray]:
    return {p: np.full(rows, m) for p, m in engine.medians().items()}


def tornado(scenario: Scenario, inputs=None, *, comparison=None) -> pd.DataFrame:
    """Swing each input from its P10 to its P90, the others at P50; one row per input, largest swing first.

    inputs: input paths (default: every uncertain input of the scenario, efficiencies included).
    Columns: the P10/P90 values, the cost gap (runner-up minus recommended, $) at each, the
    change from the P50 gap, swing_usd = |gap at P90 - gap at P10|, the winner at each end,
    and flips (the winner changes at either end). attrs: recommended, runner_up, base_gap_usd.
    With a single available option the "gap" is that option's total cost. `comparison`: compare(scenario)
    when the caller has it already (it is computed otherwise).
    """
    engine = Engine(scenario, comparison)
    names = list(engine.uncertain) if inputs is None else [_check_path(p).path for p in inputs]
    values = _at_medians(engine, 1 + 2 * len(names))
    for i, p in enumerate(names):
        values[p][1 + 2 * i:3 + 2 * i] = engine.distributions[p].ppf([0.1, 0.9])
    totals = engine.totals(values, 1 + 2 * len(names))  # (1 + 2 inputs, options)
    keys = np.array(engine.keys)
    order = np.argsort(totals[0], kind="stable")
    rec = order[0]
    gap = totals[:, order[1]] - totals[:, rec] if len(order) > 1 else totals[:, rec]
    winner = keys[np.argmin(totals, axis=1)]
    lo, hi = slice(1, None, 2), slice(2, None, 2)
    df = pd.DataFrame({
        "input": names, "p10_value": _values_at(values, names, lo), "p90_value": _values_at(values, names, hi),
        "gap_at_p10_usd": gap[lo], "gap_at_p90_usd": gap[hi],
        "change_at_p10_usd": gap[lo] - gap[0], "change_at_p90_usd": gap[hi] - gap[0],
        "swing_usd": np.abs(gap[hi] - gap[lo]), "winner_at_p10": winner[lo], "winner_at_p90": winner[hi],
        "flips": (winner[lo] != keys[rec]) | (winner[hi] != keys[rec]),
        "unit": [INPUTS[p].unit for p in names]})
    df = df.sort_values("swing_usd", ascending=False, kind="stable").set_index("input")
    df.attrs.update(recommended=str(keys[rec]), runner_up=str(keys[order[1]]) if len(order) > 1 else "",
                    base_gap_usd=float(gap[0]))
    return df


def _values_at(values: dict[str, np.ndarray], names: list[str], rows: slice) -> np.ndarray:
    """The value of input i in the i-th row of `rows` (its own swing)."""
    return np.array([values[p][rows][i] for i, p in enumerate(names)], dtype=float)


@dataclass(frozen=True)
class FrontierResult(ResultMixin):
    """Which option is cheapest over a grid of two inputs, the others at their P50."""

    x: str
    y: str
    x_values: tuple[float, ...]
    y_values: tuple[float, ...]
    winner: np.ndarray  # (len(y_values), len(x_values)) option keys
    totals_usd: dict[str, np.ndarray]  # option -> (len(y_values), len(x_values)) total over the horizon

    def frame(self) -> pd.DataFrame:
        """The winner grid: index y values, columns x values."""
        return pd.DataFrame(self.winner, index=pd.Index(self.y_values, name=self.y),
                            columns=pd.Index(self.x_values, name=self.x))

    def long_frame(self) -> pd.DataFrame:
        """One row per grid point: x, y, each option's total and the winner (for plotting)."""
        xx, yy = np.meshgrid(self.x_values, self.y_values)
        d = {self.x: xx.ravel(), self.y: yy.ravel(), **{k: v.ravel() for k, v in self.totals_usd.items()},
             "winner": self.winner.ravel()}
        return pd.DataFrame(d)


def _default_grid(engine: Engine, path: str, n: int = 41) -> np.ndarray:
    m = engine.medians()[path]
    if INPUTS[path].domain == "fraction":
        return np.linspace(m / 2, min(1.0, m * 1.5), n)
    if m <= 0:
        raise InputError(path, "its P50 is 0: give the frontier's values for it explicitly")
    return np.geomspace(m / 10, m * 10, n)


def _check_values(path: str, values) -> np.ndarray:
    v = np.asarray(values, dtype=float).ravel()
    domain = INPUTS[path].domain
    if v.size == 0 or not np.all(np.isfinite(v)):
        raise InputError(path, "frontier values must be a non-empty list of finite numbers")
    if (domain in ("positive", "fraction") and np.any(v <= 0)) or (domain == "nonneg" and np.any(v < 0)):
        raise InputError(path, f"frontier values must be {'>= 0' if domain == 'nonneg' else '> 0'}")
    if domain == "fraction" and np.any(v > 1):
        raise InputError(path, "is a fraction: frontier values must be <= 1")
    return v


def frontier(scenario: Scenario, x: str = "workload.requests_per_day", y: str = "self_host.usd_per_gpu_hour",
             x_values=None, y_values=None, *, comparison=None) -> FrontierResult:
    """The cheapest option at every (x, y) on a grid, the other inputs at their P50 (one array pass).

    x_values, y_values default to 41 points from P50/10 to P50 x 10 (fractions: P50/2 to 1.5 P50).
    """
    _check_path(x), _check_path(y)
    if x == y:
        raise InputError(y, "the frontier needs two different inputs")
    engine = Engine(scenario, comparison)
    xs = _check_values(x, _default_grid(engine, x) if x_values is None else x_values)
    ys = _check_values(y, _default_grid(engine, y) if y_values is None else y_values)
    xx, yy = np.meshgrid(xs, ys)  # (ny, nx)
    values = _at_medians(engine, xx.size)
    values[x], values[y] = xx.ravel(), yy.ravel()
    totals = engine.totals(values, xx.size)
    keys = np.array(engine.keys)
    return FrontierResult(x=x, y=y, x_values=tuple(map(float, xs)), y_values=tuple(map(float, ys)),
                          winner=keys[np.argmin(totals, axis=1)].reshape(xx.shape),
                          totals_usd={k: totals[:, i].reshape(xx.shape) for i, k in enumerate(keys)})
