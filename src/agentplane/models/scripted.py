"""The ``scripted`` provider: replays declared replies, for offline demos and tests.

It is public API on purpose (like PydanticAI's ``TestModel``): users test their own workflows
the way Agentplane tests itself. Each agent has a script; the agent's n-th model call in a run
gets the n-th reply. A reply may be text, tool calls (several in one turn), declared usage, a
latency, or a declared failure (an error, a malformed tool call) so failure paths can be tested.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .base import (
    ModelError,
    ModelRequest,
    ModelResponse,
    TextCallback,
    ToolCall,
    Usage,
)


@dataclass(slots=True)
class ScriptedReply:
    """One declared reply."""

    content: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """``{"name": ..., "arguments": {...}}``; arguments given as a string are sent as-is,
    which lets a script declare a malformed tool call."""
    usage: dict[str, int] | None = None
    """Token counts to report; estimated from text length (4 characters a token) when absent."""
    latency_ms: float = 0.0
    """How long the reply takes, in milliseconds."""
    error: str | None = None
    """When set, the call fails with this message instead of replying."""
    retryable: bool = False
    """For ``error``: whether the failure is transient."""


def _estimate_tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


class ScriptedProvider:
    """Replies from per-agent scripts. Never touches the network."""

    name = "scripted"

    def __init__(self, scripts: Mapping[str, Sequence[ScriptedReply]] | None = None) -> None:
        self.scripts: dict[str, list[ScriptedReply]] = {
            agent: list(replies) for agent, replies in (scripts or {}).items()
        }
        self.calls = 0
        """How many times ``complete`` was called (tests count model calls with it)."""

    def script(self, agent: str, replies: Sequence[ScriptedReply]) -> None:
        self.scripts[agent] = list(replies)

    async def complete(
        self, request: ModelRequest, *, on_text: TextCallback | None = None
    ) -> ModelResponse:
        self.calls += 1
        replies = self.scripts.get(request.agent)
        if not replies:
            raise ModelError(f"agent {request.agent!r} uses the scripted model but has no script")
        if request.call_index >= len(replies):
            raise ModelError(
                f"the script of agent {request.agent!r} has {len(replies)} replies and the agent "
                f"asked for reply {request.call_index + 1}; add replies to its `script:` "
                "or let it finish sooner"
            )
        reply = replies[request.call_index]
        if reply.latency_ms:
            await asyncio.sleep(reply.latency_ms / 1000)
        return respond(request, reply, on_text=on_text)

    async def aclose(self) -> None:
        return None


def respond(request: ModelRequest, reply: ScriptedReply, *,
            on_text: TextCallback | None = None) -> ModelResponse:
    """The response a declared reply makes to ``request`` (or its declared ``ModelError``).
    Shared by the scripted and the function model."""
    if reply.error is not None:
        raise ModelError(reply.error, retryable=reply.retryable)
    calls = [_tool_call(request, i, c) for i, c in enumerate(reply.tool_calls)]
    if on_text is not None and reply.content:
        on_text(reply.content)
    return ModelResponse(
        content=reply.content,
        tool_calls=calls,
        usage=Usage.from_dict(reply.usage) if reply.usage else _estimate(request, reply),
        model=request.model or "scripted",
        finish_reason="tool_calls" if calls else "stop",
    )


def _tool_call(request: ModelRequest, index: int, spec: dict[str, Any]) -> ToolCall:
    call_id = f"call_{request.call_index}_{index}"
    name = str(spec.get("name", ""))
    arguments = spec.get("arguments", {})
    if isinstance(arguments, dict):
        return ToolCall(id=call_id, name=name, arguments=arguments)
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        return ToolCall(id=call_id, name=name, error=f"arguments are not valid JSON: {exc}",
                        raw_arguments=raw)
    if not isinstance(parsed, dict):
        return ToolCall(id=call_id, name=name, error="arguments are not a JSON object",
                        raw_arguments=raw)
    return ToolCall(id=call_id, name=name, arguments=parsed)


def _estimate(request: ModelRequest, reply: ScriptedReply) -> Usage:
    prompt = sum(len(m.content or "") + 8 for m in request.messages)
    out = _estimate_tokens(reply.content or "") + sum(
        _estimate_tokens(json.dumps(c)) for c in reply.tool_calls
    )
    return Usage(input_tokens=max(1, prompt // 4), output_tokens=out)
