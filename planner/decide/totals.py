"""Total cost over the horizon as a function of traffic: what break-evens are solved on.

brentq evaluates an option's total at one traffic level a few dozen times per crossing; everything that depends
only on the months (the traffic's growth, each month's price at its trend, the bridge's) is computed once per
option in TotalCost, so an evaluation is only the traffic's share. The numbers are those of the one formula
(the same functions on the same inputs), to the bit.
"""
from __future__ import annotations

import copy

import numpy as np

from ..estimate.workload import requests_per_month, traffic_growth
from .costmodel import ApiCostModel, FleetCostModel, monthly_costs


class TotalCost:
    """model's total cost over `horizon_months` at each traffic level (requests/day, an array): called as a
    function; levels' shape in, the same shape out (months run along a trailing axis and are summed)."""

    def __init__(self, model, *, growth: float, horizon_months: int, peak_to_mean: float,
                 bridge: ApiCostModel | None):
        self.model, self.peak_to_mean, self.bridge, self.growth = model, peak_to_mean, bridge, growth
        self.months = np.arange(horizon_months, dtype=float)
        self.growth_powers = traffic_growth(growth, self.months)
        self.rates = model._month_rates(self.months)
        costs_bridge = bridge is not None and isinstance(model, FleetCostModel)
        self.bridge_rates = bridge._month_rates(self.months) if costs_bridge else None

    def at(self, model) -> TotalCost:
        """The same cost for `model`, which differs from this one's only where the month-only factors do not
        look (a replica's capacity, the one-time cost): the factors are shared, not recomputed."""
        other = copy.copy(self)
        other.model = model
        return other

    def __call__(self, requests_per_day):
        rpd = np.asarray(requests_per_day, dtype=float)[..., None]
        requests = requests_per_month(rpd, self.growth, self.months, self.growth_powers)
        bridge_monthly = None if self.bridge_rates is None else \
            self.bridge._monthly(requests, None, self.months, self.bridge_rates)
        monthly = monthly_costs(self.model, requests, self.months, self.peak_to_mean, self.bridge, bridge_monthly,
                                self.rates)
        return self.model.one_time_usd + monthly.sum(axis=-1)


def total_cost_for_traffic(model, requests_per_day, *, growth: float, horizon_months: int, peak_to_mean: float,
                           bridge: ApiCostModel | None):
    """Total cost over the horizon for each traffic level in `requests_per_day` (array; see TotalCost)."""
    return TotalCost(model, growth=growth, horizon_months=horizon_months, peak_to_mean=peak_to_mean,
                     bridge=bridge)(requests_per_day)
