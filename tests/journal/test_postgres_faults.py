"""PostgresJournal when the connection breaks: a server crash and restart, a killed backend.

An operation that fails because its connection broke raises ``JournalUnavailableError`` and
writes nothing (its transaction rolled back); the next one works once the server is back.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from urllib.parse import urlparse

import pytest
import pytest_asyncio

from agentplane.journal import EventType, JournalUnavailableError, NewEvent, verify
from agentplane.journal.postgres import PostgresJournal
from tests.pgserver import PostgresServer

from .conformance import assert_chain, new_run


@pytest_asyncio.fixture
async def store(app_url: str) -> AsyncIterator[PostgresJournal]:
    journal = PostgresJournal(app_url)
    yield journal
    await journal.close()


async def append_or_fail(store: PostgresJournal, i: int) -> bool:
    """Append note ``i``; whether it was accepted (a refusal must be the clear error)."""
    try:
        await store.append("r1", [NewEvent("note", data={"i": i})])
    except JournalUnavailableError as exc:
        message = str(exc)
    else:
        return True
    assert "could not be written" in message and store.url in message
    return False


async def assert_intact(store: PostgresJournal, accepted: list[int],
                        in_doubt: set[int] | None = None) -> None:
    """The chain verifies and holds exactly the accepted notes, in order — plus, at most, notes
    in ``in_doubt``: refused because the connection broke while their COMMIT was under way,
    which the server may have carried out (a commit whose reply was lost)."""
    events = await store.events("r1", resolve_blobs=False)
    assert_chain(events, "r1")
    stored = [e.data["i"] for e in events[1:]]
    assert stored == sorted(stored)
    assert [i for i in stored if i not in (in_doubt or set())] == accepted
    run = await store.require_run("r1")
    assert (run.last_seq, run.head_hash) == (len(events), events[-1].hash)
    assert (await verify(store)).ok


async def test_an_append_after_a_server_crash_fails_cleanly_then_the_next_works(
        store: PostgresJournal, postgres_server: PostgresServer) -> None:
    await new_run(store, "r1")
    assert await append_or_fail(store, 0)
    postgres_server.restart(immediate=True)
    # The pool's connection died with the server: this append cannot go through it.
    assert not await append_or_fail(store, 1)
    assert await append_or_fail(store, 2)
    await assert_intact(store, [0, 2])
    assert (await store.health()).ok


async def test_appends_during_a_restart_are_all_or_nothing(
        store: PostgresJournal, postgres_server: PostgresServer) -> None:
    await new_run(store, "r1")
    accepted: list[int] = []
    refused: set[int] = set()
    stop = asyncio.Event()

    async def writer() -> None:
        i = 0
        while not stop.is_set() or i < 5:
            if await append_or_fail(store, i):
                accepted.append(i)
            else:
                refused.add(i)
            i += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(writer())
    await asyncio.sleep(0.05)
    await asyncio.to_thread(postgres_server.restart, immediate=True)
    await asyncio.sleep(0.05)
    stop.set()
    await task
    assert refused  # the crash broke at least the connection in use
    assert await append_or_fail(store, 1000)
    await assert_intact(store, [*accepted, 1000], in_doubt=refused)


async def test_a_killed_backend_fails_one_operation_and_reads_retry(
        store: PostgresJournal, postgres_server: PostgresServer, app_url: str) -> None:
    database = urlparse(app_url).path.lstrip("/")
    await new_run(store, "r1")
    assert await append_or_fail(store, 0)
    assert postgres_server.terminate_backends(database, application_name="agentplane") >= 1
    assert not await append_or_fail(store, 1)
    assert await append_or_fail(store, 2)
    # A read whose connection was killed is retried once on a fresh one: the caller sees
    # nothing of it.
    assert postgres_server.terminate_backends(database, application_name="agentplane") >= 1
    assert (await store.require_run("r1")).last_seq == 3
    await assert_intact(store, [0, 2])


async def test_wait_state_survives_a_crash(store: PostgresJournal,
                                          postgres_server: PostgresServer) -> None:
    """What committed before a crash is there after it: a run suspended on an approval."""
    await new_run(store, "r1")
    await store.append("r1", [NewEvent(EventType.RUN_STARTED),
                              NewEvent(EventType.APPROVAL_REQUESTED,
                                       data={"wait_id": "w1", "kind": "approval"}),
                              NewEvent(EventType.RUN_WAITING, data={"waits": ["w1"]})])
    postgres_server.restart(immediate=True)
    [wait] = await store.waits(run_id="r1")
    assert (wait.id, wait.status) == ("w1", "open")
    assert await store.run_status("r1") == "waiting"
    assert (await verify(store)).ok


async def test_an_unreachable_server_is_a_clear_error_without_the_password() -> None:
    from agentplane.storage import DatabaseError

    with pytest.raises(DatabaseError) as caught:
        PostgresJournal("postgresql://someone:s3cret-pw@127.0.0.1:1/nowhere")
    assert "cannot connect to postgresql://someone:***@127.0.0.1:1/nowhere" in str(caught.value)
    assert "s3cret-pw" not in str(caught.value)


async def test_a_server_not_there_now_is_unavailable_a_wrong_database_is_not(
        postgres_url: str) -> None:
    """Down or restarting: worth trying again (``DatabaseUnavailableError``). A database that
    does not exist: a plain ``DatabaseError``, which a worker does not wait out."""
    from agentplane.storage import DatabaseError, DatabaseUnavailableError

    with pytest.raises(DatabaseUnavailableError, match="cannot connect"):
        PostgresJournal("postgresql://someone:s3cret-pw@127.0.0.1:1/nowhere")
    there = urlparse(postgres_url)
    missing = there._replace(path="/no_such_database_here").geturl()
    with pytest.raises(DatabaseError, match="cannot connect") as caught:
        PostgresJournal(missing)
    assert not isinstance(caught.value, DatabaseUnavailableError)


def test_a_worker_waits_for_a_database_that_is_not_up_yet() -> None:
    """Started while its database is down, a worker tries again for --wait-for-db seconds and
    says so; a server that comes up meanwhile is used (here: none comes, so it gives up)."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    began = time.monotonic()
    done = subprocess.run(
        [str(Path(sys.executable).with_name("agentplane")), "worker", "--once",
         "--wait-for-db", "2", "--db", "postgresql://someone:s3cret-pw@127.0.0.1:1/nowhere"],
        capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert time.monotonic() - began >= 2
    assert "trying again for up to 2 s" in done.stderr
    assert "s3cret-pw" not in done.stderr + done.stdout
