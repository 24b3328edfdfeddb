"""Numbered migrations and the recorded schema version, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from agentplane.storage import (
    Database,
    Migration,
    SchemaTooNewError,
    migrate,
    schema_versions,
)

STEPS = [
    Migration(1, "CREATE TABLE notes (id TEXT PRIMARY KEY, body TEXT NOT NULL)"),
    Migration(2, "ALTER TABLE notes ADD COLUMN author TEXT; "
                 "CREATE INDEX notes_author ON notes(author)"),
]


@pytest.fixture
def db(database: Database) -> Database:
    """The handle on each back-end in turn (``tests/conftest.py``'s ``database``)."""
    return database


def test_new_database_gets_every_migration_and_records_the_version(db: Database) -> None:
    assert migrate(db, "notes", STEPS) == [1, 2]
    assert schema_versions(db)["notes"] == 2
    db.execute("INSERT INTO notes(id, body, author) VALUES (?, ?, ?)", ("a", "50% off", "x"))
    assert db.query("SELECT body FROM notes WHERE body LIKE '%off'") == [("50% off",)]
    assert migrate(db, "notes", STEPS) == []


def test_older_schema_is_upgraded_step_by_step(db: Database) -> None:
    assert migrate(db, "notes", STEPS[:1]) == [1]
    db.execute("INSERT INTO notes(id, body) VALUES (?, ?)", ("a", "kept"))
    assert migrate(db, "notes", STEPS) == [2]
    assert db.query("SELECT id, body, author FROM notes") == [("a", "kept", None)]


def test_newer_schema_is_refused_with_a_clear_message(db: Database) -> None:
    migrate(db, "notes", STEPS)
    with pytest.raises(SchemaTooNewError, match=r"notes schema version 2, newer than this "
                                                r"Agentplane knows \(up to 1\)"):
        migrate(db, "notes", STEPS[:1])


def test_a_failed_transaction_leaves_nothing(db: Database) -> None:
    migrate(db, "notes", STEPS)

    def fail_midway() -> None:
        with db.transaction():
            db.execute("INSERT INTO notes(id, body) VALUES (?, ?)", ("b", "lost"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_midway()
    assert db.query("SELECT id FROM notes") == []
