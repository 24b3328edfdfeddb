"""Live events for the API's Server-Sent Events streams and the console.

One task follows the journal (``events_since``), woken by appends in this process and by
``JournalStore.wait_for_change`` (PostgreSQL notifies; SQLite is polled), and hands each new
event to every subscriber whose filter takes it, so a hundred open streams cost one query per
tick, not a hundred. A
subscriber that connects (or reconnects with ``Last-Event-ID``) first replays what it missed
from the store, then takes the live feed; duplicates between the two are dropped by each run's
sequence number, so nothing is lost and nothing is sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from agentplane.journal import Event, JournalError, JournalStore
from agentplane.runtime.worker import store_notifies, until_change

Filter = Callable[[Event, str], bool]
"""Takes an event and its run's tenant; True if the subscriber wants it."""


@dataclass(eq=False)
class _Subscriber:
    wants: Filter
    queue: asyncio.Queue[tuple[Event, int]] = field(default_factory=asyncio.Queue)


@dataclass(frozen=True, slots=True)
class Delivery:
    """An event for a stream, with the journal position to resume after (``Last-Event-ID``)."""

    event: Event
    cursor: int


def _drain(queue: asyncio.Queue[tuple[Event, int]]) -> list[tuple[Event, int]]:
    out = []
    while not queue.empty():
        out.append(queue.get_nowait())
    return out


class Broadcaster:
    """Follows the journal and fans its events out to subscribers."""

    def __init__(self, store: JournalStore, *, poll_s: float = 0.1, safety_poll_s: float = 2.0,
                 batch: int = 2_000) -> None:
        self.store = store
        self.poll_s = poll_s
        """Seconds between looks at the journal while anyone is subscribed, on a store that
        cannot tell when another process wrote (SQLite)."""
        self.safety_poll_s = safety_poll_s
        """Seconds between looks on a store that wakes its followers (PostgreSQL
        ``LISTEN/NOTIFY``), in case a notification was lost."""
        self.listen = True
        """Ask the store for changes (``wait_for_change``) itself; off when a worker in this
        process listens and pokes the feed, so one connection listens, not two."""
        self.batch = batch
        self.cursor = 0
        """Journal position of the last event handed out."""
        self._subscribers: set[_Subscriber] = set()
        self._tenants: dict[str, str] = {}
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    async def start(self) -> None:
        """Start following from the journal's current end."""
        while True:
            events, cursor = await self.store.events_since(self.cursor, limit=10_000)
            if not events:
                break
            self.cursor = cursor
        self._task = asyncio.create_task(self._follow(), name="agentplane-broadcaster")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def poke(self) -> None:
        """Look at the journal now (something was just appended in this process)."""
        self._wake.set()

    async def tenant_of(self, run_id: str) -> str:
        tenant = self._tenants.get(run_id)
        if tenant is None:
            run = await self.store.get_run(run_id)
            tenant = run.tenant if run is not None else ""
            if run is not None:
                self._tenants[run_id] = tenant
        return tenant

    async def _follow(self) -> None:
        timeout = self.safety_poll_s if store_notifies(self.store) else self.poll_s
        while True:
            await until_change(self.store, self._wake, timeout, ask_store=self.listen)
            self._wake.clear()
            if self._subscribers:
                with contextlib.suppress(JournalError):  # e.g. the database restarts: next look
                    await self.pump()

    async def pump(self) -> int:
        """Hand out what was appended since the last look; returns how many events."""
        events, cursor = await self.store.events_since(self.cursor, limit=self.batch)
        if not events:
            return 0
        # Cursors are per batch: every event of the batch carries the batch's end, so a client
        # resuming from it replays nothing it has not been sent (duplicates are dropped by seq).
        self.cursor = cursor
        for event in events:
            tenant = await self.tenant_of(event.run_id)
            for subscriber in self._subscribers:
                if subscriber.wants(event, tenant):
                    subscriber.queue.put_nowait((event, cursor))
        return len(events)

    async def subscribe(self, wants: Filter, *, after: int | None = None,
                        run_id: str | None = None, after_seq: int = 0,
                        keepalive_s: float = 15.0) -> AsyncIterator[list[Delivery]]:
        """Events that ``wants`` takes, live, in batches of what arrived together (so a busy
        stream costs one write per batch, not per event). ``after``: first replay the journal
        from that position; ``run_id`` + ``after_seq``: first replay that run's events after
        that seq. An empty batch means nothing happened for ``keepalive_s`` seconds."""
        subscriber = _Subscriber(wants)
        self._subscribers.add(subscriber)
        upto = self.cursor  # what the live feed will not repeat
        sent: dict[str, int] = {}
        try:
            backlog: list[Delivery] = []
            if run_id is not None:
                backlog = [Delivery(e, upto) for e in
                           await self.store.events(run_id, after_seq=after_seq)]
            elif after is not None:
                backlog = await self._replay(wants, after, upto)
            for delivery in backlog:
                sent[delivery.event.run_id] = delivery.event.seq
            if backlog:
                yield backlog
            queue = subscriber.queue
            while True:
                try:
                    first = await asyncio.wait_for(queue.get(), keepalive_s)
                except TimeoutError:
                    yield []  # nothing new: the caller may send a keep-alive
                    continue
                batch: list[Delivery] = []
                for event, cursor in [first, *_drain(queue)]:
                    if event.seq <= sent.get(event.run_id, 0):
                        continue
                    sent[event.run_id] = event.seq
                    batch.append(Delivery(event, cursor))
                if batch:
                    yield batch
        finally:
            self._subscribers.discard(subscriber)

    async def _replay(self, wants: Filter, after: int, upto: int) -> list[Delivery]:
        out: list[Delivery] = []
        cursor = after
        while cursor < upto:
            events, cursor_next = await self.store.events_since(
                cursor, limit=min(self.batch, upto - cursor))
            if not events:
                break
            for event in events:
                if wants(event, await self.tenant_of(event.run_id)):
                    out.append(Delivery(event, cursor_next))
            cursor = cursor_next
        return out
