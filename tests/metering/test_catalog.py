"""The bundled price catalog: lookups, cost arithmetic, worst cases, currencies, overrides, and
the well-formedness of every bundled entry."""

from __future__ import annotations

import importlib.resources
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from agentplane.errors import AgentplaneError
from agentplane.metering.catalog import (
    CURRENCIES,
    ExchangeRate,
    ExchangeRates,
    ModelPrice,
    PriceCatalog,
    PriceCatalogError,
    PriceFileError,
    PriceTier,
    Rates,
    UnknownModelPriceError,
    load_catalog,
)

FAMILIES = {"openai", "anthropic", "google", "deepseek", "qwen", "zhipu", "moonshot", "doubao",
            "minimax"}

# Clean numbers, so the arithmetic in the comments is easy to check by hand.
TEST_PRICES = """\
prices:
  - provider: test
    model: thinker
    aliases: [thinker-2026-01-01]
    currency: USD
    input_per_million: 2
    cached_input_per_million: 0.5
    output_per_million: 8
    reasoning_per_million: 12
    tiers:
      - {min_input_tokens: 100001, input_per_million: 4, cached_input_per_million: 1,
         output_per_million: 16, reasoning_per_million: 24}
    as_of: 2026-11-22
    source: https://example.com/pricing
  - provider: test
    model: plain
    currency: USD
    input_per_million: 1
    output_per_million: 4
    as_of: 2026-11-22
  - provider: test
    model: yuan
    currency: CNY
    input_per_million: 10
    cached_input_per_million: 1
    output_per_million: 20
    as_of: 2026-11-22
exchange_rates:
  - {base: USD, quote: CNY, rate: 5, as_of: 2026-11-20, source: https://example.com/fx}
"""


@pytest.fixture(scope="module")
def bundled() -> PriceCatalog:
    return load_catalog()


@pytest.fixture
def catalog(tmp_path: Path) -> PriceCatalog:
    path = tmp_path / "prices.yaml"
    path.write_text(TEST_PRICES, encoding="utf-8")
    return load_catalog(path)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "overrides.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> str:
    with pytest.raises(PriceFileError) as caught:
        load_catalog(path)
    return str(caught.value)


# --- lookups --------------------------------------------------------------------------------

@pytest.mark.parametrize(("ref", "expected"), [
    ("openai:gpt-4o-mini", "openai:gpt-4o-mini"),
    ("anthropic:claude-sonnet-4", "anthropic:claude-sonnet-4"),
    ("deepseek:deepseek-chat", "deepseek:deepseek-flash"),      # retired name kept as an alias
    ("deepseek:deepseek-reasoner", "deepseek:deepseek-flash"),
    ("gpt-4o-mini", "openai:gpt-4o-mini"),                      # bare name
    ("claude-sonnet-4-20250514", "anthropic:claude-sonnet-4"),  # bare alias (dated snapshot)
    ("openai:gpt-4o-2024-11-20", "openai:gpt-4o"),              # provider and alias
    ("OpenAI:GPT-4o-Mini", "openai:gpt-4o-mini"),               # case does not matter
    ("minimax-m2.7", "minimax:MiniMax-M2.7"),
    ("gemini:gemini-2.5-pro", "google:gemini-2.5-pro"),         # provider alias
    ("kimi:kimi-k3", "moonshot:kimi-k3"),
    ("glm:glm-5.3", "zhipu:glm-5.3"),
    ("my-proxy:gpt-4o-mini", "openai:gpt-4o-mini"),             # unknown prefix: name alone
])
def test_lookup(bundled: PriceCatalog, ref: str, expected: str) -> None:
    assert bundled.lookup(ref).ref == expected


def test_lookup_returns_the_entry_with_its_provenance(bundled: PriceCatalog) -> None:
    price = bundled.lookup("openai:gpt-4o-mini")
    assert price.currency == "USD"
    assert price.source.startswith("https://")
    assert isinstance(price.as_of, date)
    assert price.price_source == "published"
    assert "gpt-4o-mini-2024-07-18" in price.aliases


