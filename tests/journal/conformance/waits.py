"""Waits (approvals, timers, signals): opened and resolved by events, once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from agentplane.journal import (
    EventType,
    JournalError,
    JournalStore,
    NewEvent,
    WaitNotOpenError,
    verify,
)

from .helpers import (
    BIG_TEXT,
    CLOSE_EVENTS,
    close_wait_event,
    last_seq,
    new_run,
    open_wait_event,
    status,
    waiting_run,
)


class WaitsConformance:
    """Waits (approvals, timers, signals): opened and resolved by events, once."""

    # -- waits --------------------------------------------------------------------------------

    async def test_approval_requested_opens_wait(self, store: JournalStore) -> None:
        await new_run(store, "run-1", events=[NewEvent(EventType.RUN_STARTED)])
        await store.append("run-1", [NewEvent(
            EventType.APPROVAL_REQUESTED, actor="agent:planner", step_key="s1/approve",
            data={"wait_id": "w-1", "kind": "approval", "deadline": 4_000_000_000.5,
                  "tool": "refund", "amount": 120})])
        wait = await store.get_wait("w-1")
        assert wait is not None
        assert (wait.id, wait.run_id, wait.step_key, wait.kind, wait.status) == (
            "w-1", "run-1", "s1/approve", "approval", "open")
        assert wait.deadline == 4_000_000_000.5
        assert wait.data["tool"] == "refund"
        assert wait.data["amount"] == 120
        assert wait.resolution is None
        assert wait.created_at
        assert await store.waits() == [wait]

    async def test_wait_opened_opens_wait(self, store: JournalStore) -> None:
        await new_run(store, "run-1", events=[NewEvent(EventType.RUN_STARTED)])
        await store.append("run-1", [open_wait_event(
            "t-1", kind="timer", deadline=None, type=EventType.WAIT_OPENED, step_key="s2")])
        wait = await store.get_wait("t-1")
        assert wait is not None
        assert (wait.kind, wait.status, wait.step_key, wait.deadline) == (
            "timer", "open", "s2", None)
        assert await store.get_wait("nope") is None

    async def test_waits_listing(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        await new_run(store, "run-2")
        await store.append("run-1", [open_wait_event("a1"),
                                     open_wait_event("t1", kind="timer",
                                                     type=EventType.WAIT_OPENED)])
        await store.append("run-2", [open_wait_event("a2"), close_wait_event("a2")])

        def ids(waits: Sequence[Any]) -> set[str]:
            return {w.id for w in waits}

        assert ids(await store.waits()) == {"a1", "t1"}  # default: open ones
        assert ids(await store.waits(status=None)) == {"a1", "t1", "a2"}
        assert ids(await store.waits(status="resolved")) == {"a2"}
        assert ids(await store.waits(run_id="run-1")) == {"a1", "t1"}
        assert ids(await store.waits(run_id="run-2")) == set()
        assert ids(await store.waits(run_id="run-2", status=None)) == {"a2"}
        assert ids(await store.waits(kind="approval")) == {"a1"}
        assert ids(await store.waits(kind="approval", status=None)) == {"a1", "a2"}
        assert ids(await store.waits(kind="timer", run_id="run-2")) == set()

    @pytest.mark.parametrize("close", CLOSE_EVENTS)
    async def test_close_events_resolve_wait(self, store: JournalStore, close: str) -> None:
        await waiting_run(store, "run-1", "w-1")
        await store.append("run-1", [close_wait_event("w-1", close, actor="user:ana")])
        wait = await store.get_wait("w-1")
        assert wait is not None
        assert wait.status == "resolved"
        assert wait.resolution is not None
        assert wait.resolution["type"] == close
        assert wait.resolution["actor"] == "user:ana"
        assert wait.resolution["reason"] == "looks fine"
        assert await store.waits(run_id="run-1") == []

    async def test_resolving_twice_is_refused_atomically(self, store: JournalStore) -> None:
        await waiting_run(store, "run-1", "w-1")
        await store.append("run-1", [close_wait_event("w-1")])
        before = await store.require_run("run-1")
        events_before = await store.events("run-1")
        with pytest.raises(WaitNotOpenError, match="w-1"):
            await store.append("run-1", [
                NewEvent("note", data={"written": False, "big": BIG_TEXT}),
                close_wait_event("w-1", EventType.APPROVAL_DENIED),
                NewEvent(EventType.RUN_COMPLETED),
            ])
        assert issubclass(WaitNotOpenError, JournalError)
        after = await store.require_run("run-1")
        assert (after.last_seq, after.head_hash, after.status) == (
            before.last_seq, before.head_hash, before.status)
        assert await store.events("run-1") == events_before
        wait = await store.get_wait("w-1")
        assert wait is not None
        assert wait.resolution is not None
        assert wait.resolution["type"] == EventType.APPROVAL_GRANTED
        assert (await verify(store)).ok

    async def test_reusing_a_wait_id_is_refused(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        await new_run(store, "run-2")
        await store.append("run-1", [open_wait_event("w-1")])
        with pytest.raises(JournalError, match="w-1"):
            await store.append("run-1", [open_wait_event("w-1")])
        with pytest.raises(JournalError, match="w-1"):
            await store.append("run-2", [open_wait_event("w-1")])
        with pytest.raises(JournalError, match="w-2"):
            await store.append("run-2", [open_wait_event("w-2"), open_wait_event("w-2")])
        assert (await last_seq(store, "run-1"), await last_seq(store, "run-2")) == (2, 1)
        assert await store.get_wait("w-2") is None

    @pytest.mark.parametrize("event_type", [EventType.WAIT_OPENED, EventType.WAIT_RESOLVED])
    async def test_wait_event_without_wait_id_is_refused(
        self, store: JournalStore, event_type: str
    ) -> None:
        await new_run(store, "run-1")
        with pytest.raises(JournalError, match="wait_id"):
            await store.append("run-1", [NewEvent(event_type, data={"kind": "timer"})])
        assert await last_seq(store, "run-1") == 1

    async def test_open_and_resolve_in_one_append(self, store: JournalStore) -> None:
        await new_run(store, "run-1", events=[NewEvent(EventType.RUN_STARTED)])
        await store.append("run-1", [open_wait_event("w-1"), close_wait_event("w-1")])
        wait = await store.get_wait("w-1")
        assert wait is not None
        assert wait.status == "resolved"
        with pytest.raises(WaitNotOpenError):
            await store.append("run-1", [open_wait_event("w-2"), close_wait_event("w-2"),
                                         close_wait_event("w-2")])
        assert await store.get_wait("w-2") is None
        assert await last_seq(store, "run-1") == 4

    async def test_resolving_unknown_or_foreign_wait_is_refused(
        self, store: JournalStore
    ) -> None:
        await waiting_run(store, "run-1", "w-1")
        await new_run(store, "run-2")
        with pytest.raises(WaitNotOpenError):
            await store.append("run-1", [close_wait_event("no-such-wait")])
        with pytest.raises(WaitNotOpenError):  # the wait belongs to another run
            await store.append("run-2", [close_wait_event("w-1")])
        assert await last_seq(store, "run-2") == 1
        wait = await store.get_wait("w-1")
        assert wait is not None
        assert wait.status == "open"
        assert await status(store, "run-1") == "waiting"

    async def test_resolution_moves_waiting_run_to_pending(self, store: JournalStore) -> None:
        await waiting_run(store, "run-1", "w-1")
        assert await status(store, "run-1") == "waiting"
        await store.append("run-1", [close_wait_event("w-1")])
        assert await status(store, "run-1") == "pending"

    async def test_resolution_keeps_running_run_running(self, store: JournalStore) -> None:
        await new_run(store, "run-1", events=[NewEvent(EventType.RUN_STARTED)])
        await store.append("run-1", [open_wait_event("w-1")])
        await store.append("run-1", [close_wait_event("w-1")])
        assert await status(store, "run-1") == "running"

    async def test_waiting_on_already_resolved_wait_leaves_run_pending(
        self, store: JournalStore
    ) -> None:
        # The run opens a wait; the wait is resolved (by a person, in another process) before
        # the run has journaled that it is suspending. The run must not sleep forever.
        await new_run(store, "run-1", events=[NewEvent(EventType.RUN_STARTED)])
        await store.append("run-1", [open_wait_event("w-1")])
        await store.append("run-1", [close_wait_event("w-1")])
        await store.append("run-1", [NewEvent(EventType.RUN_WAITING, data={"waits": ["w-1"]})])
        assert await status(store, "run-1") == "pending"

    async def test_waiting_on_open_wait_is_waiting(self, store: JournalStore) -> None:
        await new_run(store, "run-1", events=[NewEvent(EventType.RUN_STARTED)])
        await store.append("run-1", [open_wait_event("w-1"), open_wait_event("w-2")])
        await store.append("run-1", [close_wait_event("w-2")])
        await store.append("run-1", [NewEvent(EventType.RUN_WAITING, data={"waits": ["w-1"]})])
        assert await status(store, "run-1") == "waiting"

    async def test_due_waits(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        await new_run(store, "run-2")
        await store.append("run-1", [
            open_wait_event("due-1", deadline=1000.0),
            open_wait_event("later", deadline=2000.0),
            open_wait_event("no-deadline"),
            open_wait_event("resolved", deadline=500.0),
            close_wait_event("resolved"),
        ])
        await store.append("run-2", [open_wait_event("due-2", deadline=1400.0)])
        due = await store.due_waits(1500.0)
        assert sorted(w.id for w in due) == ["due-1", "due-2"]
        assert all(w.status == "open" for w in due)
        assert await store.due_waits(999.0) == []
        assert sorted(w.id for w in await store.due_waits(10_000.0)) == [
            "due-1", "due-2", "later"]

    async def test_wake_at_is_earliest_open_deadline(self, store: JournalStore) -> None:
        await new_run(store, "run-1", events=[NewEvent(EventType.RUN_STARTED)])
        await store.append("run-1", [open_wait_event("w-late", deadline=2000.0),
                                     open_wait_event("w-none")])
        assert (await store.require_run("run-1")).wake_at == 2000.0
        await store.append("run-1", [open_wait_event("w-early", deadline=1000.0)])
        assert (await store.require_run("run-1")).wake_at == 1000.0
        await store.append("run-1", [close_wait_event("w-early")])
        assert (await store.require_run("run-1")).wake_at == 2000.0
        await store.append("run-1", [close_wait_event("w-late")])
        assert (await store.require_run("run-1")).wake_at is None

    async def test_several_open_waits_in_one_run(self, store: JournalStore) -> None:
        await new_run(store, "run-1", events=[NewEvent(EventType.RUN_STARTED)])
        await store.append("run-1", [
            open_wait_event("w-1", step_key="a"),
            open_wait_event("w-2", step_key="b", deadline=3000.0),
            open_wait_event("w-3", kind="timer", type=EventType.WAIT_OPENED, step_key="c"),
            NewEvent(EventType.RUN_WAITING, data={"waits": ["w-1", "w-2", "w-3"]}),
        ])
        waits = await store.waits(run_id="run-1")
        assert sorted((w.id, w.step_key) for w in waits) == [
            ("w-1", "a"), ("w-2", "b"), ("w-3", "c")]
        await store.append("run-1", [close_wait_event("w-2")])
        assert sorted(w.id for w in await store.waits(run_id="run-1")) == ["w-1", "w-3"]
        assert (await store.require_run("run-1")).wake_at is None
