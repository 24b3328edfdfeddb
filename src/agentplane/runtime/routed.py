"""A model call of the agent loop: routed when the agent names a router, guarded for data
residency either way, budgeted, and durable.

- ``model: router:NAME``: the router (``agentplane.models.router``) picks a candidate; the
  decision is journaled as ``model.routed`` before the call. A call that fails with 429, a 5xx
  or a timeout opens the way to the next candidate (``{step}/fallback1``, ...), with its own
  decision naming ``fallback_from``; each endpoint's circuit breaker counts the failures.
  A resumed run reads the journaled decisions and outcomes and never decides again.
- a fixed model: the residency guardian refuses the call (a denied ``guard.decided``) when the
  conversation's data may not go to that endpoint (``agentplane.governance.residency``).
"""

from __future__ import annotations

import time
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any

from agentplane.errors import AgentplaneError
from agentplane.governance.residency import (
    GUARDIAN,
    UNMARKED,
    DataMarks,
    Placement,
    ToolMark,
    data_marks,
    refusal,
)
from agentplane.journal import Event, EventType, NewEvent
from agentplane.metering.budgets import Scope, applies
from agentplane.metering.pricing import catalog_pricing
from agentplane.models.base import ModelError, ModelRequest, ModelResponse
from agentplane.models.breaker import Health
from agentplane.models.router import Needs, NoCandidateError, Router, priced_name

from .budgeted import before_model_call, release
from .context import RunContext, RunFailure
from .routing_spec import ROUTER_PREFIX
from .spec import AgentStep, ParallelStep
from .workflow import Workflow

RESIDENCY_POLICY = "data-residency"
_marks_of: dict[str, Mapping[str, ToolMark]] = {}


def _tool_marks(workflow: Workflow) -> Mapping[str, ToolMark]:
    marks = _marks_of.get(workflow.hash)
    if marks is None:
        marks = {t.name: ToolMark(t.classification, t.region) for t in workflow.spec.tools
                 if t.classification is not None or t.region is not None}
        if len(_marks_of) > 256:
            _marks_of.clear()
        _marks_of[workflow.hash] = marks
    return marks


_json_of: dict[str, frozenset[str]] = {}


def json_agents(workflow: Workflow) -> frozenset[str]:
    """Agents whose answers must be JSON: their step (or, for workers, their supervisor's
    step) verifies the answer against a JSON schema. A router gives them ``json`` models."""
    agents = _json_of.get(workflow.hash)
    if agents is None:
        found: set[str] = set()
        steps: list[Any] = list(workflow.spec.steps)
        while steps:
            step = steps.pop()
            if isinstance(step, ParallelStep):
                steps += step.parallel
            elif step.verify is not None and step.verify.schema_ is not None:
                found.update([step.agent] if isinstance(step, AgentStep) else step.workers)
        agents = frozenset(found)
        if len(_json_of) > 256:
            _json_of.clear()
        _json_of[workflow.hash] = agents
    return agents


def call_marks(ctx: RunContext, request: ModelRequest) -> DataMarks:
    """The marks of the data this call would send (the run's, the workflow's, the tools')."""
    sensitivity = ctx.run.meta.get("sensitivity")
    compliance = ctx.workflow.spec.compliance
    regions = compliance.regions if compliance is not None else []
    tools = _tool_marks(ctx.workflow)
    if not (sensitivity or regions or tools):
        return UNMARKED
    seen = [m.name for m in request.messages if m.role == "tool" and m.name in tools] \
        if tools else []
    return data_marks(sensitivity=sensitivity, regions=regions, tool_marks=tools,
                      tools_seen=[n for n in seen if n is not None])


def placement_of(ctx: RunContext, model: str) -> Placement:
    """Where a fixed ``model:`` sends its calls: a provider entry's declared place, else an
    endpoint of unknown region that is not local. Plain ``scripted`` stands in for no model
    and sends nothing anywhere: local (``scripted:gpt-4o`` rehearses the cloud model)."""
    if model == "scripted":
        return Placement(model, local=True)
    prefix = model.partition(":")[0]
    for provider in ctx.workflow.spec.providers:
        if provider.name == prefix:
            return Placement(prefix, bool(provider.local), provider.region)
    return Placement(model)


async def _metered(ctx: RunContext, step: str, agent: str, model: str, priced: str,
                   request: ModelRequest, first: Sequence[NewEvent] = (), *,
                   wait: bool = True) -> ModelResponse:
    held = await before_model_call(ctx, step, agent, priced, request, wait=wait)
    try:
        return await ctx.model_step(step, model, request, first=first)
    finally:
        release(ctx, held)


