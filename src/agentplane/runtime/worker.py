"""The worker loop: keeps up to ``concurrency`` runs driven at once by one runtime.

One loop serves both ``agentplane worker`` and ``agentplane serve`` (unless ``--no-worker``).
It takes a runnable run as soon as there is room (a run of its own ended, or the store says
something changed), not in rounds; it expires due waits (timers, approval deadlines), which
happens once across any number of workers because the journal refuses to resolve a wait twice;
and it backs off while the journal cannot be written. Between looks it sleeps on
``JournalStore.wait_for_change``: PostgreSQL wakes it (``LISTEN/NOTIFY``), SQLite polls.

Leases make many workers safe: a run is driven by the worker that holds its lease, the runtime
renews the leases of the runs it drives, and a lease whose worker died (``kill -9``, a lost
machine) expires, so another worker takes the run over and replays its journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from agentplane.journal import JournalError, JournalStore, JournalUnavailableError, RunRecord

from .runner import Runtime

log = logging.getLogger("agentplane.worker")

Report = Callable[[RunRecord], object]
"""Told about each run a worker drove, when its drive ends (finished, waiting, or stopped)."""


def store_notifies(store: JournalStore) -> bool:
    """Whether the store wakes ``wait_for_change`` when another process writes (PostgreSQL),
    rather than sleeping the whole timeout (SQLite): then a poll is only a safety net."""
    return type(store).wait_for_change is not JournalStore.wait_for_change


async def until_change(store: JournalStore, wake: asyncio.Event, timeout: float, *,
                       ask_store: bool = True) -> bool:
    """Sleep until ``wake`` is set (something happened in this process), the store reports a
    change by another process (``wait_for_change``), or ``timeout`` seconds pass; returns
    whether the store reported a change. A store that cannot listen now (e.g. the database
    restarts) is polled: the sleep lasts the timeout."""
    if wake.is_set():
        return False
    waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(wake.wait())]
    if ask_store:
        waiters.append(asyncio.ensure_future(store.wait_for_change(timeout)))
    try:
        done, _ = await asyncio.wait(waiters, timeout=timeout,
                                     return_when=asyncio.FIRST_COMPLETED)
        finished = [w for w in done if not w.cancelled()]
        if any(w.exception() is not None for w in finished):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout)
            return False
        return any(w.result() is True for w in finished if w is not waiters[0])
    finally:
        for waiter in waiters:
            waiter.cancel()
        for waiter in waiters:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await waiter


class Worker:
    """Drives runnable runs with one runtime, up to ``concurrency`` at once, until stopped."""

    def __init__(self, runtime: Runtime, *, concurrency: int = 16, poll_s: float = 1.0,
                 grace_s: float = 10.0, report: Report | None = None,
                 poke: Callable[[], object] | None = None) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self.runtime = runtime
        self.store = runtime.store
        self.concurrency = concurrency
        """Runs driven at once; more stay runnable (for this worker or another) meanwhile."""
        self.poll_s = poll_s
        """Seconds between looks for runnable runs and due waits when nothing wakes the worker
        (on PostgreSQL a safety net; due timers are noticed within this)."""
        self.grace_s = grace_s
        """Seconds a stopping worker lets its runs go on before it cuts them and hands their
        leases back."""
        self.settle_s = min(0.05, poll_s)
        """Seconds a worker woken by the store waits before it looks, so that a burst of
        notifications (each append sends one) costs one look, not one each."""
        self.report = report
        self.poke = poke
        """Called when a run starts or ends being driven here, and when the store reports a
        change by another process (e.g. the live event feed)."""
        self.failures = 0
        """Rounds in a row that could not reach the journal."""
        self.driven = 0
        """Drives started by this worker (a run resumed after a wait counts again)."""
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._stopping = False

    @property
    def active(self) -> set[str]:
        """The runs being driven now."""
        return set(self._tasks)

    @property
    def room(self) -> int:
        return 0 if self._stopping else max(0, self.concurrency - len(self._tasks))

    # -- the loop -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Take and drive runs until ``stop``; then let the runs go on for ``grace_s`` seconds,
        cut the rest and hand their leases back (``drain``)."""
        clock = asyncio.get_running_loop().time
        expired_at = -self.poll_s
        try:
            while not self._stopping:
                self._wake.clear()  # before the round: a run ending during it wakes the next
                # due waits are a matter of time, not of what others wrote: once per poll
                expire = clock() - expired_at >= self.poll_s
                if expire:
                    expired_at = clock()
                await self.round(expire_waits=expire)
                if self._stopping:
                    break
                # while failing, the store is not asked (it would fail at once)
                changed = await until_change(self.store, self._wake,
                                             self.backoff_s(self.failures),
                                             ask_store=self.failures == 0)
                if changed:
                    if self.poke is not None:
                        self.poke()  # e.g. the live feed, which leaves listening to the worker
                    # every append of every worker notifies: one look for a burst of them
                    await asyncio.sleep(self.settle_s)
        finally:
            await self.drain()

    async def round(self, *, expire_waits: bool = True) -> None:
        """One look: expire due waits, then take as many runnable runs as there is room for
        (with no room, nothing but the waits)."""
        try:
            room = self.room
            if room:  # claim_runnable expires due waits first
                for run in await self.runtime.claim_runnable(
                        limit=room, expire_waits=expire_waits, driving=self._tasks.keys()):
                    self._spawn(run.id, self.runtime.drive(run))
            elif expire_waits:  # timers fire while every slot is busy too
                await self.runtime.expire_due_waits()
        except Exception as exc:  # a bad round must not stop the worker for every other run
            self.failures += 1
            if self.failures == 1 or self.failures % 20 == 0:  # one line, not one a second
                log.error("the worker cannot take runs (%s: %s); retrying with back-off",
                          type(exc).__name__, exc)
        else:
            if self.failures:
                log.warning("the worker takes runs again after %d failed rounds", self.failures)
            self.failures = 0

    def backoff_s(self, failures: int) -> float:
        """Seconds until the next round: ``poll_s``, doubled per failed round in a row up to a
        minute (a journal that cannot be written is not retried every second)."""
        return self.poll_s if failures == 0 else min(60.0, self.poll_s * 2.0 ** min(failures, 16))

    def wake(self) -> None:
        """Look for work now (e.g. a run was just made runnable in this process)."""
        self._wake.set()

    def stop(self) -> None:
        """Take no more runs; ``run`` returns once the runs it drives end or are cut."""
        self._stopping = True
        self._wake.set()

    async def drain(self) -> None:
        """Let the runs being driven go on for ``grace_s`` seconds, then cut those still going
        and hand their leases back, so another worker takes them over at once instead of when
        the lease expires. A run cut mid-call is replayed from its journal by that worker."""
        self._stopping = True
        tasks = list(self._tasks.values())
        if tasks:
            log.info("stopping: %d runs still driven, up to %.0f s to reach their end or a wait",
                     len(tasks), self.grace_s)
            await asyncio.wait(tasks, timeout=self.grace_s)
        cut = [run_id for run_id, task in self._tasks.items() if not task.done()]
        for run_id in cut:
            self._tasks[run_id].cancel()
        for run_id in cut:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._tasks[run_id]
            with contextlib.suppress(JournalError):
                await self.store.release(self.runtime.owner, run_id)
        if cut:
            log.warning("stopped; handed back the leases of %d runs still going: %s",
                        len(cut), ", ".join(sorted(cut)))

    # -- driving ------------------------------------------------------------------------------

    def drive(self, run_id: str) -> bool:
        """Drive this run now if there is room and it is runnable (it was just created or made
        runnable in this process); returns whether it was taken here. Otherwise it stays
        runnable and the loop, or another worker, takes it when there is room."""
        if self.room and run_id not in self._tasks:
            self._spawn(run_id, self.runtime.execute(run_id))
            return True
        self.wake()
        return False

    def _spawn(self, run_id: str, work: Awaitable[RunRecord]) -> None:
        async def go() -> None:
            try:
                record = await work
            except JournalUnavailableError as exc:  # said once by the worker; no traceback
                log.error("run %s cannot advance: %s", run_id, exc)
            except Exception:
                log.exception("run %s failed to advance", run_id)
            else:
                if self.report is not None:
                    self.report(record)
            finally:
                self._tasks.pop(run_id, None)
                self._wake.set()  # room for the next runnable run
                if self.poke is not None:
                    self.poke()

        self.driven += 1
        self._tasks[run_id] = asyncio.create_task(go(), name=f"run-{run_id}")
        if self.poke is not None:
            self.poke()

    async def once(self) -> list[RunRecord]:
        """One pass: expire due waits, then drive every run runnable now to its end (or a
        wait), ``concurrency`` at a time, each at most once; returns them as they ended. Runs
        are leased only when there is room to drive them, so a long pass holds no idle lease."""
        records: list[RunRecord] = []
        seen: set[str] = set()
        going: set[asyncio.Task[RunRecord]] = set()
        while True:
            room = self.concurrency - len(going)
            claimed = await self.runtime.claim_runnable(limit=room) if room else []
            for run in claimed:
                if run.id in seen:  # e.g. a drive that could not write: not again this pass
                    with contextlib.suppress(JournalError):
                        await self.store.release(self.runtime.owner, run.id)
                    continue
                seen.add(run.id)
                going.add(asyncio.create_task(self.runtime.drive(run)))
            if not going:
                return records
            done, going = await asyncio.wait(going, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                records.append(task.result())
                if self.report is not None:
                    self.report(records[-1])
