"""Runs at scale: the concurrency workload (N runs × 5 calls of 100 ms, all at once, one process)
at 1,000, 3,000 and 10,000 runs, so a super-linear curve shows at a glance.

Each size runs in a fresh process (so each peak memory is its own), which first measures the
asyncio floor (N × 5 sleeps of 100 ms, no journal) and then the same work through the durable
runtime on SQLite. Per size it prints: the wall time per run against the floor's, the wall time
against the 1,000-run wall time scaled linearly (1.00× is linear), the same for the process's
CPU time (which other processes on a busy machine disturb less than the wall time), and the
process's peak resident memory against the memory after start-up (imports, an empty journal).
The runtime drives runs as it does by default: at most 1,000 at once (``max_active``), the others
journaled and waiting their turn; ``--max-active none`` drives every run at once.

Run: .venv/bin/python bench/scale_runs.py [--sizes 1000,3000,10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import Figure, print_figures, scratch
from agentplane.journal import SQLiteJournal
from agentplane.runtime import Runtime
from agentplane.runtime.admission import DEFAULT_MAX_ACTIVE
from concurrency import fan_out, floor, run_all

SIZES = (1_000, 3_000, 10_000)


def _peak_mb() -> float:
    """This process's peak resident memory (``VmHWM``). Not ``getrusage``'s ``ru_maxrss``:
    Linux carries the parent's peak at ``fork`` over into a child's, so under ``run_all.py``
    every size would read the benchmark driver's own memory."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024  # kB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux: KiB


def _current_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 1_048_576


async def _durable(folder: Path, runs: int, max_active: int | None) -> dict[str, float]:
    store = SQLiteJournal(folder / "journal.db")
    runtime = Runtime(store, max_active=max_active)
    workflow = fan_out(folder)
    started_mb = _current_mb()
    cpu = time.process_time()
    wall = await run_all(runtime, workflow, runs)
    cpu = time.process_time() - cpu
    peak = _peak_mb()
    await runtime.aclose()
    await store.close()
    return {"wall": wall, "cpu": cpu, "peak_mb": peak, "start_mb": started_mb}


def one(runs: int, max_active: int | None = DEFAULT_MAX_ACTIVE) -> dict[str, float]:
    """Measure one size in this process: the floor, then the durable runs."""
    base = asyncio.run(floor(runs))
    with scratch() as folder:
        out = asyncio.run(_durable(folder, runs, max_active))
    return {"runs": runs, "floor": base, **out}


def measure(runs: int, max_active: int | None = DEFAULT_MAX_ACTIVE) -> dict[str, float]:
    """``one(runs)`` in a fresh process."""
    done = subprocess.run([sys.executable, __file__, "--one", str(runs),
                           "--max-active", str(max_active).lower()], check=True,
                          capture_output=True, text=True)
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(sizes: tuple[int, ...] = SIZES, max_active: int | None = DEFAULT_MAX_ACTIVE
        ) -> list[Figure]:
    results = [measure(n, max_active) for n in sizes]
    driven = "all driven at once" if max_active is None else f"≤ {max_active:,} driven at once"
    first = results[0]
    figures: list[Figure] = []
    for r in results:
        n = int(r["runs"])
        figures += [
            Figure("scale_runs", f"{n} runs: wall time per run (floor = baseline)",
                   r["wall"] / n * 1e3, "ms/run", r["floor"] / n * 1e3, ""),
            Figure("scale_runs", f"{n} runs: wall vs {int(first['runs'])}-run wall × "
                   f"{n / first['runs']:g}", r["wall"], "s",
                   first["wall"] * n / first["runs"], "ratio ≤ 1.05 (linear)"),
            Figure("scale_runs", f"{n} runs: CPU time vs {int(first['runs'])}-run CPU × "
                   f"{n / first['runs']:g}", r["cpu"], "s", first["cpu"] * n / first["runs"],
                   "(the same on a busy machine)"),
            Figure("scale_runs", f"{n} runs: peak RSS, {driven} (after start-up = baseline)",
                   r["peak_mb"], "MB", r["start_mb"], "≤ 150 MB at 10 k"),
        ]
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(n) for n in SIZES))
    parser.add_argument("--max-active", default=str(DEFAULT_MAX_ACTIVE),
                        help="runs driven at once (default: the runtime's); none: every run")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    limit = None if args.max_active.lower() == "none" else int(args.max_active)
    if args.one:
        print(json.dumps(one(args.one, limit)))
    else:
        chosen: Any = tuple(int(n) for n in args.sizes.split(","))
        print_figures(run(chosen, limit))
