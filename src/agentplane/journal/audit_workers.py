"""``audit verify`` on both cores: a large SQLite journal is split by position between processes.

Hashing is Python work under the GIL (``hashlib`` lets go of it only for large buffers, and
events are small), so threads would not help: each process opens the journal read-only and
scans one contiguous range of the events table's rowids (write order), reading only that
range; the per-run pieces are then joined in order, a run crossing a range boundary holding
only when each piece begins with the seq and prev_hash the one before it ended on. Runs that
do not hold are verified event by event afterwards, so the result — counts and breaks, first
break named — is the one a single process gives.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys

from .chain import Share, holding_runs, join_shares, scan_share
from .store import JournalError, JournalStore

log = logging.getLogger(__name__)

PARALLEL_FROM_RUNS = 2_000
"""Fewer runs than this are scanned in one process (starting one costs more)."""


def _shares(workers: int | None, runs: int) -> int:
    wanted = workers if workers is not None else (os.cpu_count() or 1)
    return max(1, min(wanted, runs // (PARALLEL_FROM_RUNS // 2)))


def _ranges(low: int, high: int, shares: int) -> list[tuple[int, int]]:
    """``[low, high]`` cut into ``shares`` consecutive rowid ranges of (nearly) equal size."""
    size = high - low + 1
    bounds = [low + size * k // shares for k in range(shares + 1)]
    return [(bounds[k], bounds[k + 1] - 1) for k in range(shares)]


def _start_child(path: str, low: int, high: int) -> subprocess.Popen[bytes] | OSError:
    """Start scanning ``[low, high]`` in a fresh interpreter (``-m`` this module), at once:
    the range is on its command line, so it does not wait for this process (busy with its own
    range) to write anything. Not fork: the parent holds SQLite connections and an event loop;
    not multiprocessing's spawn: it re-runs the caller's main script."""
    try:
        return subprocess.Popen([sys.executable, "-m", __name__, path, str(low), str(high)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    except OSError as exc:
        return exc


def _child_share(child: subprocess.Popen[bytes]) -> Share:
    out, err = child.communicate()
    if child.returncode != 0:
        last = err.decode(errors="replace").strip().splitlines()[-1:]
        raise JournalError(f"a process verifying part of the journal failed: {last}")
    found = json.loads(out)
    return Share(found["whole"], {run_id: tuple(piece)
                                  for run_id, piece in found["pieces"].items()},
                 found["broken"])


async def holding_in_parallel(store: JournalStore, runs: int, workers: int | None
                              ) -> dict[str, int]:
    """:func:`~agentplane.journal.chain.holding_runs` of the whole journal, its scan shared
    between this process and others when the journal is a large SQLite file."""
    path = getattr(store, "path", None)
    shares = _shares(workers, runs)
    if (store.database.dialect != "sqlite" or not isinstance(path, str) or path == ":memory:"
            or runs < PARALLEL_FROM_RUNS or shares < 2):
        return holding_runs(store)
    low, high = store.database.query("SELECT min(rowid), max(rowid) FROM events")[0]
    if low is None:
        return {}
    ranges = _ranges(int(low), int(high), shares)
    children = [_start_child(path, *bounds) for bounds in ranges[1:]]
    found = [scan_share(store, *ranges[0])]
    for bounds, child in zip(ranges[1:], children, strict=True):
        try:
            if isinstance(child, OSError):
                raise JournalError(f"no process could be started for part of the journal: "
                                   f"{child.strerror}")
            found.append(await asyncio.to_thread(_child_share, child))
        except (JournalError, ValueError, KeyError) as exc:  # scan its range here
            log.warning("audit: %s; scanning that part in this process", exc)
            found.append(scan_share(store, *bounds))
    return join_shares(store, found)


def _main() -> None:
    """One range: ``PATH LOW HIGH`` on the command line, what it found on stdout."""
    from .sqlite import SQLiteJournal

    path, low, high = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    store = SQLiteJournal(path, create=False, readonly=True)
    try:
        share = scan_share(store, low, high)
        print(json.dumps({"whole": share.whole, "pieces": share.pieces,
                          "broken": share.broken}))
    finally:
        asyncio.run(store.close())


if __name__ == "__main__":
    _main()
