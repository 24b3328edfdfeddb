"""The price catalog: what a model call costs, offline, from a bundled and dated price list.

The bundled list (``prices.json`` next to this module) holds the published per-million-token
prices of common hosted models, each with the currency the vendor publishes (USD or CNY), the
day it was read and the page it was read from. A user's overrides file (YAML) replaces or adds
entries, and can add self-hosted models::

    prices:
      - provider: openai                # replaces the bundled openai:gpt-4o-mini
        model: gpt-4o-mini
        currency: USD
        input_per_million: 0.15
        cached_input_per_million: 0.075
        output_per_million: 0.60
        as_of: 2026-11-22
        source: https://developers.openai.com/api/docs/pricing
      - kind: self_hosted               # priced by the economics model (see SelfHostedPricer)
        provider: local
        model: qwen3-32b
        price_source: economics
        server:                         # the economics model's `servers:` fields
          capital_cost_usd: 246391
          gpus: 8
          useful_life_years: 4
          operating_cost_per_gpu_hour_usd: 0.35
          throughput_tokens_per_second_per_gpu: 735
          kw_per_gpu: 1.3
          pue: 1.25
        currency: USD
        input_per_million: 0.05         # replaced by the economics model's figure
        output_per_million: 0.05
        as_of: 2026-11-22
    exchange_rates:
      - {base: USD, quote: CNY, rate: 7.10, as_of: 2026-11-20}

Token counts follow Agentplane's ``Usage``: input tokens include cached ones and output tokens
include reasoning ones, so a call is billed as uncached input, cached input, non-reasoning
output and reasoning output.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal

from agentplane._yaml import FileError, FileProblem
from agentplane.errors import AgentplaneError

if TYPE_CHECKING:  # the file formats (pydantic models) load with the first catalog
    from .catalog_files import OverridesFile

Currency = Literal["USD", "CNY"]
CURRENCIES: tuple[str, ...] = ("USD", "CNY")
"""Currencies prices and exchange rates may be given in."""

MILLION = Decimal(1_000_000)

PROVIDER_ALIASES: Mapping[str, str] = MappingProxyType({
    "gemini": "google", "alibaba": "qwen", "dashscope": "qwen", "bailian": "qwen",
    "glm": "zhipu", "zai": "zhipu", "bigmodel": "zhipu", "kimi": "moonshot",
    "volcengine": "doubao", "ark": "doubao", "bytedance": "doubao",
})
"""Other names people give the catalog's providers in ``provider:model`` references."""


# --- errors ---------------------------------------------------------------------------------

class PriceCatalogError(AgentplaneError):
    """The price catalog cannot answer: an unknown model, currency, or a bad prices file."""

    exit_code = 2


class UnknownModelPriceError(PriceCatalogError):
    """No price is known for a model. ``suggestions`` lists the closest known references."""

    def __init__(self, model_ref: str, suggestions: list[str]) -> None:
        self.model_ref = model_ref
        self.suggestions = suggestions
        hint = f" Close matches: {', '.join(suggestions)}." if suggestions else ""
        super().__init__(
            f"no price for model {model_ref!r} in the price catalog.{hint} Write it as "
            "provider:model, or add it to a price overrides file (prices: - provider, model, "
            "currency, input_per_million, output_per_million, as_of).")


PriceProblem = FileProblem


class PriceFileError(FileError, PriceCatalogError):
    """A prices file is invalid. ``problems`` lists every problem found, with file and line."""

    what = "prices file"


# --- prices and costs -----------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class Rates:
    """The per-million-token prices of a model, or of one of its prompt-length tiers."""

    input_per_million: Decimal
    """Uncached input tokens: currency units per million tokens."""
    cached_input_per_million: Decimal | None = None
    """Input tokens read from the provider's cache, per million; None: no discount (input)."""
    output_per_million: Decimal
    """Output tokens that are not reasoning, per million."""
    reasoning_per_million: Decimal | None = None
    """Reasoning (thinking) tokens, per million; None: billed as output tokens."""

    @property
    def cached_input(self) -> Decimal:
        """The price per million actually applied to cached input tokens."""
        return (self.input_per_million if self.cached_input_per_million is None
                else self.cached_input_per_million)

    @property
    def reasoning(self) -> Decimal:
        """The price per million actually applied to reasoning tokens."""
        return (self.output_per_million if self.reasoning_per_million is None
                else self.reasoning_per_million)

    @property
    def highest_output(self) -> Decimal:
        """The dearest price an output token can have (output or reasoning), per million."""
        return max(self.output_per_million, self.reasoning)


