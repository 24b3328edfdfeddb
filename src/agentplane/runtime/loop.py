"""The agent loop: model → tool calls → observations → model, until the agent answers.

Guard rails the runtime enforces whatever the model says: a turn limit and loop detection (the
same call with the same arguments repeated) both escalate to a person instead of spinning; tool
calls of one turn run in parallel, each a durable step.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from agentplane.journal import EventType, canonical_json, sha256_hex
from agentplane.models.base import Message, ModelRequest, ModelResponse, ToolCall, ToolDefinition
from agentplane.tools import Tool

from .budgeted import before_tool_call, release
from .context import RunContext, RunFailure, gather_steps
from .context_spec import MEMORY_TOOLS
from .contextual import task_context, turn_context
from .governed import propose, review_call, trace_result
from .grounding import tool_citation, verify_guidance
from .memory_tools import has_memory_tools, memory_call, memory_tool_definitions
from .routed import call_model
from .spec import AgentSpec, WorkflowSpec
from .tool_choice import offered_tools
from .verify_spec import VerifySpec

HANDOFF_PREFIX = "transfer_to_"
ASSIGN_TOOL = "assign_task"
MAX_HANDOFFS = 10


@dataclass(slots=True)
class AgentResult:
    """What an agent invocation produced."""

    agent: str
    """The agent that gave the final answer (after any hand-offs)."""
    output: str
    key: str = ""
    """Step key of the invocation that answered (its context packets are journaled under it)."""
    messages: list[Message] = field(default_factory=list)
    """Its conversation, ending with the answer: what a repair continues and what grounding
    checks citations against."""
    model: str | None = None
    """The model it answered on (an ensemble's candidate may not be on the agent's own)."""


AssignmentCheck = Callable[["RunContext", str, str, "AgentResult", list[str]],
                           Awaitable[tuple[bool, Any]]]
"""Checks a worker's result before the supervisor sees it: ``(ctx, task, key, result,
workers)`` → the assign tool's outcome (``runtime.verify.checked_assignment``)."""


@dataclass(slots=True)
class Supervision:
    """Extra powers of a supervisor agent: assign tasks to workers and check their results."""

    workers: list[str]
    max_assignments: int
    assigned: int = 0
    checks: VerifySpec | None = None
    """The ``verify:`` section workers' results must pass (workers are told about it)."""
    check: AssignmentCheck | None = None


@dataclass(slots=True)
class _Turn:
    """State of one agent invocation."""

    spec: AgentSpec
    key: str
    messages: list[Message]
    supervision: Supervision | None = None
    task: str = ""
    seen: Counter[str] | None = None
    """Tool calls made so far, by name and arguments (made at the first call)."""
    turn_limit: int = 0
    reasoning: str = ""
    """What the agent said in the current turn (shown to guardians and approvers)."""
    checks: VerifySpec | None = None
    """The checks the agent's answer must pass (grounding labels tool results with ids)."""
    definitions: list[ToolDefinition] | None = None
    """Every tool the agent may call in this invocation (made at its first model call: they do
    not change between its turns)."""


_IDENTITIES: dict[int, tuple[AgentSpec, str]] = {}
"""The digest of each agent spec seen (by identity, with the spec itself so the identity
cannot be reused): a run journals its agents' identities at every invocation, and a spec is
frozen, so its digest is computed once per process, not once per invocation. Bounded."""


def agent_identity(workflow: WorkflowSpec, agent: AgentSpec) -> dict[str, str]:
    """An agent's identity in the journal: its name in the workflow, and a digest of exactly
    what it is (model, instructions, tools), so a changed agent is a different identity."""
    known = _IDENTITIES.get(id(agent))
    if known is None or known[0] is not agent:
        if len(_IDENTITIES) >= 1_024:
            _IDENTITIES.clear()
        digest = sha256_hex(canonical_json(agent.model_dump(mode="json")))[:16]
        known = _IDENTITIES[id(agent)] = (agent, digest)
    return {"id": f"agent:{workflow.name}/{agent.name}", "version": known[1]}