def call_model(ctx: RunContext, step: str, agent: str, model: str, request: ModelRequest, *,
               wait: bool = True) -> Coroutine[Any, Any, ModelResponse]:
    """One model call of ``agent`` at ``step`` (see the module's docstring), as the coroutine
    to await: chosen here rather than awaited in one more coroutine, which every resume of
    the call would pass through. Without ``wait`` a budget breach fails the call instead of
    asking a person."""
    marks = call_marks(ctx, request)
    if model.startswith(ROUTER_PREFIX):
        return _routed(ctx, step, agent, model.removeprefix(ROUTER_PREFIX), request, marks,
                       wait)
    if marks.constrained and ctx.recorded(step, EventType.MODEL_COMPLETED) is None:
        return _guarded(ctx, step, agent, model, request, marks, wait)
    return _metered(ctx, step, agent, model, model, request, wait=wait)


async def _guarded(ctx: RunContext, step: str, agent: str, model: str, request: ModelRequest,
                   marks: DataMarks, wait: bool) -> ModelResponse:
    """A call to a fixed model once the residency guardian let it through."""
    await _guard(ctx, step, agent, model, marks)
    return await _metered(ctx, step, agent, model, model, request, wait=wait)


async def _guard(ctx: RunContext, step: str, agent: str, model: str, marks: DataMarks) -> None:
    key = f"{step}/residency"
    done = ctx.recorded(key, EventType.GUARD_DECIDED)
    reason = str(done.data.get("reason")) if done is not None else refusal(
        marks, placement_of(ctx, model))
    if reason is None:
        return
    if done is None:
        await ctx.append(NewEvent(EventType.GUARD_DECIDED, "system", key, {
            "guardian": GUARDIAN, "policy_id": RESIDENCY_POLICY, "policy_version": 1,
            "result": "deny", "reason": f"model call to {model} refused: {reason}",
            "details": {"model": model, "classification": marks.classification,
                        "regions": sorted(marks.regions) if marks.regions is not None
                        else None},
            "agent": agent, "call": step}))
        reason = f"model call to {model} refused: {reason}"
    raise RunFailure(f"data residency: {reason}")


HEALTH_WINDOW = 2_000
"""Journal events the routers' health is first seeded from (the tail, never a scan)."""


def seed_health(health: Health, events: Sequence[Event]) -> int:
    """Feed the outcomes of routed calls in ``events`` (``model.completed`` / ``model.failed``
    after a ``model.routed`` of the same step) to ``health``; returns how many."""
    chosen: dict[tuple[str, str | None], str] = {}
    fed = 0
    for event in events:
        key = (event.run_id, event.step_key)
        if event.type == EventType.MODEL_ROUTED:
            if event.data.get("chosen"):
                chosen[key] = str(event.data["chosen"])
            continue
        model = chosen.pop(key, None)
        if model is None:
            continue
        fed += 1
        if event.type == EventType.MODEL_COMPLETED:
            health.completed(model, float(event.data.get("latency_ms") or 0.0))
        else:
            health.failed(model)
    return fed


async def router_for(ctx: RunContext, name: str) -> Router:
    """The workflow's router ``name``, built once per workflow version and process. The
    first one of a process seeds the models' health from the journal's recent outcomes."""
    book = ctx.models.routes
    router = book.routers.get((ctx.workflow.hash, name))
    if router is not None:
        return router
    if not book.seeded:
        book.seeded = True
        seed_health(book.health, await ctx.store.recent_events(
            [EventType.MODEL_ROUTED, EventType.MODEL_COMPLETED, EventType.MODEL_FAILED],
            window=HEALTH_WINDOW))
    spec = next((r for r in ctx.workflow.spec.routers if r.name == name), None)
    if spec is None:
        known = ", ".join(r.name for r in ctx.workflow.spec.routers) or "none"
        raise RunFailure(f"workflow {ctx.workflow.spec.name} has no router {name!r} "
                         f"(its routers: {known})")
    providers = ctx.workflow.spec.providers
    worst_case = ctx.metering.worst_case if ctx.metering is not None else catalog_pricing()[1]
    router = Router(spec, placements={p.name: Placement(p.name, bool(p.local), p.region)
                                      for p in providers},
                    default_models={p.name: p.model for p in providers},
                    worst_case=worst_case, health=book.health, breakers=book.breakers)
    book.routers[(ctx.workflow.hash, name)] = router
    return router


