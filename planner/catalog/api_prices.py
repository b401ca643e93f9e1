"""Hosted-API prices: inference from genai-prices, fine-tuning from a sourced data file.

Inference prices are never typed in here: they come from the price data bundled in
the installed `genai-prices` package (read offline, never auto-updated), so a price
is as current as that package. The package records no snapshot date; the date we
report is the newest dated price change in the data on or before the pricing date,
a lower bound on how fresh the data is.

Token convention (the same as OpenAI's usage and genai-prices): `input_tokens` counts
every prompt token, of which `cached_input_tokens` were read from the prompt cache.

Known bias: tiered prices (e.g. a higher rate for prompts over 200k tokens) are
priced at the base tier, so long-context workloads are underestimated; `tiered` on
the ApiPrice says when this applies. Cache writes, audio/image tokens and per-request
fees are not modelled.
"""
from __future__ import annotations

import functools
import tomllib
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import resources

import numpy as np
import pandas as pd
from genai_prices import __version__ as GENAI_PRICES_VERSION
from genai_prices import types as gp
from genai_prices.data_snapshot import find_provider_by_id, get_snapshot

from ..core import limits as L
from ..core import arguments as A
from ..core import validate as V
from ..core.errors import InputError, PlannerError, UnknownNameError
from ..core.memo import by_identity
from ..core.provenance import Source

_TOKEN_COUNTS = A.Many(V.Real(0.0, L.MAX_TOKENS, unit="tokens"))
_BATCH = {"processing": "batch"}  # genai-prices' price context for batch-API variants
# First-party vendors, tried in this order when a model is listed by several providers
# and genai-prices' own model-name rule (claude -> anthropic, ...) names none of them.
_VENDORS = ("openai", "anthropic", "google", "mistral", "deepseek", "x-ai", "meta", "cohere",
            "moonshotai", "zai", "minimax")
_RESELLERS = ("huggingface_", "openrouter", "github-copilot")  # last resort when others list it


@dataclass(frozen=True)
class ApiPrice:
    """Per-token prices of one model at one provider, in USD per 1M tokens."""

    provider_id: str
    provider_name: str
    model_id: str
    model_name: str
    input_usd_per_mtok: float
    output_usd_per_mtok: float
    cached_input_usd_per_mtok: float | None  # None: the data has no cache-read price
    batch_discount: float | None  # fraction off input/output on the batch API; None: no data
    batch_cached_input_usd_per_mtok: float | None  # data's batch cache-read price, if listed
    tiered: bool  # True: the data has prompt-length tiers; the base tier is used
    prices_as_of: str  # ISO date the (date-dependent) prices were resolved for
    price_data_date: str
    source: str
    overridden: tuple[str, ...] = ()
    # None: reasoning tokens are billed as output (the data's convention where it lists no reasoning price)
    reasoning_usd_per_mtok: float | None = None

    def __post_init__(self):  # api_price() builds one from checked data; one made by hand is checked the same way
        for name in ("input_usd_per_mtok", "output_usd_per_mtok", "cached_input_usd_per_mtok",
                     "batch_cached_input_usd_per_mtok", "reasoning_usd_per_mtok"):
            V.Real(0.0, L.MAX_USD_PER_MTOK, unit="$/Mtok", optional="cached" in name or "reasoning" in name)(f"ApiPrice.{name}",
                                                                                     getattr(self, name))
        V.Real(0.0, 1.0, unit="fraction", optional=True)("ApiPrice.batch_discount", self.batch_discount)

    @A.checked(input_tokens=_TOKEN_COUNTS, output_tokens=_TOKEN_COUNTS, cached_input_tokens=_TOKEN_COUNTS,
               batch=V.Flag(), reasoning_tokens=_TOKEN_COUNTS)
    def cost_usd(self, input_tokens, output_tokens, cached_input_tokens=0, batch: bool = False, reasoning_tokens=0):
        """USD for these token counts: numbers, or numpy arrays that broadcast (float back for numbers).
        `reasoning_tokens` (hidden thinking tokens, not part of output_tokens) are billed at the data's
        reasoning price where it lists one, else as output."""
        A.broadcast("input_tokens, output_tokens, cached_input_tokens and reasoning_tokens", input_tokens,
                    output_tokens, cached_input_tokens, reasoning_tokens)
        i, o, c, r = (np.asarray(x, dtype=float) for x in (input_tokens, output_tokens, cached_input_tokens,
                                                            reasoning_tokens))
        if np.any(c > i):
            raise InputError("cached_input_tokens", "is part of input_tokens, so it cannot exceed it")
        in_p, out_p = self.input_usd_per_mtok, self.output_usd_per_mtok
        reason_p = self.reasoning_usd_per_mtok if self.reasoning_usd_per_mtok is not None else out_p
        # No cache-read price in the data: cached tokens are billed as ordinary input.
        cached_p = self.cached_input_usd_per_mtok if self.cached_input_usd_per_mtok is not None else in_p
        if batch:
            if self.batch_discount is None:
                raise PlannerError(
                    f"the price data has no batch discount for {self.provider_id}/{self.model_id}; "
                    "pass batch_discount=<fraction> to api_price() to set one")
            keep = 1.0 - self.batch_discount
            in_p, out_p, reason_p = in_p * keep, out_p * keep, reason_p * keep
            cached_p = (self.batch_cached_input_usd_per_mtok
                        if self.batch_cached_input_usd_per_mtok is not None else cached_p * keep)
        usd = ((i - c) * in_p + c * cached_p + o * out_p + r * reason_p) / 1e6
        return float(usd) if usd.ndim == 0 else usd

    def to_dict(self) -> dict:
        return asdict(self)


