"""Reversal: undo a run's completed ``write`` calls with their compensating tools.

A compensating tool's parameters are filled by name from the original call's result (when it
is an object) and then from its arguments: ``cancel_refund(refund_id)`` reverses
``issue_refund(order_id, amount) -> {"refund_id": ...}``. Each compensation is journaled like
any call (``tool.started``, then ``tool.compensated`` or ``tool.failed``) under the step key
``rollback/<original step>``, with an idempotency key of its own.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

from agentplane.journal import Event, EventType, JournalStore, NewEvent
from agentplane.tools import Effect, ToolContext, ToolError

from .context import idempotency_key
from .workflow import Workflow


@dataclass(frozen=True, slots=True)
class CompletedCall:
    step_key: str
    tool: str
    effect: Effect
    arguments: dict[str, Any]
    result: Any
    agent: str


def plan_rollback(events: list[Event], only: str | None = None) -> list[CompletedCall]:
    """Completed non-read calls not yet reversed, newest first (or just ``only``)."""
    started = {e.step_key: e for e in events if e.type == EventType.TOOL_STARTED}
    reversed_already = {e.data.get("of") for e in events if e.type == EventType.TOOL_COMPENSATED}
    plan = []
    for done in reversed([e for e in events if e.type == EventType.TOOL_COMPLETED]):
        start = started.get(done.step_key)
        key = done.step_key or ""
        if start is None or key.startswith("rollback/") or key in reversed_already:
            continue
        if only is not None and key != only:
            continue
        effect = Effect(start.data.get("effect", "write"))
        if effect is Effect.READ:
            continue
        plan.append(CompletedCall(key, str(start.data.get("tool")), effect,
                                  dict(start.data.get("arguments") or {}),
                                  done.data.get("result"), str(start.data.get("agent", ""))))
    return plan


def _compensation_arguments(parameters: dict[str, Any], call: CompletedCall) -> dict[str, Any]:
    wanted = dict(parameters.get("properties") or {})
    sources = [call.result if isinstance(call.result, dict) else {}, call.arguments]
    out: dict[str, Any] = {}
    for name in wanted:
        for source in sources:
            if name in source:
                out[name] = source[name]
                break
    return out


async def compensate(store: JournalStore, run_id: str, workflow: Workflow, call: CompletedCall,
                     actor: str) -> dict[str, Any]:
    """Reverse one call; returns what happened."""
    entry: dict[str, Any] = {"step_key": call.step_key, "tool": call.tool}
    spec = workflow.spec.tool(call.tool)
    if call.effect is Effect.IRREVERSIBLE:
        return {**entry, "outcome": "irreversible",
                "detail": f"{call.tool} is irreversible: a person must undo it by hand"}
    if spec is None or spec.compensate is None:
        return {**entry, "outcome": "no_compensation",
                "detail": f"{call.tool} declares no compensating tool: a person must undo it"}
    tool = workflow.tools[spec.compensate]
    arguments = _compensation_arguments(tool.parameters, call)
    key = f"rollback/{call.step_key}"
    await store.append(run_id, [NewEvent(EventType.TOOL_STARTED, actor, key, {
        "tool": tool.name, "agent": call.agent, "arguments": arguments,
        "effect": tool.effect.value, "idempotent": tool.idempotent,
        "idempotency_key": idempotency_key(run_id, key), "attempt": 1, "compensates": call.tool})])
    context = ToolContext(run_id=run_id, step_key=key, idempotency_key=idempotency_key(run_id, key),
                          agent=call.agent, tool=tool.name, attempt=1)
    try:
        result = await tool.invoke(arguments, context)
    except Exception as exc:
        error = str(exc) if isinstance(exc, ToolError) else f"{type(exc).__name__}: {exc}"
        with contextlib.suppress(Exception):
            await store.append(run_id, [NewEvent(EventType.TOOL_FAILED, actor, key,
                                                 {"tool": tool.name, "error": error})])
        return {**entry, "outcome": "failed", "detail": f"{tool.name} failed: {error}"}
    await store.append(run_id, [NewEvent(EventType.TOOL_COMPENSATED, actor, key,
                                         {"of": call.step_key, "tool": tool.name,
                                          "arguments": arguments, "result": result})])
    return {**entry, "outcome": "compensated", "detail": f"reversed with {tool.name}",
            "result": result}
