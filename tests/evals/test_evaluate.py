"""Evaluations on real durable runs: each expectation kind scored (passing and failing), the
judge model, comparison between two workflow versions and two models, JSON and JUnit export
read back, and dataset errors that name the line."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agentplane.evals.compare import compare
from agentplane.evals.evaluate import Evaluation, evaluate
from agentplane.evals.export import to_json, to_junit
from agentplane.evals.spec import Dataset, DatasetError, load_dataset
from agentplane.journal import JournalStore, open_store
from agentplane.models.registry import EVERY_MODEL
from agentplane.runtime.runner import Runtime
from agentplane.testing import FunctionModel, ModelCall

from .desk import SLOPPY, clerk, desk, runtime


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[JournalStore]:
    journal = open_store(f"sqlite:///{tmp_path / 'j.db'}")
    yield journal
    await journal.close()


def dataset(*cases: dict[str, Any], **extra: Any) -> Dataset:
    return Dataset.model_validate({"name": "desk-cases", "cases": list(cases), **extra})


async def _evaluate(store: JournalStore, data: Dataset, **options: Any) -> Evaluation:
    engine, _ = runtime(store)
    try:
        return await evaluate(engine, options.pop("flow", None) or desk(), data, **options)
    finally:
        await engine.aclose()


def checks(evaluation: Evaluation, case_id: str) -> dict[str, bool]:
    case = next(c for c in evaluation.cases if c.case_id == case_id)
    return {k.kind: k.passed for k in case.checks}


async def test_each_expectation_kind_is_scored_against_the_run(store: JournalStore) -> None:
    data = dataset(
        {"id": "good", "input": "refund A1", "expect": {
            "contains": ["Refunded 20.00", "A1"], "equals": "Refunded 20.00 on order A1.",
            "tool_calls": [{"name": "lookup_order", "arguments": {"order_id": "A1"}},
                           {"name": "issue_refund", "arguments": {"amount": 20}}],
            "max_cost_usd": 1.0, "max_turns": 3}},
        {"id": "bad", "input": "refund A1", "expect": {
            "contains": "Refunded 99", "equals": "something else",
            "json_schema": {"type": "object", "required": ["refund"]},
            "tool_calls": [{"name": "issue_refund", "arguments": {"amount": 99}}],
            "max_cost_usd": 0.0, "max_turns": 1}},
        {"id": "json", "input": "refund A1",
         "expect": {"json_schema": {"type": "string", "pattern": "^Refunded"}}},
        {"id": "unknown-order", "input": "refund Q9", "expect": {"contains": "no order Q9"}})
    evaluation = await _evaluate(store, data, concurrency=2)
    assert checks(evaluation, "good") == {
        "completed": True, "contains": True, "equals": True, "tool_calls": True,
        "max_cost_usd": True, "max_turns": True}
    assert checks(evaluation, "bad") == {
        "completed": True, "contains": False, "equals": False, "json_schema": False,
        "tool_calls": False, "max_cost_usd": False, "max_turns": False}
    assert checks(evaluation, "json") == {"completed": True, "json_schema": True}
    assert checks(evaluation, "unknown-order") == {"completed": True, "contains": True}
    bad = next(c for c in evaluation.cases if c.case_id == "bad")
    why = {k.kind: k.detail for k in bad.checks}
    assert why["max_turns"] == "3 model calls, at most 1"
    assert "no call issue_refund" in why["tool_calls"] and "lookup_order" in why["tool_calls"]
    assert why["json_schema"] == ("(top level): 'Refunded 20.00 on order A1.' is not of type "
                                  "'object'")
    summary = evaluation.summary()
    assert (summary["cases"], summary["passed"], summary["failed"]) == (4, 3, 1)
    assert summary["cost_usd"] == pytest.approx(sum(c.cost_usd for c in evaluation.cases))
    assert all(c.cost_usd > 0 for c in evaluation.cases)  # priced as gpt-4o-mini
    runs = {c.run_id for c in evaluation.cases}
    for run_id in runs:  # real durable runs, tagged as evaluation runs
        run = await store.require_run(run_id)
        assert run.meta["tags"]["purpose"] == "evaluation"
        assert run.meta["tags"]["evaluation"] == evaluation.id


async def test_a_judge_model_grades_by_rubric(store: JournalStore) -> None:
    def judge(model_call: ModelCall) -> str:
        if model_call.agent != "judge":
            return str(clerk(model_call))
        answer = model_call.messages[-1].content or ""
        assert "Rubric: names the amount" in answer
        return "PASS: it names 20.00" if "20.00" in answer else "FAIL: no amount"

    engine = Runtime(store, providers={EVERY_MODEL: FunctionModel(
        lambda c: judge(c) if c.agent == "judge" else clerk(c))})
    data = dataset({"id": "amount", "input": "refund A1",
                    "expect": {"judge": {"rubric": "names the amount"}}},
                   {"id": "declined", "input": "mail", "expect": {"judge": {
                       "rubric": "names the amount", "model": "openai:gpt-4o"}}},
                   judge={"model": "openai:gpt-4o-mini"})
    try:
        evaluation = await evaluate(engine, desk(), data)
    finally:
        await engine.aclose()
    verdicts = {c.case_id: c.checks[-1] for c in evaluation.cases}
    assert (verdicts["amount"].passed, verdicts["amount"].detail) == (True, "it names 20.00")
    assert (verdicts["declined"].passed, verdicts["declined"].detail) == (False, "no amount")
    # each judge call is priced as its model (gpt-4o costs more than gpt-4o-mini) and kept
    # apart from the run's cost
    assert 0 < verdicts["amount"].cost_usd < verdicts["declined"].cost_usd
    assert evaluation.summary()["judge_cost_usd"] == pytest.approx(
        verdicts["amount"].cost_usd + verdicts["declined"].cost_usd)


async def test_a_judge_without_a_model_fails_saying_so(store: JournalStore) -> None:
    evaluation = await _evaluate(store, dataset({"id": "x", "input": "refund A1",
                                                 "expect": {"judge": {"rubric": "r"}}}))
    [*_, judged] = evaluation.cases[0].checks
    assert not judged.passed and "no judge model" in judged.detail


async def test_a_case_that_waits_for_a_person_fails_and_is_not_left_waiting(
        store: JournalStore) -> None:
    evaluation = await _evaluate(store, dataset({"id": "w", "input": "refund A1"}),
                                 flow=desk(autonomy="in_the_loop"))
    case = evaluation.cases[0]
    assert (case.status, case.passed) == ("waiting", False)
    assert (await store.require_run(case.run_id)).status == "cancelled"
    assert await store.waits(status="open") == []


async def test_two_workflow_versions_compared_case_by_case(store: JournalStore) -> None:
    data = dataset({"id": "lookup-first", "input": "refund A1",
                    "expect": {"tool_calls": [{"name": "lookup_order"}]}},
                   {"id": "refunds", "input": "refund A1", "expect": {"contains": "Refunded"}},
                   {"id": "unknown", "input": "refund Q9",
                    "expect": {"contains": "Cannot refund"}})
    before = await _evaluate(store, data)
    after = await _evaluate(store, data, flow=desk(SLOPPY), compared_to=before.id)
    diff = compare(before, after)
    changes = {c.case_id: c.change for c in diff.cases}
    assert changes == {"lookup-first": "newly_failing", "refunds": "still_passing",
                       "unknown": "newly_failing"}
    report = diff.to_json()
    assert report["newly_failing"] == ["lookup-first", "unknown"]
    assert report["newly_passing"] == []
    by_case = {c.case_id: c for c in diff.cases}
    assert by_case["refunds"].cost_delta_usd < 0  # the sloppy clerk skips a model call
    back = compare(after, before).to_json()
    assert back["newly_passing"] == ["lookup-first", "unknown"]


async def test_two_models_compared_on_the_same_workflow(store: JournalStore) -> None:
    data = dataset({"id": "a1", "input": "refund A1", "expect": {"max_cost_usd": 0.0005}})
    cheap = await _evaluate(store, data, model="openai:gpt-4o-mini")
    dear = await _evaluate(store, data, model="openai:gpt-4o")
    assert cheap.workflow_hash != dear.workflow_hash  # another model is another version
    assert (cheap.model, dear.model) == ("openai:gpt-4o-mini", "openai:gpt-4o")
    diff = compare(cheap, dear)
    assert diff.cases[0].cost_delta_usd > 0
    assert [c.change for c in diff.cases] == ["newly_failing"]


async def test_json_and_junit_exports_read_back(store: JournalStore) -> None:
    data = dataset({"id": "ok", "input": "refund A1", "expect": {"contains": "Refunded"}},
                   {"id": "no", "input": "refund A1", "expect": {"contains": "<nope & \"x\">"}})
    before = await _evaluate(store, data)
    after = await _evaluate(store, data, compared_to=before.id)
    parsed = json.loads(to_json([before, after], compare(before, after)))
    assert [e["id"] for e in parsed["evaluations"]] == [before.id, after.id]
    assert parsed["evaluations"][1]["summary"]["failed"] == 1
    assert parsed["comparison"]["cases"][1]["change"] == "still_failing"
    assert parsed["evaluations"][0]["cases"][0]["checks"][1] == {
        "kind": "contains", "passed": True, "detail": "found 'Refunded' in the output",
        "cost_usd": 0.0}
    root = ET.fromstring(to_junit([after]))
    [suite] = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["ok"].find("failure") is None
    failure = cases["no"].find("failure")
    assert failure is not None and failure.get("type") == "contains"
    assert "no '<nope & \"x\">' in the output" in (failure.text or "")


def test_a_dataset_error_names_the_file_line_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "cases.yaml"
    bad.write_text("name: d\ncases:\n  - id: one\n    expect:\n      max_turns: 0\n"
                   "      json_schema: {type: 12}\n")
    with pytest.raises(DatasetError) as caught:
        load_dataset(bad)
    text = str(caught.value)
    assert f"{bad}:5:7: cases[0].expect.max_turns: Input should be greater than or equal " \
           "to 1" in text
    assert f"{bad}:6:7: cases[0].expect.json_schema: Value error, not a valid JSON schema" \
           in text
    bad.write_text("name: d\ncases:\n  - id: one\n  - id: one\n")
    with pytest.raises(DatasetError, match="case id 'one' is used twice"):
        load_dataset(bad)
    with pytest.raises(DatasetError, match="file not found"):
        load_dataset(tmp_path / "missing.yaml")