def _num(v: Decimal | gp.TieredPrices | None) -> float | None:
    if isinstance(v, gp.TieredPrices):
        return float(v.base)
    return None if v is None else float(v)


def _providers() -> list[gp.Provider]:
    return get_snapshot().providers


@functools.cache
def _data_date(as_of: date) -> str:
    """Newest start date of a dated price in the data that is in effect by `as_of`."""
    dates = []
    for p in _providers():
        for m in p.models:
            conds = m.prices if isinstance(m.prices, list) else []
            for c in [*(x.constraint for x in conds), *(v.constraint for v in m.price_variants or ())]:
                if isinstance(c, gp.StartDateConstraint) and c.start_date <= as_of:
                    dates.append(c.start_date)
    return max(dates).isoformat() if dates else "unknown"


def _source_text(as_of: date) -> str:
    return (f"genai-prices {GENAI_PRICES_VERSION} (bundled data; newest dated price change "
            f"{_data_date(as_of)}; the package records no snapshot date)")


def _all_names() -> list[str]:
    names = {m.id for p in _providers() for m in p.models}
    names |= {m.name for p in _providers() for m in p.models if m.name}
    return sorted(names)


def _candidates(ref: str) -> list[tuple[gp.Provider, gp.ModelInfo]]:
    """(provider, model) pairs listing `ref`: exact id/name first, else genai-prices' match rules."""
    r = ref.lower()
    exact = _by_name(_providers()).get(r, [])
    return list(exact) or [(p, m) for p in _providers() for m in p.models if m.is_match(r)]


@by_identity(maxsize=4)  # the data's provider list: built once per snapshot (each estimate used to scan all of it)
def _by_name(providers: list[gp.Provider]) -> dict[str, list[tuple[gp.Provider, gp.ModelInfo]]]:
    """Lower-case model id and name -> the (provider, model) pairs listing it, in the data's order."""
    out: dict[str, list] = {}
    for p in providers:
        for m in p.models:
            for key in dict.fromkeys((m.id.lower(), (m.name or "").lower())):
                out.setdefault(key, []).append((p, m))
    return out


