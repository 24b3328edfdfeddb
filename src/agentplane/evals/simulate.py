"""A simulation: each scenario's perturbations applied by the runtime around the workflow's
real tools and models, for N seeded trials, each a real durable run (tagged
``purpose: simulation``, so its usage is never invoiced).

Trial ``t`` of scenario ``s`` is seeded ``SEED/s/t``: the same seed gives the same perturbations
at the same steps, so the same report (latency aside, which is measured). Report per scenario:
success rate (the run completed and met the scenario's expectations), escalations to a person,
guardian blocks, cost and latency; with another workflow version, which scenarios got worse.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from agentplane.api.results import result_of
from agentplane.journal import EventType, RunRecord
from agentplane.metering.ledger import PURPOSE_TAG
from agentplane.runtime.perturb import Perturbations
from agentplane.runtime.runner import Runtime, new_run_id
from agentplane.runtime.workflow import Workflow

from .judging import ModelJudge
from .scoring import Observed, score
from .spec import Scenario, ScenariosFile

SIMULATION = "simulation"


def new_simulation_id() -> str:
    return "sim-" + uuid.uuid4().hex[:12]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True, slots=True)
class Trial:
    """One trial of a scenario: one run."""

    scenario: str
    trial: int
    seed: str
    run_id: str
    status: str
    success: bool
    escalations: int
    guard_blocks: int
    cost_usd: float
    latency_ms: float
    perturbed: tuple[dict[str, Any], ...]
    """What the runtime changed (the run's ``simulation.perturbed`` events), in order."""

    def to_json(self, *, latency: bool = True) -> dict[str, Any]:
        data = {"scenario": self.scenario, "trial": self.trial, "seed": self.seed,
                "run_id": self.run_id, "status": self.status, "success": self.success,
                "escalations": self.escalations, "guard_blocks": self.guard_blocks,
                "cost_usd": self.cost_usd, "perturbed": list(self.perturbed)}
        return {**data, "latency_ms": self.latency_ms} if latency else data


@dataclass
class ScenarioReport:
    name: str
    trials: list[Trial] = field(default_factory=list)

    def figures(self, *, latency: bool = True) -> dict[str, Any]:
        n = len(self.trials) or 1
        figures = {"scenario": self.name, "trials": len(self.trials),
                   "success_rate": sum(t.success for t in self.trials) / n,
                   "escalations": sum(t.escalations for t in self.trials),
                   "guard_blocks": sum(t.guard_blocks for t in self.trials),
                   "cost_usd": round(sum(t.cost_usd for t in self.trials), 9),
                   "perturbations": sum(len(t.perturbed) for t in self.trials)}
        if latency:
            figures["latency_ms_mean"] = round(sum(t.latency_ms for t in self.trials) / n, 3)
        return figures


@dataclass
class SimulationReport:
    name: str
    workflow: str
    workflow_hash: str
    seed: int
    scenarios: list[ScenarioReport] = field(default_factory=list)
    id: str = field(default_factory=new_simulation_id)
    created_at: str = field(default_factory=_now)
    """ISO 8601 UTC."""
    tenant: str = "default"
    compared_to: str | None = None
    """The simulation of the other workflow version this one is compared with (``--against``)."""
    worse: list[dict[str, Any]] = field(default_factory=list)
    """``got_worse(baseline, self)`` when compared: per scenario, before and now."""

    def summary(self) -> dict[str, Any]:
        """Over every scenario: trials, success rate, escalations, guardian blocks, cost,
        mean latency, and the scenarios that got worse than the baseline."""
        trials = [t for s in self.scenarios for t in s.trials]
        n = len(trials) or 1
        return {"scenarios": len(self.scenarios), "trials": len(trials),
                "success_rate": sum(t.success for t in trials) / n,
                "escalations": sum(t.escalations for t in trials),
                "guard_blocks": sum(t.guard_blocks for t in trials),
                "cost_usd": round(sum(t.cost_usd for t in trials), 9),
                "latency_ms_mean": round(sum(t.latency_ms for t in trials) / n, 3),
                "got_worse": [r["scenario"] for r in self.worse if r["worse"]]}

    def record(self) -> dict[str, Any]:
        """The report as stored and served: ``to_json()`` with its id, time, tenant,
        baseline, summary and comparison."""
        return {"id": self.id, "created_at": self.created_at, "tenant": self.tenant,
                "compared_to": self.compared_to, **self.to_json(),
                "summary": self.summary(), "got_worse": self.worse}

    def to_json(self, *, latency: bool = True) -> dict[str, Any]:
        """The report; without ``latency`` it is the same for the same seed."""
        return {"name": self.name, "workflow": self.workflow,
                "workflow_hash": self.workflow_hash, "seed": self.seed,
                "scenarios": [s.figures(latency=latency) for s in self.scenarios],
                "trials": [t.to_json(latency=latency) for s in self.scenarios
                           for t in s.trials]}


def _perturbed(events: list[Any]) -> tuple[dict[str, Any], ...]:
    return tuple({"step_key": e.step_key, **{k: v for k, v in e.data.items()
                                              if k != SIMULATION}}
                 for e in events if e.type == EventType.SIMULATION_PERTURBED)


async def _trial(runtime: Runtime, workflow: Workflow, file: ScenariosFile, scenario: Scenario,
                 trial: int, seed: int, plans: dict[str, Perturbations], judge: ModelJudge,
                 tenant: str) -> Trial:
    trial_seed = f"{seed}/{scenario.name}/{trial}"
    run_id = new_run_id()
    plans[run_id] = Perturbations([p.perturbation() for p in scenario.perturb], seed=trial_seed,
                                  label=f"{scenario.name}#{trial}")
    started = time.perf_counter()
    try:
        record = await runtime.run(
            workflow, scenario.input if scenario.input is not None else file.input,
            run_id=run_id, tenant=tenant, tags={PURPOSE_TAG: SIMULATION, SIMULATION: file.name,
                                 "scenario": scenario.name, "trial": str(trial)})
    finally:
        plans.pop(run_id, None)
    latency_ms = round((time.perf_counter() - started) * 1000, 3)
    events = await runtime.store.events(run_id)
    result = result_of(record, events, [], runtime.metering.pricer)
    observed = Observed.from_events(record.status, result.output, result.error, result.cost,
                                    events)
    if record.status == "waiting":  # escalated to a person: counted, then not left waiting
        await runtime.cancel(run_id, actor="agentplane simulate",
                             reason="a simulated run has nobody to wait for")
    expect = scenario.expect or file.expect
    checks = await score(expect, observed, scenario.input, judge.for_run(run_id))
    return Trial(scenario.name, trial, trial_seed, run_id, record.status,
                 all(c.passed for c in checks), observed.escalations, observed.guard_blocks,
                 result.cost, latency_ms, _perturbed(list(events)))


async def simulate(runtime: Runtime, workflow: Workflow, file: ScenariosFile, *,
                   trials: int | None = None, seed: int = 0, concurrency: int = 8,
                   tenant: str = "default", baseline: SimulationReport | None = None
                   ) -> SimulationReport:
    """Run every scenario's trials (``trials`` overrides the file's) at most ``concurrency``
    at once, with the runtime perturbing each trial's run as its scenario says.
    ``baseline``: another version's simulation to compare with (``got_worse``)."""
    count = trials or file.trials
    plans: dict[str, Perturbations] = {}
    previous = runtime.perturb
    runtime.perturb = lambda run: _plan_for(plans, run)
    gate = asyncio.Semaphore(concurrency)
    await runtime.check_tools(workflow)
    judge = ModelJudge(runtime, workflow, None)

    async def one(scenario: Scenario, trial: int) -> Trial:
        async with gate:
            return await _trial(runtime, workflow, file, scenario, trial, seed, plans, judge,
                                tenant)

    try:
        done = await asyncio.gather(*(one(s, t) for s in file.scenarios
                                      for t in range(1, count + 1)))
    finally:
        runtime.perturb = previous
    report = SimulationReport(file.name, workflow.spec.name, workflow.hash, seed, tenant=tenant)
    for scenario in file.scenarios:
        report.scenarios.append(ScenarioReport(scenario.name,
                                               [t for t in done if t.scenario == scenario.name]))
    if baseline is not None:
        report.compared_to, report.worse = baseline.id, got_worse(baseline, report)
    return report


def _plan_for(plans: dict[str, Perturbations], run: RunRecord) -> Perturbations | None:
    return plans.get(run.id)


def got_worse(baseline: SimulationReport, report: SimulationReport) -> list[dict[str, Any]]:
    """Per scenario in both: success rate, escalations and cost before and now; ``worse``
    when fewer trials succeed now, or as many with more escalations."""
    before = {s.name: s.figures(latency=False) for s in baseline.scenarios}
    rows = []
    for scenario in report.scenarios:
        old = before.get(scenario.name)
        if old is None:
            continue
        new = scenario.figures(latency=False)
        worse = new["success_rate"] < old["success_rate"] or (
            new["success_rate"] == old["success_rate"]
            and new["escalations"] > old["escalations"])
        rows.append({"scenario": scenario.name, "worse": worse,
                     "success_rate_before": old["success_rate"],
                     "success_rate": new["success_rate"],
                     "escalations_before": old["escalations"], "escalations": new["escalations"],
                     "cost_delta_usd": round(new["cost_usd"] - old["cost_usd"], 9)})
    return rows
