"""SQLiteJournal: the conformance suite on a file, plus what is specific to SQLite."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

import agentplane.journal as journal_pkg
from agentplane.errors import AgentplaneError, ConfigError
from agentplane.journal import (
    EventType,
    JournalError,
    JournalStore,
    NewEvent,
    SQLiteJournal,
    WaitNotOpenError,
    canonical_json,
    open_store,
    sha256_hex,
    verify,
)

from .conformance import (
    BIG_TEXT,
    JournalStoreConformance,
    close_wait_event,
    new_run,
    open_wait_event,
    waiting_run,
)

SYNCHRONOUS_LEVELS = {"OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3}


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "journal.db"


@pytest_asyncio.fixture
async def store(db_path: Path) -> AsyncIterator[JournalStore]:
    journal = SQLiteJournal(db_path)
    yield journal
    await journal.close()


@pytest_asyncio.fixture
async def second_store(store: JournalStore, db_path: Path) -> AsyncIterator[JournalStore]:
    journal = SQLiteJournal(db_path)  # a second connection to the same file
    yield journal
    await journal.close()


class TestSQLiteJournal(JournalStoreConformance):
    """SQLiteJournal passes the back-end conformance suite (known failures marked below)."""

    async def test_append_to_unknown_run_among_concurrent_ones(
        self, store: JournalStore
    ) -> None:
        await super().test_append_to_unknown_run_among_concurrent_ones(store)


# -- helpers ----------------------------------------------------------------------------------


def pragma(store: JournalStore, name: str) -> Any:
    """Read a PRAGMA back on the store's own connection (some are per connection)."""
    assert isinstance(store, SQLiteJournal)
    return store._db.execute(f"PRAGMA {name}").fetchone()[0]


def count_rows(path: Path, table: str) -> int:
    db = sqlite3.connect(path)
    try:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        db.close()


# -- settings ---------------------------------------------------------------------------------


async def test_a_run_is_created_without_reading_it(db_path: Path) -> None:
    """Creating a run and appending to it read nothing back (the record is built from what
    was written, and the first append takes the head it left); a taken id still reads, once,
    to say so."""
    store = SQLiteJournal(db_path)
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    run = await new_run(store, "run-1", input={"q": 1})
    await store.append("run-1", [NewEvent(EventType.RUN_STARTED)], owner=run.lease_owner)
    assert [s for s in statements if s.lstrip().upper().startswith("SELECT")] == []
    assert (run.last_seq, run.status) == (1, "pending")
    statements.clear()
    with pytest.raises(JournalError, match="already exists"):
        await new_run(store, "run-1")
    assert sum(s.lstrip().upper().startswith("SELECT") for s in statements) == 1
    await store.close()


async def test_wal_and_normal_synchronous_by_default(db_path: Path) -> None:
    journal = SQLiteJournal(db_path)
    try:
        assert pragma(journal, "journal_mode") == "wal"
        assert pragma(journal, "synchronous") == SYNCHRONOUS_LEVELS["NORMAL"]
        assert pragma(journal, "busy_timeout") > 0
        assert journal.synchronous == "NORMAL"
        assert journal.url == f"sqlite:///{db_path}"
    finally:
        await journal.close()
    # WAL is a property of the file: another connection sees it too.
    other = sqlite3.connect(db_path)
    try:
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        other.close()


@pytest.mark.parametrize(
    ("option", "level"),
    [("FULL", 2), ("full", 2), ("OFF", 0), ("NORMAL", 1), ("EXTRA", 3), ("Extra", 3)],
)
async def test_synchronous_from_url(db_path: Path, option: str, level: int) -> None:
    journal = open_store(f"sqlite:///{db_path}?synchronous={option}")
    try:
        assert isinstance(journal, SQLiteJournal)
        assert journal.path == str(db_path)
        assert pragma(journal, "synchronous") == level
        assert pragma(journal, "journal_mode") == "wal"
        assert journal.synchronous == option.upper()
    finally:
        await journal.close()


