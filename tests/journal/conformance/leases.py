"""Leases: which worker drives a run, claimed, renewed, released, taken over."""

from __future__ import annotations

import asyncio
import time

import pytest

from agentplane.journal import EventType, JournalStore, LeaseLostError, NewEvent, RunNotActiveError

from .helpers import END_EVENTS, assert_chain, new_run, status, waiting_run


class LeasesConformance:
    """Leases: which worker drives a run, claimed, renewed, released, taken over."""

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

    # -- a lease moved by another store (process) after this one appended ---------------------

    async def _held_by_w1(self, store: JournalStore) -> None:
        """run-1 leased to w1 briefly, with appends made through ``store`` (which so knows
        the run's head)."""
        await new_run(store, "run-1")
        assert await store.claim("w1", lease_seconds=0.05)
        await store.append("run-1", [NewEvent(EventType.RUN_STARTED)], owner="w1")
        await store.append("run-1", [NewEvent("note", data={"by": "w1"})], owner="w1")

    @pytest.mark.parametrize("new_holder_appended", [False, True])
    async def test_lease_taken_by_another_store_refuses_the_old_holder(
        self, store: JournalStore, second_store: JournalStore, new_holder_appended: bool
    ) -> None:
        await self._held_by_w1(store)
        await asyncio.sleep(0.1)
        assert [r.id for r in await second_store.claim("w2", lease_seconds=60)] == ["run-1"]
        if new_holder_appended:
            await second_store.append("run-1", [NewEvent("note", data={"by": "w2"})],
                                      owner="w2")
        before = await second_store.events("run-1")
        for require_active in (False, True):
            with pytest.raises(LeaseLostError):
                await store.append("run-1", [NewEvent("note", data={"by": "w1 late"})],
                                   owner="w1", require_active=require_active)
        assert await second_store.events("run-1") == before  # nothing of w1's was written
        await second_store.append("run-1", [NewEvent("note", data={"by": "w2"})], owner="w2")
        events = await store.events("run-1")
        assert_chain(events, "run-1")
        assert [e.data.get("by") for e in events[-2:]] == (
            ["w2", "w2"] if new_holder_appended else ["w1", "w2"])

    async def test_another_stores_append_is_chained_on(
        self, store: JournalStore, second_store: JournalStore
    ) -> None:
        await self._held_by_w1(store)
        await second_store.append("run-1", [NewEvent("note", actor="user:ana")])
        await store.append("run-1", [NewEvent("note", data={"by": "w1"})], owner="w1")
        events = await second_store.events("run-1")
        assert_chain(events, "run-1")
        assert [e.actor for e in events[-2:]] == ["user:ana", "system"]
        assert (await second_store.require_run("run-1")).last_seq == events[-1].seq
        await second_store.append("run-1", [NewEvent(EventType.RUN_CANCELLED,
                                                     actor="user:ana")])
        with pytest.raises(RunNotActiveError):
            await store.append("run-1", [NewEvent("tool.started")], owner="w1",
                               require_active=True)
