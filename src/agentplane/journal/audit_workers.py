"""``audit verify`` on both cores: a large SQLite journal's runs are shared between processes.

Hashing is Python work under the GIL (``hashlib`` lets go of it only for large buffers, and
events are small), so threads would not help: each process opens the journal read-only and
verifies a contiguous share of the runs; the shares' reports are joined in run order, so the
result — counts and breaks, first break named — is the one a single process gives.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys

from .chain import holding_runs
from .store import JournalError, JournalStore

log = logging.getLogger(__name__)

PARALLEL_FROM_RUNS = 2_000
"""Fewer runs than this are scanned in one process (starting one costs more)."""


def _shares(workers: int | None, runs: int) -> int:
    wanted = workers if workers is not None else (os.cpu_count() or 1)
    return max(1, min(wanted, runs // (PARALLEL_FROM_RUNS // 2)))


async def _share_in_child(path: str, share: int, shares: int) -> dict[str, int]:
    # A fresh interpreter (``-m`` this module), not fork: the parent holds SQLite connections
    # and an event loop; not multiprocessing's spawn: it re-runs the caller's main script.
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", __name__, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    asked = json.dumps({"path": path, "share": share, "shares": shares}).encode()
    out, err = await child.communicate(asked)
    if child.returncode != 0:
        last = err.decode(errors="replace").strip().splitlines()[-1:]
        raise JournalError(f"a process verifying part of the journal failed: {last}")
    holding: dict[str, int] = json.loads(out)
    return holding


async def holding_in_parallel(store: JournalStore, runs: int, workers: int | None
                              ) -> dict[str, int]:
    """:func:`~agentplane.journal.chain.holding_runs` of the whole journal, its scan shared
    between this process and others when the journal is a large SQLite file."""
    path = getattr(store, "path", None)
    shares = _shares(workers, runs)
    if (store.database.dialect != "sqlite" or not isinstance(path, str) or path == ":memory:"
            or runs < PARALLEL_FROM_RUNS or shares < 2):
        return holding_runs(store)
    children = [asyncio.ensure_future(_share_in_child(path, k, shares))
                for k in range(1, shares)]
    await asyncio.sleep(0)  # let them start before this process takes its own share
    holding = holding_runs(store, 0, shares)
    for k, child in enumerate(children, start=1):
        try:
            holding.update(await child)
        except (JournalError, OSError, ValueError) as exc:  # no child: scan its share here
            log.warning("audit: %s; scanning that part in this process", exc)
            holding.update(holding_runs(store, k, shares))
    return holding


def _main() -> None:
    """One share: ``{"path", "share", "shares"}`` on stdin, its holding runs on stdout."""
    from .sqlite import SQLiteJournal

    asked = json.load(sys.stdin)
    store = SQLiteJournal(asked["path"], create=False, readonly=True)
    try:
        print(json.dumps(holding_runs(store, asked["share"], asked["shares"])))
    finally:
        asyncio.run(store.close())


if __name__ == "__main__":
    _main()
