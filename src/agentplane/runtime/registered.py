"""A workflow's agents as entries of the agent registry (``local:WORKFLOW/AGENT`` replicas).

Here rather than in the registry, because an entry's version is the agent's identity in the
journal (``loop.agent_identity``), which is the runtime's to say.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from agentplane.tools.sources.registry import (
    LOCAL_PREFIX,
    AgentEntry,
    TrustLevel,
    description_capabilities,
)

from .loop import agent_identity
from .workflow import Workflow


def entries_from_workflow(workflow: Workflow, *, owner: str, trust: TrustLevel = "trusted",
                          price: Mapping[str, float] | None = None,
                          capabilities: Mapping[str, Sequence[str]] | None = None
                          ) -> list[AgentEntry]:
    """One entry per agent of a workflow: id ``WORKFLOW/AGENT``, version the digest of
    ``runtime.loop.agent_identity`` (a changed agent is a new version), one replica
    ``local:WORKFLOW/AGENT``. Capabilities: ``capabilities[agent name]`` when given, else
    ``description_capabilities`` (the agent's name and its description's words)."""
    spec = workflow.spec
    entries = []
    for agent in spec.agents:
        ident = agent_identity(spec, agent)
        explicit = (capabilities or {}).get(agent.name)
        entries.append(AgentEntry(
            id=f"{spec.name}/{agent.name}", version=ident["version"], owner=owner,
            description=agent.description or "",
            capabilities=list(explicit) if explicit is not None
            else description_capabilities(agent.name, agent.description),
            trust=trust, price={str(k): float(v) for k, v in (price or {}).items()},
            replicas=[f"{LOCAL_PREFIX}{spec.name}/{agent.name}"], kind="local"))
    return entries


__all__ = ["entries_from_workflow"]
