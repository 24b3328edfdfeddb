"""How the agents of a workflow work together, for the API and the console's Agents page:
hand-offs, supervisors and their workers, and the autonomy level that applies to each tool call
(a tool may be stricter than its agent: ``autonomy: in_the_loop`` on a write tool under an "on
the loop" agent)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agentplane.runtime.spec import ParallelStep, SupervisorStep, WorkflowSpec


@dataclass(frozen=True, slots=True)
class AgentTeam:
    """How an agent works with the others of its workflow, and the autonomy of each call."""

    handoffs: list[str]
    """Agents it may hand the conversation to."""
    workers: list[str]
    """Agents it assigns tasks to, as a supervisor."""
    supervisors: list[str]
    """Supervisors that assign it tasks."""
    tools: list[tuple[str, str]]
    """Each tool it may call with the autonomy level that applies to the call (the strictest
    of the workflow's, the agent's and the tool's)."""


def teams(spec: WorkflowSpec) -> dict[str, AgentTeam]:
    """Each agent's hand-offs, workers and supervisors (from the steps), and tool autonomy."""
    supervising: dict[str, list[str]] = {}

    def walk(steps: list[Any]) -> None:
        for step in steps:
            if isinstance(step, SupervisorStep):
                supervising.setdefault(step.supervisor, []).extend(step.workers)
            elif isinstance(step, ParallelStep):
                walk(step.parallel)

    walk(spec.steps)
    return {a.name: AgentTeam(
        handoffs=list(a.handoffs),
        workers=supervising.get(a.name, []),
        supervisors=sorted(s for s, ws in supervising.items() if a.name in ws),
        tools=[(t, spec.autonomy_for(a.name, t).value) for t in a.tools])
        for a in spec.agents}