def _tool_definitions(ctx: RunContext, turn: _Turn) -> list[ToolDefinition]:
    if turn.definitions is not None:
        return turn.definitions
    defs: list[ToolDefinition] = []
    for name in turn.spec.tools:
        tool = ctx.workflow.tools.get(name)
        if tool is not None:
            defs.append(tool.definition())
        else:
            target = ctx.workflow.agent(name)
            defs.append(ToolDefinition(
                name, (target.description if target else None) or f"Ask agent {name} to do a task.",
                {"type": "object", "properties": {"task": {"type": "string"}},
                 "required": ["task"], "additionalProperties": False},
            ))
    for name in turn.spec.handoffs:
        target = ctx.workflow.agent(name)
        defs.append(ToolDefinition(
            HANDOFF_PREFIX + name,
            f"Hand the conversation over to {name}"
            + (f": {target.description}" if target and target.description else "."),
            {"type": "object", "properties": {"reason": {"type": "string"}},
             "additionalProperties": False},
        ))
    if turn.supervision is not None:
        defs.append(ToolDefinition(
            ASSIGN_TOOL,
            "Assign a task to a worker agent and get its result back to check.",
            {"type": "object",
             "properties": {"worker": {"type": "string", "enum": turn.supervision.workers},
                            "task": {"type": "string"}},
             "required": ["worker", "task"], "additionalProperties": False},
        ))
    if has_memory_tools(turn.spec):
        defs += memory_tool_definitions()
    turn.definitions = defs
    return defs


async def _offered(ctx: RunContext, turn: _Turn, step: str) -> list[ToolDefinition]:
    """The tool definitions of this model call: with ``max_tools``, the chosen few of the
    agent's declared tools (``tool_choice``) and every control tool."""
    if turn.spec.max_tools is None:  # no limit: every one, as ``offered_tools`` would give
        return _tool_definitions(ctx, turn)
    return await offered_tools(ctx, turn.spec.name, turn.spec.max_tools,
                               _tool_definitions(ctx, turn), set(turn.spec.tools), turn.task,
                               turn.messages, step)


def _observation(ok: bool, value: Any) -> str:
    if not ok:
        return f"error: {value}"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


async def _escalate(ctx: RunContext, turn: _Turn, step_key: str, reason: str,
                    details: dict[str, Any]) -> None:
    """Wait for a person: approve lets the agent go on, deny fails the run."""
    timeout = turn.spec.escalation_timeout_s
    resolution = await ctx.wait(
        step_key, kind="escalation",
        data={"agent": turn.spec.name, "reason": reason, **details},
        deadline=None if timeout is None else time.time() + timeout,
        actor=f"agent:{turn.spec.name}",
    )
    if resolution["type"] != EventType.APPROVAL_GRANTED:
        why = resolution.get("reason") or resolution["type"]
        raise RunFailure(f"agent {turn.spec.name} was stuck ({reason}) and a person stopped it: "
                         f"{why}")


async def _call_one(ctx: RunContext, turn: _Turn, key: str, call: ToolCall) -> tuple[bool, Any]:
    if call.error is not None:
        await ctx.refuse(key, call.name, turn.spec.name, call.arguments, "tool-arguments",
                         call.error)
        return False, f"{call.error}; send the arguments as a JSON object"
    tool = ctx.workflow.tools.get(call.name)
    if tool is not None and call.name in turn.spec.tools:
        return await _governed_call(ctx, turn, key, tool, call.arguments)
    if call.name in turn.spec.tools and ctx.workflow.agent(call.name) is not None:
        task = str(call.arguments.get("task", ""))
        result = await run_agent(ctx, call.name, task, f"{key}/{call.name}")
        return True, result.output
    if turn.supervision is not None and call.name == ASSIGN_TOOL:
        return await _assign(ctx, turn, key, call)
    if has_memory_tools(turn.spec) and call.name in MEMORY_TOOLS:
        return await memory_call(ctx, turn.spec, key, call.name, call.arguments)
    offered = ", ".join(d.name for d in _tool_definitions(ctx, turn))
    await ctx.refuse(key, call.name, turn.spec.name, call.arguments, "offered-tools",
                     f"agent {turn.spec.name} was not offered a tool {call.name!r}")
    return False, f"unknown tool {call.name!r}; available: {offered}"


