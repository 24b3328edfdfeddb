"""Signed checkpoints on a large SQLite journal: writing one (every run's head, signed) and
comparing the journal with it (``audit verify --against``), against ``audit verify`` of the
same journal in the same run as the baseline.

The journal is audit_verify.py's (runs of 18 events, written through the store).

Run: .venv/bin/python bench/compliance_checkpoints.py [--events N]
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path

from _common import Figure, Stopwatch, print_figures, scratch
from agentplane.compliance import keys
from agentplane.compliance.checkpoints import check_against, write_checkpoint
from agentplane.journal import SQLiteJournal
from audit_verify import build, timed_verify


async def timed_checkpoints(path: Path, folder: Path) -> tuple[float, float, int]:
    private, public = folder / "k.pem", folder / "k.pub.pem"
    keys.generate(private, public)
    target = str(folder / "checkpoints.jsonl")
    store = SQLiteJournal(path, create=False)
    with Stopwatch() as written:
        line = await write_checkpoint(store, target, private)
    with Stopwatch() as checked:
        check = await check_against(store, target, public)
    await store.close()
    assert check.ok and check.runs == line.runs
    return written.seconds, checked.seconds, line.runs


def run(events: int) -> list[Figure]:
    with scratch() as folder:
        path = folder / "journal.db"
        asyncio.run(build(path, events))
        audit, _ = asyncio.run(timed_verify(path, 1))
        write, check, runs = asyncio.run(timed_checkpoints(path, folder))
    return [
        Figure("checkpoint", f"write a checkpoint of {runs:,} runs", write, "s", audit),
        Figure("checkpoint", f"audit verify --against it ({runs:,} runs)", check, "s", audit),
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=180_000)
    print_figures(run(parser.parse_args().events))
