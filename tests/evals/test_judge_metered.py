"""An evaluation's judge call is durable and metered like any model call: journaled in the case's
run (which stays completed), priced from the catalog in the usage ledger under the run's
``purpose: evaluation`` tag — shown by ``agentplane usage report`` as evaluation spend, left out
of billable spend — and never asked again for a run that already holds its answer."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from agentplane.evals.evaluate import evaluate
from agentplane.evals.judging import JUDGE_STEP, ModelJudge
from agentplane.evals.spec import Dataset, JudgeSpec
from agentplane.journal import EventType, JournalStore, open_store
from agentplane.metering.ledger import ALL_TIME, UsageLedger
from agentplane.metering.reports import usage_report
from agentplane.models.base import ModelError
from agentplane.models.registry import EVERY_MODEL
from agentplane.runtime import Workflow, workflow_from_dict
from agentplane.runtime.runner import Runtime
from agentplane.storage import open_database
from agentplane.testing import FunctionModel, ModelCall, Reply

from .desk import clerk, desk

AGENTPLANE = str(Path(sys.executable).with_name("agentplane"))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[JournalStore]:
    journal = open_store(f"sqlite:///{tmp_path / 'j.db'}")
    yield journal
    await journal.close()


class Grader:
    """The clerk for the desk's agent, a judge that counts how often it is asked."""

    def __init__(self) -> None:
        self.asked = 0

    def __call__(self, model_call: ModelCall) -> str | Reply:
        if model_call.agent != "judge":
            return clerk(model_call)
        self.asked += 1
        answer = model_call.messages[-1].content or ""
        return "PASS: it names 20.00" if "20.00" in answer else "FAIL: no amount"


DATA = Dataset.model_validate({
    "name": "judged", "judge": {"model": "openai:gpt-4o"},
    "cases": [{"id": "amount", "input": "refund A1",
               "expect": {"judge": {"rubric": "names the amount"}}}]})