async def test_synchronous_argument(db_path: Path) -> None:
    journal = SQLiteJournal(db_path, synchronous="full")
    try:
        assert pragma(journal, "synchronous") == SYNCHRONOUS_LEVELS["FULL"]
    finally:
        await journal.close()


def test_bad_synchronous_value_is_refused(db_path: Path) -> None:
    with pytest.raises(JournalError, match=r"'SOMETIMES'.*FULL"):
        open_store(f"sqlite:///{db_path}?synchronous=SOMETIMES")
    with pytest.raises(JournalError, match=r"'fast'.*OFF, NORMAL, FULL, EXTRA"):
        SQLiteJournal(db_path, synchronous="fast")
    assert not db_path.exists()  # refused before anything was created


def test_unknown_url_option_is_refused(db_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"journal_mode.*synchronous=") as caught:
        open_store(f"sqlite:///{db_path}?journal_mode=DELETE")
    assert caught.value.exit_code == 2
    assert not db_path.exists()


@pytest.mark.parametrize(
    ("url", "scheme"),
    [("mysql://h/db", "mysql"), ("file:///tmp/journal.db", "file")],
)
def test_unknown_scheme_is_refused(url: str, scheme: str) -> None:
    with pytest.raises(ConfigError, match=rf"scheme '{scheme}'.*sqlite:///") as caught:
        open_store(url)
    assert isinstance(caught.value, AgentplaneError)
    assert url in str(caught.value)


# -- opening ----------------------------------------------------------------------------------


async def test_open_store_plain_path(db_path: Path) -> None:
    journal = open_store(str(db_path))
    try:
        assert isinstance(journal, SQLiteJournal)
        assert journal.path == str(db_path)
        await new_run(journal, "run-1")
        assert db_path.exists()
        assert pragma(journal, "journal_mode") == "wal"
    finally:
        await journal.close()


async def test_open_store_expands_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    journal = open_store("~/nested/dir/journal.db")
    try:
        assert isinstance(journal, SQLiteJournal)
        assert Path(journal.path) == tmp_path / "nested" / "dir" / "journal.db"
        await new_run(journal, "run-1")
    finally:
        await journal.close()
    assert (tmp_path / "nested" / "dir" / "journal.db").exists()


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://"])
async def test_open_store_in_memory(url: str) -> None:
    journal = open_store(url)
    try:
        assert isinstance(journal, SQLiteJournal)
        assert journal.path == ":memory:"
        await new_run(journal, "run-1", events=[NewEvent("note", data={"big": BIG_TEXT})])
        assert (await journal.events("run-1"))[-1].data == {"big": BIG_TEXT}
        assert (await verify(journal)).ok
    finally:
        await journal.close()


async def test_store_url_reopens_the_same_file(db_path: Path) -> None:
    journal = SQLiteJournal(db_path)
    await new_run(journal, "run-1")
    again = open_store(journal.url)
    try:
        assert isinstance(again, SQLiteJournal)
        assert Path(again.path) == db_path
        assert (await again.require_run("run-1")).status == "pending"
    finally:
        await again.close()
        await journal.close()


