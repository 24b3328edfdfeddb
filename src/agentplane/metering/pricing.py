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


def _energy_per_million(catalog: PriceCatalog, model: str) -> float | None:
    try:
        entry = catalog.lookup(model)
    except UnknownModelPriceError:
        return None
    if entry.kind != "self_hosted" or entry.server is None:
        return None
    from agentplane.economics.model import energy_kwh_per_million_tokens

    return energy_kwh_per_million_tokens(_server(entry))


def pricing_from(catalog: PriceCatalog) -> tuple[Pricer, WorstCase]:
    """(pricer, worst case) over a catalog. Self-hosted models also get their energy."""
    energy: dict[str, float | None] = {}

    def pricer(model: str, usage: Mapping[str, int]) -> Price:
        model = _stand_in(model)
        if not model:
            return Price(0.0)
        try:
            cost = catalog.cost(model, input_tokens=usage.get("input_tokens", 0),
                                cached_input_tokens=usage.get("cached_input_tokens", 0),
                                output_tokens=usage.get("output_tokens", 0),
                                reasoning_tokens=usage.get("reasoning_tokens", 0))
        except UnknownModelPriceError:
            return Price(0.0)
        if model not in energy:
            energy[model] = _energy_per_million(catalog, model)
        per_million = energy[model]
        tokens = usage.get("input_tokens", 0) + usage.get("output_tokens", 0)
        return Price(float(cost.to(USD).amount),
                     None if per_million is None else per_million * tokens / 1e6)

    def worst_case(model: str, prompt_tokens: int, max_output_tokens: int) -> float:
        model = _stand_in(model)
        if not model:
            return 0.0
        try:
            cost = catalog.worst_case(model, input_tokens=prompt_tokens,
                                      max_output_tokens=max_output_tokens)
        except UnknownModelPriceError:
            return 0.0
        return float(cost.to(USD).amount)

    return pricer, worst_case


@lru_cache(maxsize=8)
def catalog_pricing(overrides: Path | None = None) -> tuple[Pricer, WorstCase]:
    """(pricer, worst case) for model calls, from the bundled catalog and ``overrides``."""
    return pricing_from(load_catalog(overrides, price_self_hosted=self_hosted_rates))