async def test_the_judge_call_is_journaled_in_the_case_run_and_metered_as_evaluation(
        store: JournalStore, tmp_path: Path) -> None:
    grader = Grader()
    engine = Runtime(store, providers={EVERY_MODEL: FunctionModel(grader)})
    try:
        evaluation = await evaluate(engine, desk(), DATA)
    finally:
        await engine.aclose()
    [case] = evaluation.cases
    judged = case.checks[-1]
    assert (judged.kind, judged.passed, grader.asked) == ("judge", True, 1)
    assert judged.cost_usd > 0  # priced from the catalog as gpt-4o

    # journaled in the case's run, after its end; the run is still completed
    run = await store.require_run(case.run_id)
    assert run.status == "completed"
    events = await store.events(case.run_id)
    judge_events = [e for e in events if e.step_key == JUDGE_STEP]
    assert [e.type for e in judge_events] == [EventType.MODEL_REQUESTED,
                                             EventType.MODEL_COMPLETED]
    assert judge_events[-1].data["agent"] == "judge"
    assert judge_events[-1].data["response"]["content"] == "PASS: it names 20.00"
    assert events.index(judge_events[0]) > next(
        i for i, e in enumerate(events) if e.type == EventType.RUN_COMPLETED)

    # in the usage ledger: evaluation spend, with the judge's own cost; none of it billable
    ledger = UsageLedger(store.database)
    try:
        await ledger.sync(store, engine.metering.pricer)
        [judge_row] = [r for r in ledger.events() if r["agent"] == "judge"]
        assert judge_row["tags"]["purpose"] == "evaluation"
        assert judge_row["run_id"] == case.run_id
        assert judge_row["cost_usd"] == pytest.approx(judged.cost_usd)
        assert ledger.spent(field="cost_usd", window=ALL_TIME, where={}) == pytest.approx(
            case.cost_usd + judged.cost_usd)
        assert ledger.spent(field="cost_usd", window=ALL_TIME, where={}, billable=True) == 0
    finally:
        ledger.close()

    # `agentplane usage report --by purpose --by agent` shows it as evaluation spend
    env = {**os.environ, "AGENTPLANE_HOME": str(tmp_path), "COLUMNS": "200"}
    env.pop("AGENTPLANE_DB", None)
    done = subprocess.run([AGENTPLANE, "usage", "report", "--by", "purpose", "--by", "agent",
                           "--db", f"sqlite:///{tmp_path / 'j.db'}", "--json"], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    rows = {(r["purpose"], r["agent"]): r for r in json.loads(done.stdout)}
    assert rows[("evaluation", "judge")]["model_calls"] == 1
    assert rows[("evaluation", "judge")]["cost_usd"] == pytest.approx(judged.cost_usd)


async def test_a_run_already_judged_is_not_asked_again(store: JournalStore) -> None:
    grader = Grader()
    engine = Runtime(store, providers={EVERY_MODEL: FunctionModel(grader)})
    try:
        evaluation = await evaluate(engine, desk(), DATA)
        run_id = evaluation.cases[0].run_id
        again = await ModelJudge(engine, desk(), None).grade(
            run_id, JudgeSpec(rubric="names the amount", model="openai:gpt-4o"), "refund A1",
            "anything")
    finally:
        await engine.aclose()
    assert grader.asked == 1  # the verdict came from the journal
    assert again == (True, "it names 20.00", evaluation.cases[0].checks[-1].cost_usd)
    events = await store.events(run_id)
    assert sum(1 for e in events if e.step_key == JUDGE_STEP) == 2


SECRET = "my parcel never came"


def care_desk() -> Workflow:
    """A workflow whose input's message is personal: the agent's answer repeats it."""
    return workflow_from_dict({
        "name": "care-desk", "personal": {"subject": "$.customer_id", "input": ["$.message"]},
        "agents": [{"name": "desk", "script": [{"content": f"Noted: {SECRET}. Sorry!"}]}],
        "steps": [{"agent": "desk"}]}, Path(__file__).parent)


async def test_the_judge_answer_is_sealed_like_the_run_s_own_personal_values(
        store: JournalStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENTPLANE_SUBJECT_KEYS", str(tmp_path / "keys" / "subject-keys.json"))
    data = Dataset.model_validate({
        "name": "care", "judge": {"model": "scripted", "script": [f"PASS: it repeats {SECRET}"]},
        "cases": [{"id": "echo", "input": {"customer_id": "C-77", "message": SECRET},
                   "expect": {"judge": {"rubric": "repeats the message"}}}]})
    engine = Runtime(store)
    try:
        evaluation = await evaluate(engine, care_desk(), data)
    finally:
        await engine.aclose()
    judged = evaluation.cases[0].checks[-1]
    assert (judged.passed, judged.detail) == (True, f"it repeats {SECRET}")  # read back clear
    raw = open_database(f"sqlite:///{tmp_path / 'j.db'}", create=False)
    try:
        stored = [str(r[0]) for r in raw.query(
            "SELECT data FROM events WHERE run_id = ? AND step_key = ?",
            (evaluation.cases[0].run_id, JUDGE_STEP))]
    finally:
        raw.close()
    assert len(stored) == 2 and not any(SECRET in text for text in stored)


async def test_a_failing_judge_model_fails_the_check_and_is_journaled(
        store: JournalStore) -> None:
    def model(model_call: ModelCall) -> str | Reply:
        if model_call.agent == "judge":
            raise ModelError("judge endpoint down", retryable=True, status=503)
        return clerk(model_call)

    engine = Runtime(store, providers={EVERY_MODEL: FunctionModel(model)})
    try:
        evaluation = await evaluate(engine, desk(), DATA)
    finally:
        await engine.aclose()
    judged = evaluation.cases[0].checks[-1]
    assert not judged.passed and "the judge model failed" in judged.detail
    events = await store.events(evaluation.cases[0].run_id)
    assert [e.type for e in events if e.step_key == JUDGE_STEP] == [
        EventType.MODEL_REQUESTED, EventType.MODEL_FAILED]


async def test_the_judge_call_is_metered_on_each_back_end(database_url: str) -> None:
    journal = open_store(database_url)
    engine = Runtime(journal, providers={EVERY_MODEL: FunctionModel(Grader())})
    try:
        evaluation = await evaluate(engine, desk(), DATA)
    finally:
        await engine.aclose()
    ledger = UsageLedger(journal.database)
    try:
        await ledger.sync(journal, engine.metering.pricer)
        rows = usage_report(ledger, by=["purpose", "agent"])
        judge = next(r for r in rows if (r["purpose"], r["agent"]) == ("evaluation", "judge"))
        assert judge["cost_usd"] == pytest.approx(evaluation.cases[0].checks[-1].cost_usd)
        assert ledger.spent(field="cost_usd", window=ALL_TIME, where={}, billable=True) == 0
    finally:
        ledger.close()
        await journal.close()
