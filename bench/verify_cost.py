"""What verifying an answer costs a run: the same workflow with and without a ``verify:``
section, on a model that answers at once.

The workflow is one agent that calls a tool and answers with figures that cite it. With
verification, the answer is checked — grounding (each figure and quoted value found in the
cited tool result) and two rules — and the verdict journaled as one ``verify.checked`` event.
The answer passes first time, so what is measured is the price of checking, not of repairing.

Baseline, measured in the same run: the same runs without ``verify:``. Also measured alone:
the pure checks of one answer (no journal), in microseconds.

Run: .venv/bin/python bench/verify_cost.py [--runs N] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import Figure, Stopwatch, print_figures, scratch
from agentplane.journal import SQLiteJournal
from agentplane.runtime import Runtime, workflow_from_dict
from agentplane.runtime.verify_checks import answer_findings
from agentplane.runtime.verify_spec import VerifySpec

ANSWER = ("Order A1 totals 1,240.5 EUR [tool:call_0_0] for 3 items [tool:call_0_0]. "
          "It is \"paid in full\" [tool:call_0_0]. Nothing else is open.")
VERIFY: dict[str, Any] = {"grounding": True, "rules": ["len(answer) < 2000",
                                                       "'EUR' in answer"]}


def _workflow(folder: Path, verify: bool) -> Any:
    (folder / "figures.py").write_text(
        "def order(order_id: str) -> dict[str, object]:\n"
        "    \"\"\"Look an order up.\"\"\"\n"
        "    return {'order_id': order_id, 'total': 1240.5, 'items': 3,\n"
        "            'status': 'paid in full'}\n")
    step: dict[str, Any] = {"agent": "clerk", **({"verify": VERIFY} if verify else {})}
    return workflow_from_dict({
        "name": "verified" if verify else "plain",
        "tools": [{"name": "order", "python": "figures:order", "effect": "read"}],
        "agents": [{"name": "clerk", "tools": ["order"], "script": [
            {"tool_calls": [{"name": "order", "arguments": {"order_id": "A1"}}]},
            {"content": ANSWER}]}],
        "steps": [step]}, folder)


async def runs_ms(folder: Path, verify: bool, runs: int, round_: int = 0) -> float:
    """Milliseconds per run of ``runs`` runs, one after another, on a fresh journal."""
    store = SQLiteJournal(folder / f"journal-{verify}-{round_}.db")
    runtime = Runtime(store)
    workflow = _workflow(folder, verify)
    for _ in range(3):  # warm: imports, the database's pages
        await runtime.run(workflow, "A1?")
    with Stopwatch() as watch:
        for _ in range(runs):
            run = await runtime.run(workflow, "A1?")
            assert run.status == "completed", run
    await runtime.aclose()
    await store.close()
    return watch.seconds * 1000 / runs


def checks_us(number: int) -> float:
    """Microseconds of the checks of one answer alone (no journal)."""
    spec = VerifySpec.model_validate(VERIFY)
    sources = {"tool:call_0_0": '{"order_id": "A1", "total": 1240.5, "items": 3, '
                                '"status": "paid in full"}'}
    assert answer_findings(spec, ANSWER, "A1?", sources) == []
    seconds = timeit.timeit(lambda: answer_findings(spec, ANSWER, "A1?", sources),
                            number=number)
    return seconds / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    # Rounds alternate the two workflows, each on a fresh journal, and the medians are
    # compared: the machine is shared and noisy, and a journal grows slower as it fills.
    plains, verifieds = [], []
    with scratch() as folder:
        for r in range(args.rounds):
            plains.append(asyncio.run(runs_ms(folder, False, args.runs, r)))
            verifieds.append(asyncio.run(runs_ms(folder, True, args.runs, r)))
    plain, verified = statistics.median(plains), statistics.median(verifieds)
    print_figures([
        Figure("verify", "run with a verified answer (grounding + 2 rules)", verified, "ms/run",
               baseline=plain, goal="ratio close to 1"),
        Figure("verify", "the checks of one answer alone", checks_us(2000), "µs"),
    ])


if __name__ == "__main__":
    main()