def _resolve(model: str, provider: str | None) -> tuple[gp.Provider, gp.ModelInfo, str]:
    """Find (provider, model, how the provider was chosen)."""
    if provider is not None:
        p = find_provider_by_id(_providers(), provider)
        if p is None:
            raise UnknownNameError("API provider", provider, [q.id for q in _providers()])
        m = p.find_model(model, all_providers=_providers())  # follows e.g. azure -> openai
        m = m or next((x for x in p.models if (x.name or "").lower() == model.lower()), None)
        if m is None:
            raise UnknownNameError(f"model at provider {p.id!r}", model,
                                   [x.id for x in p.models] + [x.name for x in p.models if x.name])
        return p, m, "provider given"
    cands = _candidates(model)
    if not cands:
        raise UnknownNameError("API model", model, _all_names())
    if len(cands) == 1:
        return *cands[0], "only provider listing it"
    ids = [p.id for p, _ in cands]
    try:  # genai-prices' own rule from the model name (gpt-* -> openai, claude* -> anthropic, ...)
        vendor = get_snapshot().find_provider(model.lower(), None, None).id
    except LookupError:
        vendor = None
    direct = [i for i in ids if not i.startswith(_RESELLERS)] or ids
    pick = vendor if vendor in ids else next((v for v in _VENDORS if v in ids), direct[0])
    p, m = cands[ids.index(pick)]
    others = ", ".join(sorted(set(ids) - {pick}))
    return p, m, f"default of {len(set(ids))} providers; pass provider= for one of: {others}"


def _fine_tuned(p: gp.Provider, base: gp.ModelInfo) -> gp.ModelInfo | None:
    """The data's fine-tuned entry for `base` (OpenAI names them 'ft:<base>')."""
    want = f"ft:{base.id}".lower()
    return next((m for m in p.models if m.id.lower().rstrip("-") == want), None)


def _batch(std: gp.ModelPrice, bat: gp.ModelPrice) -> tuple[float | None, float | None]:
    """(discount on input/output, batch cache-read price) from the data's batch variant."""
    s_in, s_out, b_in, b_out = (_num(x) for x in (std.input_mtok, std.output_mtok,
                                                  bat.input_mtok, bat.output_mtok))
    if bat is std or not s_in or not s_out or b_in is None or b_out is None:
        return None, None
    d_in, d_out = 1 - b_in / s_in, 1 - b_out / s_out
    if d_in <= 0 or abs(d_in - d_out) > 1e-9:  # not one uniform discount: leave it to the caller
        return None, None
    return d_in, _num(bat.cache_read_mtok)


def api_price(model: str, provider: str | None = None, *, input_usd_per_mtok: float | None = None,
              output_usd_per_mtok: float | None = None, cached_input_usd_per_mtok: float | None = None,
              batch_discount: float | None = None, fine_tuned: bool = False,
              as_of: date | None = None) -> ApiPrice:
    """Price of `model` (id or name, any case) at `provider` (default: the model's vendor).

    Keyword prices replace the data's and are listed in `.overridden`. `fine_tuned`
    prices inference of a fine-tuned copy of `model` where the data has it. `as_of`
    (default: today, UTC) picks date-dependent prices, as genai-prices does.
    """
    model, provider = V.name_text("model", model), V.name_text("provider", provider, optional=True)
    V.flag("fine_tuned", fine_tuned), V.instance("as_of", as_of, (date, type(None)), "a datetime.date or None")
    as_of = as_of or datetime.now(UTC).date()
    p, m, how = _resolve(model, provider)
    if fine_tuned:
        ft = _fine_tuned(p, m)
        if ft is None and (input_usd_per_mtok is None or output_usd_per_mtok is None):
            raise PlannerError(
                f"genai-prices {GENAI_PRICES_VERSION} has no fine-tuned inference price for "
                f"{p.id}/{m.id}; pass input_usd_per_mtok= and output_usd_per_mtok= with the "
                "provider's fine-tuned rates")
        m, how = (ft, how) if ft is not None else (m, f"{how}; fine-tuned prices from user override")
    ts = datetime(as_of.year, as_of.month, as_of.day, 12, tzinfo=UTC)
    std = m.get_prices(ts)
    # genai-prices applies request variants only to a provider's own models, not fallbacks.
    bat = m.get_prices(ts, _BATCH) if any(m is x for x in p.models) else std
    discount, batch_cached = _batch(std, bat)
    price = ApiPrice(
        provider_id=p.id, provider_name=p.name, model_id=m.id, model_name=m.name or m.id,
        input_usd_per_mtok=_num(std.input_mtok), output_usd_per_mtok=_num(std.output_mtok),
        cached_input_usd_per_mtok=_num(std.cache_read_mtok), batch_discount=discount,
        batch_cached_input_usd_per_mtok=batch_cached,
        # genai-prices' price for hidden reasoning tokens, where a provider bills them apart from output
        reasoning_usd_per_mtok=_num(getattr(std, "output_reasoning_mtok", None)),
        tiered=any(isinstance(v, gp.TieredPrices)
                   for v in (std.input_mtok, std.output_mtok, std.cache_read_mtok)),
        prices_as_of=as_of.isoformat(), price_data_date=_data_date(as_of),
        source=f"{_source_text(as_of)}; provider {p.id}: {how}")
    return _with_overrides(price, input_usd_per_mtok=input_usd_per_mtok,
                           output_usd_per_mtok=output_usd_per_mtok,
                           cached_input_usd_per_mtok=cached_input_usd_per_mtok,
                           batch_discount=batch_discount)


