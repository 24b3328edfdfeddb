"""Which provider answers an agent's ``model:`` setting.

- ``scripted``: the offline scripted provider, with the agents' declared scripts;
- ``openai:MODEL`` / ``anthropic:MODEL``: the hosted APIs, keys from ``OPENAI_API_KEY`` /
  ``ANTHROPIC_API_KEY`` (and ``OPENAI_BASE_URL`` for any OpenAI-compatible server);
- ``NAME`` or ``NAME:MODEL``: a named endpoint declared in the workflow's ``providers:``.

A caller may replace providers by name (``overrides``), or all of them at once under
``EVERY_MODEL`` — how a test runs a real workflow on the ``function`` model (``function.py``)
without changing the workflow, so its pinned hash stays the production one.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from agentplane.errors import ConfigError

from .base import ModelProvider
from .router import RouteBook
from .scripted import ScriptedProvider

EVERY_MODEL = "*"
"""Key of ``ModelResolver.overrides`` for a provider that answers every ``model:``."""

PUBLIC_URLS = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}
"""The hosted APIs, used when neither the workflow nor the environment names a base URL."""


def api_key(endpoint: Endpoint, default_env: str, *, public: bool) -> str | None:
    """The endpoint's API key, checked before the first call.

    A key variable the workflow names (``api_key_env``) must be set; so must ``default_env``
    when the call would go to the public API. A local server without ``api_key_env`` (vLLM,
    Ollama, llama.cpp) is called without a key."""
    env = endpoint.api_key_env or default_env
    key = os.environ.get(env, "").strip()
    if key or not (endpoint.api_key_env or public):
        return key or None
    where = (f"provider {endpoint.name!r} names api_key_env: {env}" if endpoint.api_key_env
             else f"{endpoint.kind} models are called at the public API")
    raise ConfigError(f"no API key in {env}: {where}, and {env} is not set in the "
                      "environment; set it (the key itself never goes in a file)")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A model endpoint's settings (the workflow's ``providers:`` entries)."""

    name: str
    kind: str = "openai"
    base_url: str | None = None
    api_key_env: str | None = None
    model: str | None = None
    timeout_s: float = 60.0
    max_retries: int = 3
    stream: bool = False
    local: bool | None = None
    region: str | None = None


@dataclass(slots=True)
class ModelResolver:
    """Turns ``model:`` strings into (provider, model name), creating each provider once."""

    endpoints: Mapping[str, Endpoint] = field(default_factory=dict)
    scripted: ScriptedProvider = field(default_factory=ScriptedProvider)
    overrides: Mapping[str, ModelProvider] = field(default_factory=dict)
    """Providers given by the caller (e.g. tests) by provider name, or for every model under
    ``EVERY_MODEL``; they win over the rest."""
    routes: RouteBook = field(default_factory=RouteBook)
    """Circuit breakers, model health and routers (shared by a runtime's resolvers)."""
    _cache: dict[str, ModelProvider] = field(default_factory=dict)

    def resolve(self, model: str) -> tuple[ModelProvider, str]:
        prefix, _, name = model.partition(":")
        every = self.overrides.get(EVERY_MODEL)
        endpoint = self.endpoints.get(prefix)
        if endpoint is not None and endpoint.kind == "scripted":
            # a provider entry of the scripted kind: the script answers, standing in for the
            # entry's model (a rehearsal of a local / cloud pair, the routing demo)
            stand_in = self.overrides.get("scripted", every or self.scripted)
            return stand_in, name or endpoint.model or "scripted"
        if prefix == "scripted":
            # ``scripted:MODEL`` replays the script while standing in for MODEL: it is metered
            # and priced as MODEL (a cost rehearsal before going live; the demo's spend).
            stand_in = self.overrides.get("scripted", every or self.scripted)
            return stand_in, name or "scripted"
        if prefix in self.overrides:
            return self.overrides[prefix], name
        if every is not None:
            endpoint = self.endpoints.get(prefix)
            return every, name or (endpoint.model if endpoint and endpoint.model else prefix)
        if prefix not in self._cache:
            self._cache[prefix] = self._create(prefix)
        endpoint = self.endpoints.get(prefix)
        chosen = name or (endpoint.model if endpoint else None)
        if not chosen:
            raise ConfigError(f"model {model!r} names no model; write {prefix}:MODEL_NAME")
        return self._cache[prefix], chosen

    def _create(self, prefix: str) -> ModelProvider:
        endpoint = self.endpoints.get(prefix) or Endpoint(name=prefix, kind=prefix)
        if endpoint.kind == "openai":
            from .openai import OpenAIProvider

            base = endpoint.base_url or os.environ.get("OPENAI_BASE_URL")
            return OpenAIProvider(
                base_url=base or PUBLIC_URLS["openai"],
                api_key=api_key(endpoint, "OPENAI_API_KEY", public=not base),
                timeout=endpoint.timeout_s, max_retries=endpoint.max_retries,
                stream=endpoint.stream,
            )
        if endpoint.kind == "anthropic":
            return self._anthropic(endpoint)
        raise ConfigError(f"unknown model provider {prefix!r}; use scripted, openai, anthropic "
                          "or a name from the workflow's providers:")

    @staticmethod
    def _anthropic(endpoint: Endpoint) -> ModelProvider:
        from .anthropic import AnthropicProvider

        return AnthropicProvider(
            base_url=endpoint.base_url or PUBLIC_URLS["anthropic"],
            api_key=api_key(endpoint, "ANTHROPIC_API_KEY", public=not endpoint.base_url),
            timeout=endpoint.timeout_s, max_retries=endpoint.max_retries,
            stream=endpoint.stream,
        )

    async def aclose(self) -> None:
        for provider in self._cache.values():
            await provider.aclose()
        self._cache.clear()
