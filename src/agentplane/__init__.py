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

from agentplane._lazy import lazy_exports

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs more than all this
if TYPE_CHECKING:
    from agentplane.api import (
        Agent,
        Approval,
        DefinitionError,
        RunResult,
        Runtime,
        RunUsage,
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
    **dict.fromkeys(["Agent", "Approval", "DefinitionError", "RunResult", "RunUsage", "Runtime",
                     "Workflow", "parallel", "step", "supervisor", "tool"], "agentplane.api"),
    "AgentplaneError": "agentplane.errors",
    "Autonomy": "agentplane.governance.autonomy",
    "SpecError": "agentplane.runtime.workflow",
    "Effect": "agentplane.tools.base",
    "ToolContext": "agentplane.tools.base",
}
"""Each public name and the module it is loaded from when first used."""

__all__ = [
    "Agent",
    "AgentplaneError",
    "Approval",
    "Autonomy",
    "DefinitionError",
    "Effect",
    "RunResult",
    "RunUsage",
    "Runtime",
    "SpecError",
    "ToolContext",
    "Workflow",
    "parallel",
    "step",
    "supervisor",
    "tool",
]


__getattr__ = lazy_exports(__name__, _EXPORTS, globals())


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
