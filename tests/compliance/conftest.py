"""A journal with three runs on each back-end (SQLite file, PostgreSQL), a throwaway signing
key pair, and the attacks of someone who can write to the database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from agentplane.compliance import keys
from agentplane.journal import EventType, JournalStore, NewEvent, open_store
from agentplane.journal.events import event_hash

RUN_EVENTS = {"run-a": 3, "run-b": 6, "run-c": 2}


async def populate(store: JournalStore) -> None:
    """run-b (6 events) is the one attacked; run-a and run-c must stay clean."""
    for run_id in RUN_EVENTS:
        await store.create_run(run_id=run_id, workflow="flow", workflow_hash="ab" * 32,
                               input={"q": run_id}, meta={})
    await store.append("run-a", [NewEvent(EventType.RUN_STARTED),
                                 NewEvent(EventType.RUN_COMPLETED, data={"output": "a"})])
    await store.append("run-b", [
        NewEvent(EventType.RUN_STARTED),
        NewEvent("tool.completed", actor="agent:clerk", step_key="s1",
                 data={"result": {"refunded": 120}}),
        NewEvent("model.completed", actor="agent:clerk", step_key="s2", data={"text": "ok"}),
        NewEvent("tool.completed", actor="agent:clerk", step_key="s3",
                 data={"result": {"refunded": 5000}}),
        NewEvent(EventType.RUN_COMPLETED, data={"output": "refunded 5120"}),
    ])
    await store.append("run-c", [NewEvent(EventType.RUN_STARTED)])


@pytest_asyncio.fixture
async def store(database_url: str) -> AsyncIterator[JournalStore]:
    journal = open_store(database_url)
    await populate(journal)
    yield journal
    await journal.close()


@pytest.fixture
def key_pair(tmp_path: Path) -> tuple[Path, Path]:
    """A throwaway Ed25519 key pair made for the test: (private, public)."""
    private, public = tmp_path / "audit-key.pem", tmp_path / "audit-key.pub.pem"
    keys.generate(private, public)
    return private, public


def truncate(store: JournalStore, run_id: str, keep: int) -> None:
    """Delete a run's events after ``keep`` and rewrite its run record to match, so the chain
    holds again on its own (what audit verify alone cannot see)."""
    db = store.database
    with db.transaction():
        db.execute("DELETE FROM events WHERE run_id = ? AND seq > ?", [run_id, keep])
        row = db.query_one("SELECT hash FROM events WHERE run_id = ? AND seq = ?",
                           [run_id, keep])
        assert row is not None
        db.execute("UPDATE runs SET last_seq = ?, head_hash = ?, status = 'completed' "
                   "WHERE id = ?", [keep, row[0], run_id])


def rewrite_tail(store: JournalStore, run_id: str, seq: int, data: dict[str, object]) -> None:
    """Replace the data of event ``seq`` and rehash it and every event after it, and the run
    record: a history rewritten so that its chain holds again, of the same length."""
    db = store.database
    with db.transaction():
        rows = db.query("SELECT seq, time, type, actor, step_key, data, usage, prev_hash, "
                        "schema FROM events WHERE run_id = ? AND seq >= ? ORDER BY seq",
                        [run_id, seq])
        prev = str(rows[0][7])
        import orjson

        from agentplane.journal.events import canonical_json

        for s, time, kind, actor, step_key, old, usage, _, schema in rows:
            body = data if s == seq else orjson.loads(old)
            usage_value = None if usage is None else orjson.loads(usage)
            digest = event_hash(run_id=run_id, seq=s, time=time, type=kind, actor=actor,
                                step_key=step_key, data=body, usage=usage_value,
                                prev_hash=prev, schema=schema)
            db.execute("UPDATE events SET data = ?, prev_hash = ?, hash = ? "
                       "WHERE run_id = ? AND seq = ?",
                       [canonical_json(body), prev, digest, run_id, s])
            prev = digest
        db.execute("UPDATE runs SET head_hash = ? WHERE id = ?", [prev, run_id])


def delete_run(store: JournalStore, run_id: str) -> None:
    db = store.database
    with db.transaction():
        db.execute("DELETE FROM events WHERE run_id = ?", [run_id])
        db.execute("DELETE FROM runs WHERE id = ?", [run_id])
