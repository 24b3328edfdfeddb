"""Agentplane: durable, governed, metered multi-agent workflows.

What a program writes::

    from agentplane import Agent, Workflow, tool

    @tool(effect="read")
    def lookup_order(order_id: str) -> dict: ...

    clerk = Agent("clerk", model="openai:gpt-4o-mini", tools=[lookup_order])
    result = Workflow("desk", steps=[clerk]).run_sync("Look up order A1")
    result.output, result.status, result.usage, result.cost

Names are loaded when first used, so ``import agentplane`` stays light. Test doubles are in
``agentplane.testing``; the engine in ``agentplane.runtime``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentplane.api import (
        Agent,
        Approval,
        RunResult,
        Runtime,
        RunUsage,
        ToolDefinitionError,
        Workflow,
        parallel,
        step,
        supervisor,
        tool,
    )
    from agentplane.errors import AgentplaneError
    from agentplane.governance.autonomy import Autonomy
    from agentplane.runtime.workflow import SpecError
    from agentplane.tools.base import Effect, ToolContext

_EXPORTS = {
    "Agent": "agentplane.api",
    "Approval": "agentplane.api",
    "RunResult": "agentplane.api",
    "RunUsage": "agentplane.api",
    "Runtime": "agentplane.api",
    "ToolDefinitionError": "agentplane.api",
    "Workflow": "agentplane.api",
    "parallel": "agentplane.api",
    "step": "agentplane.api",
    "supervisor": "agentplane.api",
    "tool": "agentplane.api",
    "AgentplaneError": "agentplane.errors",
    "Autonomy": "agentplane.governance.autonomy",
    "SpecError": "agentplane.runtime.workflow",
    "Effect": "agentplane.tools.base",
    "ToolContext": "agentplane.tools.base",
}

__all__ = [
    "Agent",
    "AgentplaneError",
    "Approval",
    "Autonomy",
    "Effect",
    "RunResult",
    "RunUsage",
    "Runtime",
    "SpecError",
    "ToolContext",
    "ToolDefinitionError",
    "Workflow",
    "parallel",
    "step",
    "supervisor",
    "tool",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'agentplane' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access skips this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
