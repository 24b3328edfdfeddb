"""The price catalog's files: the bundled ``prices.json`` and a user's overrides file (YAML),
checked with pydantic models that name file, line and field of every problem.

Imported when a catalog is first loaded, not with :mod:`agentplane.metering.catalog`: building
these models is most of what importing the catalog would cost, and the runtime imports the
catalog's types long before it prices a call.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from agentplane._yaml import Path as DataPath
from agentplane._yaml import (
    Position,
    load_with_positions,
    position_of,
    positioned,
    validation_problems,
    yaml_problem,
)

from .catalog import (
    Currency,
    ExchangeRate,
    ModelPrice,
    PriceFileError,
    PriceProblem,
    PriceTier,
    Rates,
    _provider,
)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


PerMillion = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


class _RatesSpec(_Spec):
    input_per_million: PerMillion
    cached_input_per_million: PerMillion | None = None
    output_per_million: PerMillion
    reasoning_per_million: PerMillion | None = None


class TierSpec(_RatesSpec):
    min_input_tokens: int = Field(ge=1)


class _PriceSpec(_RatesSpec):
    provider: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")
    model: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    currency: Currency
    tiers: list[TierSpec] = Field(default_factory=list)
    as_of: date
    source: str = ""
    notes: str = ""

    @model_validator(mode="after")
    def _tiers_ascend(self) -> _PriceSpec:
        bounds = [t.min_input_tokens for t in self.tiers]
        if any(a >= b for a, b in itertools.pairwise(bounds)):
            raise ValueError("tiers must be listed by strictly increasing min_input_tokens")
        return self


class HostedPriceSpec(_PriceSpec):
    """A hosted model's published price."""

    kind: Literal["hosted"] = "hosted"


class SelfHostedPriceSpec(_PriceSpec):
    """A self-hosted model, priced explicitly or (later) by the economics model."""

    kind: Literal["self_hosted"]
    price_source: Literal["economics", "explicit"] = "economics"
    server: dict[str, Any] | None = None
    """The server the economics model prices; its fields belong to the economics model."""

    @model_validator(mode="after")
    def _server_given(self) -> SelfHostedPriceSpec:
        if self.price_source == "economics" and self.server is None:
            raise ValueError("price_source: economics needs a server: block")
        return self


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "hosted"))
    return str(getattr(value, "kind", "hosted"))


_KIND_TAGS = frozenset({"hosted", "self_hosted"})
PriceEntrySpec = Annotated[
    Annotated[HostedPriceSpec, Tag("hosted")] | Annotated[SelfHostedPriceSpec, Tag("self_hosted")],
    Discriminator(_kind, custom_error_type="price_kind",
                  custom_error_message="kind must be hosted or self_hosted")]


class ExchangeRateSpec(_Spec):
    base: Currency
    quote: Currency
    rate: Decimal = Field(gt=0, allow_inf_nan=False)
    as_of: date
    source: str = ""
    notes: str = ""

    @model_validator(mode="after")
    def _two_currencies(self) -> ExchangeRateSpec:
        if self.base == self.quote:
            raise ValueError("base and quote must be different currencies")
        return self


class OverridesFile(_Spec):
    """A user's price overrides file."""

    prices: list[PriceEntrySpec] = Field(default_factory=list)
    exchange_rates: list[ExchangeRateSpec] = Field(default_factory=list)


class BundledFile(_Spec):
    """The bundled ``prices.json``."""

    schema_version: Literal[1]
    as_of: date
    notes: str = ""
    exchange_rates: list[ExchangeRateSpec]
    prices: list[HostedPriceSpec]


def _rates(spec: _RatesSpec) -> Rates:
    return Rates(input_per_million=spec.input_per_million,
                 cached_input_per_million=spec.cached_input_per_million,
                 output_per_million=spec.output_per_million,
                 reasoning_per_million=spec.reasoning_per_million)


