"""A refund desk declared with the Python API (tools, agents, workflows used by tests/api).

Refunds go to a JSON-lines ledger named by $DESK_LEDGER, so a test (and a second process)
can see which calls really happened."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

from pydantic import Field

from agentplane import Agent, Workflow, tool
from agentplane.testing import ModelCall, Reply, call
from agentplane.tools import ToolContext

ORDERS = {"A1": {"order_id": "A1", "total": 35.0}, "B7": {"order_id": "B7", "total": 120.0}}
LOOKED_UP: list[str] = []
"""Orders looked up in this process (a second copy of this module would keep its own)."""


def ledger() -> list[dict[str, object]]:
    path = Path(os.environ["DESK_LEDGER"])
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@tool(effect="read")
def lookup_order(
        order_id: Annotated[str, Field(description="The order's id, e.g. A1")],
) -> dict[str, object]:
    """Look an order up by its id.

    Orders are kept in memory."""
    LOOKED_UP.append(order_id)
    order = ORDERS.get(order_id)
    if order is None:
        raise ValueError(f"no order {order_id}")
    return order


@tool(effect="write", idempotent=True, compensate="cancel_refund")
def issue_refund(order_id: str, amount: float, *, context: ToolContext) -> dict[str, object]:
    """Refund part or all of an order."""
    with Path(os.environ["DESK_LEDGER"]).open("a") as f:
        f.write(json.dumps({"key": context.idempotency_key, "order_id": order_id,
                            "amount": amount}) + "\n")
    return {"status": "refunded", "amount": amount}


@tool(effect="write", idempotent=True)
def cancel_refund(refund_id: str) -> dict[str, object]:
    """Reverse a refund."""
    return {"refund_id": refund_id, "status": "cancelled"}


SCRIPT: list[Reply | str] = [Reply(tool_calls=[call("lookup_order", order_id="A1")]),
                             Reply(tool_calls=[call("issue_refund", order_id="A1", amount=20)]),
                             "Refunded 20 on order A1."]

clerk = Agent("clerk", instructions="You handle refunds.", tools=[lookup_order, issue_refund],
              script=SCRIPT)
flow = Workflow("refund-desk", steps=[clerk])

careful_clerk = Agent("clerk", instructions="You handle refunds.",
                      tools=[lookup_order, issue_refund], script=SCRIPT)
careful = Workflow("careful-desk", steps=[careful_clerk], autonomy="in_the_loop")
"""Every refund waits for a person."""


def triage(model_call: ModelCall) -> str | Reply:
    """One model for every request: refunds are looked up and refunded, the rest declined."""
    if "refund" not in model_call.input.lower():
        return "Only refunds are handled here."
    done = [m.name for m in model_call.tool_results]
    if not done:
        order = model_call.input.split()[-1]
        return Reply(tool_calls=[call("lookup_order", order_id=order)])
    if done == ["lookup_order"]:
        total = json.loads(model_call.tool_results[0].content or "{}")["total"]
        order = model_call.input.split()[-1]
        return Reply(tool_calls=[call("issue_refund", order_id=order, amount=total)])
    return f"Refunded order {model_call.input.split()[-1]}."


live_clerk = Agent("clerk", model="openai:gpt-4o-mini", instructions="You handle refunds.",
                   tools=[lookup_order, issue_refund])
live = Workflow("live-desk", steps=[live_clerk])
"""A workflow on a hosted model: tests give it a FunctionModel, so no key or network."""