def test_unknown_model_lists_close_matches(bundled: PriceCatalog) -> None:
    with pytest.raises(UnknownModelPriceError) as caught:
        bundled.lookup("openai:gpt-4o-mni")
    assert "openai:gpt-4o-mini" in caught.value.suggestions
    assert "openai:gpt-4o-mini" in str(caught.value)
    assert isinstance(caught.value, AgentplaneError)


def test_unknown_bare_model_lists_close_matches(bundled: PriceCatalog) -> None:
    with pytest.raises(UnknownModelPriceError) as caught:
        bundled.lookup("claude-sonet-4-5")
    assert caught.value.suggestions[0] == "anthropic:claude-sonnet-4-5"


def test_unknown_model_with_nothing_close(bundled: PriceCatalog) -> None:
    with pytest.raises(UnknownModelPriceError) as caught:
        bundled.lookup("zzzzzzzzzzzz")
    assert caught.value.suggestions == []
    assert "price overrides file" in str(caught.value)


def test_known_provider_with_unknown_model_is_not_looked_up_elsewhere(
        bundled: PriceCatalog) -> None:
    with pytest.raises(UnknownModelPriceError):
        bundled.lookup("anthropic:gpt-4o-mini")


def test_a_bare_name_two_providers_price_is_ambiguous() -> None:
    def price(provider: str) -> ModelPrice:
        return ModelPrice(provider=provider, model="shared", currency="USD",
                          input_per_million=Decimal(1), output_per_million=Decimal(1),
                          as_of=date(2026, 11, 22))
    catalog = PriceCatalog([price("a"), price("b")])
    with pytest.raises(PriceCatalogError, match="a:shared, b:shared"):
        catalog.lookup("shared")
    assert catalog.lookup("b:shared").provider == "b"


# --- cost arithmetic ------------------------------------------------------------------------

def test_cost_splits_cached_and_reasoning_tokens(catalog: PriceCatalog) -> None:
    cost = catalog.cost("test:thinker", input_tokens=10_000, cached_input_tokens=4_000,
                        output_tokens=3_000, reasoning_tokens=1_000)
    # uncached input   6,000 × $2   / 1M = $0.012
    # cached input     4,000 × $0.5 / 1M = $0.002
    # output (answer)  2,000 × $8   / 1M = $0.016
    # reasoning        1,000 × $12  / 1M = $0.012
    # total                                $0.042
    assert [(p.name, p.tokens, p.amount) for p in cost.parts] == [
        ("input", 6_000, Decimal("0.012")),
        ("cached_input", 4_000, Decimal("0.002")),
        ("output", 2_000, Decimal("0.016")),
        ("reasoning", 1_000, Decimal("0.012")),
    ]
    assert cost.amount == Decimal("0.042")
    assert cost.currency == "USD"
    assert cost.model == "test:thinker"
    assert cost.part("reasoning").per_million == Decimal(12)


def test_without_cache_or_reasoning_prices_they_cost_as_input_and_output(
        catalog: PriceCatalog) -> None:
    cost = catalog.cost("test:plain", input_tokens=10_000, cached_input_tokens=4_000,
                        output_tokens=3_000, reasoning_tokens=1_000)
    # no cache discount: 6,000 × $1 + 4,000 × $1 = $0.006 + $0.004
    # reasoning billed as output: 2,000 × $4 + 1,000 × $4 = $0.008 + $0.004
    # total $0.022
    assert cost.part("cached_input").per_million == Decimal(1)
    assert cost.part("reasoning").per_million == Decimal(4)
    assert cost.amount == Decimal("0.022")


def test_bundled_gpt_4o_mini(bundled: PriceCatalog) -> None:
    cost = bundled.cost("openai:gpt-4o-mini", input_tokens=1_000, cached_input_tokens=200,
                        output_tokens=500, reasoning_tokens=100)
    # 800 × $0.15 + 200 × $0.075 + 400 × $0.60 + 100 × $0.60 (reasoning billed as output)
    # = $0.00012 + $0.000015 + $0.00024 + $0.00006 = $0.000435
    assert cost.amount == Decimal("0.000435")


