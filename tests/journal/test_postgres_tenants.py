"""PostgresJournal's row-level security by tenant, and how open_store opens PostgreSQL URLs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import psycopg
import pytest
import pytest_asyncio

from agentplane.errors import ConfigError, NotFoundError
from agentplane.journal import (
    EventType,
    JournalError,
    JournalUnavailableError,
    NewEvent,
    RunNotFoundError,
    open_store,
)
from agentplane.journal.postgres import PostgresJournal
from tests.pgserver import PostgresServer

from .conformance import new_run, waiting_run
from .pg_helpers import APP_ROLE, app_database


@pytest_asyncio.fixture
async def everyone(app_url: str) -> AsyncIterator[PostgresJournal]:
    """A store for every tenant, with runs of two tenants in it."""
    store = open_store(app_url)
    assert isinstance(store, PostgresJournal)
    await waiting_run(store, "acme-1", "w-acme")
    await new_run(store, "beta-1", tenant="beta", events=[NewEvent("note", data={"s": "b"})])
    await store.append("beta-1", [NewEvent(EventType.APPROVAL_REQUESTED,
                                           data={"wait_id": "w-beta", "kind": "approval"})])
    await store.release("x", "acme-1")
    yield store
    await store.close()


def count(url: str, table: str, setting: str | None) -> int:
    """Rows of ``table`` a raw connection of the app role sees with ``agentplane.tenant`` set
    to ``setting`` (None: not set), through a query that filters nothing."""
    with psycopg.connect(url) as conn:
        if setting is not None:
            conn.execute("SELECT set_config('agentplane.tenant', %s, false)", (setting,))
        row = conn.execute(f"SELECT count(*) FROM {table}".encode()).fetchone()
        assert row is not None
        return int(row[0])


@pytest.mark.parametrize("table", ["runs", "events", "waits"])
async def test_raw_sql_sees_only_the_tenant_in_the_setting(
        everyone: PostgresJournal, app_url: str, table: str) -> None:
    assert APP_ROLE in app_url  # an ordinary role owning its tables: RLS is forced on it
    every = count(app_url, table, "*")
    acme, beta = count(app_url, table, "default"), count(app_url, table, "beta")
    assert acme > 0 and beta > 0 and acme + beta == every
    assert count(app_url, table, "nobody") == 0
    assert count(app_url, table, None) == 0  # no setting: nothing, never everything


async def test_raw_sql_cannot_write_another_tenants_rows(everyone: PostgresJournal,
                                                         app_url: str) -> None:
    with psycopg.connect(app_url) as conn:
        conn.execute("SELECT set_config('agentplane.tenant', 'beta', false)")
        assert conn.execute("UPDATE runs SET status = 'failed' WHERE id = 'acme-1'"
                            ).rowcount == 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute("INSERT INTO events(run_id, seq, time, type, actor, data, prev_hash,"
                         " hash, schema, tenant) VALUES ('acme-1', 9, 't', 'note', 'x', '{}',"
                         " 'p', 'h', 1, 'default')")
    assert await everyone.run_status("acme-1") == "waiting"


async def test_a_store_for_one_tenant_never_sees_another(everyone: PostgresJournal,
                                                         app_url: str) -> None:
    beta = open_store(app_url, tenant="beta")
    try:
        assert [r.id for r in await beta.list_runs()] == ["beta-1"]
        # Even a query asking for another tenant's rows by name gets nothing.
        assert [r.id for r in await beta.list_runs(tenant="default")] == []
        assert await beta.get_run("acme-1") is None
        assert await beta.run_status("acme-1") is None
        assert await beta.events("acme-1") == []
        assert await beta.get_wait("w-acme") is None
        assert [w.id for w in await beta.waits()] == ["w-beta"]
        assert await beta.all_run_ids() == ["beta-1"]
        followed, _ = await beta.events_since(0)
        assert {e.run_id for e in followed} == {"beta-1"}
        assert [r.id for r in await beta.claim("w1", lease_seconds=60)] == ["beta-1"]
        with pytest.raises(RunNotFoundError, match="no run with id 'acme-1'"):
            await beta.append("acme-1", [NewEvent("note")])
        with pytest.raises(JournalError, match="open for tenant 'beta'"):
            await new_run(beta, "sneaky", tenant="default")
        await new_run(beta, "beta-2", tenant="beta")
    finally:
        await beta.close()
    assert sorted(await everyone.all_run_ids()) == ["acme-1", "beta-1", "beta-2"]
    assert len(await everyone.events("acme-1")) == 4


def test_sqlite_has_no_tenant_stores(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="row-level security"):
        open_store("sqlite:///:memory:", tenant="acme")


# -- URLs -------------------------------------------------------------------------------------


async def test_postgres_scheme_and_pool_size(app_url: str) -> None:
    store = open_store(app_url.replace("postgresql://", "postgres://") + "?pool_size=3")
    try:
        assert isinstance(store, PostgresJournal)
        assert store.pool_size == 3
        await new_run(store, "r1")
        assert (await store.health()).ok
    finally:
        await store.close()
    default = open_store(app_url)
    assert isinstance(default, PostgresJournal) and default.pool_size == 10
    await default.close()


@pytest.mark.parametrize("size", ["0", "lots", "-2"])
def test_a_bad_pool_size_is_refused(app_url: str, size: str) -> None:
    with pytest.raises(ConfigError, match=f"pool_size='{size}'"):
        open_store(f"{app_url}?pool_size={size}")


async def test_the_password_never_shows(postgres_server: PostgresServer, app_url: str) -> None:
    # The test server trusts loopback, so a password in the URL is accepted and ignored.
    secret_url = app_url.replace(f"{APP_ROLE}@", f"{APP_ROLE}:hunter2-secret@")
    store = open_store(secret_url)
    assert isinstance(store, PostgresJournal)
    try:
        assert "hunter2" not in store.url and f"{APP_ROLE}:***@" in store.url
        assert "hunter2" not in store.database.url
        await new_run(store, "r1")
        postgres_server.restart(immediate=True)
        with pytest.raises(JournalUnavailableError) as caught:
            await store.append("r1", [NewEvent("note")])
        assert "hunter2" not in str(caught.value) and store.url in str(caught.value)
        health = await store.health()
        assert "hunter2" not in str(health.to_json())
    finally:
        await store.close()


async def test_read_only_and_create_false(postgres_server: PostgresServer,
                                          app_url: str) -> None:
    empty = app_database(postgres_server)
    with pytest.raises(NotFoundError, match="no journal in"):
        open_store(empty, create=False)
    store = open_store(app_url)
    await new_run(store, "r1")
    await store.close()
    readonly = open_store(f"{app_url}?mode=ro", create=False)
    try:
        assert [r.id for r in await readonly.list_runs()] == ["r1"]
        with pytest.raises(JournalUnavailableError, match="read-only"):
            await readonly.append("r1", [NewEvent(EventType.RUN_STARTED)])
        with pytest.raises(JournalUnavailableError, match="read-only"):
            await readonly.claim("w1", lease_seconds=60)
        assert len(await readonly.events("r1")) == 1
    finally:
        await readonly.close()


def test_one_store_used_from_two_event_loops(app_url: str) -> None:
    """A command may call ``asyncio.run`` more than once on one store: each loop gets its own
    pool and listening connection."""
    store = open_store(app_url)

    async def first() -> None:
        await new_run(store, "r1")
        await store.wait_for_change(0.01)

    async def second() -> None:
        await store.wait_for_change(0.01)  # listening in this loop
        await store.append("r1", [NewEvent("note")])
        assert await store.wait_for_change(60) is True  # its own append woke it
        assert (await store.require_run("r1")).last_seq == 2
        await store.close()

    asyncio.run(first())
    asyncio.run(second())
