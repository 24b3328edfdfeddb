"""Ensembles: one task sent to several models (or agents) at once, one answer kept.

Each candidate is a full agent invocation (``<key>/e<i>``) — metered, budgeted, governed and
journaled like any other —, all running in parallel. The judge the step declares picks one:

* a rule — ``first``, ``longest``, ``shortest``, or ``majority`` (the most common answer,
  compared without case, spacing and closing punctuation; ties go to the earliest);
* a scorer — ``module:function`` called as ``function(task, answer) -> float`` (or awaitable),
  importable from the workflow's folder; the highest score wins, ties to the earliest;
* a judge model — shown the task and the numbered answers, it replies
  ``{"choice": N, "reason": "..."}`` (a model step like any other, metered as ``<agent>-judge``).

The choice is journaled as one ``ensemble.judged`` event, which a replayed run reads back:
neither the candidates (model steps in the journal) nor the judge are asked again.
"""

from __future__ import annotations

import inspect
import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentplane.journal import EventType
from agentplane.models.base import Message, ModelRequest
from agentplane.tools.python import import_function

from .budgeted import before_model_call, release
from .context import RunContext, RunFailure, gather_steps
from .contextual import journaled_once
from .ensemble_spec import RULES, EnsembleSpec
from .loop import AgentResult, run_agent
from .verify import judge_agent
from .verify_checks import answer_json
from .verify_spec import VerifySpec

_CLOSING = re.compile(r"[\s.!?;:]+$")

JUDGE_INSTRUCTIONS = (
    "Several agents answered the same task. Pick the best answer. Reply with one JSON object "
    'only: {"choice": <the number of the best answer>, "reason": "one sentence"}.'
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One member of an ensemble: an agent, on its own model or another one."""

    agent: str
    model: str | None
    """The model it runs on instead of the agent's own (None: the agent's)."""

    @property
    def label(self) -> str:
        return self.model if self.model is not None else self.agent


def candidates(agent: str, spec: EnsembleSpec) -> list[Candidate]:
    """The step's agent on each listed model, then each listed agent on its own model."""
    out = [Candidate(agent, m) for m in spec.models] + [Candidate(a, None) for a in spec.agents]
    return out or [Candidate(agent, None)]


def _normal(answer: str) -> str:
    return _CLOSING.sub("", " ".join(answer.split()).casefold())


def pick_by_rule(rule: str, answers: list[str]) -> tuple[int, str]:
    """``(index, reason)`` of the answer ``rule`` keeps."""
    if rule == "first":
        return 0, "the first candidate"
    if rule in ("longest", "shortest"):
        sizes = [len(a.strip()) for a in answers]
        best = max(sizes) if rule == "longest" else min(sizes)
        return sizes.index(best), f"the {rule} answer ({best} characters)"
    if rule == "majority":
        counts = Counter(_normal(a) for a in answers)
        top = max(counts.values())
        index = next(i for i, a in enumerate(answers) if counts[_normal(a)] == top)
        return index, f"the most common answer ({top} of {len(answers)})"
    raise RunFailure(f"unknown ensemble rule {rule!r}; use one of {', '.join(RULES)}")


async def pick_by_scorer(ctx: RunContext, ref: str, task: str,
                         answers: list[str]) -> tuple[int, str, list[float]]:
    """``(index, reason, scores)``: the highest-scoring answer by ``module:function``."""
    score = import_function(ref, ctx.workflow.base_dir)
    scores: list[float] = []
    for answer in answers:
        value = score(task, answer)
        if inspect.isawaitable(value):
            value = await value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise RunFailure(f"ensemble scorer {ref} returned {value!r}; it must return a "
                             "number")
        scores.append(float(value))
    best = max(scores)
    return scores.index(best), f"the highest score of {ref} ({best:g})", scores


async def pick_by_model(ctx: RunContext, model: str, agent: str, task: str,
                        answers: list[str], key: str) -> tuple[int, str]:
    """``(index, reason)`` the judge model gives (a model step at ``<key>``)."""
    name = judge_agent(agent)
    listed = "\n\n".join(f"Answer {i + 1}:\n{a}" for i, a in enumerate(answers))
    request = ModelRequest(model=model, agent=name, messages=[
        Message("system", JUDGE_INSTRUCTIONS), Message("user", f"Task:\n{task}\n\n{listed}")])
    held = await before_model_call(ctx, key, name, model, request)
    try:
        response = await ctx.model_step(key, model, request)
    finally:
        release(ctx, held)
    reply = answer_json(response.content or "")
    choice = reply.get("choice") if isinstance(reply, dict) else None
    if isinstance(choice, int) and not isinstance(choice, bool) and 1 <= choice <= len(answers):
        return choice - 1, str(reply.get("reason", "")) or f"the judge chose answer {choice}"
    return 0, ("the judge named no answer (it replied "
               f"{json.dumps((response.content or '')[:200])}); the first is kept")


async def _judged(ctx: RunContext, spec: EnsembleSpec, agent: str, task: str,
                  members: list[Candidate], results: list[AgentResult],
                  key: str) -> Mapping[str, Any]:
    answers = [r.output for r in results]
    judge = spec.judge
    step = f"{key}/judged"
    done = ctx.recorded(step, EventType.ENSEMBLE_JUDGED)
    if done is not None:
        if judge.model is not None:  # replayed, so later model calls keep their order
            await pick_by_model(ctx, judge.model, agent, task, answers, f"{key}/judge")
        return done.data

    async def make() -> dict[str, Any]:
        extra: dict[str, Any] = {}
        if judge.model is not None:
            kind, by = "model", judge.model
            index, reason = await pick_by_model(ctx, judge.model, agent, task, answers,
                                                f"{key}/judge")
        elif judge.scorer is not None:
            kind, by = "scorer", judge.scorer
            index, reason, scores = await pick_by_scorer(ctx, judge.scorer, task, answers)
            extra["scores"] = scores
        else:
            kind, by = "rule", judge.rule or "first"
            index, reason = pick_by_rule(by, answers)
        return {"agent": agent, "judge": {"kind": kind, "by": by}, "chosen": index,
                "reason": reason, **extra,
                "candidates": [{"agent": r.agent, "model": m.model, "label": m.label,
                                "chars": len(r.output), "key": r.key}
                               for m, r in zip(members, results, strict=True)]}

    return await journaled_once(ctx, step, EventType.ENSEMBLE_JUDGED, "system", make)


async def run_ensemble(ctx: RunContext, agent: str, spec: EnsembleSpec, task: str, key: str,
                       *, checks: VerifySpec | None = None) -> AgentResult:
    """Run every candidate on ``task`` in parallel and return the one the judge keeps."""
    members = candidates(agent, spec)
    results: list[AgentResult] = await gather_steps(*(
        run_agent(ctx, m.agent, task, f"{key}/e{i}", model=m.model, checks=checks)
        for i, m in enumerate(members)))
    verdict = await _judged(ctx, spec, agent, task, members, results, key)
    return results[int(verdict["chosen"])]
