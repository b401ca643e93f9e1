"""The prompt-vs-fine-tune trade: a fine-tune drops the few-shot prompt from every call.

For self-hosting the saving is GPU capacity (fewer prompt tokens to prefill); for the API,
a hosted fine-tune bills fine-tuned token prices and a training fee instead.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..catalog.api_prices import ApiPrice, find_hosted_finetune_price, hosted_finetune_cost_usd
from ..core.errors import PlannerError
from ..core.results import ResultMixin
from ..estimate.finetuning import FinetuningEstimate
from .scenario import Scenario


@dataclass(frozen=True)
class PromptTrade(ResultMixin):
    """A fine-tune drops the few-shot prompt from every call: savings vs tuning cost."""

    where: str  # "self_host" or "api"
    prompt_tokens_saved: float
    monthly_saving_usd: float  # month-0 traffic
    tuning_cost_usd: float
    payback_months: float | None  # None: never pays back
    note: str


def _self_host_trade(s: Scenario, ft: FinetuningEstimate | None, plan, self_host_fleet) -> PromptTrade | None:
    """Self-hosting: a fine-tuned model needs no few-shot prompt, so each request prefills fewer tokens."""
    w, h = s.workload, s.self_host
    if ft is None or plan is None or w.prompt_overhead_tokens <= 0 or not h.drops_prompt_overhead:
        return None
    try:
        with_prompt, without = self_host_fleet(False), self_host_fleet(True)
    except PlannerError:
        return None
    req0 = w.requests_per_month(0)
    saving = float(with_prompt.monthly_usd(req0, w.peak_rps / w.mean_rps) - without.monthly_usd(req0, w.peak_rps / w.mean_rps))
    cost = ft.cost_usd.p50
    note = "the minimum replica count hides the saving at this traffic" if saving <= 0 else \
        "fewer prompt tokens per request: more requests per replica"
    return PromptTrade(where="self_host", prompt_tokens_saved=w.prompt_overhead_tokens, monthly_saving_usd=saving,
                       tuning_cost_usd=cost, payback_months=cost / saving if saving > 0 else None, note=note)


def _api_trade(s: Scenario, price: ApiPrice | None) -> PromptTrade | None:
    """Hosted API: a hosted fine-tune drops the prompt but bills fine-tuned prices and a training fee."""
    w, a, h = s.workload, s.api, s.self_host
    if price is None or w.prompt_overhead_tokens <= 0:
        return None
    try:
        ftp = find_hosted_finetune_price(a.model, a.provider)
    except PlannerError:
        return None
    if ftp is None:
        return None
    req0 = float(w.requests_per_month(0))
    cached = w.prompt_overhead_tokens if (a.cached_prompt and price.cached_input_usd_per_mtok is not None) else 0.0
    base = req0 * float(price.cost_usd(w.prompt_tokens, w.output_tokens, cached_input_tokens=cached,
                                       reasoning_tokens=w.reasoning_tokens))
    p_in = ftp.inference_input_usd_per_mtok or price.input_usd_per_mtok
    p_out = ftp.inference_output_usd_per_mtok or price.output_usd_per_mtok
    tuned = req0 * (w.input_tokens * p_in + w.generated_tokens * p_out) / 1e6
    cost = float(hosted_finetune_cost_usd(ftp, h.finetune_tokens, h.finetune_epochs))
    saving = base - tuned
    return PromptTrade(where="api", prompt_tokens_saved=w.prompt_overhead_tokens, monthly_saving_usd=saving,
                       tuning_cost_usd=cost, payback_months=cost / saving if saving > 0 else None,
                       note=f"hosted fine-tune of {ftp.model} at ${ftp.training_usd_per_mtok:g}/1M training tokens ({ftp.source.url})")


def prompt_trades(s: Scenario, ft: FinetuningEstimate | None, plan, price: ApiPrice | None,
                  self_host_fleet) -> tuple[PromptTrade, ...]:
    """The trade where it applies. `self_host_fleet(drops_prompt)`: the fleet cost model with or without the prompt.
    A self-host trade exists only where the self-host plan drops the prompt, so the fleet keeping it is costed only
    (compare() sizes it without the latency at the peak)."""
    trades = (_self_host_trade(s, ft, plan, self_host_fleet), _api_trade(s, price))
    return tuple(t for t in trades if t is not None)