def _with_overrides(price: ApiPrice, **given: float | None) -> ApiPrice:
    changes = {}
    for name, v in given.items():
        if v is not None:
            changes[name] = (V.fraction(name, v) if name == "batch_discount"
                             else V.nonnegative(name, v, L.MAX_USD_PER_MTOK, "$ per 1M tokens"))
    if {"cached_input_usd_per_mtok", "batch_discount"} & set(changes):
        changes["batch_cached_input_usd_per_mtok"] = None  # batch cache price then = cached x (1 - d)
    price = replace(price, **changes, overridden=tuple(k for k in given if k in changes))
    missing = [k for k in ("input_usd_per_mtok", "output_usd_per_mtok") if getattr(price, k) is None]
    if missing:
        raise PlannerError(
            f"the price data has no per-token text price ({', '.join(missing)}) for "
            f"{price.provider_id}/{price.model_id}; pass {'= and '.join(missing)}= to set it")
    if price.overridden:
        price = replace(price, source=f"{price.source}; user override: {', '.join(price.overridden)}")
    return price


@functools.cache
def _price_table(as_of: date) -> pd.DataFrame:
    ts = datetime(as_of.year, as_of.month, as_of.day, 12, tzinfo=UTC)
    rows = []
    for p in _providers():
        for m in p.models:
            mp = m.get_prices(ts)
            rows.append({"provider": p.id, "model": m.id, "name": m.name or m.id,
                         "input_usd_per_mtok": _num(mp.input_mtok),
                         "output_usd_per_mtok": _num(mp.output_mtok),
                         "cached_input_usd_per_mtok": _num(mp.cache_read_mtok)})
    df = pd.DataFrame(rows).astype({c: float for c in ("input_usd_per_mtok", "output_usd_per_mtok",
                                                       "cached_input_usd_per_mtok")})
    return df.dropna(subset=["input_usd_per_mtok"]).sort_values(["provider", "model"],
                                                                 ignore_index=True)


def _words(text: pd.Series) -> pd.Series:
    """Lower case, with the separators of ids and names (- _ / : and spaces) all one space."""
    return text.str.lower().str.replace(r"[-_/:\s]+", " ", regex=True)


