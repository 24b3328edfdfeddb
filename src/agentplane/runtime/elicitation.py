"""Questions a tool's server asks a person during a call (MCP elicitation), as durable waits.

The n-th question of tool step ``K`` is an approval-like wait at step ``K/ask<n>`` (kind
``elicitation``, in the inbox with the server's message and the answer's schema): the run
waits holding nothing, and the call is made again when the run resumes (a server asks the same
question again before doing anything; the idempotency key is the same), now answered from the
journal. So a crash while waiting resumes the question, never a second answered call.

A person answers by approving (the reason is the answer: a JSON object of the schema's
fields, or, for a schema of one field, that field's value) or denying (the server is told the
person declined).
"""

from __future__ import annotations

import json
from typing import Any

from agentplane.journal import EventType
from agentplane.tools import ToolError
from agentplane.tools.base import Ask, AskRequest

from .context import RunContext

ELICITATION = "elicitation"


def answer_content(reason: str, schema: dict[str, Any]) -> dict[str, Any]:
    """The answer an approver gave (``reason``) as the content the schema asks for."""
    fields = dict(schema.get("properties") or {})
    try:
        parsed = json.loads(reason)
    except ValueError:
        parsed = reason
    if isinstance(parsed, dict):
        return parsed
    if len(fields) != 1:
        raise ToolError(f"the answer {reason!r} is not a JSON object of the fields "
                        f"{', '.join(sorted(fields)) or '(none)'}")
    (name, field), = fields.items()
    kind = field.get("type") if isinstance(field, dict) else None
    if kind in ("integer", "number", "boolean") and not isinstance(parsed, str):
        return {name: parsed}
    return {name: reason}


def asker(ctx: RunContext, step_key: str, agent: str) -> Ask:
    """The ``ToolContext.ask`` of tool step ``step_key`` made by ``agent``."""
    count = 0

    async def ask(request: AskRequest) -> dict[str, Any]:
        nonlocal count
        count += 1
        resolution = await ctx.wait(
            f"{step_key}/ask{count}", kind=ELICITATION, actor=f"agent:{agent}",
            data={"agent": agent, "asked_by": request.asked_by, "reason": request.message,
                  "message": request.message, "schema": request.schema})
        if resolution["type"] != EventType.APPROVAL_GRANTED:
            return {"action": "decline"}
        return {"action": "accept",
                "content": answer_content(str(resolution.get("reason") or ""), request.schema)}

    return ask


__all__ = ["ELICITATION", "answer_content", "asker"]
