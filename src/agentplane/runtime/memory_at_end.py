"""What a run leaves in memory when it ends, for agents that declare ``memory: {write: [...]}``.

- ``experiential``: the run's summary (``memory.summarise_run``: task, outcome, cost, what went
  wrong, approvals asked and why), about the run's subject when the agent declares one; written
  for completed and failed runs.
- ``procedural``: the successful tool sequence of each such agent in a completed run, counted
  as one success of that skill (``memory.Skills``: promoted after N successes or a person's
  approval).

Both are written to the memory store with write keys (``run:<id>/summary``, one success per
run and skill) *before* the run's final event, and the ``memory.written`` events are appended
in the same transaction as that final event. A crash before it: the run is resumed, comes
here again, and the keys make the writes return what was written the first time — nothing is
lost or written twice.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from agentplane.errors import AgentplaneError
from agentplane.journal import Event, EventType, NewEvent
from agentplane.memory.types import Memory
from agentplane.tools import FieldTrust, Trust

from .context import RunContext
from .contextual import context_layer, run_subject

log = logging.getLogger("agentplane.runtime")


def _untrusted_tools(ctx: RunContext) -> list[str]:
    """Tools whose results are (by default) outside content."""
    out = []
    for name, tool in ctx.workflow.tools.items():
        trust = tool.result_trust
        default = trust.default if isinstance(trust, FieldTrust) else trust
        if default is Trust.UNTRUSTED:
            out.append(name)
    return out


def written(memory: Memory, step: str, agent: str | None = None) -> NewEvent:
    """The ``memory.written`` event of a memory the run wrote."""
    return NewEvent(EventType.MEMORY_WRITTEN, f"agent:{agent}" if agent else "system", step, {
        **({"agent": agent} if agent else {}),
        "memory": {"id": memory.id, "kind": memory.kind, "subject": memory.subject,
                   "trust": memory.trust, "source": memory.source, "text": memory.text,
                   "status": memory.status}})


async def run_end_memories(ctx: RunContext, end_type: str, end_data: dict[str, Any]
                           ) -> list[NewEvent]:
    """Write what the workflow's agents declare to remember of this run (ending with
    ``end_type`` and ``end_data``); returns the ``memory.written`` events to append with the
    final event. A memory store that refuses is logged, and the run ends as it would have."""
    writers = [a for a in ctx.workflow.spec.agents if a.memory is not None and a.memory.write]
    if not writers:
        return []
    try:
        return await _write(ctx, writers, end_type, end_data)
    except AgentplaneError as exc:
        log.error("run %s: the memories it declares were not written: %s", ctx.run_id, exc)
        return []


async def _write(ctx: RunContext, writers: list[Any], end_type: str,
                 end_data: dict[str, Any]) -> list[NewEvent]:
    from agentplane.memory.experience import summarise_run, summary_key
    from agentplane.memory.skills import Skills, steps_from_events

    events = await ctx.store.events(ctx.run_id)
    last = events[-1] if events else None
    closing = Event(ctx.run_id, (last.seq if last else 0) + 1,
                    last.time if last else ctx.run.created_at, end_type, "system", None,
                    end_data, None, last.hash if last else "", "")
    store = context_layer(ctx).memory
    out: list[NewEvent] = []
    if any("experiential" in a.memory.write for a in writers):
        memory = summarise_run(ctx.run, [*events, closing],
                               untrusted_tools=_untrusted_tools(ctx),
                               created_by=f"workflow:{ctx.workflow.spec.name}")
        subject = next((s for a in writers if (s := run_subject(ctx, a.memory))), None)
        if subject is not None:
            memory = replace(memory, subject=subject)
        out.append(written(store.write(memory, key=summary_key(ctx.run_id)),
                           "end/memory.experiential"))
    if end_type != EventType.RUN_COMPLETED:
        return out
    skills = Skills(store)
    for agent in (a for a in writers if "procedural" in a.memory.write):
        steps = steps_from_events(events, agent=agent.name)
        if not steps:
            continue
        skill = skills.record(ctx.run.tenant, run=ctx.run_id, steps=steps,
                              description=f"used by {agent.name} in {ctx.workflow.spec.name}",
                              created_by=f"agent:{agent.name}")
        kept = store.get(ctx.run.tenant, skill.id)
        if kept is not None:
            out.append(written(kept, f"end/memory.procedural.{agent.name}", agent.name))
    return out
