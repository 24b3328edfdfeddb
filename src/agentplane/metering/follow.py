"""Keeping the usage ledger current as runs happen, instead of rebuilding it on demand.

One piece of bookkeeping serves both ways in: ``usage_runs`` holds, per run, the last journal
event (``seq``) whose usage is in the ledger, written in the same transaction as that usage.

- The runtime hands every batch of events it appended to :meth:`Follower.record` (events it
  holds in memory: nothing is read back). Usage rows and the runs' new places are buffered and
  written together every :data:`FLUSH_ROWS` rows, and whenever someone reads the ledger
  (:meth:`Follower.catch_up`) or the runtime closes. A process that stops before it writes
  loses nothing: the places did not move either, so the next catch-up derives that usage again.
- :meth:`Follower.catch_up` finds the runs whose journal grew past their place (events another
  process appended without a follower, a process that stopped, a journal made before this
  release) and derives the missing usage from their events.

Usage ids come from journal events, so usage derived twice is stored once.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from agentplane.journal import Event, EventType, JournalStore, RunRecord
from agentplane.journal.store import CorruptRunError
from agentplane.storage import Database

from .usage import (
    ENDS_ACTIVITY,
    METERED,
    STARTS_ACTIVITY,
    Make,
    Pricer,
    RunTags,
    derive_into,
    ends_activity,
    free,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

FLUSH_ROWS = 2000
"""Usage rows (or runs with a new place) buffered before they are written."""
LOOK_AGAIN_AFTER = 10
"""After looking for runs nobody metered, a follower looks again only once this many times
the look took has passed (before that, ``catch_up`` writes its own buffer only): a budget check
before every call then spends at most about a tenth of its time on other processes' runs."""

_FINAL = frozenset({EventType.RUN_COMPLETED, EventType.RUN_FAILED, EventType.RUN_CANCELLED})


def run_tags(run: RunRecord) -> RunTags:
    """What every usage event of ``run`` carries."""
    meta = run.meta or {}
    return RunTags(run.tenant, run.workflow, dict(meta.get("tags") or {}), meta.get("outcome"))


def usage_of(out: list[T], events: Sequence[Event], make: Make[T], pricer: Pricer, *,
             after: int = 0, since: str | None = None) -> str | None:
    """Append to ``out`` the usage of one run's ``events`` (in seq order) past seq ``after``,
    each item built by ``make`` (see :func:`derive_into`); ``since``: when the run's current
    stretch of activity began, if it began before these events. Returns when the stretch still
    open at the end began (None: none is open)."""
    for event in events:
        kind = event.type
        if kind not in METERED:
            continue
        if kind in STARTS_ACTIVITY:
            since = event.time
            continue
        began = None
        if kind in ENDS_ACTIVITY:
            began, since = since, None
        if event.seq > after:
            derive_into(out, event, make, pricer, active_since=began)
    return since


Row = tuple[Any, ...]
"""A usage event as the row ``Follower.insert_sql`` takes."""


@dataclass(slots=True)
class _Run:
    """What the follower knows of a run this process is appending to."""

    row: Make[Row]
    """Builds the run's usage rows."""
    place: int
    """The last seq whose usage is buffered or written, with none missing before it."""
    since: str | None = None


