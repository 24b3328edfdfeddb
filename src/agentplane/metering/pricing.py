"""Pricing model calls from the price catalog (bundled, plus the user's overrides), in USD.

The scripted model is free; ``scripted:MODEL`` (the script standing in for MODEL) is priced as
MODEL. A model the catalog does not know is priced 0 (its tokens are still
metered and count toward token budgets); ``usage report`` lists such models so they can be
added to an overrides file.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from .catalog import ModelPrice, PriceCatalog, Rates, UnknownModelPriceError, load_catalog
from .usage import Price, Pricer, WorstCase

if TYPE_CHECKING:  # the economics model prices self-hosted models only: loaded when one is
    from agentplane.economics.model import Server

USD = "USD"


def _stand_in(model: str) -> str:
    """The model a scripted call stands in for (``scripted:gpt-4o-mini`` → ``gpt-4o-mini``),
    priced as that model; plain ``scripted`` stands in for nothing and is free."""
    prefix, _, name = model.partition(":")
    if prefix != "scripted":
        return model
    return "" if name in ("", "scripted") else name


def _server(entry: ModelPrice) -> Server:
    from agentplane.economics.scenario import parse_server

    return parse_server(entry.server or {}, f"price catalog entry {entry.ref}", name=entry.model)


def self_hosted_rates(entry: ModelPrice) -> Rates:
    """A self-hosted model's price per million tokens, from the economics model of its server
    (the rental price per GPU-hour if given, else the owner's cost, over its throughput)."""
    from agentplane.economics.model import cost_per_million_tokens

    per_million = Decimal(str(round(cost_per_million_tokens(_server(entry)), 10)))
    return Rates(input_per_million=per_million, output_per_million=per_million)


def _energy_per_million(entry: ModelPrice) -> float | None:
    if entry.kind != "self_hosted" or entry.server is None:
        return None
    from agentplane.economics.model import energy_kwh_per_million_tokens

    return energy_kwh_per_million_tokens(_server(entry))


FREE = Price(0.0)
KNOWN_MODELS = 1_024
"""Model references a pricer remembers the catalog entry of (one it has not, it looks up)."""


def pricing_from(catalog: PriceCatalog) -> tuple[Pricer, WorstCase]:
    """(pricer, worst case) over a catalog. Self-hosted models also get their energy.

    Each model's catalog entry (or that it has none) and energy per million tokens are looked
    up once, not on every call."""
    known: dict[str, tuple[ModelPrice, float | None] | None] = {}

    def entry_of(model: str) -> tuple[ModelPrice, float | None] | None:
        """The catalog entry of a model the call stands in for (None: free or unknown) and its
        energy per million tokens."""
        model = _stand_in(model)
        if model in known:
            return known[model]
        try:
            entry = catalog.lookup(model) if model else None
        except UnknownModelPriceError:
            entry = None
        found = None if entry is None else (entry, _energy_per_million(entry))
        if len(known) < KNOWN_MODELS:
            known[model] = found
        return found

    def pricer(model: str, usage: Mapping[str, int]) -> Price:
        found = entry_of(model)
        if found is None:
            return FREE
        entry, per_million = found
        cost = entry.cost(input_tokens=usage.get("input_tokens", 0),
                          cached_input_tokens=usage.get("cached_input_tokens", 0),
                          output_tokens=usage.get("output_tokens", 0),
                          reasoning_tokens=usage.get("reasoning_tokens", 0))
        tokens = usage.get("input_tokens", 0) + usage.get("output_tokens", 0)
        return Price(float(cost.to(USD, catalog.exchange_rates).amount),
                     None if per_million is None else per_million * tokens / 1e6)

    def worst_case(model: str, prompt_tokens: int, max_output_tokens: int) -> float:
        found = entry_of(model)
        if found is None:
            return 0.0
        cost = found[0].worst_case(input_tokens=prompt_tokens,
                                   max_output_tokens=max_output_tokens)
        return float(cost.to(USD, catalog.exchange_rates).amount)

    return pricer, worst_case


@lru_cache(maxsize=8)
def catalog_pricing(overrides: Path | None = None) -> tuple[Pricer, WorstCase]:
    """(pricer, worst case) for model calls, from the bundled catalog and ``overrides``."""
    return pricing_from(load_catalog(overrides, price_self_hosted=self_hosted_rates))