def test_long_prompt_tier(catalog: PriceCatalog) -> None:
    at_limit = catalog.cost("test:thinker", input_tokens=100_000, output_tokens=1_000)
    # base tier: 100,000 × $2 / 1M + 1,000 × $8 / 1M = $0.2 + $0.008 = $0.208
    assert at_limit.amount == Decimal("0.208")
    above = catalog.cost("test:thinker", input_tokens=100_001, cached_input_tokens=1,
                         output_tokens=1_000, reasoning_tokens=500)
    # long tier for the whole request:
    # 100,000 × $4 + 1 × $1 + 500 × $16 + 500 × $24, all / 1M
    # = $0.4 + $0.000001 + $0.008 + $0.012 = $0.420001
    assert above.amount == Decimal("0.420001")


def test_bundled_tiers(bundled: PriceCatalog) -> None:
    # Gemini 2.5 Pro above 200k: 300,000 × $2.50 + 10,000 × $15 = $0.75 + $0.15 = $0.90
    cost = bundled.cost("google:gemini-2.5-pro", input_tokens=300_000, output_tokens=10_000)
    assert cost.amount == Decimal("0.90")
    # Claude Haiku 5.5 at and above 100,000 prompt tokens: $0.10 then $0.50 per million
    haiku = bundled.lookup("anthropic:claude-haiku-5-5")
    assert haiku.rates_for(100_000).input_per_million == Decimal("0.10")
    assert haiku.rates_for(100_001).input_per_million == Decimal("0.50")


def test_token_counts_are_checked(catalog: PriceCatalog) -> None:
    with pytest.raises(ValueError, match="cached_input_tokens"):
        catalog.cost("test:plain", input_tokens=10, cached_input_tokens=11)
    with pytest.raises(ValueError, match="reasoning_tokens"):
        catalog.cost("test:plain", output_tokens=10, reasoning_tokens=11)
    with pytest.raises(ValueError, match="must not be negative"):
        catalog.cost("test:plain", input_tokens=-1)


def test_zero_usage_costs_nothing(catalog: PriceCatalog) -> None:
    assert catalog.cost("test:thinker").amount == 0


# --- worst case -----------------------------------------------------------------------------

def test_worst_case_has_no_cache_discount_and_the_dearest_output_price(
        catalog: PriceCatalog) -> None:
    worst = catalog.worst_case("test:thinker", input_tokens=10_000, max_output_tokens=2_000)
    # input 10,000 × $2 / 1M = $0.02; output 2,000 × $12 (reasoning, dearer than $8) = $0.024
    assert [(p.name, p.per_million) for p in worst.parts] == [
        ("input", Decimal(2)), ("output", Decimal(12))]
    assert worst.amount == Decimal("0.044")
    # it bounds any call with the same counts
    for cached, reasoning in [(0, 0), (10_000, 2_000), (5_000, 0), (0, 2_000)]:
        actual = catalog.cost("test:thinker", input_tokens=10_000, cached_input_tokens=cached,
                              output_tokens=2_000, reasoning_tokens=reasoning)
        assert actual.amount <= worst.amount


def test_worst_case_uses_the_prompt_tier(catalog: PriceCatalog) -> None:
    worst = catalog.worst_case("test:thinker", input_tokens=200_000, max_output_tokens=1_000)
    # long tier: 200,000 × $4 + 1,000 × $24, / 1M = $0.8 + $0.024 = $0.824
    assert worst.amount == Decimal("0.824")


def test_worst_case_when_reasoning_is_billed_as_output(catalog: PriceCatalog) -> None:
    # 1,000 × $1 + 1,000 × $4, / 1M = $0.005
    worst = catalog.worst_case("test:plain", input_tokens=1_000, max_output_tokens=1_000)
    assert worst.amount == Decimal("0.005")


# --- currencies -----------------------------------------------------------------------------

