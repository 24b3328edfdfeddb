"""``journal.copy``: the copy's own rules, on real runs made by the runtime (the demo's)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agentplane.cli.db import upgrade
from agentplane.journal import Event, open_store
from agentplane.journal.copy import BATCH_ROWS, CopyError, copy_database, verify_copy
from agentplane.storage import Database, open_database
from tests.cli.harness import make_cli


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    cli = make_cli(tmp_path_factory.mktemp("demo"))
    cli.ok("demo", "--no-serve")
    return cli.db_url


def prepared(url: str) -> Database:
    async def journal() -> None:
        store = open_store(url)
        await store.list_runs(limit=1)
        await store.close()
    asyncio.run(journal())
    db = open_database(url)
    upgrade(db)
    return db


def since(url: str, cursor: int) -> list[Event]:
    async def read() -> list[Event]:
        store = open_store(url)
        try:
            events, _ = await store.events_since(cursor, limit=100_000)
            return events
        finally:
            await store.close()
    return asyncio.run(read())


def keys(events: list[Event]) -> list[tuple[str, int]]:
    return [(e.run_id, e.seq) for e in events]


def assert_resumes(read: list[tuple[str, int]], wanted: list[tuple[str, int]]) -> None:
    """What a follower reads from a translated cursor: every event it had not taken, in
    order, after at most one transaction (7 events) it reads again."""
    assert read[len(read) - len(wanted):] == wanted
    assert len(read) - len(wanted) < 7


def test_cursors_keep_their_place_through_postgresql(demo: str, postgres_url: str,
                                                     tmp_path: Path) -> None:
    source = open_database(demo, create=False, readonly=True)
    order = keys(since(demo, 0))
    middle = 50  # the ledger had taken the first 50 events: it must get exactly the rest
    writable = open_database(demo)
    upgrade(writable)
    writable.execute("INSERT INTO telemetry_cursor(name, position) VALUES ('spans', ?)"
                     " ON CONFLICT (name) DO UPDATE SET position = excluded.position",
                     (middle,))
    # the place a ledger of the previous release kept (``usage_cursor``, no longer written:
    # runs' places are their own seqs now, which a copy keeps as they are)
    writable.execute("INSERT INTO usage_cursor(name, position) VALUES ('journal', 30)"
                     " ON CONFLICT (name) DO UPDATE SET position = excluded.position")
    writable.close()
    # Small batches: the events reach PostgreSQL in many transactions, so a cursor that falls
    # inside one must step back to the one before it, never past an event.
    report = copy_database(source, prepared(postgres_url), batch=7)
    assert report.rows["events"] == len(order) and report.rows["telemetry_cursor"] == 1
    pg = open_database(postgres_url)
    [(position,)] = pg.query("SELECT position FROM telemetry_cursor WHERE name = 'spans'")
    [(usage,)] = pg.query("SELECT position FROM usage_cursor WHERE name = 'journal'")
    [(taken,)] = source.query("SELECT position FROM usage_cursor WHERE name = 'journal'")
    assert_resumes(keys(since(postgres_url, int(usage))), order[int(taken):])
    rest = keys(since(postgres_url, int(position)))
    assert_resumes(rest, order[middle:])

    back = f"sqlite:///{tmp_path / 'back.db'}"
    copy_database(pg, prepared(back), batch=5)
    assert keys(since(back, 0)) == order
    again = open_database(back)
    [(position,)] = again.query("SELECT position FROM telemetry_cursor WHERE name = 'spans'")
    assert keys(since(back, int(position))) == rest


def test_one_row_batches_copy_everything(demo: str, tmp_path: Path) -> None:
    target = f"sqlite:///{tmp_path / 'one.db'}"
    report = copy_database(open_database(demo, create=False), prepared(target), batch=1)
    whole = copy_database(open_database(demo, create=False),
                          prepared(f"sqlite:///{tmp_path / 'whole.db'}"))
    assert report.rows == whole.rows and report.runs_new == 9

    async def check() -> None:
        store = open_store(target)
        await verify_copy(store, report)
        await store.close()
    asyncio.run(check())
    assert report.ok and report.verified_runs == 9
    assert keys(since(target, 0)) == keys(since(demo, 0))


def test_a_table_the_target_lacks_is_refused_only_when_it_has_rows(demo: str,
                                                                   tmp_path: Path) -> None:
    source_url = f"sqlite:///{tmp_path / 'source.db'}"
    copy_database(open_database(demo, create=False), prepared(source_url))
    source = open_database(source_url)
    source.execute("CREATE TABLE plugin_notes (id TEXT PRIMARY KEY, body TEXT)")
    target = prepared(f"sqlite:///{tmp_path / 'target.db'}")
    copy_database(source, target)  # empty: nothing would be lost
    source.execute("INSERT INTO plugin_notes VALUES ('n1', 'kept')")
    with pytest.raises(CopyError, match="has no table plugin_notes"):
        copy_database(source, target)


def test_copying_again_compares_many_runs(tmp_path: Path) -> None:
    """A page of runs (``BATCH_ROWS``) the target holds every one of: the second copy finds
    them all unchanged (their heads are looked up in the source in pieces: one query for all
    would be deeper than SQLite allows)."""
    source_url = f"sqlite:///{tmp_path / 'many.db'}"
    many = BATCH_ROWS

    async def make() -> None:
        store = open_store(source_url)
        for n in range(many):
            await store.create_run(run_id=f"r{n:04d}", workflow="w", workflow_hash="h" * 64,
                                   input=n, meta={})
        await store.close()
    asyncio.run(make())
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    first = copy_database(open_database(source_url), prepared(target))
    assert first.runs_new == many
    again = copy_database(open_database(source_url), open_database(target))
    assert (again.runs_unchanged, again.runs_new, again.conflicts) == (many, 0, [])
