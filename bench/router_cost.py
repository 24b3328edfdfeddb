"""The model router's overhead per model call (goal: under 0.2 ms).

Two figures, each against a baseline measured in the same run:

1. the decision alone — reading what the call needs from the request (tools, images, prompt
   size), the data marks of the conversation, ranking three candidates by catalog price with
   the residency rule and the breakers, and the journaled form of the decision — against a
   direct call of the scripted model (the cheapest model call there is);
2. a whole model step in a durable run on SQLite, ``model: router:desk`` against the same agent
   with a fixed ``model: onprem`` (the candidate the router picks, so both are priced alike):
   the difference per call is what routing adds, with the ``model.routed`` event it journals
   (written with the call's request, in the same transaction).

Run: .venv/bin/python bench/router_cost.py [--calls 5000] [--runs 40]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, print_figures, scratch
from agentplane.governance.residency import Placement, ToolMark, data_marks
from agentplane.journal import SQLiteJournal
from agentplane.metering.pricing import catalog_pricing
from agentplane.models.base import Message, ModelRequest, ToolDefinition
from agentplane.models.breaker import Breakers, Health
from agentplane.models.router import Needs, Router
from agentplane.models.scripted import ScriptedProvider, ScriptedReply
from agentplane.runtime import Runtime, workflow_from_dict
from agentplane.runtime.routing_spec import RouterSpec

CANDIDATES: list[dict[str, Any]] = [
    {"model": "onprem", "tags": ["tools"], "context_window": 32000},
    {"model": "openai:gpt-4o-mini", "tags": ["tools", "json"], "context_window": 128000,
     "region": "eu"},
    {"model": "openai:gpt-4o", "tags": ["tools", "json", "vision"], "context_window": 128000,
     "region": "us"},
]


def request() -> ModelRequest:
    tools = [ToolDefinition(f"tool_{i}", f"Tool number {i} does a thing.",
                            {"type": "object", "properties": {"x": {"type": "string"}}})
             for i in range(5)]
    messages = [Message("system", "You handle refunds. " * 20), Message("user", "Refund A1")]
    for i in range(4):
        messages.append(Message("assistant", None))
        messages.append(Message("tool", '{"order_id": "A1", "total": 35.0}' * 3,
                                tool_call_id=f"c{i}", name="lookup" if i % 2 else "crm"))
    return ModelRequest("router:desk", messages, tools=tools, agent="clerk")


def decision_ms(calls: int) -> tuple[float, float]:
    """(median ms of a routing decision, median ms of a direct scripted call)."""
    router = Router(RouterSpec.model_validate({"name": "desk", "candidates": CANDIDATES}),
                    placements={"onprem": Placement("onprem", local=True)},
                    default_models={"onprem": "llama-3.1-8b"},
                    worst_case=catalog_pricing()[1], health=Health(), breakers=Breakers())
    marks_of = {"crm": ToolMark("personal", None)}
    req = request()

    def decide() -> None:
        seen = [m.name for m in req.messages if m.role == "tool" and m.name in marks_of]
        marks = data_marks(sensitivity=None, regions=[], tool_marks=marks_of,
                           tools_seen=[n for n in seen if n])
        router.choose(Needs.of(req), marks).to_dict()

    provider = ScriptedProvider({"clerk": [ScriptedReply(content="done")]})

    async def direct() -> list[float]:
        out = []
        for _ in range(calls):
            req.call_index = 0
            started = time.perf_counter()
            await provider.complete(req)
            out.append((time.perf_counter() - started) * 1000)
        return out

    for _ in range(200):
        decide()
    routed = []
    for _ in range(calls):
        started = time.perf_counter()
        decide()
        routed.append((time.perf_counter() - started) * 1000)
    return statistics.median(routed), statistics.median(asyncio.run(direct()))


def flow(model: str, turns: int) -> dict[str, Any]:
    script = [{"tool_calls": [{"name": "lookup", "arguments": {"order_id": f"A{i}"}}]}
              for i in range(turns - 1)] + [{"content": "done"}]
    return {"name": "bench-router", "tools": [{"name": "lookup", "python": "tools:lookup_order",
                                                "effect": "read"}],
            "providers": [{"name": "onprem", "kind": "scripted", "model": "llama-3.1-8b",
                           "local": True}],
            "routers": [{"name": "desk", "candidates": CANDIDATES}],
            "agents": [{"name": "clerk", "model": model, "tools": ["lookup"], "script": script,
                        "max_turns": turns + 1, "loop_limit": turns + 1}],
            "steps": [{"agent": "clerk"}]}


async def per_call_ms(folder: Path, runs: int, turns: int) -> tuple[float, float]:
    """(routed, fixed): median milliseconds per model call of whole runs (the calls, their
    tools, the journal), the two kinds of run interleaved so the machine's drift hits both."""
    demo_tools = Path(__file__).resolve().parents[1] / "src" / "agentplane" / "demo" / "workflows"
    times: dict[str, list[float]] = {}
    opened = []
    for model in ("router:desk", "onprem"):
        store = SQLiteJournal(folder / f"{model.replace(':', '_')}.db")
        runtime = Runtime(store)
        workflow = workflow_from_dict(flow(model, turns), demo_tools)
        await runtime.run(workflow, "warm up")
        opened.append((model, store, runtime, workflow))
        times[model] = []
    for round_ in range(runs):
        for model, _store, runtime, workflow in (opened if round_ % 2 else opened[::-1]):
            started = time.perf_counter()
            run = await runtime.run(workflow, "go")
            times[model].append((time.perf_counter() - started) * 1000 / turns)
            assert run.status == "completed", run.status
    for _model, store, runtime, _workflow in opened:
        await runtime.aclose()
        await store.close()
    return (statistics.median(times["router:desk"]),
            statistics.median(times["onprem"]))


def run(calls: int = 5000, runs: int = 40, turns: int = 10) -> list[Figure]:
    decided, direct = decision_ms(calls)
    figures = [Figure("router", "routing decision (3 candidates), median", decided, "ms",
                      direct, "< 0.2 ms; baseline: a direct scripted model call")]
    with scratch() as folder:
        routed, fixed = asyncio.run(per_call_ms(folder, runs, turns))
    figures.append(Figure("router", "model step in a run, routed", routed, "ms", fixed,
                          "baseline: the same step with a fixed model"))
    figures.append(Figure("router", "what routing adds per step (incl. its event)",
                          routed - fixed, "ms", None, "< 0.2 ms for the decision itself"))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=40)
    args = parser.parse_args()
    print_figures(run(args.calls, args.runs))


if __name__ == "__main__":
    main()