async def test_parent_directories_are_created(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "journal.db"
    journal = open_store(f"sqlite:///{path}")
    try:
        await new_run(journal, "run-1")
    finally:
        await journal.close()
    assert path.exists()


async def test_data_survives_close_and_reopen(db_path: Path) -> None:
    journal = SQLiteJournal(db_path)
    await new_run(journal, "run-1", input={"q": "持久"}, events=[NewEvent(EventType.RUN_STARTED)])
    await journal.append("run-1", [NewEvent("tool.completed", data={"result": BIG_TEXT}),
                                   open_wait_event("w-1", deadline=1234.5),
                                   NewEvent(EventType.RUN_WAITING, data={"waits": ["w-1"]})])
    await waiting_run(journal, "run-2", "w-2")
    await journal.append("run-2", [close_wait_event("w-2")])
    before = await journal.events("run-1")
    await journal.close()

    reopened = SQLiteJournal(db_path)
    try:
        run = await reopened.require_run("run-1")
        assert (run.status, run.input, run.last_seq, run.wake_at) == (
            "waiting", {"q": "持久"}, 5, 1234.5)
        assert await reopened.events("run-1") == before
        assert before[2].data == {"result": BIG_TEXT}
        assert [w.id for w in await reopened.waits()] == ["w-1"]
        assert (await reopened.require_run("run-2")).status == "pending"
        report = await verify(reopened)
        assert (report.ok, report.runs, report.events) == (True, 2, 10)
    finally:
        await reopened.close()


# -- storage ----------------------------------------------------------------------------------


async def test_identical_blobs_are_stored_once(store: JournalStore, db_path: Path) -> None:
    await new_run(store, "run-1")
    await new_run(store, "run-2")
    await store.append("run-1", [NewEvent("a", data={"x": BIG_TEXT, "y": BIG_TEXT})])
    await store.append("run-2", [NewEvent("b", data={"z": BIG_TEXT})])
    await store.put_blob(BIG_TEXT)
    assert count_rows(db_path, "blobs") == 1
    db = sqlite3.connect(db_path)
    try:
        (digest,) = db.execute("SELECT hash FROM blobs").fetchone()
    finally:
        db.close()
    assert digest == sha256_hex(canonical_json(BIG_TEXT))


async def test_refused_append_leaves_no_rows(store: JournalStore, db_path: Path) -> None:
    await waiting_run(store, "run-1", "w-1")
    await store.append("run-1", [close_wait_event("w-1")])
    counts = {t: count_rows(db_path, t) for t in ("events", "blobs", "waits", "runs")}
    with pytest.raises(WaitNotOpenError):
        await store.append("run-1", [
            NewEvent("note", data={"fresh_blob": "never stored " * 500}),
            open_wait_event("w-2"),
            close_wait_event("w-1"),
        ])
    assert {t: count_rows(db_path, t) for t in counts} == counts
    assert await store.get_wait("w-2") is None
    # The connection is not left inside a transaction: the next write goes through.
    await store.append("run-1", [NewEvent("note")])
    assert count_rows(db_path, "events") == counts["events"] + 1


async def test_runs_created_together_share_a_transaction(db_path: Path) -> None:
    """A burst of creations commits as one transaction (after the first, which commits at
    once); a refused one (its id taken; a first event refused after the run row was written)
    leaves no trace and the others are created."""
    store = SQLiteJournal(db_path)
    try:
        await new_run(store, "taken")
        statements: list[str] = []
        store._db.set_trace_callback(statements.append)
        outcomes = await asyncio.gather(
            *(new_run(store, f"run-{i}") for i in range(5)),
            new_run(store, "taken"),
            new_run(store, "refused", events=[close_wait_event("no-such-wait")]),
            return_exceptions=True)
        store._db.set_trace_callback(None)
        assert [type(o).__name__ for o in outcomes[5:]] == ["RunExistsError",
                                                            "WaitNotOpenError"]
        assert statements.count("COMMIT") == 2
        assert sorted(await store.all_run_ids()) == [*(f"run-{i}" for i in range(5)), "taken"]
        report = await verify(store)
        assert (report.ok, report.runs, report.events) == (True, 6, 6)
        for i in range(5):  # each usable as before
            await store.append(f"run-{i}", [NewEvent(EventType.RUN_STARTED)])
    finally:
        await store.close()


# -- regressions: bugs this suite found once -----------------------------------------------


async def test_relative_path_url_reopens_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    journal = SQLiteJournal("relative.db")
    url = journal.url
    await journal.close()
    opened: list[str] = []

    class Recorder:  # stands in for SQLiteJournal so nothing is created outside tmp_path
        def __init__(self, path: str | Path, **options: object) -> None:
            opened.append(str(path))

    monkeypatch.setattr(journal_pkg, "SQLiteJournal", Recorder)
    open_store(url)
    assert Path(opened[0]).resolve() == (tmp_path / "relative.db").resolve()


async def test_claim_returns_the_lease_it_took(store: JournalStore) -> None:
    await new_run(store, "run-1")
    (run,) = await store.claim("w1", lease_seconds=60)
    assert run.lease_owner == "w1"
    assert run.lease_until is not None