def search_api_models(query: str = "", limit: int = 50) -> pd.DataFrame:
    """Models with a per-token input price whose provider, id or name contain every word of `query`.

    Separators do not matter: 'gpt-4.1' finds OpenAI's id gpt-4.1 named 'gpt 4.1' and OpenRouter's openai/gpt-4.1."""
    query, limit = V.Text(L.MAX_NAME_CHARS)("query", query), V.whole("limit", limit, 1, 1_000_000)
    df = _price_table(datetime.now(UTC).date())
    text = _words(df["provider"] + " " + df["model"] + " " + df["name"])
    keep = np.ones(len(df), dtype=bool)
    for word in _words(pd.Series([query]))[0].split():
        keep &= text.str.contains(word, regex=False).to_numpy()
    return df[keep].head(int(limit)).reset_index(drop=True)


def price_data_info() -> dict:
    """Version and freshness of the genai-prices data, for reports and the dashboard footer."""
    today = datetime.now(UTC).date()
    return {"package": "genai-prices", "version": GENAI_PRICES_VERSION,
            "data_date": _data_date(today),
            "data_date_note": "newest dated price change in the bundled data on or before "
                              f"{today.isoformat()}; the package records no snapshot date",
            "providers": len(_providers()),
            "models": sum(len(p.models) for p in _providers())}


# ---- hosted fine-training (not in genai-prices): planner/catalog/data/hosted_finetuning.toml ----

@dataclass(frozen=True)
class HostedFinetunePrice:
    """A provider's price to fine-tune a model, USD per 1M training tokens (x epochs)."""

    provider: str
    model: str
    method: str
    training_usd_per_mtok: float
    inference_input_usd_per_mtok: float | None
    inference_output_usd_per_mtok: float | None
    source: Source
    aliases: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return asdict(self)


@functools.cache
def _finetune_catalog() -> tuple[HostedFinetunePrice, ...]:
    text = resources.files("planner.catalog").joinpath("data", "hosted_finetuning.toml").read_text("utf-8")
    out = []
    for d in tomllib.loads(text)["finetune"]:
        out.append(HostedFinetunePrice(
            provider=d["provider"], model=d["model"], method=d["method"],
            training_usd_per_mtok=float(d["training_usd_per_mtok"]),
            inference_input_usd_per_mtok=d.get("inference_input_usd_per_mtok"),
            inference_output_usd_per_mtok=d.get("inference_output_usd_per_mtok"),
            source=Source(url=d["url"], checked=str(d["checked"]), note=d.get("note", "")),
            aliases=tuple(d.get("aliases", ()))))
    return tuple(out)


def hosted_finetune_price(model: str, provider: str | None = None) -> HostedFinetunePrice:
    """Fine-tuning price for `model` (name or alias, any case), optionally at `provider`."""
    found = find_hosted_finetune_price(model, provider)
    if found is None:
        raise UnknownNameError("hosted fine-tuning model", model, [n for e in _finetune_catalog() if provider is None
                                                                   or e.provider == provider.lower()
                                                                   for n in (e.model, *e.aliases)])
    return found


def find_hosted_finetune_price(model: str, provider: str | None = None) -> HostedFinetunePrice | None:
    """hosted_finetune_price, or None where no entry lists `model` (without the close matches an error names)."""
    model, provider = V.name_text("model", model), V.name_text("provider", provider, optional=True)
    entries = [e for e in _finetune_catalog() if provider is None or e.provider == provider.lower()]
    if provider is not None and not entries:
        raise UnknownNameError("fine-tuning provider", provider,
                               sorted({e.provider for e in _finetune_catalog()}))
    return next((e for e in entries if model.lower() in {n.lower() for n in (e.model, *e.aliases)}), None)


def hosted_finetune_cost_usd(price: HostedFinetunePrice, training_tokens, epochs):
    """USD to fine-tune on `training_tokens` dataset tokens for `epochs` passes (arrays broadcast)."""
    t = np.asarray(training_tokens, dtype=float)
    e = np.asarray(epochs, dtype=float)
    if np.any(t < 0) or np.any(e <= 0):
        raise PlannerError("training_tokens must be >= 0 and epochs > 0")
    usd = price.training_usd_per_mtok * t * e / 1e6
    return float(usd) if usd.ndim == 0 else usd
