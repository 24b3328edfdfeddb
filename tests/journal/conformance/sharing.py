"""Two stores on one database (as two processes), and listing runs."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from agentplane.journal import (
    EventType,
    JournalStore,
    NewEvent,
    RunRecord,
    WaitNotOpenError,
    verify,
)

from .helpers import (
    BIG_TEXT,
    assert_chain,
    close_wait_event,
    last_seq,
    new_run,
    status,
    waiting_run,
)


class SharingConformance:
    """Two stores on one database (as two processes), and listing runs."""

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
