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
from contextvars import ContextVar, Token

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

    def place(self, run_id: str) -> Place:
        """Hold a place while the body (``async with``) drives ``run_id``; waits for one if
        all are taken."""
        return Place(self, run_id)


class Place:
    """A run's place in an ``Admission``, held for the body of an ``async with``. A class, not
    a generator-based context manager: one is entered per run, and a generator, its wrapper
    and their coroutines cost several times as much."""

    __slots__ = ("_admission", "_places", "_run_id", "_token")

    def __init__(self, admission: Admission, run_id: str) -> None:
        self._admission = admission
        self._run_id = run_id
        self._places: asyncio.Semaphore | None = None
        self._token: Token[bool] | None = None

    async def __aenter__(self) -> None:
        places = self._places = self._admission._semaphore()
        if places is not None:
            waiting = self._admission.waiting
            if places.locked():
                waiting.add(self._run_id)
            try:
                await places.acquire()
            finally:
                waiting.discard(self._run_id)
        self._token = _inside_a_drive.set(True)

    async def __aexit__(self, *exc: object) -> None:
        if self._token is not None:
            _inside_a_drive.reset(self._token)
        if self._places is not None:
            self._places.release()
