"""How many runs one runtime drives at once.

Every live run holds memory (its context, its agent loop's frames, the replies it may replay),
so a burst of runs started together is admitted ``max_active`` at a time: the others are
created in the journal at once (durable, ``pending``, visible to ``runs list``) and wait their
turn in the order they came. A run driven from inside another run (a sub-run a tool or a local
agent starts) is admitted at once: its parent already holds a place, and waiting for one could
wait forever if every place were held by a parent waiting for its child.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextvars import ContextVar

from agentplane.errors import ConfigError

DEFAULT_MAX_ACTIVE = 1_000
"""Runs one runtime drives at once unless told otherwise (a worker's own ``concurrency`` and
the server's ``max_active`` are lower, and apply on top)."""

_inside_a_drive: ContextVar[bool] = ContextVar("agentplane_inside_a_drive", default=False)


class Admission:
    """Places for runs being driven: ``max_active`` of them, or unbounded with ``None``."""

    __slots__ = ("_loop", "_places", "max_active", "waiting")

    def __init__(self, max_active: int | None) -> None:
        if max_active is not None and (isinstance(max_active, bool)
                                       or not isinstance(max_active, int) or max_active < 1):
            raise ConfigError(f"max_active must be a whole number of runs ≥ 1, or None for no "
                              f"limit; got {max_active!r}")
        self.max_active = max_active
        self.waiting: set[str] = set()
        """Runs admitted later: leased to this runtime, so their leases are renewed too."""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._places: asyncio.Semaphore | None = None

    def _semaphore(self) -> asyncio.Semaphore | None:
        if self.max_active is None or _inside_a_drive.get():
            return None
        loop = asyncio.get_running_loop()
        if self._places is None or self._loop is not loop:  # one per event loop
            self._loop, self._places = loop, asyncio.Semaphore(self.max_active)
        return self._places

    @contextlib.asynccontextmanager
    async def place(self, run_id: str) -> AsyncIterator[None]:
        """Hold a place while the body drives ``run_id``; waits for one if all are taken."""
        places = self._semaphore()
        if places is not None:
            if places.locked():
                self.waiting.add(run_id)
            try:
                await places.acquire()
            finally:
                self.waiting.discard(run_id)
        token = _inside_a_drive.set(True)
        try:
            yield
        finally:
            _inside_a_drive.reset(token)
            if places is not None:
                places.release()