def test_conversion_with_the_catalog_rate(catalog: PriceCatalog) -> None:
    cost = catalog.cost("test:yuan", input_tokens=1_000_000, cached_input_tokens=500_000,
                        output_tokens=100_000)
    # CNY: 500,000 × ¥10 + 500,000 × ¥1 + 100,000 × ¥20, / 1M = ¥5 + ¥0.5 + ¥2 = ¥7.5
    assert (cost.amount, cost.currency) == (Decimal("7.5"), "CNY")
    usd = cost.to("USD")
    # at 5 CNY per USD (the overrides file's rate): ¥7.5 / 5 = $1.5
    assert (usd.amount, usd.currency) == (Decimal("1.5"), "USD")
    assert usd.part("output").amount == Decimal("0.4")           # ¥2 / 5
    assert usd.part("input").per_million == Decimal(2)            # ¥10 / 5
    assert usd.exchange is not None
    assert usd.exchange.as_of == date(2026, 11, 20)
    assert usd.to("USD") is usd


def test_conversion_the_other_way(catalog: PriceCatalog) -> None:
    # $1 per million × 1M = $1; × 5 CNY per USD = ¥5
    cny = catalog.cost("test:plain", input_tokens=1_000_000).to("CNY")
    assert (cny.amount, cny.currency) == (Decimal(5), "CNY")


def test_conversion_with_an_explicit_table(catalog: PriceCatalog) -> None:
    table = ExchangeRates([ExchangeRate("CNY", "USD", Decimal("0.25"), date(2026, 1, 1))])
    # ¥10 × 0.25 = $2.5
    assert catalog.cost("test:yuan", input_tokens=1_000_000).to("USD", table).amount == \
        Decimal("2.5")


def test_bundled_rate_is_dated_and_used(bundled: PriceCatalog) -> None:
    (rate,) = [r for r in bundled.exchange_rates if {r.base, r.quote} == {"USD", "CNY"}]
    assert isinstance(rate.as_of, date)
    assert rate.source.startswith("https://")
    cost = bundled.cost("deepseek:deepseek-v4-pro", input_tokens=1_000_000)
    assert cost.currency == "CNY"
    usd = cost.to("USD")
    assert usd.exchange == rate
    factor = rate.rate if rate.base == "CNY" else Decimal(1) / rate.rate
    assert usd.amount == cost.amount * factor


def test_unknown_currency(catalog: PriceCatalog) -> None:
    with pytest.raises(PriceCatalogError, match="no exchange rate from USD to EUR"):
        catalog.cost("test:plain", input_tokens=1).to("EUR")


def test_override_rate_replaces_the_inverse_bundled_pair(tmp_path: Path) -> None:
    path = write(tmp_path, "exchange_rates:\n"
                           "  - {base: CNY, quote: USD, rate: 0.2, as_of: 2026-11-21}\n")
    catalog = load_catalog(path)
    assert [(r.base, r.quote) for r in catalog.exchange_rates] == [("CNY", "USD")]
    # ¥8 × 0.2 = $1.6
    cost = catalog.cost("deepseek:deepseek-flash", output_tokens=1_000_000).to("USD")
    assert cost.amount == Decimal("1.6")


# --- overrides ------------------------------------------------------------------------------

def test_override_replaces_a_bundled_entry(tmp_path: Path, bundled: PriceCatalog) -> None:
    path = write(tmp_path, """\
prices:
  - provider: openai
    model: gpt-4o-mini
    currency: USD
    input_per_million: 1
    output_per_million: 2
    as_of: 2026-11-22
    source: negotiated contract
""")
    catalog = load_catalog(path)
    price = catalog.lookup("openai:gpt-4o-mini")
    assert (price.input_per_million, price.cached_input_per_million) == (Decimal(1), None)
    assert price.price_source == "explicit"
    assert len(catalog) == len(bundled)
    # the replaced entry's aliases are gone with it
    with pytest.raises(UnknownModelPriceError):
        catalog.lookup("gpt-4o-mini-2024-07-18")


