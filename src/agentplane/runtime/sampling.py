"""Completions a tool's server asks of the calling agent (MCP ``sampling/createMessage``).

Each completion is a model step of the calling agent like its own turns: journaled (on replay
the journaled answer is given again, never a second paid call), metered (its usage is on the
``model.completed`` event), within the run's budgets (a breach refuses the completion: a call
made inside a tool call cannot wait for a person), and its text reviewed by the output
guardians (secrets redacted) before it leaves for the server.
"""

from __future__ import annotations

from agentplane.governance.guardians import output_check
from agentplane.journal import EventType
from agentplane.models.base import Message, ModelRequest, ModelResponse
from agentplane.tools import ToolError
from agentplane.tools.base import Sample, SampleReply, SampleRequest

from .budgeted import before_model_call, release
from .context import RunContext, RunFailure
from .routed import call_model
from .routing_spec import ROUTER_PREFIX

SAMPLING_REFUSED = "sampling.refused"


def sampler(ctx: RunContext, step_key: str, agent: str) -> Sample:
    """The ``ToolContext.sample`` of tool step ``step_key`` made by ``agent``: its n-th
    completion is step ``{step_key}/sample{n}``."""
    count = 0

    async def sample(request: SampleRequest) -> SampleReply:
        nonlocal count
        count += 1
        step = f"{step_key}/sample{count}"
        spec = ctx.workflow.spec.agent(agent)
        if spec is None:
            raise ToolError(f"no agent {agent!r} to answer {request.asked_by}'s completion")
        messages = [Message("system", request.system)] if request.system else []
        messages += [Message("assistant" if role == "assistant" else "user", text)
                     for role, text in request.messages]
        most = min(filter(None, (request.max_tokens, spec.max_output_tokens)), default=None)
        model_request = ModelRequest(model=spec.model, messages=messages, agent=agent,
                                     max_output_tokens=most, temperature=spec.temperature)
        if spec.model.startswith(ROUTER_PREFIX):  # routed (and budgeted) like the agent's own
            try:
                response = await call_model(ctx, step, agent, spec.model, model_request,
                                            wait=False)
            except RunFailure as exc:
                raise ToolError(str(exc)) from exc
            return await _reviewed(ctx, step, request, response, spec.model)
        try:
            held = await before_model_call(ctx, step, agent, spec.model, model_request,
                                           wait=False)
        except RunFailure as exc:
            await ctx.record_once(step, SAMPLING_REFUSED,
                                  {"agent": agent, "asked_by": request.asked_by,
                                   "reason": str(exc)}, actor=f"agent:{agent}")
            raise ToolError(f"completion refused: {exc}") from exc
        try:
            response = await ctx.model_step(step, spec.model, model_request)
        except RunFailure as exc:
            raise ToolError(str(exc)) from exc
        finally:
            release(ctx, held)
        return await _reviewed(ctx, step, request, response, spec.model)

    return sample


async def _reviewed(ctx: RunContext, step: str, request: SampleRequest,
                    response: ModelResponse, model: str) -> SampleReply:
    """The completion as it may leave for the server: the output guardian's review."""
    text, findings = output_check(ctx.workflow.spec.guardians, response.content or "")
    for i, finding in enumerate(findings):
        await ctx.record_once(f"{step}/guard.{i}", EventType.GUARD_DECIDED,
                              {**finding.to_dict(), "call": "sampling",
                               "asked_by": request.asked_by})
    return SampleReply(text, response.model or model)


__all__ = ["SAMPLING_REFUSED", "sampler"]
