"""Test doubles and journal assertions: test your own agents the way Agentplane tests itself.

- ``ScriptedModel`` replays each agent's declared replies in order (``script=`` of an agent);
- ``FunctionModel`` computes each reply with a Python function of the call, so one test
  can branch on what the agent was asked; give it to a run with ``model=``;
- ``events``, ``tool_calls``, ``approvals`` read a run's journal (``RunResult.events``), so a
  test asserts on what was done, not only on the final text.

No network and no API key are needed; the runs are real (journaled, governed, metered).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agentplane.api.results import RunResult
from agentplane.journal import Event, EventType
from agentplane.models.base import ModelRequest, ModelResponse
from agentplane.models.function import FunctionModel, ModelCall, Reply, ReplyFunction, call
from agentplane.models.scripted import ScriptedProvider as ScriptedModel

__all__ = [
    "ApprovalRecord",
    "FunctionModel",
    "ModelCall",
    "ModelRequest",
    "ModelResponse",
    "Reply",
    "ReplyFunction",
    "ScriptedModel",
    "ToolCallRecord",
    "approvals",
    "call",
    "events",
    "tool_calls",
]

Journal = RunResult | Sequence[Event]
"""A run's result, or its events."""


def _events(journal: Journal) -> Sequence[Event]:
    return journal.events if isinstance(journal, RunResult) else journal


def events(journal: Journal, *types: str) -> list[Event]:
    """The run's events of the given types (``"tool.completed"``, ...), in order; every event
    when no type is given."""
    return [e for e in _events(journal) if not types or e.type in types]


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """A tool call the run made (started), and how it ended."""

    tool: str
    arguments: dict[str, Any]
    agent: str | None
    step_key: str
    status: str
    """``completed``, ``failed``, or ``started`` when no end is journaled (yet)."""
    result: Any = None
    """The tool's result (``completed``), or its error message (``failed``)."""


def tool_calls(journal: Journal, tool: str | None = None) -> list[ToolCallRecord]:
    """The tool calls the run started (a refused or unapproved call never starts), in order;
    only those of ``tool`` if given. A call retried after a crash counts once."""
    ends: dict[str, Event] = {}
    starts: dict[str, Event] = {}
    for e in _events(journal):
        if e.type == EventType.TOOL_STARTED and e.step_key is not None:
            starts.setdefault(e.step_key, e)
        elif e.type in (EventType.TOOL_COMPLETED, EventType.TOOL_FAILED) and e.step_key:
            ends[e.step_key] = e
    out = []
    for key, start in starts.items():
        end = ends.get(key)
        name = str(start.data.get("tool", ""))
        if tool is not None and name != tool:
            continue
        status = "started" if end is None else end.type.split(".")[1]
        result = None if end is None else (
            end.data.get("result") if end.type == EventType.TOOL_COMPLETED
            else end.data.get("error"))
        agent = (start.actor or "").removeprefix("agent:") or None
        out.append(ToolCallRecord(name, dict(start.data.get("arguments") or {}), agent, key,
                                  status, result))
    return out


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    """An approval the run asked for, and what became of it."""

    id: str
    kind: str
    step_key: str
    data: dict[str, Any]
    """What was asked (for a tool call: ``tool``, ``arguments``, ``reason``)."""
    decision: str
    """``open``, ``granted``, ``denied`` or ``expired``."""
    actor: str | None
    """Who decided (``user:NAME``), if anyone."""


_DECISIONS = {EventType.APPROVAL_GRANTED: "granted", EventType.APPROVAL_DENIED: "denied",
              EventType.APPROVAL_EXPIRED: "expired"}


def approvals(journal: Journal) -> list[ApprovalRecord]:
    """The approvals the run asked for, in order, with their decisions."""
    asked: dict[str, Event] = {}
    decided: dict[str, Event] = {}
    for e in _events(journal):
        wait_id = e.data.get("wait_id") if isinstance(e.data, dict) else None
        if not isinstance(wait_id, str):
            continue
        if e.type == EventType.APPROVAL_REQUESTED:
            asked[wait_id] = e
        elif e.type in _DECISIONS:
            decided[wait_id] = e
    return [ApprovalRecord(wait_id, str(e.data.get("kind", "")), e.step_key or "",
                           dict(e.data), _DECISIONS.get(decided[wait_id].type, "open")
                           if wait_id in decided else "open",
                           decided[wait_id].actor if wait_id in decided else None)
            for wait_id, e in asked.items()]
