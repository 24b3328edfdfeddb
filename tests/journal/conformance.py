"""The conformance suite every ``JournalStore`` back-end must pass.

A back-end's test module provides two async fixtures and subclasses ``JournalStoreConformance``::

    @pytest_asyncio.fixture
    async def store(...) -> AsyncIterator[JournalStore]:
        ...  # a fresh, empty store; closed afterwards

    @pytest_asyncio.fixture
    async def second_store(store, ...) -> AsyncIterator[JournalStore]:
        ...  # another store object on the SAME database (as a second process would open it)

    class TestMyJournal(JournalStoreConformance):
        pass

The suite uses the public ``JournalStore`` interface only (never SQL), so a PostgreSQL store can
subclass it unchanged. Nothing here asserts on durations: lease expiry is tested by sleeping well
past a tiny lease and checking the outcome.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from agentplane.errors import NotFoundError
from agentplane.journal import (
    GENESIS_HASH,
    RUN_STATUSES,
    TERMINAL_STATUSES,
    Event,
    EventType,
    JournalError,
    JournalStore,
    LeaseLostError,
    NewEvent,
    RunExistsError,
    RunNotActiveError,
    RunNotFoundError,
    RunRecord,
    WaitNotOpenError,
    canonical_json,
    sha256_hex,
    verify,
    verify_run,
)
from agentplane.journal.events import STATUS_OF_EVENT, event_hash

WORKFLOW_HASH = "ab" * 32
META: dict[str, Any] = {"base_dir": "/srv/flows", "source": "flow.yaml"}
BIG_TEXT = "0123456789" * 1024  # 10 KB: well past the blob threshold
END_EVENTS = (
    EventType.RUN_COMPLETED,
    EventType.RUN_FAILED,
    EventType.RUN_CANCELLED,
    EventType.RUN_NEEDS_RECONCILIATION,
)
CLOSE_EVENTS = (
    EventType.APPROVAL_GRANTED,
    EventType.APPROVAL_DENIED,
    EventType.APPROVAL_EXPIRED,
    EventType.WAIT_RESOLVED,
)


# -- helpers ----------------------------------------------------------------------------------


async def new_run(
    store: JournalStore,
    run_id: str,
    *,
    workflow: str = "flow",
    input: Any = None,
    tenant: str = "default",
    events: Sequence[NewEvent] = (),
) -> RunRecord:
    return await store.create_run(
        run_id=run_id, workflow=workflow, workflow_hash=WORKFLOW_HASH, input=input,
        meta=META, tenant=tenant, events=events,
    )


async def append(store: JournalStore, run_id: str, type: str, **data: Any) -> Event:
    """Append one event with ``data`` and return it."""
    (event,) = await store.append(run_id, [NewEvent(type, data=data)])
    return event


async def status(store: JournalStore, run_id: str) -> str:
    """The run's status, checked to be the same through ``run_status`` and ``get_run``."""
    record = (await store.require_run(run_id)).status
    assert await store.run_status(run_id) == record
    return record


async def last_seq(store: JournalStore, run_id: str) -> int:
    return (await store.require_run(run_id)).last_seq


def recomputed_hash(event: Event) -> str:
    return event_hash(
        run_id=event.run_id, seq=event.seq, time=event.time, type=event.type, actor=event.actor,
        step_key=event.step_key, data=event.data, usage=event.usage, prev_hash=event.prev_hash,
        schema=event.schema,
    )


def open_wait_event(
    wait_id: str,
    *,
    kind: str = "approval",
    deadline: float | None = None,
    type: str = EventType.APPROVAL_REQUESTED,
    step_key: str = "step-1",
) -> NewEvent:
    return NewEvent(type, actor="agent:planner", step_key=step_key,
                    data={"wait_id": wait_id, "kind": kind, "deadline": deadline})


def close_wait_event(
    wait_id: str, type: str = EventType.APPROVAL_GRANTED, actor: str = "user:ana"
) -> NewEvent:
    return NewEvent(type, actor=actor, step_key="step-1",
                    data={"wait_id": wait_id, "reason": "looks fine"})


async def waiting_run(store: JournalStore, run_id: str, wait_id: str) -> None:
    """A run suspended on one open approval."""
    await new_run(store, run_id)
    await store.append(run_id, [
        NewEvent(EventType.RUN_STARTED),
        open_wait_event(wait_id),
        NewEvent(EventType.RUN_WAITING, data={"waits": [wait_id]}),
    ])


def assert_chain(events: Sequence[Event], run_id: str) -> None:
    """Seqs run 1..n without gaps, each prev_hash is the previous hash, each hash recomputes."""
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    prev = GENESIS_HASH
    for event in events:
        assert event.run_id == run_id
        assert event.prev_hash == prev
        assert event.hash == recomputed_hash(event)
        prev = event.hash


