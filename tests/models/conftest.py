"""What the provider tests share: recorded backoff delays and a provider factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from agentplane.models.base import ToolDefinition

from .wire_servers import record_delays

WEATHER = ToolDefinition("get_weather", "Weather of a city.",
                         {"type": "object", "properties": {"city": {"type": "string"}}})


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Backoff delays the provider asked for; nothing actually sleeps."""
    return record_delays(monkeypatch)


async def provider_factory(cls: Callable[..., Any], **defaults: Any
                           ) -> AsyncIterator[Callable[..., Any]]:
    """Yield a builder of providers with ``defaults`` (overridable per call); all are closed
    after the test."""
    made: list[Any] = []

    def build(**options: Any) -> Any:
        provider = cls(**{"backoff_base": 0, "timeout": 5.0, **defaults, **options})
        made.append(provider)
        return provider

    yield build
    for provider in made:
        await provider.aclose()
