"""Log retention: runs past their workflow's ``compliance.retention_days`` are archived, then
deleted, each with a row in the journal's retention record (``retention_log``).

A run's retention is the one its pinned workflow version declares (the spec the run ran
under, not today's file). Only finished runs (completed, failed, cancelled) are due, counted
from their last change. The archive is JSON Lines, one run a line: its record, every event as
stored (hashes included, blob references kept) and the blobs' text, so the archived chain can
still be checked (:func:`verify_archive`). A run is deleted only after its line is on disk
(``fsync``); its retention row names the archive and the SHA-256 of that line. Chains of the
runs that remain are untouched, and checkpoint verification knows the deleted runs from the
retention record. Blobs are content-addressed and may be shared between runs: they stay.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from agentplane.journal import JournalStore
from agentplane.journal.events import (
    BLOB_KEY,
    GENESIS_HASH,
    TERMINAL_STATUSES,
    canonical_json,
    event_hash,
    sha256_hex,
    utc_now,
)

from . import retention_log
from ._files import append_line


@dataclass(frozen=True, slots=True)
class Due:
    """A run past its retention."""

    run_id: str
    workflow: str
    updated_at: str
    retention_days: int


@dataclass(slots=True)
class RetentionResult:
    due: list[Due] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kept: int = 0
    """Runs looked at and kept (within retention, not finished, or no retention declared)."""


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


async def due_runs(store: JournalStore, now: datetime | None = None) -> tuple[list[Due], int]:
    """The finished runs past their pinned workflow's retention, and how many were kept."""
    moment = now or datetime.now(UTC)
    retention: dict[str, int | None] = {}
    due, kept = [], 0
    for run_id in await store.all_run_ids():
        run = await store.get_run(run_id)
        if run is None:
            kept += 1
            continue
        if run.workflow_hash not in retention:
            try:
                spec = await store.get_blob(run.workflow_hash)
            except Exception:  # a run created without a pinned spec (tests, imports)
                spec = None
            compliance = (spec or {}).get("compliance") if isinstance(spec, dict) else None
            days = (compliance or {}).get("retention_days")
            retention[run.workflow_hash] = int(days) if days else None
        days = retention[run.workflow_hash]
        if (days is None or run.status not in TERMINAL_STATUSES
                or _parse_time(run.updated_at) > moment - timedelta(days=days)):
            kept += 1
            continue
        due.append(Due(run.id, run.workflow, run.updated_at, days))
    return due, kept


async def _archive_line(store: JournalStore, run_id: str) -> tuple[dict[str, Any], str]:
    run = await store.require_run(run_id)
    events = await store.events(run_id, resolve_blobs=False)
    blobs: dict[str, str | None] = {}
    for e in events:
        for value in e.data.values():
            if isinstance(value, dict) and len(value) == 1 and BLOB_KEY in value:
                digest = str(value[BLOB_KEY])
                blobs[digest] = await store.blob_text(digest)
    record = {"v": 1, "run": {**run.summary(), "input": run.input, "meta": run.meta,
                              "last_seq": run.last_seq, "head_hash": run.head_hash},
              "events": [e.to_dict() for e in events], "blobs": blobs,
              "archived_at": utc_now()}
    return record, canonical_json(record)


async def retain(store: JournalStore, archive: Path, *, actor: str, dry_run: bool = False,
                 now: datetime | None = None) -> RetentionResult:
    """Archive to ``archive`` (appended to) and delete every run past its retention; with
    ``dry_run`` only say which."""
    due, kept = await due_runs(store, now)
    result = RetentionResult(due=due, kept=kept)
    if dry_run or not due:
        return result
    db = store.database
    retention_log.ensure(db)
    for item in due:
        record, line = await _archive_line(store, item.run_id)
        append_line(archive, line, mode=0o600)
        run = record["run"]
        with db.transaction():
            for sql in ("DELETE FROM events WHERE run_id = ?", "DELETE FROM waits WHERE run_id = ?",
                        "DELETE FROM runs WHERE id = ?"):
                db.execute(sql, [item.run_id])
            retention_log.record(db, time=utc_now(), actor=actor, run_id=item.run_id,
                                 workflow=item.workflow, last_seq=int(run["last_seq"]),
                                 head_hash=str(run["head_hash"]), archive=archive.name,
                                 archive_sha256=sha256_hex(line))
        result.deleted.append(item.run_id)
    return result


def verify_archive(archive: Path) -> dict[str, str | None]:
    """Each archived run and the first problem of its chain (None when it holds)."""
    found: dict[str, str | None] = {}
    for text in archive.read_text(encoding="utf-8").splitlines():
        if not text.strip():
            continue
        record = orjson.loads(text)
        run_id = str(record["run"]["id"])
        found[run_id] = _chain_problem(record)
    return found


def _chain_problem(record: dict[str, Any]) -> str | None:
    prev = GENESIS_HASH
    for expected, e in enumerate(record["events"], start=1):
        digest = event_hash(run_id=e["run_id"], seq=e["seq"], time=e["time"], type=e["type"],
                            actor=e["actor"], step_key=e["step_key"], data=e["data"],
                            usage=e["usage"], prev_hash=e["prev_hash"], schema=e["schema"])
        if e["seq"] != expected or e["prev_hash"] != prev or digest != e["hash"]:
            return f"event {expected} does not hold"
        for value in e["data"].values():
            if isinstance(value, dict) and len(value) == 1 and BLOB_KEY in value:
                text = record["blobs"].get(value[BLOB_KEY])
                if text is None or sha256_hex(text) != value[BLOB_KEY]:
                    return f"a blob of event {expected} is missing or changed"
        prev = e["hash"]
    if (record["run"]["last_seq"], record["run"]["head_hash"]) != (len(record["events"]), prev):
        return "the run record does not match its events"
    return None
