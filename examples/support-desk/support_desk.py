"""The support desk: a support agent that remembers customers and their past cases, and a
compliance analyst that checks each case against the desk's policies (Chinese and English) and
the approved refund procedure.

- ``support`` recalls what the desk knows about the customer (``$.customer_id``): *factual*
  memory (their preferred language, remembered with the ``remember`` tool) and *experiential*
  memory (the summary of their earlier cases, written when each run ends). It looks the order
  up and asks for the refund; a refund above 500 CNY waits for a supervisor (guardian policy
  ``refund-limit``). Its successful tool sequence becomes a *procedural* skill.
- ``compliance`` retrieves the rule text from the knowledge base — lexical search, and the
  knowledge graph of ``ontology.yaml``: an article named in its task ("article 3") leads to
  the passages it was found in, in either language — recalls the approved refund procedure (a
  promoted skill), and cites both by id.

``desk_model`` stands in for a language model so the demo runs offline: a deterministic reply
function that reads the context packet it is shown and cites the items it uses, as a model
asked to "cite items by their [id]" would. Without it (and with OPENAI_API_KEY set) the agents
call the model they declare.
"""

from __future__ import annotations

import json
import re
from typing import Any

import tools  # this folder's tools.py

from agentplane import Agent, Workflow, tool
from agentplane.testing import ModelCall, Reply, call

lookup_order = tool(tools.lookup_order, effect="read")
request_refund = tool(tools.request_refund, effect="write", idempotent=True)

MODEL = "openai:gpt-4o-mini"
"""The model the agents are declared with; run.py answers every call with ``desk_model``."""

support = Agent(
    "support",
    model=MODEL,
    instructions="You answer customers of the shop. Use what you remember about the customer "
                 "and their past cases, cite it by [id], and answer in their language.",
    tools=[lookup_order, request_refund],
    memory={"recall": ["factual", "experiential"], "k": 5, "tools": True,
            "write": ["experiential", "procedural"], "subject": "$.customer_id"},
)

compliance = Agent(
    "compliance",
    model=MODEL,
    instructions="You check a support case against the desk's rules and its approved "
                 "procedures. Quote the rule text you rely on and cite it by [id].",
    knowledge={"k": 3, "budget_tokens": 1200, "modes": ["lexical", "graph"]},
    memory={"recall": ["procedural"], "k": 2},
)

flow = Workflow(
    "support-desk",
    steps=[support, compliance],
    description="Customer refunds with memory of past cases and policy checks.",
    knowledge={"ontology": "ontology.yaml"},  # graph retrieval: articles named in a question
    guardians={"policies": [{
        "id": "refund-limit", "version": 1, "tools": ["request_refund"],
        "description": "Refunds above 500 CNY need a supervisor (refund policy, article 3).",
        "arguments": {"amount_cny": {"max": 500}}, "decision": "require_approval"}]},
)

CITED = re.compile(r"\[((?:kb|mem):[^\]\s]+)\]")
"""A citation in an answer: ``[kb:…]`` or ``[mem:…]``."""


def _packet(call_: ModelCall) -> list[tuple[str, str, str]]:
    """The items of the context packet the call was shown: (id, header, text)."""
    items: list[tuple[str, str, str]] = []
    for message in call_.messages:
        if message.role != "system" or not (message.content or "").startswith("Context"):
            continue
        blocks = re.split(r"\n\n(?=\[)", message.content or "")
        for block in blocks[1:]:
            head, _, text = block.partition("\n")
            found = re.match(r"\[([^\]]+)\] \((.*)\)", head)
            if found:
                items.append((found[1], found[2], text.strip()))
    return items


def _case(call_: ModelCall) -> dict[str, Any]:
    task: dict[str, Any] = json.loads(call_.input)
    return task


def _first_line(text: str, limit: int = 160) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= limit else line[:limit] + "…"


def _why(text: str) -> str:
    """What a past case says about approvals (why one was asked), else its first line."""
    line = next((li for li in text.splitlines() if li.startswith("Approval")), None)
    return line or _first_line(text, 120)


def _rule_sentence(text: str) -> str:
    """The sentence of a rule to quote: the one about the 500 CNY limit, else its first."""
    body = " ".join(li for li in text.splitlines() if li.strip() and not li.startswith("#"))
    sentences = [x.strip() for x in re.split(r"(?<=[。.])\s*", body) if x.strip()]
    return next((x for x in sentences if "500" in x), sentences[0] if sentences else body)


def _support(call_: ModelCall) -> str | Reply:
    case = _case(call_)
    order, customer = case["order"], case["customer_id"]
    if call_.index == 0:
        return Reply(tool_calls=[
            call("lookup_order", order_id=order),
            call("remember", text=f"{customer} writes in Chinese", subject=customer,
                 relation="preferred_language", value="zh")])
    if call_.index == 1:
        return Reply(tool_calls=[call("request_refund", order_id=order,
                                      amount_cny=case["amount_cny"],
                                      reason="arrived damaged (photo attached)")])
    known = [(i, text) for i, head, text in _packet(call_) if i.startswith("mem:")]
    chinese = any("preferred_language: zh" in text or "writes in Chinese" in text
                  for _, text in known)
    lines = [f"Case {order} of {customer}: the item arrived damaged; refund of "
             f"{case['amount_cny']} CNY requested after lookup_order and request_refund "
             "(over 500 CNY, refund policy article 3: a supervisor approved it)."]
    if known:
        lines.append("What the desk remembered: " + "; ".join(
            f"[{i}] {_why(text)}" for i, text in known))
        lines.append("This is the customer's repeat damage claim: the earlier case is attached "
                     "for the supervisor.")
    reply = (f"您好！订单 {order} 的退款 {case['amount_cny']} 元已提交，主管已批准。"
             if chinese else f"Hello! The refund of {case['amount_cny']} CNY for order {order} "
                             "has been requested and approved.")
    lines.append(f"Reply to the customer: {reply}")
    return "\n".join(lines)


def _compliance(call_: ModelCall) -> str:
    items = _packet(call_)
    rules = [(i, text) for i, _, text in items if i.startswith("kb:")][:3]
    skills = [(i, text) for i, _, text in items if i.startswith("mem:")][:1]
    lines = ["Compliance check of the case above:"]
    for i, text in rules:
        lines.append(f"- rule [{i}]: «{_rule_sentence(text)}»")
    for i, text in skills:
        lines.append(f"- procedure [{i}]: the approved refund procedure "
                     f"({_first_line(text, 100)}) was followed.")
    if not rules:
        lines.append("- no rule was found for this case: ask the policy owner.")
    return "\n".join(lines)


def desk_model(call_: ModelCall) -> str | Reply:
    """The offline stand-in for the desk's model: see the module's docstring."""
    return _support(call_) if call_.agent == "support" else _compliance(call_)
