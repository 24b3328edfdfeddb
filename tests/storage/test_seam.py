"""The storage seam holds: only ``storage`` and the journal's back-ends import a database
driver; the journal's schema is versioned, a file from before versions opens, and a schema
that is older (read-only) or newer (always) is refused with a message naming what to do."""

from __future__ import annotations

import ast
import hashlib
import sqlite3
from pathlib import Path

import pytest

import agentplane
from agentplane.governance.keys import KeyRing
from agentplane.journal import NewEvent, SQLiteJournal, open_store, verify
from agentplane.metering.ledger import UsageLedger
from agentplane.storage import (
    DatabaseError,
    SchemaTooNewError,
    is_driver_error,
    open_database,
    schema_versions,
)

SOURCE = Path(agentplane.__file__).parent
PREVIOUS_RELEASE_DDL = (Path(__file__).parent / "previous_release.sql").read_text()
"""The journal's and the API keys' tables exactly as the release before schema versions made
them (a frozen copy, so a change to migration 1 cannot hide from this test)."""
DRIVERS = {"sqlite3", "psycopg", "psycopg_pool"}


def _may_import_a_driver(path: Path) -> bool:
    relative = path.relative_to(SOURCE).as_posix()
    return relative.startswith("storage/") or relative == "journal/sqlite.py" or (
        relative.startswith("journal/postgres"))


def _drivers_imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found |= {n.split(".")[0] for n in names} & DRIVERS
    return found


def test_only_storage_and_the_journal_back_ends_import_a_database_driver() -> None:
    files = sorted(SOURCE.rglob("*.py"))
    assert len(files) > 100  # the walk found the package
    offenders = {p.relative_to(SOURCE).as_posix(): sorted(_drivers_imported(p))
                 for p in files if not _may_import_a_driver(p) and _drivers_imported(p)}
    assert offenders == {}
    assert _drivers_imported(SOURCE / "storage" / "sqlite.py") == {"sqlite3"}  # the walk works


async def test_a_journal_from_before_schema_versions_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)  # what the previous release made: its tables, no versions
    old.executescript(PREVIOUS_RELEASE_DDL)
    old.execute("INSERT INTO api_keys VALUES ('k1', 'old', 'admin', '*', ?, '2026-01-01', NULL)",
                (hashlib.sha256(b"secret").hexdigest(),))
    old.commit()
    old.close()
    store = SQLiteJournal(path)
    run = await store.create_run(run_id="r1", workflow="w", workflow_hash="h", input="x",
                                 meta={})
    await store.append(run.id, [NewEvent("run.started", data={})])
    ring = KeyRing(store.database)
    key = ring.authenticate("ap_k1_secret")  # the key made before is kept
    assert key is not None and key.name == "old"
    assert schema_versions(store.database) == {"journal": 2, "keys": 1}
    plan = store.database.query("EXPLAIN QUERY PLAN SELECT id FROM runs"
                                " ORDER BY created_at DESC, id LIMIT 10")
    assert [str(r[-1]) for r in plan] == ["SCAN runs USING COVERING INDEX runs_created"]
    await store.close()
    again = open_store(f"sqlite:///{path}?mode=ro")  # now current: a reader opens it
    assert (await verify(again)).ok
    assert [e.type for e in await again.events("r1")] == ["run.created", "run.started"]
    await again.close()
    ring.close()


async def test_a_reader_refuses_an_older_schema_and_db_upgrade_is_named(tmp_path: Path
                                                                         ) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(PREVIOUS_RELEASE_DDL)
    old.close()
    with pytest.raises(DatabaseError, match=r"journal schema version 0, older than this "
                                            r"Agentplane needs \(2\); run `agentplane db "
                                            r"upgrade --db sqlite:///.*old\.db` first"):
        open_store(f"sqlite:///{path}?mode=ro")
    assert schema_versions(open_database(str(path))) == {}  # nothing was written


async def test_a_newer_schema_is_refused_by_writers_and_readers(database_url: str,
                                                                tmp_path: Path) -> None:
    ledger = UsageLedger(database_url)
    ledger.close()
    db = open_database(database_url)
    db.execute("UPDATE schema_versions SET version = 9 WHERE component = 'usage'")
    db.close()
    for readonly in (False, True):
        with pytest.raises(SchemaTooNewError, match=r"usage schema version 9, newer than this "
                                                    r"Agentplane knows \(up to 2\); upgrade "
                                                    r"Agentplane"):
            UsageLedger(database_url, readonly=readonly)
    path = tmp_path / "j.db"
    await SQLiteJournal(path).close()
    db = open_database(str(path))
    db.execute("UPDATE schema_versions SET version = 9 WHERE component = 'journal'")
    db.close()
    with pytest.raises(SchemaTooNewError, match="journal schema version 9"):
        SQLiteJournal(path)


def test_a_drivers_own_failure_is_said_plainly_by_the_cli(postgres_url: str) -> None:
    from agentplane.cli._exits import FAILURE, failure_message

    db = open_database(postgres_url)  # loads psycopg, as any PostgreSQL URL does
    try:
        with pytest.raises(Exception, match="no_such_table") as raised:
            db.query("SELECT * FROM no_such_table")
    finally:
        db.close()
    assert is_driver_error(raised.value) and not is_driver_error(ValueError("x"))
    message, code = failure_message(raised.value)
    assert code == FAILURE
    assert message.startswith("the journal could not be used (relation \"no_such_table\" does "
                              "not exist")
    with sqlite3.connect(":memory:") as raw, pytest.raises(sqlite3.Error) as local:
        raw.execute("SELECT * FROM no_such_table")
    assert failure_message(local.value) == (
        "the journal could not be used (no such table: no_such_table): the file lacks tables "
        "Agentplane keeps there: it is not a journal, or it is open read-only (?mode=ro) and "
        "nothing has created them yet", FAILURE)
