"""The dated price changes genai-prices holds for an API model: each price with the day it took effect.

genai-prices lists a model's prices either as one price (no history) or as conditional prices, the last
active one applying; a `StartDateConstraint` dates a change ("from 2026-03-13"), a price without a
constraint is the one in effect before every dated change, and a time-of-day constraint (off-peak rates)
is not a change over time and is left out. Tiered prices (by prompt length) show their base tier.
"""
from __future__ import annotations

from dataclasses import dataclass

from genai_prices import types as gp

from ..core import arguments as A
from ..core import validate as V
from ..core.results import ResultMixin
from .api_prices import _num, _resolve


@dataclass(frozen=True)
class PriceChange(ResultMixin):
    """One price of a model and the day it took effect ("" before every dated change)."""

    from_date: str
    input_usd_per_mtok: float | None
    output_usd_per_mtok: float | None
    cached_input_usd_per_mtok: float | None


@dataclass(frozen=True)
class PriceHistory(ResultMixin):
    """A model's prices over time at one provider; `changes` empty where the data holds no dated change."""

    provider_id: str
    model_id: str
    changes: tuple[PriceChange, ...]
    note: str  # what the data holds, in words

    def to_frame(self):
        import pandas as pd
        return pd.DataFrame([c.to_dict() for c in self.changes],
                            columns=["from_date", "input_usd_per_mtok", "output_usd_per_mtok",
                                     "cached_input_usd_per_mtok"])


def _change(when: str, p: gp.ModelPrice) -> PriceChange:
    return PriceChange(from_date=when, input_usd_per_mtok=_num(p.input_mtok), output_usd_per_mtok=_num(p.output_mtok),
                       cached_input_usd_per_mtok=_num(p.cache_read_mtok))


@A.checked(model=V.Text(empty=False), provider=V.Text(empty=False, optional=True))
def price_history(model: str, provider: str | None = None) -> PriceHistory:
    """The dated prices genai-prices holds for `model` (at `provider`, else its default provider, as api_price)."""
    p, m, _ = _resolve(model, provider)
    prices = m.prices if isinstance(m.prices, list) else []
    dated = [c for c in prices if isinstance(c.constraint, gp.StartDateConstraint)]
    if not dated:
        return PriceHistory(provider_id=p.id, model_id=m.id, changes=(), note=(
            f"genai-prices holds no dated price change for {p.id}/{m.id}: one price, with no date it took effect"))
    first = [_change("", c.prices) for c in prices if c.constraint is None][:1]
    changes = tuple(first + sorted((_change(c.constraint.start_date.isoformat(), c.prices) for c in dated),
                                   key=lambda c: c.from_date))
    return PriceHistory(provider_id=p.id, model_id=m.id, changes=changes, note=(
        f"genai-prices holds {len(dated)} dated price change(s) for {p.id}/{m.id}; the first row (no date) is the "
        "price before them"))