async def _governed_call(ctx: RunContext, turn: _Turn, key: str, tool: Tool,
                         arguments: dict[str, Any]) -> tuple[bool, Any]:
    """A tool call as a durable step: reviewed by the guardians (and a person, when the
    autonomy level says so), budgeted, journaled, and its result traced for provenance."""
    proposal = propose(ctx, turn.spec.name, tool, arguments, turn.reasoning)
    refusal, decided = await review_call(ctx, key, proposal, tool)
    if refusal is not None:
        return False, refusal
    held = await before_tool_call(ctx, key, turn.spec.name, tool.cost_usd)
    try:
        outcome = await ctx.tool_step(key, tool, arguments, turn.spec.name,
                                      journal_first=decided)
    finally:
        release(ctx, held)
    trace_result(ctx, key, tool, arguments, outcome.value)
    return outcome.ok, outcome.value


async def _assign(ctx: RunContext, turn: _Turn, key: str, call: ToolCall) -> tuple[bool, Any]:
    sup = turn.supervision
    assert sup is not None
    worker = str(call.arguments.get("worker", ""))
    task = str(call.arguments.get("task", ""))
    if worker not in sup.workers:
        await ctx.refuse(key, ASSIGN_TOOL, turn.spec.name, call.arguments, "offered-tools",
                         f"supervisor {turn.spec.name} has no worker {worker!r}")
        return False, f"unknown worker {worker!r}; workers: {', '.join(sup.workers)}"
    sup.assigned += 1
    if sup.assigned > sup.max_assignments:
        await _escalate(ctx, turn, f"{key}/limit", "too many assignments",
                        {"assigned": sup.assigned - 1, "limit": sup.max_assignments})
        sup.max_assignments += sup.max_assignments
    await ctx.record_once(f"{key}/{worker}", EventType.HANDOFF,
                          {"from": turn.spec.name, "to": worker, "mode": "assign", "task": task},
                          actor=f"agent:{turn.spec.name}")
    remote = ctx.workflow.tools.get(worker)
    if worker in ctx.workflow.spec.remote_tool_names() and remote is not None:
        # A remote A2A agent as a worker: its task is a governed, durable tool step.
        return await _governed_call(ctx, turn, f"{key}/{worker}", remote, {"message": task})
    result = await run_agent(ctx, worker, task, f"{key}/{worker}", checks=sup.checks)
    if sup.check is not None:
        return await sup.check(ctx, task, f"{key}/{worker}", result, sup.workers)
    return True, result.output


async def _run_calls(ctx: RunContext, turn: _Turn, key: str,
                     calls: list[ToolCall]) -> list[tuple[bool, Any]]:
    """Run one turn's tool calls in parallel, each a durable step."""
    return await gather_steps(*(_call_one(ctx, turn, f"{key}/t{i}", c)
                                for i, c in enumerate(calls)))


async def _check_loops(ctx: RunContext, turn: _Turn, key: str, calls: list[ToolCall]) -> None:
    seen = turn.seen
    if seen is None:
        seen = turn.seen = Counter()
    for call in calls:
        signature = call.name + canonical_json(call.arguments)
        seen[signature] += 1
        if seen[signature] >= turn.spec.loop_limit:
            await _escalate(ctx, turn, f"{key}/loop", "the same call repeated",
                            {"tool": call.name, "arguments": call.arguments,
                             "times": seen[signature]})
            seen[signature] = 0


