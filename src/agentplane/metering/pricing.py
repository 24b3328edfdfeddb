"""Pricing model calls from the price catalog (bundled, plus the user's overrides), in USD.

The scripted model is free. A model the catalog does not know is priced 0 (its tokens are still
metered and count toward token budgets); ``usage report`` lists such models so they can be
added to an overrides file.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from .catalog import PriceCatalog, UnknownModelPriceError, load_catalog
from .usage import Price, Pricer, WorstCase

USD = "USD"


def _priceable(model: str) -> bool:
    return bool(model) and model.split(":", 1)[0] != "scripted"


def pricing_from(catalog: PriceCatalog) -> tuple[Pricer, WorstCase]:
    """(pricer, worst case) over a catalog."""

    def pricer(model: str, usage: Mapping[str, int]) -> Price:
        if not _priceable(model):
            return Price(0.0)
        try:
            cost = catalog.cost(model, input_tokens=usage.get("input_tokens", 0),
                                cached_input_tokens=usage.get("cached_input_tokens", 0),
                                output_tokens=usage.get("output_tokens", 0),
                                reasoning_tokens=usage.get("reasoning_tokens", 0))
        except UnknownModelPriceError:
            return Price(0.0)
        return Price(float(cost.to(USD).amount))

    def worst_case(model: str, prompt_tokens: int, max_output_tokens: int) -> float:
        if not _priceable(model):
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
    return pricing_from(load_catalog(overrides))
