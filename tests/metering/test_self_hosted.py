"""Self-hosted models in the price catalog are priced by the economics model."""

from __future__ import annotations

from pathlib import Path

import pytest

from agentplane.metering.pricing import catalog_pricing

OVERRIDES = """\
prices:
  - kind: self_hosted
    provider: local
    model: deepseek-r1-h200
    price_source: economics
    server:                        # 003 Table 7's H200 server, owned, not rented
      capital_cost_usd: 246391
      gpus: 8
      useful_life_years: 4
      operating_cost_per_gpu_hour_usd: 0.35
      throughput_tokens_per_second_per_gpu: 735
      kw_per_gpu: 1.3
      pue: 1.25
    currency: USD
    input_per_million: 9
    output_per_million: 9
    as_of: 2026-11-22
"""


def test_self_hosted_model_priced_from_its_server(tmp_path: Path) -> None:
    overrides = tmp_path / "prices.yaml"
    overrides.write_text(OVERRIDES)
    pricer, worst_case = catalog_pricing(overrides)
    price = pricer("local:deepseek-r1-h200", {"input_tokens": 600_000, "output_tokens": 400_000})
    # Owner's cost per GPU-hour: 246,391 / 8 / (4 x 8,760) = 0.8790 depreciation + 0.35
    # operating = 1.2290; 735 tokens/s x 3,600 = 2.646 M tokens per GPU-hour
    # => 1.2290 / 2.646 = 0.4645 USD per million tokens, for 1 M tokens here.
    assert price.usd == pytest.approx(1.228963 / 2.646, rel=1e-4)
    # Energy: 1.3 kW x 1.25 PUE / 2.646 M tokens per hour = 0.6141 kWh per million tokens.
    assert price.energy_kwh == pytest.approx(1.3 * 1.25 / 2.646, rel=1e-4)
    assert worst_case("local:deepseek-r1-h200", 1_000, 1_000) == pytest.approx(
        2_000 * 1.228963 / 2.646 / 1e6, rel=1e-4)
    hosted = pricer("openai:gpt-4o-mini", {"input_tokens": 1_000_000})
    assert hosted.usd == pytest.approx(0.15) and hosted.energy_kwh is None