async def run_agent(ctx: RunContext, name: str, task: str, key: str,
                    *, supervision: Supervision | None = None,
                    history: list[Message] | None = None, handoffs: int = 0,
                    checks: VerifySpec | None = None, model: str | None = None) -> AgentResult:
    """Invoke agent ``name`` on ``task``; ``key`` makes every step of it unique in the run.

    ``checks``: the ``verify:`` section its answer must pass (the agent is told). ``model``:
    another model than the agent's own (an ensemble's candidate)."""
    spec = ctx.workflow.agent(name)
    if spec is None:
        raise RunFailure(f"workflow {ctx.workflow.spec.name} has no agent {name!r}")
    if model is not None:
        spec = spec.model_copy(update={"model": model})
    await ctx.record_once(key, EventType.AGENT_INVOKED,
                          {"agent": name, "task": task, "model": spec.model,
                           "identity": agent_identity(ctx.workflow.spec, spec)},
                          actor=f"agent:{name}", with_next=True)
    instructions = spec.instructions
    if supervision is not None:
        instructions += (
            f"\n\nYou supervise the workers {', '.join(supervision.workers)}. Plan the work, "
            f"give each task to a worker with {ASSIGN_TOOL}, check every result, assign again "
            "if it is not good enough, and answer with the final result when all is done."
        )
    instructions += verify_guidance(checks)
    messages = [Message("system", instructions)] if instructions else []
    context = await task_context(ctx, spec, task, key)  # what is known about the task
    if context is not None:
        messages.append(context)
    messages += history if history is not None else [Message("user", task)]
    turn = _Turn(spec, key, messages, supervision, task, turn_limit=spec.max_turns,
                 checks=checks)
    number = 0
    while True:
        number += 1
        step = f"{key}/m{number}"
        if number > turn.turn_limit:
            await _escalate(ctx, turn, f"{step}/limit", "turn limit reached",
                            {"turns": number - 1})
            turn.turn_limit += spec.max_turns
        extra = await turn_context(ctx, spec, turn.messages, step) if number > 1 else None
        request = ModelRequest(model=spec.model,
                               messages=[*turn.messages, *([extra] if extra else [])],
                               tools=await _offered(ctx, turn, step), agent=name,
                               max_output_tokens=spec.max_output_tokens,
                               temperature=spec.temperature)
        response = await call_model(ctx, step, name, spec.model, request)
        turn.reasoning = response.content or ""
        turn.messages.append(Message("assistant", response.content, list(response.tool_calls)))
        if not response.tool_calls:
            output = response.content or ""
            await ctx.record_once(key, EventType.AGENT_COMPLETED, {"agent": name, "output": output},
                                  actor=f"agent:{name}", with_next=True)
            return AgentResult(name, output, key, turn.messages, spec.model)
        handoff = _handoff_target(spec, response)
        if handoff is not None:
            return await _hand_off(ctx, turn, step, handoff, handoffs)
        await _check_loops(ctx, turn, step, response.tool_calls)
        results = await _run_calls(ctx, turn, step, response.tool_calls)
        cite = checks is not None and checks.grounding
        for call, (ok, value) in zip(response.tool_calls, results, strict=True):
            seen = _observation(ok, value)
            turn.messages.append(Message("tool", f"{tool_citation(call.id)} {seen}" if cite
                                         else seen, tool_call_id=call.id, name=call.name))


def _handoff_target(spec: AgentSpec, response: ModelResponse) -> tuple[str, ToolCall] | None:
    for call in response.tool_calls:
        target = call.name.removeprefix(HANDOFF_PREFIX)
        if call.name.startswith(HANDOFF_PREFIX) and target in spec.handoffs:
            return target, call
    return None


async def _hand_off(ctx: RunContext, turn: _Turn, step: str, handoff: tuple[str, ToolCall],
                    count: int) -> AgentResult:
    target, call = handoff
    if count >= MAX_HANDOFFS:
        raise RunFailure(f"more than {MAX_HANDOFFS} hand-offs in a row, ending at "
                         f"{turn.spec.name} → {target}")
    await ctx.record_once(f"{step}/handoff", EventType.HANDOFF,
                          {"from": turn.spec.name, "to": target, "mode": "handoff",
                           "reason": call.arguments.get("reason", "")},
                          actor=f"agent:{turn.spec.name}")
    history = [m for m in turn.messages if m.role != "system"]
    # Every call of the turn gets an answer, as the chat APIs require.
    last = turn.messages[-1].tool_calls
    history += [Message("tool", f"transferred to {target}" if c is call
                        else f"not run: the conversation was handed to {target}",
                        tool_call_id=c.id, name=c.name) for c in last]
    task = next((m.content or "" for m in history if m.role == "user"), "")
    return await run_agent(ctx, target, task, f"{step}/{target}", history=history,
                           handoffs=count + 1, checks=turn.checks)