@dataclass(frozen=True, slots=True)
class PriceTier:
    """Higher prices for long prompts, e.g. above 200k input tokens."""

    min_input_tokens: int
    """The tier applies to a request with at least this many input tokens (cached included)."""
    rates: Rates
    """The prices of the whole request in this tier."""


@dataclass(frozen=True, slots=True)
class CostPart:
    """One line of a cost: a kind of token, how many, at what price."""

    name: Literal["input", "cached_input", "output", "reasoning"]
    tokens: int
    """Number of tokens of this kind."""
    per_million: Decimal
    """Price applied, currency units per million tokens."""
    amount: Decimal
    """tokens × per_million / 1,000,000, in the cost's currency."""


@dataclass(frozen=True, slots=True)
class ExchangeRate:
    """A dated exchange rate: one ``base`` is worth ``rate`` ``quote``."""

    base: str
    quote: str
    rate: Decimal
    """Units of ``quote`` per one unit of ``base``."""
    as_of: date
    """Day the rate was published."""
    source: str = ""
    """Where it was read (URL)."""
    notes: str = ""


class ExchangeRates:
    """A table of dated exchange rates; each pair converts both ways."""

    def __init__(self, rates: Iterable[ExchangeRate] = ()) -> None:
        self._rates: dict[tuple[str, str], ExchangeRate] = {}
        for rate in rates:  # a later rate for a pair, in either direction, replaces an earlier
            self._rates.pop((rate.quote, rate.base), None)
            self._rates[(rate.base, rate.quote)] = rate

    def __iter__(self) -> Iterator[ExchangeRate]:
        return iter(self._rates.values())

    def factor(self, from_currency: str, to_currency: str) -> tuple[Decimal, ExchangeRate | None]:
        """What to multiply an amount in ``from_currency`` by to get ``to_currency``, and the
        dated rate used (None when the currencies are the same)."""
        if from_currency == to_currency:
            return Decimal(1), None
        direct = self._rates.get((from_currency, to_currency))
        if direct is not None:
            return direct.rate, direct
        inverse = self._rates.get((to_currency, from_currency))
        if inverse is not None:
            return Decimal(1) / inverse.rate, inverse
        known = ", ".join(f"{r.base}/{r.quote}" for r in self._rates.values()) or "none"
        raise PriceCatalogError(
            f"no exchange rate from {from_currency} to {to_currency} (known pairs: {known}); "
            "add one under exchange_rates: in a price overrides file")


@dataclass(frozen=True, slots=True)
class Cost:
    """What a model call costs, with one part per kind of token."""

    amount: Decimal
    """Total, in ``currency``."""
    currency: str
    parts: tuple[CostPart, ...] = ()
    model: str = ""
    """The ``provider:model`` the cost was priced as."""
    exchange: ExchangeRate | None = None
    """The dated rate used when this cost was converted from the published currency."""
    exchange_rates: ExchangeRates | None = field(default=None, compare=False, repr=False)
    """Table ``to`` converts with by default (the catalog's, overrides included)."""

    def part(self, name: str) -> CostPart:
        """The part named ``input``, ``cached_input``, ``output`` or ``reasoning``."""
        for p in self.parts:
            if p.name == name:
                return p
        raise KeyError(name)

    def to(self, currency: str, rates: ExchangeRates | None = None) -> Cost:
        """This cost in another currency, converted with the dated rate of the table."""
        if currency == self.currency:
            return self
        table = rates or self.exchange_rates or bundled_exchange_rates()
        factor, used = table.factor(self.currency, currency)
        if used is None:
            return self
        parts = tuple(dataclasses.replace(p, per_million=p.per_million * factor,
                                          amount=p.amount * factor) for p in self.parts)
        amount = sum((p.amount for p in parts), Decimal(0)) if parts else self.amount * factor
        return Cost(amount, currency, parts, self.model, used, table)


