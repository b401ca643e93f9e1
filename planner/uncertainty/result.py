"""The Monte Carlo's result (split from montecarlo.py, whose monte_carlo() builds it)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..core.band import Band
from ..core.results import ResultMixin
from ..decide.distributions import INPUTS, Distribution
from ..decide.options import OPTIONS
from .crossing import BreakEvenMonths


@dataclass(frozen=True)
class MonteCarloResult(ResultMixin):
    scenario: str
    n: int
    seed: int
    horizon_months: int
    reference: str  # the option with the lowest median total: break-evens are measured against it
    total_usd: dict[str, Band]  # over the horizon, one-time included
    usd_per_request: dict[str, Band]  # all-in: total / requests over the horizon
    prob_cheapest: dict[str, float]  # sums to 1; ties go to the earlier option in OPTIONS order
    break_even_months: dict[str, BreakEvenMonths]  # other option -> its crossing with `reference`
    point_total_usd: dict[str, float]  # compare() at the scenario's point values
    inputs: dict[str, Distribution]  # the inputs that varied
    programme: dict[str, Band]  # the programme's bands (and run overhead) drawn per sample (programme.py)
    physics: bool  # True: the run re-timed per sample; False: estimates fixed (its time off the model's table)
    samples_usd: np.ndarray = field(repr=False, compare=False)  # (n, options) total cost per sample

    @property
    def options(self) -> tuple[str, ...]:
        return tuple(self.total_usd)

    def to_dict(self) -> dict:
        d = super().to_dict()
        d.pop("samples_usd")
        return d

    def summary_frame(self) -> pd.DataFrame:
        """One row per available option: cost percentiles, P(cheapest), break-even month vs the reference."""
        rows = []
        for k in self.options:
            t, u, be = self.total_usd[k], self.usd_per_request[k], self.break_even_months.get(k)
            m = be.month if be else None
            rows.append({"option": k, "label": OPTIONS[k], "total_usd_p10": t.p10, "total_usd_p50": t.p50,
                         "total_usd_p90": t.p90, "usd_per_request_p10": u.p10, "usd_per_request_p50": u.p50,
                         "usd_per_request_p90": u.p90, "prob_cheapest": self.prob_cheapest[k],
                         "break_even_month_p10": m.p10 if m else np.nan, "break_even_month_p50": m.p50 if m else np.nan,
                         "break_even_month_p90": m.p90 if m else np.nan,
                         "never_breaks_even": be.never_fraction if be else np.nan,
                         "point_total_usd": self.point_total_usd[k]})
        return pd.DataFrame(rows).set_index("option")

    def samples_frame(self) -> pd.DataFrame:
        """Total cost of each option per sample (for histograms)."""
        return pd.DataFrame(self.samples_usd, columns=list(self.options))

    def inputs_frame(self) -> pd.DataFrame:
        """The uncertain inputs: kind, p10/p50/p90 and where the distribution comes from."""
        rows = [{"input": p, "dist": d.kind, "p10": b.p10, "p50": b.p50, "p90": b.p90, "unit": INPUTS[p].unit,
                 "source": d.source} for p, d in self.inputs.items() for b in [d.band()]]
        return pd.DataFrame(rows, columns=["input", "dist", "p10", "p50", "p90", "unit", "source"]).set_index("input")
