"""How the SQLite journal keeps blobs on disk: little more room than their text, and files made
with the earlier layout (a ``WITHOUT ROWID`` table) still written, read and verified."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from agentplane.journal import NewEvent, SQLiteJournal, verify

from .conformance import new_run

TEXT_BYTES = 10_000
COUNT = 60


def texts(count: int, salt: str = "") -> list[str]:
    """``count`` different ASCII texts of 10 KB each (no two alike: nothing is deduplicated)."""
    out = []
    for i in range(count):
        seed = hashlib.sha256(f"{salt}{i}".encode()).hexdigest()
        out.append((seed * (TEXT_BYTES // len(seed) + 1))[:TEXT_BYTES])
    return out


def file_bytes(path: Path) -> int:
    """The file's size with its write-ahead log folded in."""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return int(db.execute("PRAGMA page_count").fetchone()[0]) * int(
            db.execute("PRAGMA page_size").fetchone()[0])
    finally:
        db.close()


async def append_texts(journal: SQLiteJournal, run_id: str, values: list[str]) -> None:
    for value in values:
        await journal.append(run_id, [NewEvent("model.completed", data={"content": value})])


async def test_blobs_take_little_more_room_than_their_text(tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    journal = SQLiteJournal(path)
    await new_run(journal, "run-1")
    await append_texts(journal, "run-1", texts(2, salt="warm"))
    await journal.close()
    before = file_bytes(path)
    journal = SQLiteJournal(path)
    await append_texts(journal, "run-1", texts(COUNT))
    await journal.close()
    grown = file_bytes(path) - before
    # each text, its blob row and index entry, and its event (~0.4 KB); a table that kept the
    # blobs in its key's b-tree (WITHOUT ROWID) took ~1.3 times the text for the blobs alone
    assert grown <= 1.15 * COUNT * TEXT_BYTES, grown / (COUNT * TEXT_BYTES)


async def test_a_journal_with_the_earlier_blob_layout_is_written_read_and_verified(
        tmp_path: Path) -> None:
    path = tmp_path / "journal.db"
    await SQLiteJournal(path).close()
    db = sqlite3.connect(path)  # blobs as releases before this one made them
    db.executescript("DROP TABLE blobs; CREATE TABLE blobs (hash TEXT PRIMARY KEY,"
                     " body TEXT NOT NULL) WITHOUT ROWID;")
    db.close()
    values = texts(5)
    journal = SQLiteJournal(path)
    await new_run(journal, "run-1")
    await append_texts(journal, "run-1", values + values[:2])  # repeated values stored once
    digest = await journal.put_blob(values[0])
    assert await journal.get_blob(digest) == values[0]
    await journal.close()
    journal = SQLiteJournal(path)
    try:
        events = await journal.events("run-1")
        assert [e.data["content"] for e in events[1:]] == values + values[:2]
        report = await verify(journal)
        assert (report.ok, report.events) == (True, 8)
    finally:
        await journal.close()
    db = sqlite3.connect(path)
    try:
        assert db.execute("SELECT COUNT(*) FROM blobs").fetchone() == (5,)
    finally:
        db.close()