@dataclass
class Follower:
    """Usage derived from the journal as it is written (see the module's docstring).

    ``insert_sql`` stores one usage row (ignoring an id already stored)."""

    db: Database
    insert_sql: str
    rows_of: Callable[[RunTags], Make[Row]]
    """For a run, what builds its usage as the rows ``insert_sql`` takes."""
    _runs: dict[str, _Run] = field(default_factory=dict)
    _rows: list[Row] = field(default_factory=list)
    _places: dict[str, int] = field(default_factory=dict)
    _look_again: float = 0.0
    """When (``time.monotonic()``) ``catch_up`` next looks for runs nobody metered."""

    @property
    def _place_sql(self) -> str:
        """Move a run's place forward (never back: two followers may meet on one run)."""
        greatest = "MAX" if self.db.dialect == "sqlite" else "GREATEST"
        return ("INSERT INTO usage_runs(run_id, seq) VALUES (?, ?) ON CONFLICT (run_id) DO "
                f"UPDATE SET seq = {greatest}(usage_runs.seq, excluded.seq)")

    # -- the runtime's way in -----------------------------------------------------------------

    async def record(self, store: JournalStore, run: RunRecord, events: Sequence[Event],
                     pricer: Pricer) -> None:
        """Meter ``events`` just appended to ``run`` (in seq order). Cheap: nothing is read
        back from the journal unless this process has not followed the run from its start."""
        if not events or self.follow(run, events, pricer):
            return
        self._advance(await self._start(store, run, events[0].seq), run.id, events, pricer)

    def follow(self, run: RunRecord, events: Sequence[Event], pricer: Pricer) -> bool:
        """:meth:`record` for a run this follower already follows, with no await: False,
        having done nothing, when it does not follow ``run`` yet."""
        state = self._runs.get(run.id)
        if state is None:
            return not events
        if events:
            self._advance(state, run.id, events, pricer)
        return True

    def _advance(self, state: _Run, run_id: str, events: Sequence[Event],
                 pricer: Pricer) -> None:
        if events[0].seq == state.place + 1:
            state.since = self._buffer(events, state.row, pricer, since=state.since)
            state.place = events[-1].seq
            self._places[run_id] = state.place
        # else: not contiguous with what is metered (events appended elsewhere, such as an
        # approval): catch_up takes the run
        if events[-1].type in _FINAL:
            del self._runs[run_id]
        if len(self._rows) >= FLUSH_ROWS or len(self._places) >= FLUSH_ROWS:
            self._flush_quietly()

    def _buffer(self, events: Sequence[Event], make: Make[Row], pricer: Pricer, *,
                after: int = 0, since: str | None = None) -> str | None:
        """:func:`usage_of` into the buffer; none of it kept if it fails part-way (its run's
        place does not move either)."""
        rows = self._rows
        buffered = len(rows)
        try:
            return usage_of(rows, events, make, pricer, after=after, since=since)
        except BaseException:
            del rows[buffered:]
            raise

    async def _start(self, store: JournalStore, run: RunRecord, first: int) -> _Run:
        """Begin following a run: from its second event (the first, ``run.created``, is
        written when the run is created and has no usage), or mid-way where the ledger's place
        is just before ``first``; otherwise the run is left to ``catch_up`` (place -1)."""
        make = self.rows_of(run_tags(run))
        if first <= 2:
            state = _Run(make, first - 1)
        else:
            row = self.db.query_one("SELECT seq FROM usage_runs WHERE run_id = ?", (run.id,))
            if row is None or int(row[0]) != first - 1:
                state = _Run(make, -1)
            else:
                earlier = [e for e in await store.events(run.id) if e.seq < first]
                since = usage_of([], earlier, make, free, after=first - 1)  # derives none
                state = _Run(make, first - 1, since)
        self._runs[run.id] = state
        return state

    def flush(self) -> int:
        """Write the buffered usage and places (one transaction). Returns how many usage
        events were new."""
        rows, places = self._rows, self._places
        if not rows and not places:
            return 0
        self._rows, self._places = [], {}
        with self.db.transaction() as db:
            new = db.executemany(self.insert_sql, rows) if rows else 0
            db.executemany(self._place_sql, list(places.items()))
        return new

    def _flush_quietly(self) -> None:
        """Flush from the runtime's path: a ledger that cannot be written now must not fail a
        run. What was buffered is dropped with the places, so catch_up derives it again."""
        try:
            self.flush()
        except Exception as exc:  # any database failure: the journal has it all
            log.warning("usage ledger not written now (%s); it catches up from the journal "
                        "on the next read", type(exc).__name__)
            self._runs.clear()

    # -- the readers' way in ------------------------------------------------------------------

    async def catch_up(self, store: JournalStore, pricer: Pricer) -> int:
        """Write what is buffered, then derive the usage of every run whose journal grew past
        its place (see :data:`LOOK_AGAIN_AFTER`). Returns how many usage events were new
        (buffered ones included)."""
        new = self.flush()
        started = time.monotonic()
        if started < self._look_again:
            return new
        lagging = self.db.query(
            "SELECT r.id, r.tenant, r.workflow, r.meta, COALESCE(u.seq, 0) FROM runs r"
            " LEFT JOIN usage_runs u ON u.run_id = r.id WHERE r.last_seq > COALESCE(u.seq, 0)")
        now = time.monotonic()
        self._look_again = now + LOOK_AGAIN_AFTER * (now - started)
        for run_id, tenant, workflow, meta, place in lagging:
            tags = _tags_of(run_id, tenant, workflow, meta)
            events = await store.events(run_id, after_seq=int(place))
            if place and any(ends_activity(e) for e in events):
                events = await store.events(run_id)  # when the open stretch began
            if not events:
                continue
            self._buffer(events, self.rows_of(tags), pricer, after=int(place))
            self._places[run_id] = events[-1].seq
            if len(self._rows) >= FLUSH_ROWS or len(self._places) >= FLUSH_ROWS:
                new += self.flush()
        return new + self.flush()

    def close(self) -> None:
        self._flush_quietly()


__all__ = ["FLUSH_ROWS", "Follower", "run_tags", "usage_of"]


def _tags_of(run_id: Any, tenant: Any, workflow: Any, meta: Any) -> RunTags:
    """A run's tags from its record's columns as stored; ``CorruptRunError`` naming what a
    hand edit left there that the journal never writes (no usage is booked to it)."""
    if type(tenant) is not str or type(workflow) is not str:
        raise CorruptRunError(str(run_id), "its tenant or workflow column holds no text "
                                           "(the row was edited)")
    try:
        value = json.loads(meta) if isinstance(meta, str) else (meta or {})
    except ValueError as exc:
        raise CorruptRunError(str(run_id), f"its meta column holds unreadable JSON ({exc})"
                                           " (the row was edited)") from exc
    if not isinstance(value, dict) or not isinstance(value.get("tags") or {}, dict):
        raise CorruptRunError(str(run_id), "its meta column holds no JSON object of tags "
                                           "(the row was edited)")
    return RunTags(tenant, workflow, dict(value.get("tags") or {}), value.get("outcome"))
