"""The support hand-off, offline: the assistant tries the remote setup, hands the case to a
human agent with a summary, a person takes it from the inbox, the customer is told who takes
over.

    python examples/support-handoff/run.py [--db support-handoff.db]

1. Customer K-2207's new speaker will not pair. The assistant looks the customer and the device
   up, updates the firmware (fails: E42), resets the device, updates again (fails again).
2. It calls ``hand_off`` with a summary compiled from what the tools returned; the call waits
   in the inbox (``in_the_loop``): the human agent reads the summary there and takes the case.
3. The ticket is filed in the human team's queue, and the assistant tells the customer.

The script exits 1 if the summary names a step, an error code or a device the tools never
returned (a summary must be what the assistant saw, not what it imagined). Afterwards
``AGENTPLANE_DB=sqlite:///support-handoff.db agentplane serve`` shows the run and the approval.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from support_handoff import desk_model, flow

from agentplane import Runtime
from agentplane.journal import EventType
from agentplane.testing import FunctionModel

CASE = {"customer_id": "K-2207", "serial": "SP-88-0412", "mood": "frustrated, second call",
        "message": "My new speaker won't connect to anything. I've tried everything!"}


def unsupported(summary: dict[str, Any], seen: list[Any]) -> list[str]:
    """What the summary states that no tool result contained."""
    text = json.dumps(seen, ensure_ascii=False)
    claims = [*summary["error_codes"], *(s.split(":")[0] for s in summary["steps_tried"]),
              summary["device"].rsplit(" ", 1)[-1]]
    return [c for c in claims if c not in text]


async def main(db_path: Path) -> int:
    for stale in (db_path, Path(f"{db_path}-wal"), Path(f"{db_path}-shm")):
        stale.unlink(missing_ok=True)
    queue = db_path.with_name("handoff-queue.jsonl")
    queue.unlink(missing_ok=True)
    os.environ["HANDOFF_QUEUE"] = str(queue)
    async with Runtime(f"sqlite:///{db_path}", model=FunctionModel(desk_model),
                       actor="user:mia") as rt:
        result = await rt.run(flow, CASE)
        if result.status != "waiting":
            print(f"expected a hand-off waiting for a person, got {result.status}",
                  file=sys.stderr)
            return 1
        [approval] = result.waiting
        summary = approval.data["arguments"]
        print("== The human agent's inbox: hand-off from the assistant")
        for field, value in summary.items():
            print(f"  {field}: {value}")
        seen = [e.data.get("result") for e in result.events
                if e.type == EventType.TOOL_COMPLETED]
        wrong = unsupported(summary, seen)
        if wrong:
            print(f"the summary states what no tool returned: {wrong}", file=sys.stderr)
            return 1
        result = await rt.approve(approval.id, reason="Mia (tier 2) takes the case")
    if result.status != "completed":
        print(f"run {result.run_id} ended {result.status}: {result.error}", file=sys.stderr)
        return 1
    ticket = json.loads(queue.read_text().splitlines()[-1])
    print(f"\n== Ticket {ticket['ticket']} in the {ticket['queue']} queue")
    print(f"\n== To the customer\n{result.output}\n\nJournal: sqlite:///{db_path}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, default=Path("support-handoff.db"),
                        help="SQLite file for the journal (replaced; default: %(default)s)")
    sys.exit(asyncio.run(main(parser.parse_args().db)))