def price_of(spec: HostedPriceSpec | SelfHostedPriceSpec, *, published: bool) -> ModelPrice:
    """The catalog entry a checked price gives (``published``: from the bundled list)."""
    self_hosted = isinstance(spec, SelfHostedPriceSpec)
    return ModelPrice(
        provider=spec.provider, model=spec.model, aliases=tuple(spec.aliases),
        currency=spec.currency, input_per_million=spec.input_per_million,
        cached_input_per_million=spec.cached_input_per_million,
        output_per_million=spec.output_per_million,
        reasoning_per_million=spec.reasoning_per_million,
        tiers=tuple(PriceTier(t.min_input_tokens, _rates(t)) for t in spec.tiers),
        as_of=spec.as_of, source=spec.source, notes=spec.notes,
        kind="self_hosted" if self_hosted else "hosted",
        price_source=(spec.price_source if isinstance(spec, SelfHostedPriceSpec)
                      else "published" if published else "explicit"),
        server=(MappingProxyType(dict(spec.server))
                if isinstance(spec, SelfHostedPriceSpec) and spec.server is not None else None))


def exchange_rate(spec: ExchangeRateSpec) -> ExchangeRate:
    """The exchange rate a checked entry gives."""
    return ExchangeRate(spec.base, spec.quote, spec.rate, spec.as_of, spec.source, spec.notes)


def _message(path: DataPath, err: Any) -> str | None:
    kind = str(err["type"])
    if kind.startswith("value_error"):
        return str(err["msg"]).removeprefix("Value error, ")
    if "input" in err and isinstance(err["input"], dict | list) and kind not in (
            "extra_forbidden", "missing"):
        return str(err["msg"])  # a whole block: its repr would drown the message
    return None


def _problems(exc: pydantic.ValidationError, marks: dict[DataPath, Position]
              ) -> list[PriceProblem]:
    return positioned(validation_problems(exc, reference="the price catalog's docstring",
                                          skip=_KIND_TAGS, message_for=_message), marks)


def _duplicates(specs: list[HostedPriceSpec] | list[PriceEntrySpec],
                marks: dict[DataPath, Position]) -> list[PriceProblem]:
    """The same model twice, or a name that means two models of one provider."""
    seen: dict[tuple[str, str], int] = {}
    problems = []
    for i, spec in enumerate(specs):
        for name in (spec.model, *spec.aliases):
            key = (_provider(spec.provider), name.lower())
            if key in seen and seen[key] != i:
                path: DataPath = ("prices", i, "model")
                problems.append(PriceProblem(
                    path, f"{key[0]}:{name} is already priced by prices[{seen[key]}]",
                    position_of(marks, path)))
            seen.setdefault(key, i)
    return problems


@dataclass(frozen=True, slots=True)
class Bundled:
    """The bundled price list, checked."""

    prices: tuple[ModelPrice, ...]
    rates: tuple[ExchangeRate, ...]
    as_of: date


@lru_cache(maxsize=1)
def bundled() -> Bundled:
    """The bundled ``prices.json``, read and checked once per process."""
    name = "prices.json (bundled)"
    text = resources.files("agentplane.metering").joinpath("prices.json")
    data = json.loads(text.read_text(encoding="utf-8"), parse_float=Decimal)
    try:
        spec = BundledFile.model_validate(data)
    except pydantic.ValidationError as exc:
        raise PriceFileError(name, _problems(exc, {})) from exc
    problems = _duplicates(spec.prices, {})
    if problems:
        raise PriceFileError(name, problems)
    return Bundled(tuple(price_of(p, published=True) for p in spec.prices),
                   tuple(exchange_rate(r) for r in spec.exchange_rates), spec.as_of)


def load_overrides(path: Path) -> OverridesFile:
    """Read and check a price overrides file; ``PriceFileError`` names file, line and field."""
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PriceFileError(source, [PriceProblem((), "file not found")]) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PriceFileError(source, [PriceProblem((), f"cannot read the file: {exc}")]) from exc
    try:
        data, marks = load_with_positions(text)
    except yaml.YAMLError as exc:
        raise PriceFileError(source, [yaml_problem(exc)]) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise PriceFileError(source, [PriceProblem(
            (), "expected a mapping with prices: and/or exchange_rates:", (1, 1))])
    try:
        spec = OverridesFile.model_validate(data)
    except pydantic.ValidationError as exc:
        raise PriceFileError(source, _problems(exc, marks)) from exc
    problems = _duplicates(spec.prices, marks)
    if problems:
        raise PriceFileError(source, problems)
    return spec