def _part(name: Literal["input", "cached_input", "output", "reasoning"], tokens: int,
          per_million: Decimal) -> CostPart:
    return CostPart(name, tokens, per_million, Decimal(tokens) * per_million / MILLION)


def _check_tokens(input_tokens: int, cached_input_tokens: int, output_tokens: int,
                  reasoning_tokens: int) -> None:
    if 0 <= cached_input_tokens <= input_tokens and 0 <= reasoning_tokens <= output_tokens:
        return  # every count a call can have: what follows says what is wrong with others
    counts = {"input_tokens": input_tokens, "cached_input_tokens": cached_input_tokens,
              "output_tokens": output_tokens, "reasoning_tokens": reasoning_tokens}
    for name, value in counts.items():
        if value < 0:
            raise ValueError(f"{name} must not be negative (got {value})")
    if cached_input_tokens > input_tokens:
        raise ValueError(f"cached_input_tokens ({cached_input_tokens}) is more than "
                         f"input_tokens ({input_tokens}), which already includes them")
    if reasoning_tokens > output_tokens:
        raise ValueError(f"reasoning_tokens ({reasoning_tokens}) is more than "
                         f"output_tokens ({output_tokens}), which already includes them")


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelPrice:
    """The published price of one model, per million tokens."""

    provider: str
    """Who serves it: ``openai``, ``anthropic``, ``google``, ``deepseek``, ``qwen``, ..."""
    model: str
    """The model name the provider's API takes."""
    aliases: tuple[str, ...] = ()
    """Other names of the same model at the same price (dated snapshots, retired names)."""
    currency: str
    """``USD`` or ``CNY``, as the vendor publishes it."""
    input_per_million: Decimal
    """Uncached input tokens: currency units per million tokens."""
    cached_input_per_million: Decimal | None = None
    """Cached input tokens, per million; None: no cache discount (priced as input)."""
    output_per_million: Decimal
    """Output tokens that are not reasoning, per million."""
    reasoning_per_million: Decimal | None = None
    """Reasoning tokens, per million; None: billed as output tokens."""
    tiers: tuple[PriceTier, ...] = ()
    """Higher prices for long prompts, by ascending ``min_input_tokens``."""
    as_of: date
    """Day the price was read (or the date of the dated copy it was read from)."""
    source: str = ""
    """URL of the official pricing page."""
    notes: str = ""
    kind: Literal["hosted", "self_hosted"] = "hosted"
    price_source: Literal["published", "explicit", "economics"] = "published"
    """Where the numbers come from: a vendor's page, the user, or the economics model."""
    server: Mapping[str, Any] | None = field(default=None, hash=False)
    """For self-hosted models: the server the economics model prices (as given, unparsed)."""

    @property
    def ref(self) -> str:
        """``provider:model``."""
        return f"{self.provider}:{self.model}"

    @property
    def rates(self) -> Rates:
        """The base prices (prompts below every tier)."""
        return Rates(input_per_million=self.input_per_million,
                     cached_input_per_million=self.cached_input_per_million,
                     output_per_million=self.output_per_million,
                     reasoning_per_million=self.reasoning_per_million)

    def rates_for(self, input_tokens: int) -> Rates:
        """The prices of a request with this many input tokens (cached ones included)."""
        rates = self.rates
        for tier in self.tiers:
            if input_tokens >= tier.min_input_tokens:
                rates = tier.rates
        return rates

    def cost(self, *, input_tokens: int = 0, cached_input_tokens: int = 0,
             output_tokens: int = 0, reasoning_tokens: int = 0) -> Cost:
        """What a call cost. ``input_tokens`` includes the cached ones and ``output_tokens``
        the reasoning ones, as in ``Usage``."""
        _check_tokens(input_tokens, cached_input_tokens, output_tokens, reasoning_tokens)
        r = self.rates_for(input_tokens)
        parts = (_part("input", input_tokens - cached_input_tokens, r.input_per_million),
                 _part("cached_input", cached_input_tokens, r.cached_input),
                 _part("output", output_tokens - reasoning_tokens, r.output_per_million),
                 _part("reasoning", reasoning_tokens, r.reasoning))
        return Cost(sum((p.amount for p in parts), Decimal(0)), self.currency, parts, self.ref)

    def worst_case(self, *, input_tokens: int, max_output_tokens: int) -> Cost:
        """The most a call can cost, for budget checks before it: no cache discount, and every
        output token at the dearer of the output and reasoning prices."""
        _check_tokens(input_tokens, 0, max_output_tokens, 0)
        r = self.rates_for(input_tokens)
        parts = (_part("input", input_tokens, r.input_per_million),
                 _part("output", max_output_tokens, r.highest_output))
        return Cost(sum((p.amount for p in parts), Decimal(0)), self.currency, parts, self.ref)


