"""Verification of results: an agent's answer passes its ``verify:`` checks before it goes on.

On an agent step the answer is checked before the next step gets it; under a supervisor every
worker's result is checked before the supervisor sees it (``checked_assignment``). The checks
(``verify_checks``): JSON Schema, grounding, rules, and — only when those pass — a judge model
with a rubric. When an answer fails, the declared ``on_failure`` acts:

* ``repair`` — the findings go back to the agent as a message in its own conversation, and it
  answers again, up to ``max_repairs`` times;
* ``reassign`` — a supervisor's task goes to each other worker in turn (on an agent step, with
  nobody to reassign to, it repairs);
* ``escalate`` — a person decides, in the approvals inbox, as for any escalation: approve lets
  the answer go on as it is, deny fails the run.

When repairs or workers run out, the answer is escalated. Each check is journaled as one
``verify.checked`` event (findings, and the action taken); a replayed run reads the verdict
from the journal and takes the same action, never checking or asking the judge again (the
judge's call is a model step, journaled like any other).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from agentplane.journal import EventType
from agentplane.models.base import Message, ModelRequest

from .budgeted import before_model_call, release
from .context import RunContext, RunFailure
from .contextual import journaled_once
from .grounding import sources_seen
from .loop import AgentResult, run_agent
from .verify_checks import JUDGE_INSTRUCTIONS, answer_findings, judge_prompt, judge_verdict
from .verify_spec import VerifySpec

ESCALATION_REASON = "the answer failed verification"


def judge_agent(agent: str) -> str:
    """The name a judge's model calls go under (metered, and the scripted model's script):
    ``<agent>-judge``."""
    return f"{agent}-judge"


async def _judge(ctx: RunContext, spec: VerifySpec, agent: str, task: str, answer: str,
                 step: str) -> tuple[bool, str]:
    """Ask the judge model (a durable model step at ``<step>/judge``)."""
    judge = spec.judge
    assert judge is not None
    name = judge_agent(agent)
    request = ModelRequest(model=judge.model, agent=name, messages=[
        Message("system", JUDGE_INSTRUCTIONS),
        Message("user", judge_prompt(judge.rubric, task, answer))])
    key = f"{step}/judge"
    held = await before_model_call(ctx, key, name, judge.model, request)
    try:
        response = await ctx.model_step(key, judge.model, request)
    finally:
        release(ctx, held)
    return judge_verdict(response.content or "")


async def _verdict(ctx: RunContext, spec: VerifySpec, result: AgentResult, task: str,
                   sources: Mapping[str, str], step: str, attempt: int,
                   next_action: str) -> Mapping[str, Any]:
    """The journaled ``verify.checked`` data of one check of ``result`` (read back on
    replay; the judge's step is replayed too, so later model calls keep their order)."""
    done = ctx.recorded(step, EventType.VERIFY_CHECKED)
    if done is not None:
        if done.data.get("judged"):
            await _judge(ctx, spec, result.agent, task, result.output, step)
        return done.data

    async def make() -> dict[str, Any]:
        findings = [f.to_dict() for f in answer_findings(spec, result.output, task, sources)]
        judged = False
        if not findings and spec.judge is not None:
            judged = True
            passed, reason = await _judge(ctx, spec, result.agent, task, result.output, step)
            if not passed:
                findings.append({"check": "judge", "message": reason or "the judge failed it"})
        action = "pass" if not findings else next_action
        reason = (f"passed {', '.join(_declared(spec))}" if not findings else
                  f"{action}: " + "; ".join(f"{f['check']}: {f['message']}" for f in findings))
        return {"agent": result.agent, "attempt": attempt, "passed": not findings,
                "findings": findings, "judged": judged, "action": action, "reason": reason,
                "checks": _declared(spec), "sources": sorted(sources)}

    return await journaled_once(ctx, step, EventType.VERIFY_CHECKED, "system", make)


def _declared(spec: VerifySpec) -> list[str]:
    return [name for name, on in (("schema", spec.schema_ is not None),
                                  ("grounding", spec.grounding), ("rules", bool(spec.rules)),
                                  ("judge", spec.judge is not None)) if on]


def repair_message(findings: list[Mapping[str, Any]]) -> str:
    """What an agent is told when its answer failed: every finding, and what to do."""
    lines = "\n".join(f"- {f['check']}: {f['message']}" for f in findings)
    return ("Your answer did not pass verification:\n" + lines
            + "\nAnswer again, correcting every point (cite the source of each figure).")


async def _escalate(ctx: RunContext, step: str, result: AgentResult,
                    findings: list[Mapping[str, Any]]) -> None:
    """A person decides: approve lets the answer go on, deny (or expiry) fails the run."""
    spec = ctx.workflow.spec.agent(result.agent)
    timeout = spec.escalation_timeout_s if spec is not None else None
    resolution = await ctx.wait(
        f"{step}/escalate", kind="escalation",
        data={"agent": result.agent, "reason": ESCALATION_REASON,
              "findings": [dict(f) for f in findings], "answer": result.output[:4000]},
        deadline=None if timeout is None else time.time() + timeout, actor="system")
    if resolution["type"] != EventType.APPROVAL_GRANTED:
        why = resolution.get("reason") or resolution["type"]
        raise RunFailure(f"the answer of agent {result.agent} failed verification and a "
                         f"person stopped the run: {why}")


async def verify_answer(ctx: RunContext, spec: VerifySpec, result: AgentResult, task: str,
                        key: str, *, workers: list[str] | None = None) -> AgentResult:
    """The answer that passed (or that a person let through): ``result``, a repaired one, or
    another worker's. ``workers``: whom a supervisor's task may be reassigned to."""
    current, sources = result, sources_seen(ctx, result.key, result.messages)
    # Remote A2A workers answer through a tool, with no conversation to check or repair.
    others = [w for w in (workers or []) if w != result.agent
              and ctx.workflow.spec.agent(w) is not None]
    repairs = reassigned = 0
    attempt = 0
    while True:
        if spec.on_failure == "reassign" and others:
            action = f"reassign:{others[reassigned]}" if reassigned < len(others) else "escalate"
        elif spec.on_failure == "escalate":
            action = "escalate"
        else:
            action = "repair" if repairs < spec.max_repairs else "escalate"
        step = f"{key}/verify{attempt}"
        verdict = await _verdict(ctx, spec, current, task, sources, step, attempt, action)
        action = str(verdict["action"])
        findings: list[Mapping[str, Any]] = list(verdict["findings"])
        if action == "pass":
            return current
        attempt += 1
        if action == "repair":
            repairs += 1
            history = [m for m in current.messages if m.role != "system"]
            current = await run_agent(ctx, current.agent, task, f"{key}/repair{repairs}",
                                      history=[*history, Message("user",
                                                                 repair_message(findings))],
                                      checks=spec, model=current.model)
            sources = {**sources, **sources_seen(ctx, current.key, current.messages)}
        elif action.startswith("reassign:"):
            worker = action.removeprefix("reassign:")
            reassigned += 1
            await ctx.record_once(f"{key}/reassign{reassigned}", EventType.HANDOFF,
                                  {"from": current.agent, "to": worker, "mode": "reassign",
                                   "task": task}, actor="system")
            current = await run_agent(ctx, worker, task, f"{key}/reassign{reassigned}/{worker}",
                                      checks=spec)
            sources = sources_seen(ctx, current.key, current.messages)
        else:
            await _escalate(ctx, step, current, findings)
            return current


async def checked_assignment(spec: VerifySpec, ctx: RunContext, task: str, key: str,
                             result: AgentResult, workers: list[str]) -> tuple[bool, Any]:
    """A worker's result as its supervisor gets it: verified first (``Supervision.check``)."""
    passed = await verify_answer(ctx, spec, result, task, key, workers=workers)
    if passed.agent != result.agent:
        return True, f"(reassigned to {passed.agent} after {result.agent}'s answer failed " \
                     f"verification) {passed.output}"
    return True, passed.output
