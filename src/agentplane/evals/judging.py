"""The judge of an evaluation or a simulation: a model call made durable and metered like every
other, journaled in the run it grades.

A case's run has finished by the time it is judged. Its judge call is appended to that same
run's journal anyway (``model.requested`` and ``model.completed`` at step ``evaluation/judge``,
agent ``judge``): the run's status does not change (only ``run.*`` events change it), and the
grading sits next to what it grades in the run's timeline and export. From there the usage
ledger meters it like any model call — priced from the catalog as the model that answered,
carrying the run's tags, so ``purpose: evaluation`` (or ``simulation``) keeps it out of
invoices and budgets while ``agentplane usage report --by purpose`` shows it as evaluation
spend. A case judged again (its run already holds the judge's answer) reads the verdict from
the journal instead of asking and paying again.
"""

from __future__ import annotations

import time
from typing import Any

from agentplane.journal import Event, EventType, NewEvent
from agentplane.models.base import Message, ModelError, ModelRequest, ModelResponse
from agentplane.models.registry import Endpoint, ModelResolver
from agentplane.models.scripted import ScriptedProvider, ScriptedReply
from agentplane.runtime.personal import PersonalData
from agentplane.runtime.runner import Runtime
from agentplane.runtime.workflow import Workflow

from .scoring import Judge, text_of, verdict
from .spec import JudgeSpec

JUDGE_STEP = "evaluation/judge"
"""The step key of a judge's call in the run it grades."""
JUDGE_AGENT = "judge"
"""The agent a judge's model call is metered under (and the scripted model's script)."""
JUDGE_ACTOR = f"agent:{JUDGE_AGENT}"
JUDGE_INSTRUCTIONS = ("You grade an AI agent's answer against a rubric. Answer PASS or FAIL "
                      "first, then one sentence saying why.")


def _judged(events: list[Event]) -> Event | None:
    return next((e for e in events if e.step_key == JUDGE_STEP
                 and e.type == EventType.MODEL_COMPLETED), None)


class ModelJudge:
    """Asks a rubric's model, resolved like the workflow's agents' models (its ``providers:``,
    the runtime's overrides); ``scripted`` judges answer with the default judge's ``script``
    (an offline stand-in, like an agent's). ``for_run`` gives the judge of one run."""

    def __init__(self, runtime: Runtime, workflow: Workflow, default: JudgeSpec | None) -> None:
        self._runtime = runtime
        self._spec = workflow.spec
        script = [ScriptedReply(content=text) for text in (default.script if default else [])]
        self._resolver = ModelResolver(
            endpoints={p.name: Endpoint(**p.model_dump()) for p in workflow.spec.providers},
            scripted=ScriptedProvider({JUDGE_AGENT: script}), overrides=runtime.providers)

    def for_run(self, run_id: str) -> Judge:
        """The judge of run ``run_id``: its call is journaled in that run."""

        async def judge(spec: JudgeSpec, case_input: Any, output: Any
                        ) -> tuple[bool, str, float]:
            return await self.grade(run_id, spec, case_input, output)

        return judge

    async def grade(self, run_id: str, spec: JudgeSpec, case_input: Any, output: Any
                    ) -> tuple[bool, str, float]:
        """``(passed, why, cost in USD)`` of the run's answer, from the judge's journaled
        call (made now, unless the run already holds one)."""
        store = self._runtime.store
        events = await store.events(run_id)
        done = _judged(events)
        if done is None:
            try:
                await self._ask(run_id, events, spec, case_input, output)
            except ModelError as exc:
                return False, f"the judge model failed: {exc}", 0.0
            done = _judged(await store.events(run_id))  # read back revealed, as replays do
            assert done is not None
        response = ModelResponse.from_dict(done.data["response"])
        cost = self._runtime.metering.pricer(str(done.data["provider_model"]),
                                             done.usage or {}).usd
        return (*verdict(response.content or ""), cost)

    async def _ask(self, run_id: str, events: list[Event], spec: JudgeSpec, case_input: Any,
                   output: Any) -> None:
        """Call the judge model, journaling the request and its answer (or its failure) in
        the run — personal values sealed as the run's own events are — and hand the events to
        the usage ledger."""
        store = self._runtime.store
        personal = PersonalData.for_run(self._spec, run_id,
                                        (await store.require_run(run_id)).input)
        if personal is not None:  # what the run learnt: its input, its tools' results
            for event in events:
                personal.learn_event(self._spec, event)

        def sealed(new: NewEvent) -> NewEvent:
            return new if personal is None else personal.seal_event(new)

        provider, name = self._resolver.resolve(spec.model or "scripted")
        request = ModelRequest(model=name, agent=JUDGE_AGENT, messages=[
            Message("system", JUDGE_INSTRUCTIONS),
            Message("user", f"Rubric: {spec.rubric}\n\nTask given to the agent:\n"
                            f"{text_of(case_input)}\n\nThe agent's answer:\n{text_of(output)}")])
        written = await store.append(run_id, [sealed(NewEvent(
            EventType.MODEL_REQUESTED, JUDGE_ACTOR, JUDGE_STEP,
            {"agent": JUDGE_AGENT, "provider": provider.name, "model": name, "call_index": 0,
             "messages": len(request.messages), "tools": [], "rubric": spec.rubric}))])
        started = time.perf_counter()
        try:
            response = await provider.complete(request)
        except ModelError as exc:
            written += await store.append(run_id, [sealed(NewEvent(
                EventType.MODEL_FAILED, JUDGE_ACTOR, JUDGE_STEP,
                {"agent": JUDGE_AGENT, "error": str(exc), "retryable": exc.retryable,
                 "status": exc.status,
                 "latency_ms": round((time.perf_counter() - started) * 1000, 3)}))])
            await self._meter(run_id, written)
            raise
        written += await store.append(run_id, [sealed(NewEvent(
            EventType.MODEL_COMPLETED, JUDGE_ACTOR, JUDGE_STEP,
            {"agent": JUDGE_AGENT, "model": response.model or name,
             "provider_model": f"{provider.name}:{name}",
             "latency_ms": round((time.perf_counter() - started) * 1000, 3),
             "response": response.to_dict()}, usage=response.usage.to_dict()))])
        await self._meter(run_id, written)

    async def _meter(self, run_id: str, written: list[Event]) -> None:
        """Hand the judge's events to the usage ledger (which meters the answer's tokens)."""
        store, metering = self._runtime.store, self._runtime.metering
        await metering.ledger.record(store, await store.require_run(run_id), written,
                                     metering.pricer)
