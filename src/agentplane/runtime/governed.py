"""Governance in the runtime: every proposed tool call passes the guardians and the autonomy
level before it may run, whatever the model says.

The guardians' findings are journaled (``guard.decided``, one event per finding, with policy id,
version, result and reason) before anything else happens, and replayed, not re-decided, after a
crash. A call that needs a person waits durably for an approval (``approval.requested``), with
what is proposed and why: the arguments, the agent's reasoning and the guardians' findings.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from typing import Any

from agentplane.governance import (
    Finding,
    Proposal,
    RuleGuardians,
    RunStats,
    Verdict,
    combine,
    guardian_agent_prompt,
    needs_approval,
    notifies,
    output_check,
    parse_guardian_reply,
)
from agentplane.governance.normalise import value_text
from agentplane.governance.requested import kind_of, requested_kinds
from agentplane.journal import EventType, NewEvent
from agentplane.models.base import Message, ModelRequest
from agentplane.tools import Tool

from .context import RunContext, RunFailure

NOTIFIED = EventType.NOTIFICATION


def _stats(ctx: RunContext) -> RunStats:
    started = ctx.run.created_at.replace("Z", "+00:00")
    return RunStats(calls=ctx.calls, tokens=ctx.tokens,
                    started_at=datetime.fromisoformat(started).timestamp(), now=time.time())


async def _guardian_agent(ctx: RunContext, key: str, proposal: Proposal,
                          findings: list[Finding]) -> Finding | None:
    spec = ctx.workflow.spec.guardians
    guard = spec.agent
    if guard is None or not spec.enabled or proposal.effect not in guard.reviews:
        return None
    request = ModelRequest(model=guard.model, agent=guard.name, messages=[
        Message("system", guard.instructions),
        Message("user", guardian_agent_prompt(proposal, findings))])
    response = await ctx.model_step(f"{key}/guardian", guard.model, request)
    return parse_guardian_reply(guard.name, response.content or "")


async def findings_for(ctx: RunContext, key: str, proposal: Proposal
                       ) -> tuple[list[Finding], list[NewEvent]]:
    """The guardians' findings on a proposed call, and the ``guard.decided`` events still to
    journal (none when they were journaled before: then they are replayed, not re-decided).

    The caller journals the events in the same transaction as whatever follows (the call's
    start, an approval request, a refusal): a decision is on record before anything it allowed
    can happen, at the cost of one commit for both."""
    recorded: list[Finding] = []
    while (event := ctx.recorded(f"{key}/guard.{len(recorded)}", EventType.GUARD_DECIDED)):
        recorded.append(Finding.from_dict(dict(event.data)))
    spec = ctx.workflow.spec.guardians
    findings = recorded or (RuleGuardians(spec).review(proposal, _stats(ctx), ctx.provenance)
                            if spec.enabled else [])
    # The guardian agent's model call is a durable step of its own; on replay it returns the
    # journaled answer (and keeps the scripted model's place).
    agent_finding = await _guardian_agent(ctx, key, proposal, findings)
    if recorded:
        return recorded, []
    if agent_finding is not None:
        findings.append(agent_finding)
    if not spec.enabled:
        return [], []  # guardians are off: nobody decided, so nothing is journaled
    if not findings:
        findings = [Finding("guardians", "default", 1, Verdict.ALLOW, "no guardian objected")]
    return findings, [NewEvent(EventType.GUARD_DECIDED, "system", f"{key}/guard.{i}",
                               {**f.to_dict(), "tool": proposal.tool, "agent": proposal.agent,
                                "call": key})
                      for i, f in enumerate(findings)]


def propose(ctx: RunContext, agent: str, tool: Tool, arguments: dict[str, Any],
            reasoning: str) -> Proposal:
    """A proposed call with what the guardians need of the tool's declaration."""
    return Proposal(agent, tool.name, tool.effect, tool.external, arguments, reasoning,
                    composed=None if tool.composed is None else frozenset(tool.composed),
                    destinations=(None if tool.destination is None
                                  else frozenset(tool.destination)),
                    schema=tool.parameters,
                    autonomy=ctx.workflow.spec.autonomy_for(agent, tool.name))


def trace_result(ctx: RunContext, key: str, tool: Tool, arguments: dict[str, Any],
                 value: Any) -> None:
    """Record a call's result in the run's provenance under the tool's trust declaration
    (replayed in the same order after a crash, so the ledger is rebuilt the same)."""
    ctx.provenance.record_result(tool.name, arguments, value, tool.result_trust,
                                 source=f"{tool.name} at {key}")


async def review_call(ctx: RunContext, key: str, proposal: Proposal, tool: Tool
                      ) -> tuple[str | None, list[NewEvent]]:
    """Whether a proposed call may run: ``(None, events)`` if so — the events to journal with
    the call's start —, else ``(what to tell the agent, [])``."""
    findings, pending = await findings_for(ctx, key, proposal)
    refusal, pending = await _decide(ctx, key, proposal, tool, findings, pending)
    if refusal is not None and pending:
        await ctx.append(*pending)
        pending = []
    return refusal, pending


