"""Python's cyclic garbage collector, set for a process that drives many runs at once.

With thousands of runs alive in one process, the default thresholds (700, 10, 10) make the
collector run every few hundred allocations and walk every live object again and again: with
10,000 runs it took 42 % of the wall time. A run's own objects are freed by reference counting
as soon as it finishes (cycles are rare and small), so the collector is mostly wasted work.
``tune_for_many_runs`` (called once per process by ``Runtime``) raises the thresholds and moves
what exists at start-up (modules, pydantic schemas, the workflow) to the collector's permanent
generation, which it never walks. docs/performance.md has the measurements.

Set ``AGENTPLANE_GC=default`` to keep Python's own settings.
"""

from __future__ import annotations

import gc
import os

THRESHOLDS = (50_000, 20, 100)
"""Young-generation allocations before a collection, then how many young collections make a
middle one and middle collections an old one (Python's defaults: 700, 10, 10). Cyclic garbage
waits at most ~50,000 allocations longer to be freed: a few MB at most."""

_tuned = False


def tune_for_many_runs() -> bool:
    """Apply ``THRESHOLDS`` and freeze what exists now, once per process; returns whether it
    was applied (not when ``AGENTPLANE_GC=default`` or already done)."""
    global _tuned
    if _tuned or os.environ.get("AGENTPLANE_GC", "").lower() == "default":
        return False
    _tuned = True
    # Both are O(1). No collection first: it would cost a CLI command tens of milliseconds to
    # free the few dozen objects of cyclic garbage that start-up leaves, which are frozen
    # with the rest instead (once per process, bounded).
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    return True
