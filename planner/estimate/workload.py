"""`Workload`: the traffic a serving deployment must carry, and its latency targets."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..core.errors import InputError, require_positive
from ..core.units import DAYS_PER_MONTH, SECONDS_PER_DAY


def requests_per_month(requests_per_day, monthly_growth, month_index):
    """Requests in each month: requests_per_day x 30.4375 days x (1 + growth)^month (arrays broadcast)."""
    return requests_per_day * DAYS_PER_MONTH * (1.0 + monthly_growth) ** np.asarray(month_index, dtype=float)


@dataclass(frozen=True)
class Workload:
    """Requests and tokens per request; rates are per second, counts per request."""

    requests_per_day: float  # mean over the day, month 0
    input_tokens: float  # user tokens per request, excluding the fixed prompt
    output_tokens: float  # generated tokens per request
    prompt_overhead_tokens: float = 0.0  # system / few-shot prompt sent with every request
    peak_to_mean: float = 2.0  # peak-hour rate over the daily mean; 2x is a common diurnal swing
    peak_requests_per_s: float | None = None  # overrides requests_per_day * peak_to_mean / 86400
    ttft_target_s: float | None = 2.0  # time to first token; None: no target
    tpot_target_s: float | None = 0.1  # time per output token (~10 tokens/s, faster than reading)
    horizon_months: int = 24
    monthly_growth: float = 0.0  # fraction per month, compounding
    length_sigma: float = 0.0  # spread of prompt and output lengths: 0 fixed, > 0 lognormal log-sd around the means

    def __post_init__(self):
        require_positive("requests_per_day", self.requests_per_day)
        require_positive("input_tokens", self.input_tokens, allow_zero=True)
        require_positive("prompt_overhead_tokens", self.prompt_overhead_tokens, allow_zero=True)
        require_positive("output_tokens", self.output_tokens)
        if self.prompt_tokens <= 0:
            raise InputError("input_tokens", "input_tokens + prompt_overhead_tokens must be > 0")
        if require_positive("peak_to_mean", self.peak_to_mean) < 1:
            raise InputError("peak_to_mean", f"must be >= 1 (the peak is at least the mean), got {self.peak_to_mean!r}")
        for name in ("peak_requests_per_s", "ttft_target_s", "tpot_target_s"):
            if getattr(self, name) is not None:
                require_positive(name, getattr(self, name))
        if isinstance(self.horizon_months, bool) or not isinstance(self.horizon_months, (int, np.integer)) \
                or self.horizon_months < 1:
            raise InputError("horizon_months", f"must be a whole number of months >= 1, got {self.horizon_months!r}")
        require_positive("monthly_growth", self.monthly_growth, allow_zero=True)
        if require_positive("length_sigma", self.length_sigma, allow_zero=True) > 3:
            raise InputError("length_sigma", f"must be in [0, 3] (a lognormal log-sd; 0: fixed lengths), got {self.length_sigma!r}")

    @property
    def prompt_tokens(self) -> float:
        """Tokens prefilled per request: user input plus the fixed prompt."""
        return self.input_tokens + self.prompt_overhead_tokens

    @property
    def tokens_per_request(self) -> float:
        """Input (incl. fixed prompt) plus output tokens: the unit of $ per 1M tokens."""
        return self.prompt_tokens + self.output_tokens

    @property
    def mean_rps(self) -> float:
        """Mean requests per second in month 0."""
        return self.requests_per_day / SECONDS_PER_DAY

    @property
    def peak_rps(self) -> float:
        """Peak requests per second in month 0: the explicit figure, else mean x peak_to_mean."""
        if self.peak_requests_per_s is not None:
            return float(self.peak_requests_per_s)
        return self.mean_rps * self.peak_to_mean

    def growth_factor(self, month_index) -> np.ndarray:
        """(1 + monthly_growth) ** month_index, elementwise; month 0 is the first month."""
        return (1.0 + self.monthly_growth) ** np.asarray(month_index, dtype=float)

    def months(self) -> np.ndarray:
        """Month indices 0 .. horizon_months - 1."""
        return np.arange(self.horizon_months)

    def requests_per_month(self, month_index) -> np.ndarray:
        """Requests in each month (see requests_per_month)."""
        return requests_per_month(self.requests_per_day, self.monthly_growth, month_index)

    def tokens_per_month(self, month_index) -> np.ndarray:
        """Input + output tokens in each month."""
        return self.requests_per_month(month_index) * self.tokens_per_request

    def peak_rps_for(self, month_index) -> np.ndarray:
        """Peak requests per second in each month (the peak grows with the traffic)."""
        return self.peak_rps * self.growth_factor(month_index)

    def with_(self, **changes) -> Workload:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
