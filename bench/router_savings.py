"""What routing saves: a mixed workload, routed, against always the strongest model.

The workload (seeded): mostly cheap tasks (a short question), some hard ones — a long document
(more than the small model's declared context window) or an image (the small model has no
``vision``). Every task is a real durable run of one agent on SQLite. The models are a
``FunctionModel`` double that answers ``PASS`` when the model's tier can do the task (the
strong one can do all; the small one only the cheap tasks) and ``FAIL`` otherwise, with a
200-token answer. Costs are the price catalog's (``gpt-4o`` and ``gpt-4o-mini``) applied to the
tokens of each journaled ``model.completed``.

Strategies, on the same tasks: ``model: router:desk`` (cheapest candidate that qualifies),
``model: openai:gpt-4o`` always (the baseline), and ``openai:gpt-4o-mini`` always (what
cheapness alone gives up). The figure: the routed cost as a fraction of the baseline's, at the
pass rates shown (routing must match the baseline's).

Run: .venv/bin/python bench/router_savings.py [--tasks 200] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, print_figures, scratch
from agentplane.journal import EventType, SQLiteJournal
from agentplane.metering.pricing import catalog_pricing
from agentplane.models.function import FunctionModel, ModelCall
from agentplane.models.registry import EVERY_MODEL
from agentplane.models.router import IMAGE_MARK
from agentplane.runtime import Runtime, workflow_from_dict

STRONG, SMALL = "gpt-4o", "gpt-4o-mini"
ANSWER = "word " * 200
SMALL_WINDOW = 16_000


@dataclass(frozen=True)
class Task:
    text: str
    hard: bool


def workload(n: int, seed: int) -> list[Task]:
    rng = random.Random(seed)
    tasks = []
    for i in range(n):
        roll = rng.random()
        if roll < 0.15:  # a long contract to summarise: past the small model's window
            doc = " ".join(f"clause {j}: the supplier delivers on time." for j in range(1200))
            tasks.append(Task(f"Summarise contract {i}: {doc}", hard=True))
        elif roll < 0.30:  # a scanned invoice
            tasks.append(Task(f"Read invoice {i}: {IMAGE_MARK}png;base64,iVBORw0KGgo", True))
        else:
            tasks.append(Task(f"What is the status of order {i}? It shipped on day {i % 28}.",
                              hard=False))
    return tasks


def answer(call: ModelCall) -> str:
    """PASS when the model's tier can do the task, FAIL otherwise."""
    text = call.input
    hard = IMAGE_MARK in text or len(text) > 20_000
    passed = call.request.model == STRONG or not hard
    return ("PASS " if passed else "FAIL ") + ANSWER


def flow(model: str) -> dict[str, Any]:
    return {"name": f"savings-{model.replace(':', '-')}",
            "routers": [{"name": "desk", "prefer": "cheapest", "candidates": [
                {"model": f"openai:{SMALL}", "tags": ["tools", "json"],
                 "context_window": SMALL_WINDOW},
                {"model": f"openai:{STRONG}", "tags": ["tools", "json", "vision"],
                 "context_window": 128_000}]}],
            "agents": [{"name": "worker", "model": model, "max_output_tokens": 400}],
            "steps": [{"agent": "worker"}]}


async def strategy(folder: Path, model: str, tasks: list[Task]) -> tuple[float, float]:
    """(pass rate, cost in USD) of running every task on ``model``."""
    pricer = catalog_pricing()[0]
    store = SQLiteJournal(folder / f"{model.replace(':', '_')}.db")
    runtime = Runtime(store, providers={EVERY_MODEL: FunctionModel(answer)})
    workflow = workflow_from_dict(flow(model), folder)
    passed, cost = 0, 0.0
    for task in tasks:
        run = await runtime.run(workflow, task.text)
        for event in await store.events(run.id):
            if event.type == EventType.MODEL_COMPLETED:
                cost += pricer(str(event.data["model"]), event.usage or {}).usd
            if event.type == EventType.RUN_COMPLETED:
                passed += str(event.data["output"]).startswith("PASS")
    await runtime.aclose()
    await store.close()
    return passed / len(tasks), cost


def run(tasks: int = 200, seed: int = 7) -> list[Figure]:
    work = workload(tasks, seed)
    with scratch() as folder:
        results = {m: asyncio.run(strategy(folder, m, work))
                   for m in ("router:desk", f"openai:{STRONG}", f"openai:{SMALL}")}
    (routed_pass, routed), (strong_pass, strong) = (results["router:desk"],
                                                    results[f"openai:{STRONG}"])
    small_pass, small = results[f"openai:{SMALL}"]
    hard = sum(t.hard for t in work)
    return [
        Figure("router", f"cost, routed ({tasks} tasks, {hard} hard)", routed, "USD", strong,
               f"baseline: always {STRONG}; pass {routed_pass:.0%} vs {strong_pass:.0%}"),
        Figure("router", f"cost, always {SMALL}", small, "USD", strong,
               f"pass {small_pass:.0%}: cheap, but fails the hard tasks"),
        Figure("router", "saved by routing at equal pass rate", 1 - routed / strong, "share",
               None, "routed pass rate must equal the baseline's"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    print_figures(run(args.tasks, args.seed))


if __name__ == "__main__":
    main()