def test_override_adds_an_entry(catalog: PriceCatalog, bundled: PriceCatalog) -> None:
    assert len(catalog) == len(bundled) + 3
    assert catalog.lookup("thinker-2026-01-01").ref == "test:thinker"
    assert catalog.lookup("test:thinker").tiers == (PriceTier(100_001, Rates(
        input_per_million=Decimal(4), cached_input_per_million=Decimal(1),
        output_per_million=Decimal(16), reasoning_per_million=Decimal(24))),)


def test_bad_field_names_file_line_and_field(tmp_path: Path) -> None:
    path = write(tmp_path, """\
prices:
  - provider: acme
    model: acme-1
    currency: USD
    input_per_million: -1
    output_per_million: 2
    as_of: 2026-11-22
""")
    message = problems_of(path)
    assert f"{path}:5:5: prices[0].input_per_million: " in message
    assert "greater than or equal to 0" in message
    assert "(got -1)" in message


def test_unknown_field_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, """\
prices:
  - provider: acme
    model: acme-1
    currency: USD
    input_per_million: 1
    output_per_milion: 2
    as_of: 2026-11-22
""")
    message = problems_of(path)
    assert f"{path}:6:5: prices[0].output_per_milion: unknown field" in message
    assert "prices[0].output_per_million: required field is missing" in message
    assert "(2 problems)" in message


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, """\
prices:
  - provider: acme
    model: acme-1
    currency: EUR
    input_per_million: 1
    output_per_million: 2
    as_of: not a date
  - provider: acme
    model: acme-2
    currency: USD
    input_per_million: 1
    output_per_million: 2
    as_of: 2026-11-22
    tiers:
      - {min_input_tokens: 2000, input_per_million: 2, output_per_million: 4}
      - {min_input_tokens: 1000, input_per_million: 3, output_per_million: 6}
extra: 1
""")
    message = problems_of(path)
    assert f"{path}:4:5: prices[0].currency: " in message
    assert f"{path}:7:5: prices[0].as_of: " in message
    assert f"{path}:8:5: prices[1]: tiers must be listed by strictly increasing" in message
    assert f"{path}:17:1: extra: unknown field" in message


def test_the_same_model_twice_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, """\
prices:
  - {provider: acme, model: acme-1, currency: USD, input_per_million: 1,
     output_per_million: 2, as_of: 2026-11-22}
  - {provider: acme, model: ACME-1, currency: USD, input_per_million: 1,
     output_per_million: 2, as_of: 2026-11-22}
""")
    assert f"{path}:4:22: prices[1].model: acme:ACME-1 is already priced by prices[0]" in \
        problems_of(path)


def test_yaml_syntax_error_has_a_line(tmp_path: Path) -> None:
    path = write(tmp_path, "prices:\n  - provider: [acme\n")
    message = problems_of(path)
    assert f"{path}:3:" in message
    assert "not valid YAML" in message


def test_missing_file(tmp_path: Path) -> None:
    assert "file not found" in problems_of(tmp_path / "nope.yaml")


def test_not_a_mapping(tmp_path: Path) -> None:
    assert "expected a mapping" in problems_of(write(tmp_path, "- 1\n- 2\n"))


def test_empty_file_changes_nothing(tmp_path: Path, bundled: PriceCatalog) -> None:
    assert len(load_catalog(write(tmp_path, ""))) == len(bundled)


# --- self-hosted entries --------------------------------------------------------------------

SELF_HOSTED = """\
prices:
  - kind: self_hosted
    provider: local
    model: qwen3-32b
    price_source: economics
    server: {gpus: 8, gpu: H100, capex_usd: 250000}
    currency: USD
    input_per_million: 0.05
    output_per_million: 0.20
    as_of: 2026-11-22
"""


def test_self_hosted_entry_is_stored_with_its_server(tmp_path: Path) -> None:
    catalog = load_catalog(write(tmp_path, SELF_HOSTED))
    price = catalog.lookup("local:qwen3-32b")
    assert (price.kind, price.price_source) == ("self_hosted", "economics")
    assert price.server is not None
    assert price.server["gpus"] == 8
    # explicit prices are used until the economics model is wired in:
    # 1M × $0.05 + 1M × $0.20 = $0.25
    assert catalog.cost("local:qwen3-32b", input_tokens=1_000_000,
                        output_tokens=1_000_000).amount == Decimal("0.25")