async def budget_left_usd(ctx: RunContext, agent: str) -> float | None:
    """What the tightest USD budget over this call still allows (None: no such budget)."""
    metering = ctx.metering
    if metering is None or not ctx.workflow.spec.budgets:
        return None
    scope = Scope(ctx.run_id, ctx.run.tenant, ctx.workflow.spec.name, agent)
    budgets = [b for b in ctx.workflow.spec.budgets
               if applies(b, scope) and b.id not in ctx.budgets_waived]
    if not budgets:
        return None
    await metering.ledger.sync(ctx.store, metering.pricer)
    now = time.time()
    left = [s.limit - s.spent - s.reserved
            for s in (metering.book.state(b, scope, now) for b in budgets) if s.unit == "USD"]
    return min(left) if left else None


def _transient(error: ModelError) -> bool:
    """429, a 5xx, a timeout or a broken connection: another endpoint may answer."""
    if error.status is not None:
        return error.status == 429 or error.status >= 500
    return error.retryable


def _failed_transiently(data: Mapping[str, Any]) -> bool:
    status = data.get("status")
    if isinstance(status, int):
        return status == 429 or status >= 500
    return bool(data.get("retryable"))


async def _decide(ctx: RunContext, router: Router, key: str, agent: str,
                  request: ModelRequest, marks: DataMarks, tried: list[str]
                  ) -> tuple[str, NewEvent | None]:
    """The candidate of attempt ``key``: the journaled one, else a new decision and its
    ``model.routed`` event (journaled with the call's request, in the same write)."""
    routed = ctx.recorded(key, EventType.MODEL_ROUTED)
    if routed is not None:
        chosen = str(routed.data.get("chosen") or "")
        if not chosen:  # journaled: nothing could take the call
            raise RunFailure(str(routed.data.get("reason")))
        return chosen, None
    left = await budget_left_usd(ctx, agent)
    needs = Needs.of(request, json=agent in json_agents(ctx.workflow))
    try:
        decision = router.choose(needs, marks, budget_left_usd=left, tried=tried,
                                 fallback_from=tried[-1] if tried else None)
    except NoCandidateError as none:
        await ctx.append(NewEvent(EventType.MODEL_ROUTED, f"agent:{agent}", key,
                                  {"agent": agent, **none.decision.to_dict()}))
        raise RunFailure(none.decision.reason) from None
    return decision.chosen, NewEvent(EventType.MODEL_ROUTED, f"agent:{agent}", key,
                                     {"agent": agent, **decision.to_dict(),
                                      "provider_model": _provider_model(ctx, decision.chosen)})


def _provider_model(ctx: RunContext, model: str) -> str | None:
    """What ``model.completed`` will name the chosen model (``openai:gpt-4o-mini``): the key
    the usage report groups the call's spend and its escalation under."""
    try:
        provider, name = ctx.models.resolve(model)
    except AgentplaneError:  # e.g. no API key: the call itself says so, with the reason
        return None
    return f"{provider.name}:{name}"


async def _routed(ctx: RunContext, step: str, agent: str, name: str, request: ModelRequest,
                  marks: DataMarks, wait: bool) -> ModelResponse:
    router = await router_for(ctx, name)
    book = ctx.models.routes
    defaults = {p.name: p.model for p in ctx.workflow.spec.providers}
    tried: list[str] = []
    while True:
        key = step if not tried else f"{step}/fallback{len(tried)}"
        chosen, routed = await _decide(ctx, router, key, agent, request, marks, tried)
        live = ctx.recorded(key, EventType.MODEL_COMPLETED) is None
        failed = ctx.recorded(key, EventType.MODEL_FAILED)
        if live and failed is not None:  # a replay: this attempt failed, the next one took over
            if not _failed_transiently(failed.data):
                raise RunFailure(f"model call {key} ({chosen}) failed: "
                                 f"{failed.data.get('error')}")
            tried.append(chosen)
            continue
        option = router.option(chosen)
        breaker = book.breakers.get(option.endpoint if option is not None else chosen)
        if live:
            breaker.started(book.breakers.clock())
        try:
            response = await _metered(ctx, key, agent, chosen, priced_name(chosen, defaults),
                                      request, () if routed is None else (routed,),
                                      wait=wait)
        except RunFailure as failure:
            cause = failure.__cause__
            if not (live and isinstance(cause, ModelError) and _transient(cause)):
                breaker.trial = False  # the endpoint answered (or was never called)
                raise
            breaker.failed(book.breakers.clock())
            book.health.failed(chosen)
            ctx.model_call_retried(agent)
            tried.append(chosen)
            continue
        except BaseException:  # the lease was lost, the task cancelled: no verdict on it
            breaker.trial = False
            raise
        if live:
            breaker.succeeded()
            done = ctx.recorded(key, EventType.MODEL_COMPLETED)
            book.health.completed(chosen, float(done.data.get("latency_ms") or 0.0)
                                  if done is not None else 0.0)
        return response
