"""Which inputs decide the recommendation: a one-at-a-time tornado and a two-input break-even frontier.

Both evaluate every variant in one array pass of uncertainty.Engine. "Recommended"
here is the cheapest option with every input at its P50 (cost only; compare()'s
recommendation may also weigh the scenario's flags), the runner-up the next cheapest.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..core import limits as L
from ..core import validate as V
from ..core.errors import InputError, PlannerTypeError, close_matches
from ..core.results import ResultMixin
from ..decide.distributions import INPUTS, InputSpec
from ..decide.scenario import Scenario, input_check
from .montecarlo import Engine


def _check_path(path: str, name: str = "input") -> InputSpec:
    V.Text(L.MAX_NAME_CHARS, empty=False)(name, path)
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
    names = None if inputs is None else _input_paths(inputs)
    engine = Engine(scenario, comparison)
    names = list(engine.uncertain) if names is None else names
    for p in names:
        engine.require_applicable(p)
    values = _at_medians(engine, 1 + 2 * len(names))
    for i, p in enumerate(names):
        values[p][1 + 2 * i:3 + 2 * i] = engine.distributions[p].ppf(np.array([0.1, 0.9]))
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


def _input_paths(inputs) -> list[str]:
    """tornado's `inputs`: one path or a list of paths, each known."""
    if isinstance(inputs, str):
        inputs = [inputs]
    V.instance("inputs", inputs, (list, tuple, set, frozenset), "an input path or a list of them")
    if len(inputs) > len(INPUTS):
        raise InputError("inputs", f"lists {len(inputs)} paths; there are only {len(INPUTS)} inputs")
    return list(dict.fromkeys(_check_path(p, "inputs").path for p in inputs))


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
    """P50/10 to 10 x P50 (fractions: P50/2 to 1.5 x P50), kept inside the input's bounds."""
    m, check = engine.medians()[path], input_check(path)
    if INPUTS[path].domain == "fraction":
        grid = np.linspace(m / 2, min(1.0, m * 1.5), n)
    elif m <= 0:
        raise InputError(path, "its P50 is 0: give the frontier's values for it explicitly")
    else:
        grid = np.geomspace(m / 10, m * 10, n)
    return np.clip(grid, check.lo if check.lo is not None else -np.inf, check.hi if check.hi is not None else np.inf)


def _check_values(path: str, values) -> np.ndarray:
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__len__"):
        raise PlannerTypeError(path, f"frontier values must be a list of numbers, got {type(values).__name__}")
    if len(values) > L.MAX_GRID_POINTS:
        raise InputError(path, f"{len(values):,} frontier values; the limit is {L.MAX_GRID_POINTS:,}")
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError, OverflowError):
        arr = np.asarray([], dtype=object)
    if arr.dtype.kind not in "iuf" or arr.ndim != 1:
        raise PlannerTypeError(path, "frontier values must be a flat list of numbers (not text, booleans or "
                                     "integers past 64 bits)")
    v = arr.astype(float)
    if v.size == 0:
        raise InputError(path, "frontier values must be a non-empty list of numbers")
    check = input_check(path)  # the scenario field's own bounds
    for extreme in (float(np.min(v)), float(np.max(v))):  # NaN shows up in both
        check(path, extreme)
    return v


def frontier(scenario: Scenario, x: str = "workload.requests_per_day", y: str = "self_host.usd_per_gpu_hour",
             x_values=None, y_values=None, *, comparison=None) -> FrontierResult:
    """The cheapest option at every (x, y) on a grid, the other inputs at their P50 (one array pass).

    x_values, y_values default to 41 points from P50/10 to P50 x 10 (fractions: P50/2 to 1.5 P50).
    """
    _check_path(x, "x"), _check_path(y, "y")
    if x == y:
        raise InputError(y, "the frontier needs two different inputs")
    xs_given = None if x_values is None else _check_values(x, x_values)
    ys_given = None if y_values is None else _check_values(y, y_values)
    if xs_given is not None and ys_given is not None and xs_given.size * ys_given.size > L.MAX_GRID_POINTS:
        raise InputError("x_values", f"a {xs_given.size:,} x {ys_given.size:,} grid; the limit is "
                                     f"{L.MAX_GRID_POINTS:,} points")
    engine = Engine(scenario, comparison)
    engine.require_applicable(x), engine.require_applicable(y)
    xs = _check_values(x, _default_grid(engine, x)) if xs_given is None else xs_given
    ys = _check_values(y, _default_grid(engine, y)) if ys_given is None else ys_given
    if xs.size * ys.size > L.MAX_GRID_POINTS:
        raise InputError("x_values", f"a {xs.size:,} x {ys.size:,} grid; the limit is {L.MAX_GRID_POINTS:,} points")
    xx, yy = np.meshgrid(xs, ys)  # (ny, nx)
    values = _at_medians(engine, xx.size)
    values[x], values[y] = xx.ravel(), yy.ravel()
    totals = engine.totals(values, xx.size)
    keys = np.array(engine.keys)
    return FrontierResult(x=x, y=y, x_values=tuple(map(float, xs)), y_values=tuple(map(float, ys)),
                          winner=keys[np.argmin(totals, axis=1)].reshape(xx.shape),
                          totals_usd={k: totals[:, i].reshape(xx.shape) for i, k in enumerate(keys)})