class JournalStoreConformance:
    """Behaviour every journal back-end must show. Needs fixtures ``store`` and ``second_store``."""

    # -- runs ---------------------------------------------------------------------------------

    async def test_store_starts_empty(self, store: JournalStore) -> None:
        assert await store.list_runs() == []
        assert await store.all_run_ids() == []
        assert await store.waits(status=None) == []
        assert isinstance(store.url, str)
        assert store.url

    async def test_create_run_writes_run_created_at_genesis(self, store: JournalStore) -> None:
        run = await new_run(store, "run-1", input={"q": 1})
        events = await store.events("run-1")
        assert len(events) == 1
        created = events[0]
        assert (created.type, created.seq, created.prev_hash) == (
            EventType.RUN_CREATED, 1, GENESIS_HASH)
        assert created.hash == recomputed_hash(created)
        # The pinned workflow version and the input are covered by the hash chain.
        assert created.data["workflow"] == "flow"
        assert created.data["workflow_hash"] == WORKFLOW_HASH
        assert created.data["input"] == {"q": 1}
        assert (run.last_seq, run.head_hash) == (1, created.hash)

    async def test_create_run_fields_round_trip(self, store: JournalStore) -> None:
        input = {"question": "东京明天的天气怎么样？", "n": [1, 2.5, None, True, {"deep": ["x"]}]}
        meta = {"base_dir": "/srv/flows/天气", "source": "weather.yaml", "opts": {"k": [1, 2]}}
        created = await store.create_run(
            run_id="run-天气", workflow="weather", workflow_hash=WORKFLOW_HASH, input=input,
            meta=meta, tenant="acme",
        )
        for run in (created, await store.require_run("run-天气")):
            assert run.id == "run-天气"
            assert run.workflow == "weather"
            assert run.workflow_hash == WORKFLOW_HASH
            assert run.status == "pending"
            assert run.tenant == "acme"
            assert run.input == input
            assert run.meta == meta
            assert run.last_seq == 1
            assert run.lease_owner is None
            assert run.lease_until is None
            assert run.wake_at is None
            assert run.created_at
            assert run.updated_at
        summary = created.summary()
        assert summary["id"] == "run-天气"
        assert summary["status"] == "pending"
        assert (await new_run(store, "run-default")).tenant == "default"

    async def test_create_run_with_initial_events(self, store: JournalStore) -> None:
        run = await new_run(store, "run-1", events=[
            NewEvent(EventType.RUN_STARTED, actor="system"),
            NewEvent("agent.invoked", actor="agent:planner", step_key="s1", data={"a": 1}),
        ])
        events = await store.events("run-1")
        assert [e.type for e in events] == [
            EventType.RUN_CREATED, EventType.RUN_STARTED, "agent.invoked"]
        assert_chain(events, "run-1")
        assert run.status == "running"
        assert (run.last_seq, run.head_hash) == (3, events[-1].hash)

    async def test_none_run_input_round_trips(self, store: JournalStore) -> None:
        run = await new_run(store, "run-1", input=None)
        assert run.input is None
        assert (await store.events("run-1"))[0].data["input"] is None

    async def test_duplicate_run_id_is_refused(self, store: JournalStore) -> None:
        first = await new_run(store, "run-1", input="first")
        await append(store, "run-1", "note", n=1)
        with pytest.raises(RunExistsError, match="run-1"):
            await new_run(store, "run-1", input="second")
        assert issubclass(RunExistsError, JournalError)
        again = await store.require_run("run-1")
        assert again.input == "first"
        assert again.created_at == first.created_at
        assert again.last_seq == 2
        assert [e.seq for e in await store.events("run-1")] == [1, 2]

    async def test_unknown_run(self, store: JournalStore) -> None:
        assert await store.get_run("nope") is None
        assert await store.run_status("nope") is None
        assert await store.events("nope") == []
        with pytest.raises(RunNotFoundError, match="nope"):
            await store.require_run("nope")
        with pytest.raises(RunNotFoundError):
            await store.append("nope", [NewEvent("note")])
        assert issubclass(RunNotFoundError, NotFoundError)
        assert await store.all_run_ids() == []

    # -- appending ----------------------------------------------------------------------------

    async def test_append_chains_contiguously(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        written: list[Event] = []
        written += await store.append("run-1", [NewEvent(EventType.RUN_STARTED)])
        written += await store.append("run-1", [NewEvent("note", data={"i": i}) for i in range(5)])
        written += await store.append("run-1", [NewEvent("note", data={"i": 5})])
        assert [e.seq for e in written] == list(range(2, 9))
        stored = await store.events("run-1", resolve_blobs=False)
        assert_chain(stored, "run-1")
        assert [e.hash for e in stored[1:]] == [e.hash for e in written]
        assert [e.data for e in stored[2:]] == [{"i": i} for i in range(6)]
        run = await store.require_run("run-1")
        assert (run.last_seq, run.head_hash) == (8, stored[-1].hash)

    async def test_append_nothing_changes_nothing(self, store: JournalStore) -> None:
        run = await new_run(store, "run-1")
        assert await store.append("run-1", []) == []
        after = await store.require_run("run-1")
        assert (after.last_seq, after.head_hash, after.status) == (
            run.last_seq, run.head_hash, run.status)

    async def test_event_fields_round_trip(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        (written,) = await store.append("run-1", [NewEvent(
            "tool.started", actor="agent:planner", step_key="s1/tool#2", data={"tool": "search"})])
        (event,) = await store.events("run-1", after_seq=1)
        assert event == written
        assert (event.type, event.actor, event.step_key) == ("tool.started", "agent:planner",
                                                             "s1/tool#2")
        assert event.schema == written.schema
        assert event.to_dict()["hash"] == event.hash
        when = datetime.fromisoformat(event.time)
        assert when.utcoffset() == UTC.utcoffset(None)

    async def test_events_after_seq(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        await store.append("run-1", [NewEvent("note", data={"i": i}) for i in range(4)])
        assert [e.seq for e in await store.events("run-1", after_seq=3)] == [4, 5]
        assert [e.seq for e in await store.events("run-1", after_seq=0)] == [1, 2, 3, 4, 5]
        assert await store.events("run-1", after_seq=5) == []
        assert await store.events("run-1", after_seq=99) == []

    async def test_usage_round_trips(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        usage = {"input_tokens": 1200, "output_tokens": 34, "cache_read_tokens": 1000}
        await store.append("run-1", [
            NewEvent(EventType.MODEL_COMPLETED, actor="agent:a", data={"m": "x"}, usage=usage),
            NewEvent("note"),
        ])
        events = await store.events("run-1")
        assert events[1].usage == usage
        assert events[2].usage is None
        assert events[0].usage is None
        assert_chain(await store.events("run-1", resolve_blobs=False), "run-1")

    async def test_unicode_round_trips(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        data = {"中文": "你好，世界！这是一个测试。", "emoji": "🚀✅", "mixed": "naïve café — Ω",
                "escapes": "quote \" backslash \\ newline \n tab \t nul-free"}
        await store.append("run-1", [NewEvent("note", actor="user:王小明", step_key="步骤-1",
                                              data=data)])
        event = (await store.events("run-1"))[-1]
        assert event.data == data
        assert event.actor == "user:王小明"
        assert event.step_key == "步骤-1"
        assert event.hash == recomputed_hash(event)
        assert (await verify(store)).ok

    async def test_nested_json_round_trips(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        data: dict[str, Any] = {
            "obj": {"b": [1, 2, {"c": None}], "a": {"x": True, "y": False}},
            "list": [[], {}, [[1]], "s", 0, -1, 3.25, 1e-7],
            "none": None, "zero": 0, "empty": "", "float": 0.1, "big": 2**53 + 1,
        }
        await store.append("run-1", [NewEvent("note", data=data)])
        event = (await store.events("run-1"))[-1]
        assert event.data == data
        assert event.hash == recomputed_hash(event)

    # -- blobs --------------------------------------------------------------------------------

    async def test_large_value_is_offloaded_and_resolved(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        await store.append("run-1", [NewEvent("tool.completed", data={"result": BIG_TEXT, "n": 1})])
        digest = sha256_hex(canonical_json(BIG_TEXT))
        raw = (await store.events("run-1", resolve_blobs=False))[-1]
        assert raw.data == {"result": {"$blob": digest}, "n": 1}
        assert raw.hash == recomputed_hash(raw)
        resolved = (await store.events("run-1"))[-1]
        assert resolved.data == {"result": BIG_TEXT, "n": 1}
        assert resolved.hash == raw.hash
        assert await store.get_blob(digest) == BIG_TEXT
        assert await store.blob_text(digest) == canonical_json(BIG_TEXT)

    async def test_large_structured_value_is_offloaded(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        rows = [{"城市": "北京", "i": i, "tags": ["a", "b"]} for i in range(200)]
        await store.append("run-1", [NewEvent("tool.completed", data={"rows": rows})])
        raw = (await store.events("run-1", resolve_blobs=False))[-1]
        assert raw.data == {"rows": {"$blob": sha256_hex(canonical_json(rows))}}
        assert (await store.events("run-1"))[-1].data == {"rows": rows}

    async def test_identical_values_share_one_blob(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        await new_run(store, "run-2")
        await store.append("run-1", [NewEvent("a", data={"x": BIG_TEXT}),
                                     NewEvent("b", data={"y": BIG_TEXT})])
        await store.append("run-2", [NewEvent("c", data={"z": BIG_TEXT})])
        refs = [e.data for e in (await store.events("run-1", resolve_blobs=False))[1:]]
        refs += [e.data for e in (await store.events("run-2", resolve_blobs=False))[1:]]
        digest = sha256_hex(canonical_json(BIG_TEXT))
        assert refs == [{"x": {"$blob": digest}}, {"y": {"$blob": digest}},
                        {"z": {"$blob": digest}}]
        assert await store.put_blob(BIG_TEXT) == digest
        assert await store.put_blob(BIG_TEXT) == digest
        assert (await verify(store)).ok

    async def test_put_blob_is_content_addressed(self, store: JournalStore) -> None:
        value = {"b": [1, 2, 3], "a": "日本語のテキスト", "c": {"z": None, "y": 1.5}}
        digest = await store.put_blob(value)
        assert digest == sha256_hex(canonical_json(value))
        assert await store.put_blob({"c": {"y": 1.5, "z": None}, "a": "日本語のテキスト",
                                     "b": [1, 2, 3]}) == digest  # key order does not matter
        assert await store.get_blob(digest) == value
        assert await store.blob_text(digest) == canonical_json(value)
        assert await store.put_blob([1]) != digest

    async def test_unknown_blob(self, store: JournalStore) -> None:
        assert await store.blob_text("f" * 64) is None
        with pytest.raises(JournalError, match="f" * 64):
            await store.get_blob("f" * 64)

    async def test_small_values_stay_inline(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        data = {"s": "x" * 100, "l": list(range(20)), "d": {"k": "v"}, "n": 10**12}
        await store.append("run-1", [NewEvent("note", data=data)])
        assert (await store.events("run-1", resolve_blobs=False))[-1].data == data

    async def test_value_shaped_like_blob_ref_round_trips(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        data: dict[str, Any] = {
            "looks_like_ref": {"$blob": "x"},
            "looks_like_real_ref": {"$blob": sha256_hex(canonical_json(BIG_TEXT))},
            "ref_plus": {"$blob": "y", "other": 1},
            "nested": {"inner": {"$blob": "z"}},
        }
        await store.append("run-1", [NewEvent("note", data=data)])
        assert (await store.events("run-1"))[-1].data == data
        assert (await verify(store)).ok

    async def test_large_run_input_round_trips(self, store: JournalStore) -> None:
        input = {"document": BIG_TEXT, "lang": "zh"}
        run = await new_run(store, "run-1", input=input)
        assert run.input == input
        assert (await store.require_run("run-1")).input == input
        assert (await store.events("run-1"))[0].data["input"] == input
        assert (await verify(store)).ok

    # -- status projection --------------------------------------------------------------------

    @pytest.mark.parametrize("event_type", sorted(STATUS_OF_EVENT))
    async def test_status_projection(self, store: JournalStore, event_type: str) -> None:
        await new_run(store, "run-1")
        await append(store, "run-1", EventType.RUN_STARTED)
        await append(store, "run-1", event_type)
        assert await status(store, "run-1") == STATUS_OF_EVENT[event_type]
        assert STATUS_OF_EVENT[event_type] in RUN_STATUSES

    def test_status_table_covers_run_lifecycle(self) -> None:
        assert frozenset({"completed", "failed", "cancelled"}) == TERMINAL_STATUSES
        assert STATUS_OF_EVENT[EventType.RUN_CREATED] == "pending"
        assert STATUS_OF_EVENT[EventType.RUN_STARTED] == "running"
        assert STATUS_OF_EVENT[EventType.RUN_WAITING] == "waiting"
        assert set(STATUS_OF_EVENT.values()) == set(RUN_STATUSES)

    async def test_other_events_keep_status(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        await append(store, "run-1", "tool.started", tool="x")
        assert await status(store, "run-1") == "pending"
        await append(store, "run-1", EventType.RUN_STARTED)
        for event_type in ("tool.started", "tool.completed", "model.completed", "custom.thing"):
            await append(store, "run-1", event_type)
            assert await status(store, "run-1") == "running"

    async def test_run_lifecycle(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        seen = [await status(store, "run-1")]
        for event_type in (EventType.RUN_STARTED, EventType.RUN_NEEDS_RECONCILIATION,
                           EventType.RUN_RECONCILED, EventType.RUN_RESUMED,
                           EventType.RUN_COMPLETED):
            await append(store, "run-1", event_type)
            seen.append(await status(store, "run-1"))
        assert seen == ["pending", "running", "needs_reconciliation", "pending", "running",
                        "completed"]

    @pytest.mark.parametrize("end", END_EVENTS)
    async def test_require_active_refuses_ended_runs(self, store: JournalStore, end: str) -> None:
        await new_run(store, "run-1", events=[NewEvent(EventType.RUN_STARTED)])
        await append(store, "run-1", end)
        before = await store.require_run("run-1")
        with pytest.raises(RunNotActiveError) as caught:
            await store.append("run-1", [NewEvent("tool.started")], require_active=True)
        assert caught.value.run_id == "run-1"
        assert caught.value.status == STATUS_OF_EVENT[end]
        assert isinstance(caught.value, JournalError)
        after = await store.require_run("run-1")
        assert (after.last_seq, after.head_hash) == (before.last_seq, before.head_hash)
        # Completions and settlements are still journaled.
        await store.append("run-1", [NewEvent("tool.completed", data={"late": True})])
        assert await last_seq(store, "run-1") == before.last_seq + 1
        assert (await verify(store)).ok

    async def test_require_active_accepts_live_runs(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        await store.append("run-1", [NewEvent("note")], require_active=True)  # pending
        await store.append("run-1", [NewEvent(EventType.RUN_STARTED)], require_active=True)
        await store.append("run-1", [NewEvent("note")], require_active=True)  # running
        await store.append("run-1", [NewEvent(EventType.RUN_WAITING)])
        await store.append("run-1", [NewEvent("note")], require_active=True)  # waiting
        assert await last_seq(store, "run-1") == 6

    async def test_owner_mismatch_is_lease_lost(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        with pytest.raises(LeaseLostError):  # nobody holds the lease
            await store.append("run-1", [NewEvent("note")], owner="w1")
        assert await store.claim("w1", lease_seconds=60, run_id="run-1")
        with pytest.raises(LeaseLostError):
            await store.append("run-1", [NewEvent("note")], owner="w2")
        assert issubclass(LeaseLostError, JournalError)
        assert await last_seq(store, "run-1") == 1
        await store.append("run-1", [NewEvent(EventType.RUN_STARTED)], owner="w1")
        await store.append("run-1", [NewEvent("note")])  # no owner given: no lease check
        assert await last_seq(store, "run-1") == 3

    async def test_data_that_is_not_json_is_refused(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        with pytest.raises(JournalError):
            await store.append("run-1", [NewEvent("note", data={"ok": 1}),
                                         NewEvent("note", data={"bad": {1, 2}})])
        with pytest.raises(JournalError):
            await store.append("run-1", [NewEvent("note", data={"bad": object()})])
        assert await last_seq(store, "run-1") == 1
        await store.append("run-1", [NewEvent("note", data={"ok": 2})])
        assert_chain(await store.events("run-1", resolve_blobs=False), "run-1")

    async def test_refused_append_among_concurrent_ones(self, store: JournalStore) -> None:
        # Appends made together (one event-loop tick) may share a transaction; a refused one
        # must neither write anything nor take the others down with it.
        await new_run(store, "run-1")
        await new_run(store, "run-2")
        await store.append("run-2", [open_wait_event("w-1"), close_wait_event("w-1")])
        results = await asyncio.gather(
            store.append("run-1", [NewEvent("note", data={"n": 1})]),
            store.append("run-1", [NewEvent("note", data={"n": "refused"})], owner="nobody"),
            store.append("run-2", [NewEvent("note", data={"n": 2})]),
            store.append("run-2", [NewEvent("note", data={"n": "refused"}),
                                   close_wait_event("w-1")]),
            store.append("run-1", [NewEvent("note", data={"n": 3})]),
            return_exceptions=True,
        )
        assert [type(r) for r in results] == [list, LeaseLostError, list, WaitNotOpenError,
                                              list]
        assert [e.data for e in (await store.events("run-1"))[1:]] == [{"n": 1}, {"n": 3}]
        assert [e.data for e in (await store.events("run-2"))[3:]] == [{"n": 2}]
        assert (await verify(store)).ok

    async def test_append_to_unknown_run_among_concurrent_ones(
        self, store: JournalStore
    ) -> None:
        await new_run(store, "run-1")
        results = await asyncio.gather(
            store.append("run-1", [NewEvent("note", data={"n": 1})]),
            store.append("nope", [NewEvent("note")]),
            store.append("run-1", [NewEvent("note", data={"n": 2})]),
            return_exceptions=True,
        )
        assert [type(r) for r in results] == [list, RunNotFoundError, list]
        assert [e.data for e in (await store.events("run-1"))[1:]] == [{"n": 1}, {"n": 2}]

    async def test_many_concurrent_appends_from_one_store(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        await new_run(store, "run-2")
        results = await asyncio.gather(*(
            store.append(f"run-{1 + i % 2}", [NewEvent("note", data={"i": i}),
                                             NewEvent("note", data={"i": i, "part": 2})])
            for i in range(100)
        ))
        for i, written in enumerate(results):
            assert [e.data for e in written] == [{"i": i}, {"i": i, "part": 2}]
            assert written[1].prev_hash == written[0].hash
        for run_id, parity in (("run-1", 0), ("run-2", 1)):
            events = await store.events(run_id, resolve_blobs=False)
            assert_chain(events, run_id)
            assert len(events) == 101
            assert [e.data["i"] for e in events[1::2]] == list(range(parity, 100, 2))
        report = await verify(store)
        assert (report.ok, report.events) == (True, 202)

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

    # -- leases -------------------------------------------------------------------------------

    async def test_claim_takes_pending_runs_and_sets_lease(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        await new_run(store, "run-2")
        claimed = await store.claim("w1", lease_seconds=60)
        assert sorted(r.id for r in claimed) == ["run-1", "run-2"]
        for run_id in ("run-1", "run-2"):
            run = await store.require_run(run_id)
            assert run.lease_owner == "w1"
            assert run.lease_until is not None
            assert run.lease_until > time.time()

    async def test_live_lease_blocks_other_owners(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        assert len(await store.claim("w1", lease_seconds=60)) == 1
        assert await store.claim("w2", lease_seconds=60) == []
        assert await store.claim("w2", lease_seconds=60, run_id="run-1") == []
        assert [r.id for r in await store.claim("w1", lease_seconds=60)] == ["run-1"]
        assert (await store.require_run("run-1")).lease_owner == "w1"

    async def test_expired_lease_can_be_taken_over(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        assert await store.claim("w1", lease_seconds=0.01)
        await asyncio.sleep(0.05)
        assert [r.id for r in await store.claim("w2", lease_seconds=60)] == ["run-1"]
        assert (await store.require_run("run-1")).lease_owner == "w2"
        with pytest.raises(LeaseLostError):
            await store.append("run-1", [NewEvent(EventType.RUN_STARTED)], owner="w1")
        await store.append("run-1", [NewEvent(EventType.RUN_STARTED)], owner="w2")

    async def test_dead_owner_lease_can_be_taken_over(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        assert await store.claim("w1", lease_seconds=60)
        assert await store.claim("w2", lease_seconds=60, owner_is_dead=lambda o: False) == []
        claimed = await store.claim("w2", lease_seconds=60,
                                    owner_is_dead=lambda owner: owner == "w1")
        assert [r.id for r in claimed] == ["run-1"]
        assert (await store.require_run("run-1")).lease_owner == "w2"

    async def test_only_runnable_runs_are_claimed(self, store: JournalStore) -> None:
        await new_run(store, "pending")
        await waiting_run(store, "waiting", "w-1")
        for end in END_EVENTS:
            await new_run(store, end, events=[NewEvent(EventType.RUN_STARTED), NewEvent(end)])
        assert [r.id for r in await store.claim("w1", lease_seconds=60)] == ["pending"]
        for run_id in ("waiting", *END_EVENTS):
            assert await store.claim("w1", lease_seconds=60, run_id=run_id) == []
            assert (await store.require_run(run_id)).lease_owner is None

    async def test_running_run_without_lease_is_claimable(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        assert await store.claim("w1", lease_seconds=60)
        await store.append("run-1", [NewEvent(EventType.RUN_STARTED)], owner="w1")
        await store.release("w1", "run-1")
        assert [r.id for r in await store.claim("w2", lease_seconds=60)] == ["run-1"]

    async def test_claim_by_run_id(self, store: JournalStore) -> None:
        for run_id in ("run-1", "run-2", "run-3"):
            await new_run(store, run_id)
        claimed = await store.claim("w1", lease_seconds=60, run_id="run-2")
        assert [r.id for r in claimed] == ["run-2"]
        assert (await store.require_run("run-1")).lease_owner is None
        assert (await store.require_run("run-3")).lease_owner is None
        assert await store.claim("w1", lease_seconds=60, run_id="nope") == []

    async def test_claim_limit(self, store: JournalStore) -> None:
        for run_id in ("run-1", "run-2", "run-3"):
            await new_run(store, run_id)
        first = await store.claim("w1", lease_seconds=60, limit=2)
        assert len(first) == 2
        rest = await store.claim("w2", lease_seconds=60, limit=2)
        assert len(rest) == 1
        assert {r.id for r in first} | {r.id for r in rest} == {"run-1", "run-2", "run-3"}

    async def test_renew_extends_only_own_lease(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        await new_run(store, "run-2")
        assert await store.claim("w1", lease_seconds=0.01, run_id="run-1")
        assert await store.claim("w2", lease_seconds=0.01, run_id="run-2")
        await store.renew("w1", ["run-1", "run-2"], lease_seconds=60)
        await store.renew("w1", [], lease_seconds=60)
        await asyncio.sleep(0.05)
        # run-1's lease was renewed: still w1's. run-2 is w2's and was not w1's to renew.
        assert [r.id for r in await store.claim("w3", lease_seconds=60)] == ["run-2"]
        assert (await store.require_run("run-1")).lease_owner == "w1"
        assert (await store.require_run("run-2")).lease_owner == "w3"

    async def test_release(self, store: JournalStore) -> None:
        await new_run(store, "run-1")
        assert await store.claim("w1", lease_seconds=60)
        await store.release("w2", "run-1")  # not w2's lease: no effect
        assert (await store.require_run("run-1")).lease_owner == "w1"
        await store.release("w1", "run-1")
        run = await store.require_run("run-1")
        assert (run.lease_owner, run.lease_until) == (None, None)
        assert [r.id for r in await store.claim("w2", lease_seconds=60)] == ["run-1"]

    @pytest.mark.parametrize("stop", [
        EventType.RUN_WAITING, EventType.RUN_COMPLETED, EventType.RUN_FAILED,
        EventType.RUN_NEEDS_RECONCILIATION,
    ])
    async def test_stopping_events_clear_the_lease(self, store: JournalStore, stop: str) -> None:
        await new_run(store, "run-1")
        assert await store.claim("w1", lease_seconds=60)
        await store.append("run-1", [NewEvent(EventType.RUN_STARTED)], owner="w1")
        assert (await store.require_run("run-1")).lease_owner == "w1"
        await store.append("run-1", [NewEvent(stop)], owner="w1")
        run = await store.require_run("run-1")
        assert (run.lease_owner, run.lease_until) == (None, None)

    async def test_cancelling_keeps_the_workers_lease(self, store: JournalStore) -> None:
        # A person cancels; the worker keeps its lease until it notices, so the call it has
        # under way is still recorded under its lease. The run is never claimed again.
        await new_run(store, "run-1")
        assert await store.claim("w1", lease_seconds=60)
        await store.append("run-1", [NewEvent(EventType.RUN_STARTED)], owner="w1")
        await store.append("run-1", [NewEvent(EventType.RUN_CANCELLED, actor="user:ana")])
        assert (await store.require_run("run-1")).lease_owner == "w1"
        await store.append("run-1", [NewEvent("tool.completed")], owner="w1")
        with pytest.raises(RunNotActiveError):
            await store.append("run-1", [NewEvent("tool.started")], owner="w1",
                               require_active=True)
        assert await store.claim("w2", lease_seconds=60, owner_is_dead=lambda o: True) == []
        assert await status(store, "run-1") == "cancelled"

    # -- concurrency and listing --------------------------------------------------------------

    async def test_second_store_sees_writes(
        self, store: JournalStore, second_store: JournalStore
    ) -> None:
        await new_run(store, "run-1", input={"x": "第二"})
        await store.append("run-1", [NewEvent("note", data={"big": BIG_TEXT})])
        run = await second_store.require_run("run-1")
        assert run.input == {"x": "第二"}
        assert (await second_store.events("run-1"))[-1].data == {"big": BIG_TEXT}
        await second_store.append("run-1", [NewEvent("note", data={"from": "second"})])
        assert await last_seq(store, "run-1") == 3
        assert_chain(await store.events("run-1", resolve_blobs=False), "run-1")

    async def test_interleaved_appends_from_two_stores(
        self, store: JournalStore, second_store: JournalStore
    ) -> None:
        await new_run(store, "run-1")

        async def writer(target: JournalStore, name: str) -> None:
            for i in range(200):
                await target.append("run-1", [NewEvent("note", actor=f"worker:{name}",
                                                       data={"i": i})])
                await asyncio.sleep(0)  # let the other writer in

        await asyncio.gather(writer(store, "a"), writer(second_store, "b"))
        for reader in (store, second_store):
            events = await reader.events("run-1", resolve_blobs=False)
            assert len(events) == 401
            assert_chain(events, "run-1")
            for name in ("a", "b"):
                mine = [e.data["i"] for e in events if e.actor == f"worker:{name}"]
                assert mine == list(range(200))
            run = await reader.require_run("run-1")
            assert (run.last_seq, run.head_hash) == (401, events[-1].hash)
        report = await verify(second_store)
        assert (report.ok, report.runs, report.events) == (True, 1, 401)

    @pytest.mark.parametrize("same_object", [False, True])
    async def test_concurrent_resolution_has_one_winner(
        self, store: JournalStore, second_store: JournalStore, same_object: bool
    ) -> None:
        await waiting_run(store, "run-1", "w-1")
        other = store if same_object else second_store
        results = await asyncio.gather(
            store.append("run-1", [close_wait_event("w-1", EventType.APPROVAL_GRANTED)]),
            other.append("run-1", [close_wait_event("w-1", EventType.APPROVAL_DENIED)]),
            return_exceptions=True,
        )
        failures = [r for r in results if isinstance(r, BaseException)]
        assert len(failures) == 1
        assert isinstance(failures[0], WaitNotOpenError)
        assert await last_seq(store, "run-1") == 5
        assert await status(second_store, "run-1") == "pending"

    async def test_claims_from_two_stores_are_disjoint(
        self, store: JournalStore, second_store: JournalStore
    ) -> None:
        for i in range(10):
            await new_run(store, f"run-{i}")
        first, second = await asyncio.gather(
            store.claim("w1", lease_seconds=60, limit=5),
            second_store.claim("w2", lease_seconds=60, limit=5),
        )
        ids1, ids2 = {r.id for r in first}, {r.id for r in second}
        assert ids1.isdisjoint(ids2)
        assert ids1 | ids2 == {f"run-{i}" for i in range(10)}
        for run_id in ids2:
            assert (await store.require_run(run_id)).lease_owner == "w2"

    async def test_list_runs(self, store: JournalStore, second_store: JournalStore) -> None:
        await new_run(store, "r-old", workflow="alpha")
        await asyncio.sleep(0.002)  # distinct creation times
        await new_run(store, "r-mid", workflow="beta", events=[
            NewEvent(EventType.RUN_STARTED), NewEvent(EventType.RUN_COMPLETED)])
        await asyncio.sleep(0.002)
        await new_run(store, "r-new", workflow="alpha")

        def ids(runs: Sequence[RunRecord]) -> list[str]:
            return [r.id for r in runs]

        for reader in (store, second_store):
            assert ids(await reader.list_runs()) == ["r-new", "r-mid", "r-old"]
            assert ids(await reader.list_runs(limit=2)) == ["r-new", "r-mid"]
            assert ids(await reader.list_runs(statuses=["pending"])) == ["r-new", "r-old"]
            assert ids(await reader.list_runs(statuses=["completed"])) == ["r-mid"]
            assert ids(await reader.list_runs(statuses=["pending", "completed"])) == [
                "r-new", "r-mid", "r-old"]
            assert ids(await reader.list_runs(statuses=["failed"])) == []
            assert ids(await reader.list_runs(workflow="alpha")) == ["r-new", "r-old"]
            assert ids(await reader.list_runs(workflow="beta", statuses=["pending"])) == []
            assert ids(await reader.list_runs(workflow="alpha", limit=1)) == ["r-new"]
            assert sorted(await reader.all_run_ids()) == ["r-mid", "r-new", "r-old"]

    async def test_list_runs_by_tenant_and_search(self, store: JournalStore) -> None:
        await new_run(store, "acme-1", workflow="refund_desk", tenant="acme")
        await asyncio.sleep(0.002)
        await new_run(store, "beta-1", workflow="refund-desk", tenant="beta")
        await asyncio.sleep(0.002)
        await new_run(store, "beta-2", workflow="payments", tenant="beta")

        async def ids(**query: Any) -> list[str]:
            return [r.id for r in await store.list_runs(**query)]

        assert await ids(tenant="acme") == ["acme-1"]
        assert await ids(tenant="beta") == ["beta-2", "beta-1"]
        assert await ids(tenant="nobody") == []
        assert await ids(search="refund") == ["beta-1", "acme-1"]
        assert await ids(search="refund", tenant="beta") == ["beta-1"]
        assert await ids(search="-2") == ["beta-2"]
        # LIKE wildcards in the search are taken literally
        assert await ids(search="d_d") == ["acme-1"]
        assert await ids(search="%") == []

    # -- audit --------------------------------------------------------------------------------

    async def test_clean_store_verifies(self, store: JournalStore) -> None:
        assert (await verify(store)).ok
        await new_run(store, "run-1", input={"big": BIG_TEXT})
        await waiting_run(store, "run-2", "w-1")
        await store.append("run-2", [close_wait_event("w-1"), NewEvent(EventType.RUN_RESUMED),
                                     NewEvent("tool.completed", data={"result": BIG_TEXT}),
                                     NewEvent(EventType.RUN_COMPLETED)])
        await new_run(store, "run-3", events=[NewEvent("note", data={"中文": "审计"})])
        report = await verify(store)
        assert report.ok
        assert report.breaks == []
        assert (report.runs, report.events) == (3, 1 + 8 + 2)
        assert await verify_run(store, "run-2") == (8, None)

    async def test_verify_selected_runs(self, store: JournalStore) -> None:
        await new_run(store, "run-1", events=[NewEvent("note")])
        await new_run(store, "run-2")
        report = await verify(store, ["run-1"])
        assert (report.ok, report.runs, report.events) == (True, 1, 2)

    # -- the boundary for untrusted values ----------------------------------------------------

    async def test_unsafe_text_is_stored_safe_and_marked(self, store: JournalStore) -> None:
        """Lone surrogates (valid in JSON and in a Python str, not in UTF-8), NaN and number
        keys reach the journal from tools, models, inputs and the API: every entry is stored,
        replaced where it must be, and the event says what was replaced."""
        run = await new_run(store, "run-1", input={"q": "\ud800", 1: float("inf")},
                            events=[NewEvent("note", actor="user:\udc80",
                                             data={"big": "\udc80" + BIG_TEXT})])
        assert run.input == {"q": "\ufffd", "1": None}
        await store.append("run-1", [NewEvent("tool.completed", step_key="s/\udfff",
                                              data={"result": {"k\udc80": ["\udc80"]}})])
        events = await store.events("run-1")
        created, note, done = events
        assert created.data["input"] == run.input
        assert [c["path"] for c in created.data["sanitized"]] == [
            "data.input.q", "data.input.1", "data.input.1"]
        assert note.actor == "user:\ufffd" and note.data["big"] == "\ufffd" + BIG_TEXT
        assert [c["path"] for c in note.data["sanitized"]] == ["data.big", "actor"]
        assert done.step_key == "s/\ufffd" and done.data["result"] == {"k\ufffd": ["\ufffd"]}
        assert len(done.data["sanitized"]) == 3
        assert (await verify(store)).ok

    async def test_oversized_event_data_is_refused_whole(
            self, store: JournalStore, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr("agentplane.journal.safe.MAX_EVENT_DATA_CHARS", 100_000)
        await new_run(store, "run-1")
        with pytest.raises(JournalError, match="over the journal's limit of 100000"):
            await store.append("run-1", [NewEvent("note", data={"ok": 1}),
                                         NewEvent("note", data={"big": "x" * 100_001})])
        assert await last_seq(store, "run-1") == 1
        await append(store, "run-1", "note", fits="x" * 90_000)
        assert (await verify(store)).ok
