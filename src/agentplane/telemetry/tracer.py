"""Follow the journal and export every run as an OpenTelemetry trace.

The tracer reads events after its cursor (``JournalStore.events_since``), turns them into spans
(``spans.RunTrace``) and hands the spans that ended to a ``SpanExporter`` — OTLP/HTTP when the
standard ``OTEL_EXPORTER_OTLP_*`` variables name a collector. Its cursor is kept in the
journal's SQLite file (table ``telemetry_cursor``), so a restarted tracer goes on where it
stopped; a tracer that never ran starts from "now" (or from the beginning, if asked).

What a run's trace needs from before the cursor (a span opened earlier, a waiting agent) is
rebuilt from the run's own journal when its next event arrives: nothing is kept that the journal
does not already hold, and ids are derived from the run, so exporting twice gives the same ids.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Literal

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from agentplane.journal import Event, EventType, JournalStore

from ._cursor import Cursor
from .spans import RunTrace, default_resource

log = logging.getLogger(__name__)

# A run at rest (waiting for a person, a timer or a reconciliation) keeps nothing in memory:
# its trace is rebuilt from the journal when it moves again.
_AT_REST = frozenset({EventType.RUN_WAITING, EventType.RUN_NEEDS_RECONCILIATION})


class JournalTracer:
    """Exports the runs of a journal as traces, following it by cursor.

    Call ``sync()`` to export what is new once, or ``start()`` / ``stop()`` to do it in the
    background every ``interval`` seconds.
    """

    def __init__(
        self,
        store: JournalStore,
        exporter: SpanExporter,
        *,
        resource: Resource | None = None,
        name: str = "otel",
        start_at: Literal["now", "beginning"] = "now",
        interval: float = 2.0,
        batch: int = 1000,
        attempts: int = 3,
    ) -> None:
        self.store = store
        self.exporter = exporter
        self.resource = resource or default_resource()
        self.start_at = start_at
        """Where a tracer with no stored cursor begins: new events only, or all history."""
        self.interval = interval
        """Seconds between two looks at the journal when running in the background."""
        self.batch = batch
        """Events read per step."""
        self.attempts = attempts
        """Exports of one batch that may fail before the batch is skipped (and logged)."""
        self._cursor = Cursor(store, name)
        self._traces: dict[str, RunTrace] = {}
        self._failures = 0
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()

    async def _position(self) -> int:
        position = self._cursor.get()
        if position is None:
            position = 0 if self.start_at == "beginning" else await self._cursor.journal_end()
            self._cursor.set(position)
        return position

    async def _trace(self, event: Event) -> RunTrace:
        """The run's trace, rebuilt from its journal up to this event if not in memory."""
        trace = self._traces.get(event.run_id)
        if trace is None:
            trace = RunTrace(event.run_id, self.resource)
            if event.seq > 1:
                for earlier in await self.store.events(event.run_id):
                    if earlier.seq >= event.seq:
                        break
                    trace.apply(earlier)  # exported before (or before this tracer began)
            self._traces[event.run_id] = trace
        return trace

    async def _spans(self, events: list[Event]) -> list[ReadableSpan]:
        spans: list[ReadableSpan] = []
        for event in events:
            trace = await self._trace(event)
            spans += trace.apply(event)
            if trace.finished or event.type in _AT_REST:
                del self._traces[event.run_id]
        return spans

    async def sync(self) -> int:
        """Export the spans of every event written since the last call; returns how many spans
        were exported."""
        async with self._lock:
            exported = 0
            while True:
                position = await self._position()
                events, after = await self.store.events_since(position, limit=self.batch)
                if not events:
                    return exported
                try:
                    spans = await self._spans(events)
                    if spans and not await self._export(spans):
                        return exported
                except BaseException:
                    # Interrupted between applying and recording the cursor: forget what was
                    # applied, so the next sync rebuilds it from the journal, not twice.
                    self._traces.clear()
                    raise
                exported += len(spans)
                self._cursor.set(after)

    async def _export(self, spans: list[ReadableSpan]) -> bool:
        """Export spans; False if it failed and the batch should be tried again later."""
        result = await asyncio.to_thread(self.exporter.export, spans)
        if result is SpanExportResult.SUCCESS:
            self._failures = 0
            return True
        self._failures += 1
        # What was applied is forgotten: the next try rebuilds it from the journal.
        self._traces.clear()
        if self._failures < self.attempts:
            log.warning("exporting %d spans failed (attempt %d of %d); will retry",
                        len(spans), self._failures, self.attempts)
            return False
        log.error("exporting %d spans failed %d times; skipping them", len(spans),
                  self._failures)
        self._failures = 0
        return True

    async def _follow(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.sync()
            except Exception:  # a bad moment (database locked, collector gone) is not fatal
                log.exception("telemetry: following the journal failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)

    async def start(self) -> None:
        """Follow the journal in a background task until ``stop()``."""
        if self._task is None:
            self._stopping.clear()
            await self._position()  # "now" is when start() was called, not the first tick
            self._task = asyncio.create_task(self._follow(), name="agentplane-telemetry")

    async def stop(self) -> None:
        """Stop following, export what is left, and shut the exporter down."""
        if self._task is not None:
            self._stopping.set()  # let a sync under way finish rather than cut it short
            await self._task
            self._task = None
        try:
            await self.sync()
        finally:
            await asyncio.to_thread(self.exporter.shutdown)
            self._cursor.close()
