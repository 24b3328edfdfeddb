"""The run heads a journal store last wrote, so an append can chain on without reading the run
first. Only a hint: every append made from a remembered head is checked by the write itself
(the run row is updated only where it is still exactly that head), so a stale head costs one
read and is never written over."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .events import TERMINAL_STATUSES, WAIT_CLOSE_TYPES, WAIT_OPEN_TYPES, EventType, NewEvent
from .projection import LEASE_ENDING_STATUSES

MAX_HEADS = 100_000
"""How many runs' heads a store remembers; past it the memory is cleared (a cache: forgetting
only sends the next appends the reading way)."""

_FORGET = LEASE_ENDING_STATUSES | TERMINAL_STATUSES
"""A run in one of these statuses has no lease: whoever appends next claims it (or a person
answers it) first, so its head is not kept."""


@dataclass(slots=True)
class RunHead:
    """A run as this store's last append left it."""

    status: str
    seq: int
    head: str
    lease_owner: str | None


class RunHeads(dict[str, RunHead]):
    """Run id → :class:`RunHead`, bounded by :data:`MAX_HEADS`."""

    def remember(self, run_id: str, status: str, seq: int, head: str,
                 lease_owner: str | None) -> None:
        if status in _FORGET:
            self.pop(run_id, None)
            return
        known = self.get(run_id)
        if known is not None:
            known.status, known.seq, known.head, known.lease_owner = (
                status, seq, head, lease_owner)
            return
        if len(self) >= MAX_HEADS:
            self.clear()
        self[run_id] = RunHead(status, seq, head, lease_owner)


def known_applies(events: Sequence[NewEvent]) -> bool:
    """Whether an append of ``events`` may be made from a remembered head: none of them opens,
    resolves or awaits a wait (those are checked against the stored waits)."""
    return all(new.type not in _READ_FIRST for new in events)


_READ_FIRST = WAIT_OPEN_TYPES | WAIT_CLOSE_TYPES | {EventType.RUN_WAITING}
"""Event types an append from a remembered head may not hold."""
