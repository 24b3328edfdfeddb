"""``remember`` and ``recall``: the memory tools of agents that declare ``memory: {tools: true}``.

Both are durable tool steps like any other (``tool.started`` / ``tool.completed``, replayed,
never run twice), on the run's tenant:

- ``remember`` writes a fact (``subject`` + ``relation`` + ``value``; a newer fact supersedes
  the older one) or a note. Effect ``write``, idempotent: the memory store's write key is
  ``run:<id>/<step>``, so a call repeated after a crash finds the memory it wrote. A
  ``memory.written`` event names the memory. **What is stored inherits the trust of where it
  came from**: once untrusted content is in the run, a remembered value that untrusted content
  gave (an identifier-like piece of the text that only untrusted content holds, text seen only
  there, a fact's value that traces to no trusted origin) is stored ``untrusted`` — so an
  injected "always pay account X" stays untrusted in every later run that recalls it.
- ``recall`` searches the tenant's memory (limited to the run's subject when the agent declares
  one). Its result keeps each memory's trust: ``{"trusted": [...], "untrusted": [...]}``, the
  second part recorded in the provenance ledger as untrusted content, like an untrusted tool's.

The guardians do not review these calls: a memory write is governed by the trust it inherits
(and by people, who review, quarantine and delete memories), not by the provenance guardian,
which would stop the write of exactly the untrusted note it is meant to label.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentplane.governance import ProvenanceLedger
from agentplane.journal import EventType
from agentplane.knowledge.types import TrustLevel
from agentplane.memory.types import Memory
from agentplane.models.base import ToolDefinition
from agentplane.tools import Effect, FieldTrust, Tool, ToolArgumentsError, ToolContext, Trust

from .context import RunContext
from .context_spec import MEMORY_TOOLS
from .contextual import context_layer, run_subject
from .governed import trace_result
from .spec import AgentSpec

REMEMBER, RECALL = MEMORY_TOOLS
RECALL_TRUST = FieldTrust(default=Trust.UNTRUSTED, trusted=("$.trusted",))
"""``recall``'s result: what is under ``trusted`` is a trusted origin, the rest is not."""

_REMEMBER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "text": {"type": "string", "description": "What to remember, as a sentence."},
        "subject": {"type": "string",
                    "description": "Whom or what it is about (a customer id, a supplier)."},
        "relation": {"type": "string",
                     "description": "For a fact: the attribute (iban, preferred_language)."},
        "value": {"type": "string", "description": "For a fact: the attribute's value."},
    },
    "required": ["text"], "additionalProperties": False}
_RECALL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "query": {"type": "string", "description": "What to look for."},
        "kind": {"type": "string", "enum": ["factual", "experiential", "procedural"]},
        "subject": {"type": "string", "description": "Only memories about this subject."},
    },
    "required": ["query"], "additionalProperties": False}


def memory_tool_definitions() -> list[ToolDefinition]:
    return [ToolDefinition(REMEMBER, "Remember a fact (subject, relation, value) or a note for "
                           "later runs of this organisation.", _REMEMBER_SCHEMA),
            ToolDefinition(RECALL, "Search what was remembered in earlier runs: facts, past "
                           "cases and skills.", _RECALL_SCHEMA)]


def has_memory_tools(agent: AgentSpec) -> bool:
    return agent.memory is not None and agent.memory.tools


def inherited_trust(ledger: ProvenanceLedger, arguments: Mapping[str, Any]
                    ) -> tuple[TrustLevel, str]:
    """The trust a memory written with ``arguments`` inherits from the run, and why. Mirrors
    the provenance guardian: identifier-like pieces of the text may not come from untrusted
    content, and a fact's value (it selects something, like a call's argument) must trace to a
    trusted origin."""
    if not ledger.untrusted_seen:
        return "trusted", "no untrusted content had entered the run"
    texts = {k: v for k, v in arguments.items() if k != "value" and isinstance(v, str)}
    for tainted in ledger.tainted(texts):
        return "untrusted", f"{tainted.value!r} in its {tainted.argument} came from " \
                            f"{tainted.source}"
    for name, text in texts.items():
        seen = ledger.seen_untrusted(text) if ledger.trace(text) is None else None
        if seen is not None:
            return "untrusted", f"its {name} is text from {seen}"
    value = arguments.get("value")
    if isinstance(value, str) and value.strip():
        for untraced in ledger.untraced({"value": value}):
            return "untrusted", f"its value {untraced.value!r} traces to no trusted origin " \
                                f"(seen in {untraced.source})"
    return "trusted", "what it holds traces to trusted origins"


def _check_remember(arguments: dict[str, Any]) -> None:
    _strings(REMEMBER, arguments, _REMEMBER_SCHEMA)
    if not str(arguments.get("text", "")).strip():
        raise ToolArgumentsError("remember: `text` is empty; say what to remember")
    if bool(arguments.get("relation")) != bool(arguments.get("value")):
        raise ToolArgumentsError("remember: a fact needs both `relation` and `value` (and a "
                                 "`subject`, unless the run is about one); a note needs neither")


