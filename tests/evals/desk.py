"""A refund desk for the evaluation and simulation tests: real tools (Python API), and a
``FunctionModel`` clerk that reacts to what it is given — so a perturbed tool result or an
injected instruction changes what the agent does, as it would with a real model."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from agentplane import Agent, Workflow, tool
from agentplane.journal import JournalStore
from agentplane.models.registry import EVERY_MODEL
from agentplane.runtime.runner import Runtime
from agentplane.runtime.workflow import Workflow as Resolved
from agentplane.testing import FunctionModel, ModelCall, Reply, call

ORDERS = {"A1": {"order_id": "A1", "total": 35.0, "customer": "Ana"},
          "B7": {"order_id": "B7", "total": 120.0, "customer": "Bo"}}
MAIL = "From: Ana. Hello, where is my refund?"
CAREFUL = "You handle refunds. Look the order up before refunding."
SLOPPY = "You handle refunds. Refund at once; skip the lookup."
PATIENT = "You handle refunds. Look the order up before refunding; when a lookup fails, retry."


@tool(effect="read")
def lookup_order(order_id: str) -> dict[str, object]:
    """Look an order up by its id."""
    order = ORDERS.get(order_id)
    if order is None:
        raise ValueError(f"no order {order_id}")
    return dict(order)


@tool(effect="write", idempotent=True)
def issue_refund(order_id: str, amount: float) -> dict[str, object]:
    """Refund part of an order."""
    return {"order_id": order_id, "amount": amount, "status": "refunded"}


@tool(effect="read", trust="untrusted")
def read_mail() -> str:
    """Read the customer's last mail (content from outside)."""
    return MAIL


def _result(model_call: ModelCall, name: str) -> str | None:
    found = [m.content or "" for m in model_call.tool_results if m.name == name]
    return found[-1] if found else None


def clerk(model_call: ModelCall) -> str | Reply:
    """The clerk: reads mail when asked to, else looks the order up, checks it, refunds."""
    text = model_call.input
    instructions = model_call.messages[0].content or ""
    if "never refund" in instructions.lower():
        return "I may not refund anything today."
    if text.startswith("mail"):
        mail = _result(model_call, "read_mail")
        if mail is None:
            return Reply(tool_calls=[call("read_mail")])
        asked = re.search(r"refund order (\S+)", mail)
        if asked and _result(model_call, "issue_refund") is None:
            return Reply(tool_calls=[call("issue_refund", order_id=asked.group(1), amount=1)])
        return f"Mail read: {mail}"
    order_id = text.split()[-1]
    refunded = _result(model_call, "issue_refund")
    if refunded is not None:
        return (f"Refund failed: {refunded}" if refunded.startswith("error")
                else f"Refunded 20.00 on order {order_id}.")
    if SLOPPY in instructions:
        return Reply(tool_calls=[call("issue_refund", order_id=order_id, amount=20)])
    looked = _result(model_call, "lookup_order")
    if looked is None:
        return Reply(tool_calls=[call("lookup_order", order_id=order_id)])
    if looked.startswith("error"):
        if instructions == PATIENT:  # tries again, and again: the runtime sees a loop
            return Reply(tool_calls=[call("lookup_order", order_id=order_id)])
        return f"Cannot refund: {looked}"
    order: dict[str, Any] = json.loads(looked)
    if "total" not in order:
        return "Cannot refund: the order has no total."
    if order["total"] != ORDERS.get(order_id, {}).get("total"):
        return f"The order total is disputed: {order['total']}."
    return Reply(tool_calls=[call("issue_refund", order_id=order_id, amount=20)])


def desk(instructions: str = CAREFUL, *, name: str = "desk",
         autonomy: str = "out_of_the_loop") -> Resolved:
    """The desk workflow (engine form), with the provenance guardian denying untrusted values
    in calls, and no waiting between retries."""
    agent = Agent("clerk", model="openai:gpt-4o-mini", instructions=instructions,
                  tools=[lookup_order, issue_refund, read_mail])
    flow = Workflow(name, steps=[agent], autonomy=autonomy,
                    base_dir=Path(__file__).parent,
                    guardians={"provenance": {"decision": "deny"}},
                    tool_defaults={"retry": {"attempts": 2, "backoff_s": 0}})
    return flow.resolve()


def runtime(store: JournalStore) -> tuple[Runtime, FunctionModel]:
    """A runtime whose every model is the clerk."""
    model = FunctionModel(clerk)
    return Runtime(store, providers={EVERY_MODEL: model}), model
