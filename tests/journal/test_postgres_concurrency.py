"""PostgresJournal with many processes: commit order, claims, change notifications."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest
import pytest_asyncio

from agentplane.journal import EventType, LeaseLostError, NewEvent, RunNotActiveError, verify
from agentplane.journal.postgres import PostgresJournal
from tests.pgserver import PostgresServer

from .conformance import new_run


@pytest_asyncio.fixture
async def stores(app_url: str) -> AsyncIterator[list[PostgresJournal]]:
    """Four stores on one database, as four worker processes."""
    opened = [PostgresJournal(app_url) for _ in range(4)]
    yield opened
    for store in opened:
        await store.close()


async def follow(store: PostgresJournal, cursor: int) -> tuple[list[tuple[str, int]], int]:
    events, cursor = await store.events_since(cursor)
    return [(e.run_id, e.seq) for e in events], cursor


async def test_events_since_never_skips_a_transaction_that_commits_late(
        stores: list[PostgresJournal], app_url: str) -> None:
    store = stores[0]
    await new_run(store, "early")
    seen, cursor = await follow(store, 0)
    assert seen == [("early", 1)]
    # A slow writer begins first (its transaction id is the lower one) and commits last.
    async with await psycopg.AsyncConnection.connect(app_url) as slow:
        await slow.execute("SELECT set_config('agentplane.tenant', '*', false)")
        await slow.execute(
            "INSERT INTO events(run_id, seq, time, type, actor, data, prev_hash, hash, schema,"
            " tenant) VALUES ('slow', 1, 't', 'note', 'system', '{}', 'p', 'h', 1, 'default')")
        await new_run(store, "fast")  # commits while the slow one is still open
        await store.append("fast", [NewEvent("note")])
        seen, later = await follow(store, cursor)
        # Nothing after the slow transaction is handed out while it may still commit.
        assert seen == []
        assert later == cursor
        await slow.commit()
    seen, cursor = await follow(store, cursor)
    assert seen == [("slow", 1), ("fast", 1), ("fast", 2)]
    assert await follow(store, cursor) == ([], cursor)


async def test_events_since_pages_hold_whole_transactions(
        stores: list[PostgresJournal]) -> None:
    store = stores[0]
    await new_run(store, "r", events=[NewEvent("note", data={"i": i}) for i in range(5)])
    await store.append("r", [NewEvent("note"), NewEvent("note")])
    await store.append("r", [NewEvent("note")])
    events, cursor = await store.events_since(0, limit=3)
    assert [e.seq for e in events] == [1, 2, 3, 4, 5, 6]  # one transaction, read whole
    events, cursor = await store.events_since(cursor, limit=2)
    assert [e.seq for e in events] == [7, 8]
    events, cursor = await store.events_since(cursor, limit=2)
    assert [e.seq for e in events] == [9]


async def test_concurrent_appends_from_four_stores_keep_one_chain(
        stores: list[PostgresJournal]) -> None:
    await new_run(stores[0], "shared")

    async def writer(n: int) -> None:
        for i in range(50):
            await stores[n].append("shared", [NewEvent("note", actor=f"w:{n}", data={"i": i})])

    await asyncio.gather(*(writer(n) for n in range(4)))
    events = await stores[3].events("shared")
    assert len(events) == 201
    for n in range(4):
        assert [e.data["i"] for e in events if e.actor == f"w:{n}"] == list(range(50))
    assert (await verify(stores[1])).ok
    followed, _ = await stores[2].events_since(0)
    assert [(e.run_id, e.seq) for e in followed] == [("shared", s) for s in range(1, 202)]


async def test_claims_from_four_stores_never_share_a_run(stores: list[PostgresJournal]) -> None:
    for i in range(60):
        await new_run(stores[0], f"run-{i:02}")

    async def claim_all(n: int) -> list[str]:
        return [r.id for r in await stores[n].claim(f"w{n}", lease_seconds=60, limit=15)]

    results = await asyncio.gather(*(claim_all(n) for n in range(4)))
    every = [run_id for taken in results for run_id in taken]
    assert sorted(every) == [f"run-{i:02}" for i in range(60)]  # each exactly once
    for n, taken in enumerate(results):
        for run_id in taken:
            assert (await stores[0].require_run(run_id)).lease_owner == f"w{n}"


async def test_claim_skips_a_locked_run_instead_of_waiting(
        stores: list[PostgresJournal], app_url: str) -> None:
    store = stores[0]
    await new_run(store, "busy")
    await new_run(store, "free")
    async with await psycopg.AsyncConnection.connect(app_url) as other:
        await other.execute("SELECT set_config('agentplane.tenant', '*', false)")
        await other.execute("SELECT 1 FROM runs WHERE id = 'busy' FOR UPDATE")  # held
        # Without SKIP LOCKED this claim would wait for the lock until the test times out.
        taken = await asyncio.wait_for(store.claim("w1", lease_seconds=60), timeout=60)
        assert [r.id for r in taken] == ["free"]
    assert [r.id for r in await store.claim("w2", lease_seconds=60)] == ["busy"]


async def test_claim_takes_over_a_dead_owners_lease(stores: list[PostgresJournal]) -> None:
    await new_run(stores[0], "r1")
    assert [r.id for r in await stores[0].claim("w1", lease_seconds=600)] == ["r1"]
    assert await stores[1].claim("w2", lease_seconds=600) == []
    taken = await stores[1].claim("w2", lease_seconds=600, owner_is_dead=lambda o: o == "w1")
    assert [(r.id, r.lease_owner) for r in taken] == [("r1", "w2")]


async def test_wait_for_change_wakes_another_store(stores: list[PostgresJournal]) -> None:
    watcher, writer = stores[0], stores[1]
    assert await watcher.wait_for_change(0.05) is False  # listening now; nothing happened
    woken = asyncio.create_task(watcher.wait_for_change(60))
    await new_run(writer, "r1")
    assert await woken is True
    # A change made while nobody waits is still heard by the next wait.
    await writer.append("r1", [NewEvent(EventType.RUN_STARTED)])
    assert await watcher.wait_for_change(60) is True


async def test_wait_for_change_survives_a_server_restart(
        stores: list[PostgresJournal], postgres_server: PostgresServer) -> None:
    watcher, writer = stores[0], stores[1]
    await watcher.wait_for_change(0.05)
    postgres_server.restart(immediate=True)
    # The lost connection is noticed (returns False) or it reconnects and says changes may
    # have been missed (True); either way it listens again afterwards.
    for _ in range(10):
        if await watcher.wait_for_change(0.2):
            break
    await watcher.wait_for_change(0.05)
    woken = asyncio.create_task(watcher.wait_for_change(60))
    for _ in range(5):  # the writer's pool may hand out a connection the restart broke
        try:
            await new_run(writer, "after-restart")
            break
        except Exception:
            continue
    assert await woken is True


async def test_an_append_on_a_remembered_head_checks_it_is_still_the_head(
        stores: list[PostgresJournal]) -> None:
    """A store remembers the run as its last append left it and appends in one statement;
    another store's append, a claim or a status change in between sends it the locked way."""
    mine, other = stores[0], stores[1]
    await new_run(mine, "r1")
    [run] = await mine.claim("w1", lease_seconds=0.01)
    await mine.append("r1", [NewEvent(EventType.RUN_STARTED)], owner="w1")
    await mine.append("r1", [NewEvent("note", data={"n": 1})], owner="w1")  # remembered head
    await other.append("r1", [NewEvent("note", data={"n": 2})])  # moves the head
    await mine.append("r1", [NewEvent("note", data={"n": 3})], owner="w1")
    await asyncio.sleep(0.05)  # w1's lease expires; another worker takes the run
    assert [r.id for r in await other.claim("w2", lease_seconds=60)] == ["r1"]
    with pytest.raises(LeaseLostError, match="leased by w2"):
        await mine.append("r1", [NewEvent("note", data={"n": 4})], owner="w1")
    await other.append("r1", [NewEvent(EventType.RUN_CANCELLED)])
    with pytest.raises(RunNotActiveError):
        await mine.append("r1", [NewEvent("note", data={"n": 5})], require_active=True)
    events = await mine.events("r1", resolve_blobs=False)
    assert [e.data.get("n") for e in events if e.type == "note"] == [1, 2, 3]
    assert (await verify(mine)).ok
    assert run.lease_owner == "w1"