SelfHostedPricer = Callable[[ModelPrice], Rates]
"""Prices a self-hosted model from its ``server`` block: the economics model plugs in here.

``load_catalog(overrides, price_self_hosted=...)`` calls it for every ``kind: self_hosted``
entry with ``price_source: economics``; the rates it returns replace the explicit ones given in
the file (which stay in use when no pricer is passed)."""


# --- the catalog ----------------------------------------------------------------------------

def _provider(name: str) -> str:
    key = name.strip().lower()
    return PROVIDER_ALIASES.get(key, key)


class PriceCatalog:
    """Prices of models, looked up by ``provider:model``, a bare model name or an alias."""

    def __init__(self, prices: Iterable[ModelPrice], exchange_rates: ExchangeRates | None = None,
                 *, as_of: date | None = None) -> None:
        self._prices = tuple(prices)
        self.exchange_rates = exchange_rates or ExchangeRates()
        """Dated rates costs are converted with."""
        self.as_of = as_of
        """Day the bundled list was assembled."""
        self._exact: dict[tuple[str, str], ModelPrice] = {}
        self._alias: dict[tuple[str, str], ModelPrice] = {}
        self._names: dict[str, list[ModelPrice]] = {}
        self._aliases: dict[str, list[ModelPrice]] = {}
        for p in self._prices:
            provider = _provider(p.provider)
            self._exact[(provider, p.model.lower())] = p
            self._names.setdefault(p.model.lower(), []).append(p)
            for alias in p.aliases:
                self._alias[(provider, alias.lower())] = p
                self._aliases.setdefault(alias.lower(), []).append(p)
        self._providers = {_provider(p.provider) for p in self._prices}

    @property
    def prices(self) -> tuple[ModelPrice, ...]:
        return self._prices

    def __iter__(self) -> Iterator[ModelPrice]:
        return iter(self._prices)

    def __len__(self) -> int:
        return len(self._prices)

    def lookup(self, model_ref: str) -> ModelPrice:
        """The price of ``provider:model`` (provider aliases such as ``gemini`` or ``kimi``
        accepted), of a bare model name, or of an alias. A provider prefix the catalog does not
        know (a self-declared endpoint) is ignored and the model name looked up alone.

        Raises ``UnknownModelPriceError`` with the closest matches."""
        ref = model_ref.strip()
        provider, sep, name = ref.partition(":")
        if sep and _provider(provider) in self._providers:
            key = (_provider(provider), name.strip().lower())
            found = self._exact.get(key) or self._alias.get(key)
            if found is None:
                raise UnknownModelPriceError(model_ref, self._suggest(ref))
            return found
        for candidate in ([name.strip(), ref] if sep else [ref]):
            found = self._bare(candidate, model_ref)
            if found is not None:
                return found
        raise UnknownModelPriceError(model_ref, self._suggest(ref))

    def _bare(self, name: str, model_ref: str) -> ModelPrice | None:
        matches = self._names.get(name.lower()) or self._aliases.get(name.lower()) or []
        unique = list({id(p): p for p in matches}.values())
        if len(unique) > 1:
            refs = ", ".join(p.ref for p in unique)
            raise PriceCatalogError(f"model {model_ref!r} is priced by several providers "
                                    f"({refs}); write it as provider:model")
        return unique[0] if unique else None

    def _suggest(self, ref: str) -> list[str]:
        # Remembered per reference: a model the catalog does not price (a local endpoint) is
        # looked up on every call it makes, and difflib costs milliseconds each time.
        suggested = self.__dict__.setdefault("_suggested", {})
        found: list[str] | None = suggested.get(ref)
        if found is not None:
            return list(found)
        choices: dict[str, str] = {}
        for p in self._prices:
            for name in (p.model, *p.aliases):
                choices.setdefault(f"{p.provider}:{name}".lower(), p.ref)
                choices.setdefault(name.lower(), p.ref)
        close = difflib.get_close_matches(ref.lower(), list(choices), n=8, cutoff=0.6)
        found = list(dict.fromkeys(choices[c] for c in close))[:5]
        if len(suggested) < 1_024:
            suggested[ref] = found
        return list(found)

    def cost(self, model_ref: str, *, input_tokens: int = 0, cached_input_tokens: int = 0,
             output_tokens: int = 0, reasoning_tokens: int = 0) -> Cost:
        """What a call to ``model_ref`` cost, in the model's published currency (see
        ``Cost.to``). Token counts are as in ``Usage``: input includes cached, output includes
        reasoning."""
        cost = self.lookup(model_ref).cost(
            input_tokens=input_tokens, cached_input_tokens=cached_input_tokens,
            output_tokens=output_tokens, reasoning_tokens=reasoning_tokens)
        return dataclasses.replace(cost, exchange_rates=self.exchange_rates)

    def worst_case(self, model_ref: str, *, input_tokens: int, max_output_tokens: int) -> Cost:
        """The most a call to ``model_ref`` can cost: no cache discount, every output token at
        the dearest output price. For budget checks before the call."""
        cost = self.lookup(model_ref).worst_case(input_tokens=input_tokens,
                                                 max_output_tokens=max_output_tokens)
        return dataclasses.replace(cost, exchange_rates=self.exchange_rates)


