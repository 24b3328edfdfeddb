"""``agentplane eval`` and ``agentplane simulate``: score a workflow on a dataset, and stress it
with perturbed tools and models before it goes live.

Exit codes (for CI): ``eval`` exits 1 when a case of WORKFLOW fails; ``simulate`` exits 1 when,
with ``--against``, a scenario got worse on WORKFLOW than on the other version. Bad files exit 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from . import render, settings
from ._exits import FAILURE, OK
from ._inputs import write_text

if TYPE_CHECKING:
    from agentplane.evals.compare import Comparison
    from agentplane.evals.evaluate import Evaluation
    from agentplane.evals.simulate import SimulationReport

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (default: "
                                              "$AGENTPLANE_DB or a SQLite file in "
                                              "$AGENTPLANE_HOME).", show_default=False)]
ConcurrencyOption = Annotated[int, typer.Option("--concurrency", min=1,
                                                help="Runs at once.")]
JsonOut = Annotated[Path | None, typer.Option("--json", help="Write the results as JSON to "
                                              "this file.", show_default=False)]

out = render.lazy_console()


def _cases_table(evaluation: Evaluation, comparison: Comparison | None) -> None:
    from ._tables import Column, fitted
    from .render import money, status_cell

    changes = {c.case_id: c for c in comparison.cases} if comparison else {}
    columns = [Column("CASE"), Column("RESULT"), Column("RUN"), Column("STATUS", drop=2),
               Column("COST USD", justify="right", drop=1), Column("WHY", wrap=True,
                                                                    whole_words=False)]
    if comparison:
        columns.insert(2, Column("CHANGE"))
    rows = []
    for c in evaluation.cases:
        why = "; ".join(f"{k.kind}: {k.detail}" for k in c.checks if not k.passed)
        row: list[object] = [c.case_id, "pass" if c.passed else "FAIL", c.run_id,
                             status_cell(c.status), money(c.cost_usd), why]
        if comparison:
            diff = changes.get(c.case_id)
            row.insert(2, diff.change.replace("_", " ") if diff else "")
        rows.append(row)
    out.print(fitted(columns, rows, out.width))  # type: ignore[arg-type]


def _summary_line(evaluation: Evaluation) -> str:
    s = evaluation.summary()
    model = f" with {evaluation.model}" if evaluation.model else ""
    return (f"{evaluation.id}: {evaluation.dataset} on {evaluation.workflow}{model}: "
            f"{s['passed']}/{s['cases']} passed ({s['pass_rate']:.0%}), cost "
            f"{render.money(s['cost_usd'])} USD"
            + (f" (judge {render.money(s['judge_cost_usd'])} USD)" if s["judge_cost_usd"] else "")
            + f", latency mean {s['latency_ms_mean']:.0f} ms, p95 {s['latency_ms_p95']:.0f} ms")


def eval_command(
    dataset: Annotated[Path, typer.Argument(help="Dataset YAML file (cases and expectations)."
                                            )],
    workflow: Annotated[Path, typer.Argument(help="Workflow YAML file.")],
    against: Annotated[Path | None, typer.Option(
        "--against", help="Another workflow version to compare with (the baseline).",
        show_default=False)] = None,
    model: Annotated[str | None, typer.Option(
        "--model", help="Run every agent on this model (provider:model); with --against-"
        "model, compare two models on the same workflow.", show_default=False)] = None,
    against_model: Annotated[str | None, typer.Option(
        "--against-model", help="The baseline's model (on --against, else on WORKFLOW).",
        show_default=False)] = None,
    concurrency: ConcurrencyOption = 8,
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant the runs belong to.")
                      ] = "default",
    json_out: JsonOut = None,
    junit: Annotated[Path | None, typer.Option("--junit", help="Write JUnit XML to this file "
                                               "(for CI).", show_default=False)] = None,
    db: DbOption = None,
) -> None:
    """Run every case of DATASET as a durable run of WORKFLOW (tagged evaluation: out of
    invoices), score it, store the results (console: Evaluations). Exits 1 when a case of
    WORKFLOW fails, so CI can gate on it."""
    import asyncio

    from agentplane.evals.compare import compare
    from agentplane.evals.evaluate import evaluate
    from agentplane.evals.export import to_json, to_junit
    from agentplane.evals.spec import load_dataset
    from agentplane.evals.store import EvalStore
    from agentplane.journal import open_store
    from agentplane.runtime import Runtime, load_workflow

    data = load_dataset(dataset)
    flow = load_workflow(workflow)
    other = load_workflow(against) if against is not None else None
    baseline_flow = other if other is not None else (flow if against_model else None)

    async def main() -> tuple[list[Evaluation], Comparison | None]:
        store = open_store(settings.database_url(db))
        runtime = Runtime(store)
        try:
            done: list[Evaluation] = []
            baseline = None
            if baseline_flow is not None:
                baseline = await evaluate(runtime, baseline_flow, data, concurrency=concurrency,
                                          model=against_model, tenant=tenant)
                done.append(baseline)
            current = await evaluate(runtime, flow, data, concurrency=concurrency, model=model,
                                     tenant=tenant, compared_to=baseline.id if baseline else None)
            done.append(current)
            results = EvalStore(store.database)
            for e in done:
                results.save(e)
            results.close()
            return done, compare(baseline, current) if baseline else None
        finally:
            await runtime.aclose()
            await store.close()

    evaluations, comparison = asyncio.run(main())
    current = evaluations[-1]
    _cases_table(current, comparison)
    for e in evaluations:
        out.print(render.escape(_summary_line(e)))
    if comparison is not None:
        report = comparison.to_json()
        out.print(f"against {comparison.baseline}: newly failing "
                  f"{render.escape(', '.join(report['newly_failing']) or 'none')}; newly "
                  f"passing {render.escape(', '.join(report['newly_passing']) or 'none')}; "
                  f"cost delta {render.money(report['cost_delta_usd'])} USD")
    if json_out is not None:
        write_text(json_out, to_json(evaluations, comparison))
    if junit is not None:
        write_text(junit, to_junit(evaluations))
    if current.failed:
        raise typer.Exit(FAILURE)


def _scenarios_table(report: SimulationReport, worse: dict[str, bool]) -> None:
    from ._tables import Column, fitted

    columns = [Column("SCENARIO"), Column("SUCCESS", justify="right"),
               Column("ESCALATIONS", justify="right", drop=2),
               Column("BLOCKS", justify="right", drop=2),
               Column("COST USD", justify="right", drop=1),
               Column("LATENCY MS", justify="right", drop=3),
               Column("PERTURBED", justify="right", drop=3)]
    if worse:
        columns.append(Column("VS BASELINE"))
    rows = []
    for s in report.scenarios:
        f = s.figures()
        row: list[object] = [s.name, f"{f['success_rate']:.0%}", str(f["escalations"]),
                             str(f["guard_blocks"]), render.money(f["cost_usd"]),
                             f"{f['latency_ms_mean']:.0f}", str(f["perturbations"])]
        if worse:
            row.append("WORSE" if worse.get(s.name) else "")
        rows.append(row)
    out.print(fitted(columns, rows, out.width))  # type: ignore[arg-type]


def simulate_command(
    scenarios: Annotated[Path, typer.Argument(help="Scenarios YAML file.")],
    workflow: Annotated[Path, typer.Argument(help="Workflow YAML file.")],
    trials: Annotated[int | None, typer.Option("--trials", min=1, help="Trials per scenario "
                                               "(default: the file's).", show_default=False)
                      ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed: the same seed gives the same "
                                      "perturbations.")] = 0,
    against: Annotated[Path | None, typer.Option(
        "--against", help="Another workflow version to compare with (the baseline).",
        show_default=False)] = None,
    concurrency: ConcurrencyOption = 8,
    tenant: Annotated[str, typer.Option("--tenant", help="Tenant the runs belong to.")
                      ] = "default",
    json_out: JsonOut = None,
    db: DbOption = None,
) -> None:
    """Stress WORKFLOW: each scenario's perturbations (incomplete, contradictory, slow or
    failing tools and models, malformed output, injected content, conflicting goals) applied
    by the runtime around the real tools and models, for N seeded trials; the reports are
    stored (console: Evaluations, Simulations). Exits 1 when, with --against, a scenario got
    worse than on the other version."""
    import asyncio
    import json

    from agentplane.evals.sim_store import SimulationStore
    from agentplane.evals.simulate import simulate
    from agentplane.evals.spec import load_scenarios
    from agentplane.journal import open_store
    from agentplane.runtime import Runtime, load_workflow

    file = load_scenarios(scenarios)
    flow = load_workflow(workflow)
    other = load_workflow(against) if against is not None else None

    async def main() -> list[SimulationReport]:
        store = open_store(settings.database_url(db))
        runtime = Runtime(store)
        try:
            done: list[SimulationReport] = []
            baseline = None
            if other is not None:
                baseline = await simulate(runtime, other, file, trials=trials, seed=seed,
                                          concurrency=concurrency, tenant=tenant)
                done.append(baseline)
            done.append(await simulate(runtime, flow, file, trials=trials, seed=seed,
                                       concurrency=concurrency, tenant=tenant,
                                       baseline=baseline))
            results = SimulationStore(store.database)
            for report in done:
                results.save(report)
            results.close()
            return done
        finally:
            await runtime.aclose()
            await store.close()

    reports = asyncio.run(main())
    current = reports[-1]
    rows = current.worse
    worse = {r["scenario"]: bool(r["worse"]) for r in rows}
    _scenarios_table(current, worse)
    named = [name for name, w in worse.items() if w]
    if len(reports) == 2:
        out.print(f"worse than {render.escape(str(against))}: "
                  f"{render.escape(', '.join(named) or 'none')}")
    if json_out is not None:
        data = {"reports": [r.record() for r in reports], "comparison": rows}
        write_text(json_out, json.dumps(data, indent=2, ensure_ascii=False, default=str))
    raise typer.Exit(FAILURE if named else OK)

