"""Ensembles: one task on several models or agents in parallel, one answer kept by a judge
(rule, scorer, judge model), all metered, and not run again on replay."""

from __future__ import annotations

from typing import Any

import pytest

from agentplane.journal import Event, EventType, JournalStore
from agentplane.models.function import FunctionModel, ModelCall, Reply, call
from agentplane.runtime import Runtime, SpecError

from .conftest import make_workflow
from .ctx_tools import crash_mid_call

ANSWERS = {"mid": "Yes, it is.", "long": "Yes: the order total is 35 EUR, 2 items.",
           "short": "Yes."}


def _answers(c: ModelCall) -> str:
    if c.agent.endswith("-judge"):
        return '{"choice": 3, "reason": "the only one that says no"}'
    if c.agent == "helper":
        return "No, it is not."
    return ANSWERS.get(c.request.model, "no")


def _flow(ensemble: dict[str, Any], extra: list[dict[str, Any]] | None = None) -> Any:
    return make_workflow([{"name": "clerk", "model": "openai:mid"}, *(extra or [])],
                         [{"agent": "clerk", "ensemble": ensemble}])


async def _run(store: JournalStore, wf: Any, reply: Any = _answers
               ) -> tuple[str, list[Event], FunctionModel]:
    model = FunctionModel(reply)
    rt = Runtime(store, providers={"*": model})
    run = await rt.run(wf, "Is A1 paid?")
    await rt.aclose()
    assert run.status == "completed", run
    events = await store.events(run.id)
    return str(events[-1].data["output"]), events, model


def judged(events: list[Event]) -> dict[str, Any]:
    [event] = [e for e in events if e.type == EventType.ENSEMBLE_JUDGED]
    return dict(event.data)


MODELS = ["openai:mid", "openai:long", "openai:short"]


@pytest.mark.parametrize(("rule", "kept"), [("first", "mid"), ("longest", "long"),
                                            ("shortest", "short")])
async def test_rules_pick_by_position_and_length(store: JournalStore, rule: str,
                                                 kept: str) -> None:
    output, events, model = await _run(store, _flow({"models": MODELS,
                                                     "judge": {"rule": rule}}))
    assert output == ANSWERS[kept]
    verdict = judged(events)
    assert verdict["judge"] == {"kind": "rule", "by": rule}
    assert [c["model"] for c in verdict["candidates"]] == MODELS
    # Every candidate ran, in parallel steps of its own, and was metered.
    assert sorted(c.request.model for c in model.calls) == ["long", "mid", "short"]
    completed = [e for e in events if e.type == EventType.MODEL_COMPLETED]
    assert sorted(e.step_key or "" for e in completed) == [
        "s0/clerk/e0/m1", "s0/clerk/e1/m1", "s0/clerk/e2/m1"]
    assert all(e.usage for e in completed)
    invoked = [e.data["model"] for e in events if e.type == EventType.AGENT_INVOKED]
    assert sorted(invoked) == sorted(MODELS)


async def test_majority_keeps_the_most_common_answer(store: JournalStore) -> None:
    def reply(c: ModelCall) -> str:
        return {"a": "Paid", "b": "not paid.", "c": "Not  paid"}[c.request.model]

    output, events, _ = await _run(store, _flow(
        {"models": ["openai:a", "openai:b", "openai:c"], "judge": {"rule": "majority"}}), reply)
    assert output == "not paid."  # the earliest of the two that agree
    assert judged(events)["reason"] == "the most common answer (2 of 3)"


async def test_scorer_picks_the_highest_score(store: JournalStore) -> None:
    output, events, _ = await _run(store, _flow(
        {"models": MODELS, "judge": {"scorer": "tests.runtime.ensemble_scorers:digits"}}))
    assert output == ANSWERS["long"]
    assert judged(events)["scores"] == [0.0, 3.0, 0.0]
    output, _, _ = await _run(store, _flow(
        {"models": MODELS,
         "judge": {"scorer": "tests.runtime.ensemble_scorers:shortest_first"}}))
    assert output == ANSWERS["short"]


async def test_a_scorer_that_returns_no_number_fails_the_run(store: JournalStore) -> None:
    rt = Runtime(store, providers={"*": FunctionModel(_answers)})
    run = await rt.run(_flow({"models": MODELS, "judge": {
        "scorer": "tests.runtime.ensemble_scorers:not_a_number"}}), "go")
    await rt.aclose()
    assert run.status == "failed"
    assert "must return a number" in (await store.events(run.id))[-1].data["error"]


async def test_judge_model_and_agents(store: JournalStore) -> None:
    helper = {"name": "helper", "model": "openai:h"}
    output, events, model = await _run(store, _flow(
        {"models": ["openai:short"], "agents": ["clerk", "helper"],
         "judge": {"model": "openai:judge"}}, [helper]))
    assert output == "No, it is not."
    verdict = judged(events)
    assert verdict["chosen"] == 2 and verdict["reason"] == "the only one that says no"
    assert [c["agent"] for c in verdict["candidates"]] == ["clerk", "clerk", "helper"]
    [judge] = [c for c in model.calls if c.agent == "clerk-judge"]
    shown = judge.messages[-1].content or ""
    assert "Answer 1:\nYes." in shown and "Answer 3:\nNo, it is not." in shown
    judge_event = next(e for e in events if e.type == EventType.MODEL_COMPLETED
                       and e.data["agent"] == "clerk-judge")
    assert judge_event.step_key == "s0/clerk/judge" and judge_event.usage


