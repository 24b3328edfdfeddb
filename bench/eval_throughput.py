"""Evaluation throughput: cases scored per second with 0 ms models (issue 17).

N cases of the demo refund desk (the scripted model answers at once; a read tool and an
idempotent write per run), each a real durable run in a SQLite journal, scored on four
expectations (contains, tool calls, cost, turns) and stored — what ``agentplane eval`` does.

Baseline, measured in the same run: the same number of runs of the same workflow started and
driven at the same concurrency, neither scored nor stored (the floor any evaluation stands on).
The ratio is the cost of evaluating on top of running. The two alternate in rounds on the same
journal, so neither gets the smaller database (a journal's writes slow as it grows).

Run: .venv/bin/python bench/eval_throughput.py [--cases N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from _common import Figure, Stopwatch, print_figures, scratch
from agentplane.demo import WORKFLOWS_DIR
from agentplane.evals.evaluate import evaluate
from agentplane.evals.spec import Dataset
from agentplane.evals.store import EvalStore
from agentplane.journal import SQLiteJournal
from agentplane.runtime import Runtime, load_workflow

ROUNDS = 4
EXPECT = {"contains": "Refunded 20.00", "tool_calls": [{"name": "issue_refund"}],
          "max_cost_usd": 0.01, "max_turns": 3}


async def measure(folder: Path, cases: int, concurrency: int) -> tuple[float, float]:
    """Seconds to run ``cases`` plain runs, and to evaluate as many cases (in rounds)."""
    workflow = load_workflow(WORKFLOWS_DIR / "refund-desk.yaml")
    size = max(1, cases // ROUNDS)
    dataset = Dataset.model_validate({"name": "bench", "cases": [
        {"id": f"c{i}", "input": f"refund request {i}", "expect": EXPECT}
        for i in range(size)]})
    store = SQLiteJournal(folder / "journal.db")
    runtime = Runtime(store)
    await runtime.run(workflow, "warm-up")
    gate = asyncio.Semaphore(concurrency)
    results = EvalStore(store.database)

    async def plain(i: int) -> str:
        async with gate:
            return (await runtime.run(workflow, f"refund request {i}")).status

    plain_s = scored_s = 0.0
    for _ in range(ROUNDS):
        with Stopwatch() as runs:
            statuses = await asyncio.gather(*(plain(i) for i in range(size)))
        assert set(statuses) == {"completed"}
        with Stopwatch() as scored:
            evaluation = await evaluate(runtime, workflow, dataset, concurrency=concurrency)
            results.save(evaluation)
        assert not evaluation.failed, evaluation.failed[0].checks
        plain_s += runs.seconds
        scored_s += scored.seconds
    results.close()
    await runtime.aclose()
    await store.close()
    return plain_s, scored_s


def run(cases: int = 1000, concurrency: int = 8) -> list[Figure]:
    cases = max(1, cases // ROUNDS) * ROUNDS
    with scratch() as folder:
        plain, scored = asyncio.run(measure(folder, cases, concurrency))
    return [Figure("evals", f"eval throughput, {cases:,} cases at 0 ms models (concurrency "
                            f"{concurrency})", cases / scored, "cases/s", cases / plain, "")]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    options = parser.parse_args()
    print_figures(run(options.cases, options.concurrency))