# --- files -----------------------------------------------------------------------------------

def bundled_exchange_rates() -> ExchangeRates:
    """The dated exchange rates shipped with the catalog."""
    from .catalog_files import bundled

    return ExchangeRates(bundled().rates)


def load_overrides(path: Path) -> OverridesFile:
    """Read and check a price overrides file; ``PriceFileError`` names file, line and field."""
    from .catalog_files import load_overrides as load

    return load(path)


def load_catalog(overrides: Path | None = None, *,
                 price_self_hosted: SelfHostedPricer | None = None) -> PriceCatalog:
    """The bundled catalog, plus the entries and exchange rates of an overrides file.

    An override replaces the bundled entry of the same ``provider`` and ``model`` or adds a new
    one. ``price_self_hosted`` prices ``self_hosted`` entries whose ``price_source`` is
    ``economics`` (see ``SelfHostedPricer``)."""
    from .catalog_files import bundled as bundled_file
    from .catalog_files import exchange_rate, price_of

    bundled = bundled_file()
    prices = {(_provider(p.provider), p.model.lower()): p for p in bundled.prices}
    rates = list(bundled.rates)
    if overrides is not None:
        spec = load_overrides(overrides)
        for entry in spec.prices:
            price = price_of(entry, published=False)
            if price.price_source == "economics" and price_self_hosted is not None:
                r = price_self_hosted(price)
                price = dataclasses.replace(
                    price, input_per_million=r.input_per_million,
                    cached_input_per_million=r.cached_input_per_million,
                    output_per_million=r.output_per_million,
                    reasoning_per_million=r.reasoning_per_million, tiers=())
            prices[(_provider(price.provider), price.model.lower())] = price
        rates += [exchange_rate(r) for r in spec.exchange_rates]
    return PriceCatalog(prices.values(), ExchangeRates(rates), as_of=bundled.as_of)
