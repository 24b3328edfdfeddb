"""An evaluation: every case of a dataset run as a real durable run of a workflow, in parallel,
and scored.

Each case is a run in the journal like any other (pinned to the workflow's version, governed,
metered), tagged ``purpose: evaluation`` with the evaluation's id and the case's: its usage is
kept in the ledger and shown as evaluation usage, but left out of invoices and of the spend
budgets count (``metering.ledger.NOT_BILLED``). A case whose run ends waiting for a person fails
(an evaluation has nobody to ask), and its run is cancelled rather than left in the inbox.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agentplane.api.results import result_of
from agentplane.metering.ledger import PURPOSE_TAG
from agentplane.runtime.runner import Runtime
from agentplane.runtime.workflow import Workflow, resolve

from .judging import ModelJudge
from .scoring import Check, Judge, Observed, score
from .spec import Case, Dataset, JudgeSpec

EVALUATION = "evaluation"


def new_eval_id() -> str:
    return "eval-" + uuid.uuid4().hex[:12]


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One case: its run, its checks, and what it cost."""

    case_id: str
    run_id: str
    status: str
    """The run's status when it stopped (``completed``, ``failed``, ``waiting``, ...)."""
    passed: bool
    checks: tuple[Check, ...]
    cost_usd: float
    """The run's cost (model calls priced from the catalog, tools' declared prices), USD;
    a judge's is apart (``judge_cost_usd``), though journaled in the same run."""
    latency_ms: float
    """Wall time from the run's start to its end, in milliseconds."""
    turns: int
    output: Any = None

    @property
    def judge_cost_usd(self) -> float:
        """What judging the case cost (its judge model's call), in USD."""
        return sum(c.cost_usd for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        return {"case_id": self.case_id, "run_id": self.run_id, "status": self.status,
                "passed": self.passed, "checks": [c.to_json() for c in self.checks],
                "cost_usd": self.cost_usd, "latency_ms": self.latency_ms, "turns": self.turns,
                "output": self.output}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CaseResult:
        return cls(str(data["case_id"]), str(data["run_id"]), str(data["status"]),
                   bool(data["passed"]), tuple(Check(**c) for c in data["checks"]),
                   float(data["cost_usd"]), float(data["latency_ms"]), int(data["turns"]),
                   data.get("output"))


@dataclass
class Evaluation:
    """A dataset scored on one workflow version (and model, with ``--model``)."""

    id: str
    dataset: str
    workflow: str
    workflow_hash: str
    created_at: str
    """ISO 8601 UTC."""
    tenant: str = "default"
    model: str | None = None
    """The model every agent was switched to (``--model``), if any."""
    compared_to: str | None = None
    """The evaluation this one is compared with (``--against``): its baseline."""
    cases: list[CaseResult] = field(default_factory=list)

    @property
    def failed(self) -> list[CaseResult]:
        return [c for c in self.cases if not c.passed]

    def summary(self) -> dict[str, Any]:
        """Pass rate, cost and latency over the cases."""
        latencies = sorted(c.latency_ms for c in self.cases)
        count = len(self.cases)
        passed = count - len(self.failed)
        return {"cases": count, "passed": passed, "failed": count - passed,
                "pass_rate": passed / count if count else 0.0,
                "cost_usd": round(sum(c.cost_usd for c in self.cases), 9),
                "judge_cost_usd": round(sum(c.judge_cost_usd for c in self.cases), 9),
                "latency_ms_mean": round(sum(latencies) / count, 3) if count else 0.0,
                "latency_ms_p95": latencies[max(0, -(-95 * count // 100) - 1)] if count
                else 0.0}

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "dataset": self.dataset, "workflow": self.workflow,
                "workflow_hash": self.workflow_hash, "created_at": self.created_at,
                "tenant": self.tenant, "model": self.model, "compared_to": self.compared_to,
                "summary": self.summary(), "cases": [c.to_json() for c in self.cases]}


def with_model(workflow: Workflow, model: str) -> Workflow:
    """The workflow with every agent on ``model``: another version (another hash), as a
    comparison of two models must be."""
    spec = workflow.spec.model_copy(update={"agents": [
        a.model_copy(update={"model": model}) for a in workflow.spec.agents]})
    return resolve(spec, workflow.base_dir, source=workflow.source)


async def run_case(runtime: Runtime, workflow: Workflow, case: Case, tags: dict[str, str],
                   judge: Judge | ModelJudge, default_judge: JudgeSpec | None, tenant: str,
                   ) -> CaseResult:
    """Run one case as a durable run and score it (a ``ModelJudge``'s call is journaled in
    the case's run)."""
    started = time.perf_counter()
    record = await runtime.run(workflow, case.input, tenant=tenant,
                               tags={**tags, "eval_case": case.id})
    latency_ms = round((time.perf_counter() - started) * 1000, 3)
    events = await runtime.store.events(record.id)
    result = result_of(record, events, [], runtime.metering.pricer)
    observed = Observed.from_events(record.status, result.output, result.error, result.cost,
                                    events)
    if record.status == "waiting":
        await runtime.cancel(record.id, actor="agentplane eval",
                             reason="an evaluation case has nobody to wait for")
    graded = judge.for_run(record.id) if isinstance(judge, ModelJudge) else judge
    checks = await score(case.expect, observed, case.input, graded, default_judge)
    return CaseResult(case.id, record.id, record.status, all(c.passed for c in checks),
                      tuple(checks), result.cost, latency_ms, observed.turns, result.output)


async def evaluate(runtime: Runtime, workflow: Workflow, dataset: Dataset, *,
                   concurrency: int = 8, model: str | None = None, tenant: str = "default",
                   compared_to: str | None = None, judge: Judge | None = None,
                   progress: Callable[[CaseResult], None] | None = None) -> Evaluation:
    """Run every case of ``dataset`` on ``workflow`` (at most ``concurrency`` at once) and
    score them. ``model``: switch every agent to this model first (``with_model``)."""
    if model is not None:
        workflow = with_model(workflow, model)
    evaluation = Evaluation(new_eval_id(), dataset.name, workflow.spec.name, workflow.hash,
                            datetime.now(UTC).isoformat(timespec="seconds"), tenant, model,
                            compared_to)
    tags = {PURPOSE_TAG: EVALUATION, EVALUATION: evaluation.id}
    await runtime.check_tools(workflow)  # a missing tool fails once, not once per case
    gate = asyncio.Semaphore(concurrency)
    chosen_judge = judge or ModelJudge(runtime, workflow, dataset.judge)

    async def one(case: Case) -> CaseResult:
        async with gate:
            result = await run_case(runtime, workflow, case, tags, chosen_judge, dataset.judge,
                                    tenant)
        if progress is not None:
            progress(result)
        return result

    evaluation.cases = list(await asyncio.gather(*(one(c) for c in dataset.cases)))
    return evaluation
