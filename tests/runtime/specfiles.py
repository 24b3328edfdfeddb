"""Workflow files and helpers shared by the spec tests (``test_spec*.py``)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from agentplane.runtime import SpecError, SpecProblem, load_workflow
from agentplane.tools import ToolContext

TOOLS_PY = '''\
from __future__ import annotations

from agentplane.tools import ToolContext


def lookup(order_id: str, limit: int = 5, verbose: bool = False,
           context: ToolContext | None = None) -> dict[str, object]:
    """Look an order up.

    The rest of the docstring is not part of the description.
    """
    return {"order_id": order_id, "limit": limit, "verbose": verbose,
            "run_id": context.run_id if context else None}


def refund(order_id: str, amount: float, context: ToolContext) -> dict[str, object]:
    """Refund an order."""
    return {"order_id": order_id, "amount": amount, "key": context.idempotency_key}


def undo_refund(refund_id: str) -> str:
    """Reverse a refund."""
    return refund_id


async def fetch(url: str, tags: list[str] | None = None) -> dict[str, object]:
    """Fetch a page."""
    return {"url": url, "tags": tags}


class Opaque:
    pass


def opaque(thing: Opaque) -> str:
    return "?"
'''

FULL = """\
name: full-flow
version: 2
description: Every kind of thing a workflow file can declare.
providers:
  - name: local
    kind: openai
    base_url: http://127.0.0.1:9/v1
    api_key_env: LOCAL_KEY
    model: llama3
    timeout_s: 5
    max_retries: 1
    stream: true
tools:
  - name: lookup
    python: tools:lookup
    effect: read
  - name: refund
    python: tools:refund
    description: Refund money to the customer.
    effect: irreversible
    idempotent: true
    compensate: undo_refund
    trust: untrusted
  - name: undo_refund
    python: tools:undo_refund
  - name: fetch
    python: tools:fetch
    effect: read
agents:
  - name: clerk
    model: scripted
    description: Handles refunds.
    instructions: You handle refunds.
    tools: [lookup, refund, researcher]
    handoffs: [writer]
    max_turns: 5
    loop_limit: 4
    escalation_timeout_s: 30
    max_output_tokens: 200
    temperature: 0.2
    script:
      - content: Looking.
        tool_calls: [{name: lookup, arguments: {order_id: A1}}]
        usage: {input_tokens: 3, output_tokens: 2}
      - content: Done.
  - name: researcher
    model: openai:gpt-4o-mini
    tools: [fetch]
  - name: writer
    model: local
  - name: lead
    model: local:llama3.1
steps:
  - agent: clerk
    input: "Please: {input}"
  - parallel:
      - agent: researcher
      - parallel:
          - agent: writer
  - supervisor: lead
    workers: [researcher, writer]
    max_assignments: 3
"""

MINIMAL = """\
name: tiny
agents:
  - name: a
    script: [{content: hi}]
steps:
  - agent: a
"""



def write(folder: Path, text: str, *, tools: str | None = TOOLS_PY,
          name: str = "workflow.yaml") -> Path:
    if tools is not None:
        (folder / "tools.py").write_text(tools, encoding="utf-8")
    path = folder / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(path: Path) -> list[SpecProblem]:
    with pytest.raises(SpecError) as info:
        load_workflow(path)
    assert info.value.source == str(path)
    return info.value.problems


def only_problem(path: Path) -> SpecProblem:
    problems = problems_of(path)
    assert len(problems) == 1, problems
    return problems[0]


def context(tool: str = "lookup") -> ToolContext:
    return ToolContext(run_id="run-1", step_key="s0/a/m1/t0", idempotency_key="idem-1",
                       agent="a", tool=tool, attempt=1)



def problems_error(path: Path) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_workflow(path)
    return info.value

def listed(message: str) -> set[str]:
    """The names a message lists after ``declared ...s: ``."""
    return set(message.rpartition("s: ")[2].split(", "))

def valid_dict() -> dict[str, Any]:
    return {"name": "py-flow",
            "tools": [{"name": "lookup", "python": "tools:lookup", "effect": "read"}],
            "agents": [{"name": "a", "tools": ["lookup"], "script": [{"content": "x"}]}],
            "steps": [{"agent": "a"}]}


DESK_ONTOLOGY = """\
name: desk
entity_types:
  Customer: {aliases: [client]}
relation_types: {}
"""
"""A one-type ontology (an entity type with an alias) for the context tests."""
