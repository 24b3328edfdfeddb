"""Creating runs, appending events and the status each event projects."""

from __future__ import annotations

import asyncio
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
    WaitNotOpenError,
    verify,
)
from agentplane.journal.events import STATUS_OF_EVENT

from .helpers import (
    END_EVENTS,
    WORKFLOW_HASH,
    append,
    assert_chain,
    close_wait_event,
    last_seq,
    new_run,
    open_wait_event,
    recomputed_hash,
    status,
)


class RunsConformance:
    """Creating runs, appending events and the status each event projects."""

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

    async def test_the_created_record_is_the_stored_one(self, store: JournalStore) -> None:
        """What ``create_run`` returns is what a read of the run gives, however it was made
        (a store may build it from what it wrote instead of reading it back)."""
        made = [
            await new_run(store, "run-plain", input={"q": [1, "二"]}),
            await store.create_run(run_id="run-leased", workflow="flow",
                                   workflow_hash=WORKFLOW_HASH, input="x",
                                   meta={"tags": {"team": "a"}}, tenant="acme",
                                   lease_owner="worker-1", lease_seconds=60),
            await new_run(store, "run-started", events=[NewEvent(EventType.RUN_STARTED)]),
        ]
        for run in made:
            assert run == await store.require_run(run.id)

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
