"""Workflow patterns: sequential steps, parallel steps and supervisors.

Each step gets the previous step's output as its input (the first gets the run's input); a
parallel step gives every branch the same input and outputs a mapping of branch → output.
Hand-offs and agent-as-tool live in the agent loop.
"""

from __future__ import annotations

import json
from collections.abc import Coroutine, Sequence
from functools import partial
from typing import Any

from .context import RunContext, gather_steps
from .ensemble import run_ensemble
from .loop import Supervision, run_agent
from .spec import AgentStep, ParallelStep, Step, SupervisorStep
from .verify import checked_assignment, verify_answer


def as_text(value: Any) -> str:
    """The text an agent is given for a step input."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def run_step(ctx: RunContext, step: Step, key: str, value: Any) -> Coroutine[Any, Any, Any]:
    """The coroutine that runs ``step`` on ``value``, chosen here and awaited by the caller
    rather than awaited in one more coroutine: every resume of a step passes through each
    coroutine that awaits it."""
    if isinstance(step, AgentStep):
        text = as_text(value)
        task = step.input.replace("{input}", text) if step.input is not None else text
        return _run_agent_step(ctx, step, task, f"{key}/{step.agent}")
    if isinstance(step, SupervisorStep):
        return _run_supervisor_step(ctx, step, key, value)
    return _run_parallel(ctx, step, key, value)


async def _run_supervisor_step(ctx: RunContext, step: SupervisorStep, key: str,
                               value: Any) -> str:
    supervision = Supervision(list(step.workers), step.max_assignments, checks=step.verify,
                              check=partial(checked_assignment, step.verify)
                              if step.verify is not None else None)
    result = await run_agent(ctx, step.supervisor, as_text(value), f"{key}/{step.supervisor}",
                             supervision=supervision)
    return result.output


async def _run_agent_step(ctx: RunContext, step: AgentStep, task: str, key: str) -> str:
    """An agent step: one agent, or an ensemble of them, and the answer verified when the step
    says so."""
    if step.ensemble is not None:
        result = await run_ensemble(ctx, step.agent, step.ensemble, task, key,
                                    checks=step.verify)
    else:
        result = await run_agent(ctx, step.agent, task, key, checks=step.verify)
    if step.verify is not None:
        result = await verify_answer(ctx, step.verify, result, task, key)
    return result.output


async def _run_parallel(ctx: RunContext, step: ParallelStep, key: str, value: Any) -> Any:
    results = await gather_steps(
        *(run_step(ctx, branch, f"{key}.{i}", value) for i, branch in enumerate(step.parallel))
    )
    out: dict[str, Any] = {}
    for i, (branch, r) in enumerate(zip(step.parallel, results, strict=True)):
        name = branch.agent if isinstance(branch, AgentStep) else (
            branch.supervisor if isinstance(branch, SupervisorStep) else f"branch{i}")
        out[name if name not in out else f"{name}#{i}"] = r
    return out


async def run_steps(ctx: RunContext, steps: Sequence[Step], value: Any) -> Any:
    """Run the workflow's steps in order; returns the last step's output."""
    for i, step in enumerate(steps):
        value = await run_step(ctx, step, f"s{i}", value)
    return value