def _check_recall(arguments: dict[str, Any]) -> None:
    _strings(RECALL, arguments, _RECALL_SCHEMA)
    kind = arguments.get("kind")
    if kind is not None and kind not in _RECALL_SCHEMA["properties"]["kind"]["enum"]:
        raise ToolArgumentsError(f"recall: unknown kind {kind!r}; use factual, experiential "
                                 "or procedural")


def _strings(tool: str, arguments: dict[str, Any], schema: dict[str, Any]) -> None:
    known = schema["properties"]
    for name, value in arguments.items():
        if name not in known:
            raise ToolArgumentsError(f"{tool}: unknown argument {name!r}; arguments: "
                                     f"{', '.join(known)}")
        if not isinstance(value, str):
            raise ToolArgumentsError(f"{tool}: `{name}` must be a string")
    for name in schema["required"]:
        if name not in arguments:
            raise ToolArgumentsError(f"{tool}: `{name}` is required")


def _remember_tool(ctx: RunContext, agent: AgentSpec) -> Tool:
    async def invoke(arguments: dict[str, Any], context: ToolContext) -> Any:
        store = context_layer(ctx).memory
        trust, why = inherited_trust(ctx.provenance, arguments)
        key = f"run:{context.run_id}/{context.step_key}"
        subject = arguments.get("subject") or run_subject(ctx, agent.memory)
        by = f"agent:{agent.name}"
        if arguments.get("relation") and not subject:
            raise ToolArgumentsError("remember: a fact needs a `subject` (this run is about "
                                     "nobody in particular)")
        if arguments.get("relation") and subject:
            memory = store.remember_fact(ctx.run.tenant, subject, arguments["relation"],
                                         arguments.get("value"), text=arguments["text"],
                                         source=key, trust=trust, created_by=by, key=key,
                                         meta={"trust_reason": why})
        else:  # a note: what the agent learnt, about the subject if there is one
            memory = store.write(Memory(id="", tenant=ctx.run.tenant, kind="experiential",
                                        text=arguments["text"], subject=subject, source=key,
                                        trust=trust, created_by=by,
                                        meta={"trust_reason": why}), key=key)
        return {"id": memory.id, "kind": memory.kind, "subject": memory.subject,
                "trust": memory.trust, "why": why}

    return Tool(REMEMBER, "", _REMEMBER_SCHEMA, invoke, effect=Effect.WRITE, idempotent=True,
                check=_check_remember)


def _recall_tool(ctx: RunContext, agent: AgentSpec) -> Tool:
    async def invoke(arguments: dict[str, Any], context: ToolContext) -> Any:
        memory = agent.memory
        store = context_layer(ctx).memory
        kind = arguments.get("kind")
        found = store.recall(ctx.run.tenant, arguments["query"],
                             kinds=[kind] if kind else None,
                             subject=arguments.get("subject") or run_subject(ctx, memory),
                             limit=memory.k if memory else 5)
        out: dict[str, list[dict[str, Any]]] = {"trusted": [], "untrusted": []}
        for m, score in found:
            out[m.trust].append({"id": m.id, "kind": m.kind, "text": m.text,
                                 "subject": m.subject, "relation": m.relation, "value": m.value,
                                 "source": m.source, "at": m.valid_from or m.created_at,
                                 "score": round(score, 4)})
        return out

    return Tool(RECALL, "", _RECALL_SCHEMA, invoke, effect=Effect.READ, trust=RECALL_TRUST,
                check=_check_recall)


async def memory_call(ctx: RunContext, agent: AgentSpec, key: str, name: str,
                      arguments: dict[str, Any]) -> tuple[bool, Any]:
    """Run ``remember`` or ``recall`` as the durable tool step ``key``."""
    tool = (_remember_tool if name == REMEMBER else _recall_tool)(ctx, agent)
    outcome = await ctx.tool_step(key, tool, arguments, agent.name)
    trace_result(ctx, key, tool, arguments, outcome.value)
    if outcome.ok and name == REMEMBER:
        await ctx.record_once(f"{key}/memory", EventType.MEMORY_WRITTEN, {
            "agent": agent.name, "memory": {**outcome.value, "text": arguments.get("text"),
                                            "source": f"run:{ctx.run_id}/{key}"}},
            actor=f"agent:{agent.name}")
    elif outcome.ok:
        await ctx.record_once(f"{key}/memory", EventType.MEMORY_RECALLED, {
            "agent": agent.name, "query": arguments.get("query"),
            "memories": [{"id": m["id"], "kind": m["kind"], "trust": trust}
                         for trust in ("trusted", "untrusted") for m in outcome.value[trust]]},
            actor=f"agent:{agent.name}")
    return outcome.ok, outcome.value