def test_self_hosted_entry_is_priced_by_the_economics_hook(tmp_path: Path) -> None:
    seen: list[ModelPrice] = []

    def economics(price: ModelPrice) -> Rates:
        seen.append(price)
        return Rates(input_per_million=Decimal("0.01"), output_per_million=Decimal("0.03"))

    catalog = load_catalog(write(tmp_path, SELF_HOSTED), price_self_hosted=economics)
    assert [p.ref for p in seen] == ["local:qwen3-32b"]
    # 1M × $0.01 + 1M × $0.03 = $0.04
    assert catalog.cost("local:qwen3-32b", input_tokens=1_000_000,
                        output_tokens=1_000_000).amount == Decimal("0.04")
    # hosted entries are not passed to the hook
    assert catalog.lookup("openai:gpt-4o").price_source == "published"


def test_self_hosted_economics_needs_a_server(tmp_path: Path) -> None:
    path = write(tmp_path, SELF_HOSTED.replace(
        "    server: {gpus: 8, gpu: H100, capex_usd: 250000}\n", ""))
    assert "price_source: economics needs a server: block" in problems_of(path)


def test_unknown_kind(tmp_path: Path) -> None:
    path = write(tmp_path, SELF_HOSTED.replace("kind: self_hosted", "kind: rented"))
    assert f"{path}:2:5: prices[0]: kind must be hosted or self_hosted" in problems_of(path)


def test_hosted_entries_take_no_server(tmp_path: Path) -> None:
    path = write(tmp_path, SELF_HOSTED.replace("  - kind: self_hosted\n", "  - kind: hosted\n"))
    message = problems_of(path)
    assert "prices[0].server: unknown field" in message
    assert "prices[0].price_source: unknown field" in message


# --- the bundled data -----------------------------------------------------------------------

def test_prices_json_ships_with_the_package() -> None:
    resource = importlib.resources.files("agentplane.metering").joinpath("prices.json")
    assert resource.is_file()
    data = json.loads(resource.read_text(encoding="utf-8"))
    assert data["schema_version"] == 1


def test_every_provider_family_is_present(bundled: PriceCatalog) -> None:
    assert {p.provider for p in bundled} >= FAMILIES


def test_every_bundled_entry_is_well_formed(bundled: PriceCatalog) -> None:
    assert bundled.as_of is not None
    for price in bundled:
        where = price.ref
        assert price.currency in CURRENCIES, where
        assert isinstance(price.as_of, date), where
        assert price.as_of <= bundled.as_of, where
        assert price.source.startswith("https://"), where
        assert price.notes, where
        assert price.kind == "hosted", where
        rates = [price.rates, *(t.rates for t in price.tiers)]
        for r in rates:
            for value in (r.input_per_million, r.cached_input_per_million,
                          r.output_per_million, r.reasoning_per_million):
                assert value is None or value >= 0, where
        bounds = [t.min_input_tokens for t in price.tiers]
        assert bounds == sorted(set(bounds)), where
        assert all(b > 0 for b in bounds), where


def test_every_bundled_name_and_alias_finds_its_entry(bundled: PriceCatalog) -> None:
    for price in bundled:
        for name in (price.model, *price.aliases):
            assert bundled.lookup(f"{price.provider}:{name}") is price
            assert bundled.lookup(name) is price


def test_every_bundled_exchange_rate_is_well_formed(bundled: PriceCatalog) -> None:
    rates = list(bundled.exchange_rates)
    assert rates
    for rate in rates:
        assert {rate.base, rate.quote} <= set(CURRENCIES)
        assert rate.base != rate.quote
        assert rate.rate > 0
        assert isinstance(rate.as_of, date)
        assert rate.source.startswith("https://")
