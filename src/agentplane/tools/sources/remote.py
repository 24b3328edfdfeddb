"""Remote A2A agents as a tool source: the ``remote_agents`` a workflow declares, each a tool
(``a2a.a2a_tool``) at its URL or at the replicas of an agent-registry entry."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agentplane.errors import AgentplaneError
from agentplane.tools import Tool

from .a2a import JournalTaskLog, RegistryReplicas, Replicas, a2a_tool
from .a2a_client import RemoteAgent
from .base import SourceHost, SourceSite
from .registry import Registry, registry_for
from .spec import RemoteAgentSpec


class RemoteAgents:
    """The remote agents of a runtime's workflows. A tool is made once per workflow version
    (it keeps its clients); the registry is the host's, or the journal database's own, opened
    when first needed and closed with the source."""

    def __init__(self, host: SourceHost) -> None:
        self.store = host.store
        self.registry = host.registry
        self._own_registry = False
        self._tools: dict[tuple[str, str], Tool] = {}

    async def open(self, declared: Sequence[Any], site: SourceSite) -> dict[str, Tool]:
        return {remote.name: self._tool(site.workflow_hash, remote) for remote in declared}

    def _tool(self, workflow_hash: str, remote: RemoteAgentSpec) -> Tool:
        tool = self._tools.get((workflow_hash, remote.name))
        if tool is not None:
            return tool
        target: RemoteAgent | Replicas
        if remote.url is not None:
            target = RemoteAgent(remote.url, key_env=remote.key_env, timeout_s=remote.timeout_s,
                                 retries=remote.retries)
        else:
            target = RegistryReplicas(self._registry(remote.name), id=remote.registry,
                                      capability=remote.capability, min_trust=remote.min_trust,
                                      key_env=remote.key_env, timeout_s=remote.timeout_s,
                                      retries=remote.retries)
        tool = a2a_tool(target, remote.name, description=remote.description,
                        log=JournalTaskLog(self.store, remote.url), effect=remote.effect,
                        cost_usd=remote.cost_usd, trust=remote.trust)
        self._tools[(workflow_hash, remote.name)] = tool
        return tool

    def _registry(self, remote: str) -> Registry:
        if self.registry is None:
            try:
                self.registry = registry_for(self.store)
            except AgentplaneError as exc:
                raise AgentplaneError(f"remote agent {remote} is found through the agent "
                                      f"registry, which cannot be opened: {exc}") from exc
            self._own_registry = True
        return self.registry

    async def aclose(self) -> None:
        if self._own_registry and self.registry is not None:
            self.registry.close()
            self.registry, self._own_registry = None, False
        self._tools.clear()


def source(host: SourceHost) -> RemoteAgents:
    return RemoteAgents(host)


__all__ = ["RemoteAgents", "source"]