async def _decide(ctx: RunContext, key: str, proposal: Proposal, tool: Tool,
                  findings: list[Finding], pending: list[NewEvent]
                  ) -> tuple[str | None, list[NewEvent]]:
    verdict = combine(findings)
    objections = [f for f in findings if f.verdict is not Verdict.ALLOW]
    if verdict is Verdict.DENY:
        reasons = "; ".join(f.reason for f in objections if f.verdict is Verdict.DENY)
        return (f"refused by the guardians, so the call did not run (go on without it, or "
                f"tell the user what is missing): {reasons}"), pending
    level = ctx.workflow.spec.autonomy_for(proposal.agent, proposal.tool)
    if verdict is Verdict.REQUIRE_APPROVAL or needs_approval(level, tool.effect):
        why = ("; ".join(f.reason for f in objections) if objections else
               f"autonomy {level.value}: {tool.effect.value} calls wait for a person")
        timeout = ctx.workflow.spec.approval_timeout_s
        resolution = await ctx.wait(
            f"{key}/approval", kind="tool_call", actor=f"agent:{proposal.agent}",
            journal_first=pending,
            deadline=None if timeout is None else time.time() + timeout,
            data={"agent": proposal.agent, "tool": proposal.tool, "effect": tool.effect.value,
                  "arguments": proposal.arguments, "reasoning": proposal.reasoning,
                  "autonomy": level.value, "reason": why,
                  "findings": [f.to_dict() for f in objections]})
        if resolution["type"] != EventType.APPROVAL_GRANTED:
            who = resolution.get("actor", "system")
            said = resolution.get("reason") or resolution["type"]
            return f"not approved ({resolution['type']} by {who}): {said}", []
        return None, []
    if notifies(level, tool.effect) and ctx.recorded(f"{key}/notify", NOTIFIED) is None:
        pending = [*pending, NewEvent(NOTIFIED, "system", f"{key}/notify", {
            "agent": proposal.agent, "tool": proposal.tool, "arguments": proposal.arguments,
            "autonomy": level.value,
            "reason": "on the loop: the call runs; a person may halt the run or reverse it"})]
    return None, pending


def _redact_value(ctx: RunContext, value: Any) -> tuple[Any, list[Finding]]:
    spec = ctx.workflow.spec.guardians
    if isinstance(value, str):
        return output_check(spec, value)
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        findings: list[Finding] = []
        for k, v in value.items():
            out[k], found = _redact_value(ctx, v)
            findings += found
        return out, findings
    return value, []


WITHHELD = "[withheld: from untrusted content]"


def withhold_values(value: Any, values: list[str]) -> Any:
    """``value`` with every occurrence of ``values`` (any case) replaced by ``WITHHELD``: one
    pass, longest first, so a value is never found again inside a replacement."""
    pattern = re.compile("|".join(re.escape(v) for v in sorted(values, key=len, reverse=True)),
                         re.IGNORECASE)
    return _withhold(value, pattern)


def _withhold(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(WITHHELD, value)
    if isinstance(value, dict):
        return {k: _withhold(v, pattern) for k, v in value.items()}
    if isinstance(value, list):
        return [_withhold(v, pattern) for v in value]
    return value


async def review_output(ctx: RunContext, output: Any) -> tuple[Any, list[dict[str, str]]]:
    """The run's final output, with secrets redacted before it leaves (decision journaled),
    and the values in it that trace only to untrusted content (``untrusted_values`` of the
    ``run.completed`` event). With ``provenance.review_untrusted_answers`` such an answer waits
    for a person; a person who rejects it fails the run."""
    redacted, findings = _redact_value(ctx, output)
    for i, f in enumerate(findings):
        await ctx.record_once(f"output/guard.{i}", EventType.GUARD_DECIDED,
                              {**f.to_dict(), "call": "output"})
    spec = ctx.workflow.spec.guardians
    if not (spec.enabled and spec.provenance.enabled):
        return redacted, []
    text = redacted if isinstance(redacted, str) else json.dumps(redacted, ensure_ascii=False)
    marks = [{"value": t.value, "source": t.source}
             for t in ctx.provenance.answer_values(text)]
    if not marks:
        return redacted, []
    review = spec.provenance.review_untrusted_answers
    withhold = spec.provenance.withhold_untrusted_answers and not review
    # values of a kind the request asks for ("what is my security code?") are kept
    asked = requested_kinds(value_text(ctx.run.input)) if withhold else frozenset()
    withheld = [m["value"] for m in marks if withhold and kind_of(m["value"]) not in asked]
    listed = "; ".join(f"{m['value']!r} from {m['source']}" for m in marks[:5])
    verdict = (Verdict.REQUIRE_APPROVAL if review else Verdict.REDACT if withheld
               else Verdict.ALLOW)
    kept = len(marks) - len(withheld) if withhold else 0
    note = ("; they were withheld" if withheld else "") + (
        f"; {kept} kept: the request asks for values of their kind" if kept else "")
    finding = Finding("provenance", "untrusted-answer", 1, verdict,
                      f"the answer holds values that trace only to untrusted content: {listed}"
                      + note, {"untrusted_values": marks})
    if withheld:
        redacted = withhold_values(redacted, withheld)
    await ctx.record_once("output/provenance", EventType.GUARD_DECIDED,
                          {**finding.to_dict(), "call": "output"})
    if review:
        resolution = await ctx.wait(
            "output/review", kind="answer_review", actor="system",
            data={"output": redacted, "untrusted_values": marks, "reason": finding.reason})
        if resolution["type"] != EventType.APPROVAL_GRANTED:
            said = resolution.get("reason") or resolution["type"]
            raise RunFailure(f"the answer was not accepted ({resolution['type']} by "
                             f"{resolution.get('actor', 'system')}): {said}")
    return redacted, marks
