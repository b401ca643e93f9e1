"""`Workload`: the traffic a serving deployment must carry, and its latency targets."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import MISSING, dataclass

import numpy as np

from ..core import limits as L
from ..core import arguments as A
from ..core import npfast as nf
from ..core import validate as V
from ..core.errors import InputError
from ..core.series import month_powers
from ..core.units import DAYS_PER_MONTH, SECONDS_PER_DAY


def requests_per_month(requests_per_day, monthly_growth, month_index, growth_powers=None):
    """Requests in each month: requests_per_day x 30.4375 days x (1 + growth)^month (arrays broadcast).
    growth_powers: traffic_growth(monthly_growth, month_index) when the caller has it (one per break-even search)."""
    x = traffic_growth(monthly_growth, month_index) if growth_powers is None else growth_powers
    scale = np.multiply(requests_per_day, DAYS_PER_MONTH)
    if growth_powers is None and isinstance(x, np.ndarray) and np.broadcast(x, scale).shape == x.shape:
        return np.multiply(scale, x, out=x)  # in place: one (months x samples) array
    return scale * x


def traffic_growth(monthly_growth, month_index):
    """(1 + growth)^month, arrays broadcast."""
    m, g = np.asarray(month_index, dtype=float), np.asarray(monthly_growth, dtype=float)
    if nf.all_above(monthly_growth, -1.0):  # as exp(m log1p(g)): ~3x faster on the Monte Carlo's arrays, equal to ~1e-15
        return month_powers(np.log1p(g), m)
    return (1.0 + g) ** m


def check_final_traffic(requests_per_day: float, monthly_growth: float, horizon_months: int,
                        field: str = "workload.monthly_growth") -> None:
    """Growth compounds: refuse a traffic that reaches past MAX_FINAL_REQUESTS_PER_DAY by the last month."""
    log10_final = math.log10(requests_per_day) + (horizon_months - 1) * math.log10(1.0 + monthly_growth)
    if log10_final > math.log10(L.MAX_FINAL_REQUESTS_PER_DAY):
        raise InputError(field, f"{requests_per_day:.3g} requests/day growing {monthly_growth:.3g} a month for "
                                f"{horizon_months} months reaches 1e{log10_final:.0f} requests/day; the limit is "
                                f"{L.MAX_FINAL_REQUESTS_PER_DAY:.0e} (lower the growth or the horizon)")


_MONTHS = A.Many(V.Real(0.0, L.MAX_HORIZON_MONTHS, unit="months from the start"), max_size=L.MAX_SAMPLE_MONTHS)
_TOKENS = V.Real(0.0, L.MAX_TOKENS_PER_REQUEST, unit="tokens")
_TARGET = V.Real(0.0, L.MAX_LATENCY_TARGET_S, lo_open=True, unit="s", optional=True)


@dataclass(frozen=True)
class Workload:
    """Requests and tokens per request; rates are per second, counts per request.

    Every field is checked on construction (bounds in core/limits.py); None for a
    latency target means no target.
    """

    requests_per_day: float = V.knob(MISSING, V.Real(L.MIN_REQUESTS_PER_DAY, L.MAX_REQUESTS_PER_DAY, unit="requests/day"),
                                     "mean over the day, month 0")
    input_tokens: float = V.knob(MISSING, _TOKENS, "user tokens per request, excluding the fixed prompt")
    output_tokens: float = V.knob(MISSING, V.Real(L.MIN_OUTPUT_TOKENS, L.MAX_TOKENS_PER_REQUEST, unit="tokens"),
                                  "generated tokens per request")
    prompt_overhead_tokens: float = V.knob(0.0, _TOKENS, "system / few-shot prompt sent with every request")
    # Reasoning models emit hidden "thinking" tokens before the answer: the API bills them as output (OpenAI,
    # https://platform.openai.com/docs/guides/reasoning, checked 2026-12-07) and a self-hosted model decodes them.
    reasoning_tokens: float = V.knob(0.0, _TOKENS, "hidden reasoning (thinking) tokens generated per request besides "
                                                   "the output: billed as output by the API, decoded when self-hosted")
    # 2x is a common diurnal swing
    peak_to_mean: float = V.knob(2.0, V.Real(1.0, L.MAX_PEAK_TO_MEAN, unit="x"), "peak-hour rate over the daily mean (judgement: a common diurnal swing)")
    peak_requests_per_s: float | None = V.knob(
        None, V.Real(0.0, L.MAX_PEAK_REQUESTS_PER_S, lo_open=True, unit="requests/s", optional=True),
        "overrides requests_per_day x peak_to_mean / 86400")
    ttft_target_s: float | None = V.knob(2.0, _TARGET, "time to first token; none: no target (judgement: an interactive reply starts within 2 s)")
    # ~10 tokens/s, faster than reading
    tpot_target_s: float | None = V.knob(0.1, _TARGET, "time per output token; none: no target (judgement: 10 tokens/s, faster than reading)")
    horizon_months: int = V.knob(24, V.Whole(1, L.MAX_HORIZON_MONTHS, unit="months"), "months costed (judgement: a two-year planning horizon)")
    monthly_growth: float = V.knob(0.0, V.Real(0.0, L.MAX_MONTHLY_GROWTH, unit="fraction per month"),
                                   "traffic growth per month, compounding")
    length_sigma: float = V.knob(0.0, V.Real(0.0, 3.0, unit="lognormal log-sd"),
                                 "spread of prompt and output lengths: 0 fixed, > 0 lognormal around the means")

    def __post_init__(self):
        V.check_fields(self, "workload")
        if self.prompt_tokens <= 0:
            raise InputError("workload.input_tokens", "input_tokens + prompt_overhead_tokens must be > 0")
        if self.peak_requests_per_s is not None and self.peak_requests_per_s < self.mean_rps * (1 - 1e-12):
            raise InputError("workload.peak_requests_per_s", f"must be at least the mean rate {self.mean_rps:.4g} "
                             f"requests/s (requests_per_day / 86400), got {self.peak_requests_per_s!r}")
        check_final_traffic(self.requests_per_day, self.monthly_growth, self.horizon_months)

    @property
    def prompt_tokens(self) -> float:
        """Tokens prefilled per request: user input plus the fixed prompt."""
        return self.input_tokens + self.prompt_overhead_tokens

    @property
    def generated_tokens(self) -> float:
        """Tokens decoded per request: the visible output plus the hidden reasoning tokens (each one a decode
        step, KV-cache and energy)."""
        return self.output_tokens + self.reasoning_tokens

    @property
    def tokens_per_request(self) -> float:
        """Input (incl. fixed prompt) plus generated tokens (output and reasoning): the unit of $ per 1M tokens."""
        return self.prompt_tokens + self.generated_tokens

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

    @A.checked(month_index=_MONTHS)
    def growth_factor(self, month_index) -> np.ndarray:
        """(1 + monthly_growth) ** month_index, elementwise; month 0 is the first month."""
        return (1.0 + self.monthly_growth) ** np.asarray(month_index, dtype=float)

    def months(self) -> np.ndarray:
        """Month indices 0 .. horizon_months - 1."""
        return np.arange(self.horizon_months)

    @A.checked(month_index=_MONTHS)
    def requests_per_month(self, month_index) -> np.ndarray:
        """Requests in each month (see requests_per_month)."""
        return requests_per_month(self.requests_per_day, self.monthly_growth, month_index)

    @A.checked(month_index=_MONTHS)
    def tokens_per_month(self, month_index) -> np.ndarray:
        """Input + output tokens in each month."""
        return self.requests_per_month(month_index) * self.tokens_per_request

    @A.checked(month_index=_MONTHS)
    def peak_rps_for(self, month_index) -> np.ndarray:
        """Peak requests per second in each month (the peak grows with the traffic)."""
        return self.peak_rps * self.growth_factor(month_index)

    def with_(self, **changes) -> Workload:
        """A copy with some fields changed (validated again)."""
        return V.replace(self, changes, "workload")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)