async def test_a_judge_that_names_no_answer_keeps_the_first(store: JournalStore) -> None:
    def reply(c: ModelCall) -> str:
        return "all good" if c.agent.endswith("-judge") else _answers(c)

    output, events, _ = await _run(store, _flow({"models": MODELS,
                                                 "judge": {"model": "openai:j"}}), reply)
    assert output == ANSWERS["mid"]
    assert "named no answer" in judged(events)["reason"]


def test_a_judge_is_exactly_one_known_kind() -> None:
    with pytest.raises(SpecError, match="exactly one of `rule`, `scorer` or `model`"):
        _flow({"models": MODELS, "judge": {"rule": "first", "model": "openai:j"}})
    with pytest.raises(SpecError, match="unknown rule 'best'"):
        _flow({"models": MODELS, "judge": {"rule": "best"}})
    with pytest.raises(SpecError, match=r"steps\[0\]\.ensemble\.agents\[0\]: .*nobody"):
        _flow({"agents": ["nobody"]})


async def test_replay_does_not_run_the_candidates_or_the_judge_again(
        store: JournalStore) -> None:
    def reply(c: ModelCall) -> str | Reply:
        if c.agent == "looper":
            return "done" if c.index >= 2 else Reply(tool_calls=[call("lookup", order_id="A1")])
        return _answers(c)

    wf = make_workflow(
        [{"name": "clerk", "model": "openai:mid"},
         {"name": "looper", "model": "openai:l", "tools": ["lookup"], "loop_limit": 2}],
        [{"agent": "clerk", "ensemble": {"models": MODELS, "judge": {"model": "openai:j"}}},
         {"agent": "looper"}])
    first = FunctionModel(reply)
    rt = Runtime(store, providers={"*": first})
    run = await rt.run(wf, "go")
    await rt.aclose()
    assert run.status == "waiting"  # the looper escalated: a person must answer
    assert sum(c.agent.startswith("clerk") for c in first.calls) == 4
    again = FunctionModel(reply)
    rt2 = Runtime(store, providers={"*": again})
    [wait] = await store.waits(run_id=run.id)
    await rt2.decide(wait.id, approve=True, actor="user:ana")
    run = await rt2.execute(run.id)
    await rt2.aclose()
    assert run.status == "completed"
    assert {c.agent for c in again.calls} == {"looper"}
    events = await store.events(run.id)
    assert len([e for e in events if e.type == EventType.ENSEMBLE_JUDGED]) == 1
    looper = next(e for e in events if e.type == EventType.AGENT_INVOKED
                  and e.data["agent"] == "looper")
    assert looper.data["task"] == "Yes."  # the judge chose the third: it went on


async def test_an_ensemble_answer_is_verified(store: JournalStore) -> None:
    def reply(c: ModelCall) -> str:
        if "did not pass verification" in (c.messages[-1].content or ""):
            return "42"
        return {"a": "fine", "b": "also fine"}[c.request.model]

    wf = make_workflow([{"name": "clerk", "model": "openai:a"}],
                       [{"agent": "clerk",
                         "ensemble": {"models": ["openai:a", "openai:b"],
                                      "judge": {"rule": "longest"}},
                         "verify": {"rules": ["answer.isdigit()"]}}])
    output, events, model = await _run(store, wf, reply)
    assert output == "42"
    repaired = model.calls[-1]
    assert repaired.index == 2 and repaired.request.model == "b"  # the kept one was repaired
    assert [e.data["passed"] for e in events if e.type == EventType.VERIFY_CHECKED] == [
        False, True]


async def test_after_a_crash_judged_and_verified_steps_are_not_run_again(
        store: JournalStore) -> None:
    def reply(c: ModelCall) -> str | Reply:
        if c.agent == "writer":
            return "written" if c.tool_results else Reply(
                tool_calls=[call("blocking_idempotent", item="x")])
        if c.agent == "clerk-judge" and "Rubric:" in (c.messages[-1].content or ""):
            return '{"pass": true, "reason": "fine"}'
        return _answers(c)

    wf = make_workflow(
        [{"name": "clerk", "model": "openai:mid"},
         {"name": "writer", "model": "openai:w", "tools": ["blocking_idempotent"]}],
        [{"agent": "clerk", "ensemble": {"models": MODELS, "judge": {"model": "openai:j"}},
          "verify": {"judge": {"model": "openai:j", "rubric": "good?"}}},
         {"agent": "writer"}])
    first = FunctionModel(reply)
    run_id = await crash_mid_call(Runtime(store, lease_seconds=0.05, providers={"*": first}),
                                  wf, "go", "default")
    assert sum(c.agent.startswith("clerk") for c in first.calls) == 5  # 3 + 2 judges
    again = FunctionModel(reply)
    rt = Runtime(store, providers={"*": again})
    run = await rt.execute(run_id)
    await rt.aclose()
    assert run.status == "completed"
    assert [(c.agent, c.index) for c in again.calls] == [("writer", 1)]
    events = await store.events(run_id)
    assert [e.type for e in events].count(EventType.ENSEMBLE_JUDGED) == 1
    assert [e.type for e in events].count(EventType.VERIFY_CHECKED) == 1
    assert events[-1].data["output"] == "written"
