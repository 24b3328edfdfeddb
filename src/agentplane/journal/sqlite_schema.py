"""The SQLite journal's tables (component ``journal``), as numbered migrations.

Migration 1 is the schema every release before schema versions created, written with
``IF NOT EXISTS``: applied to a journal file made by such a release it changes nothing and
records version 1.
"""

from __future__ import annotations

from agentplane.storage import Migration

COMPONENT = "journal"

_V1 = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    workflow TEXT NOT NULL,
    workflow_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    tenant TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    input TEXT NOT NULL,
    meta TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    lease_owner TEXT,
    lease_until REAL,
    wake_at REAL
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status, created_at);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    time TEXT NOT NULL,
    type TEXT NOT NULL,
    actor TEXT NOT NULL,
    step_key TEXT,
    data TEXT NOT NULL,
    usage TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    schema INTEGER NOT NULL,
    PRIMARY KEY (run_id, seq)
);
-- A rowid table, not WITHOUT ROWID: a key b-tree holding the bodies compares whole bodies
-- (read from their overflow pages) on every lookup, and leaves a part-filled overflow page per
-- blob. Files made with WITHOUT ROWID keep it: the columns and every statement are the same.
CREATE TABLE IF NOT EXISTS blobs (
    hash TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS waits (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL,
    step_key TEXT NOT NULL,
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    deadline REAL,
    data TEXT NOT NULL,
    resolution TEXT
);
CREATE INDEX IF NOT EXISTS waits_open ON waits(status, deadline);
CREATE INDEX IF NOT EXISTS waits_run ON waits(run_id);
"""

# ``runs list`` asks for the newest runs first (``created_at DESC, id``): read in this
# index's order it stops at its LIMIT instead of sorting every run.
_V2 = "CREATE INDEX IF NOT EXISTS runs_created ON runs(created_at DESC, id)"

MIGRATIONS = (
    Migration(1, _V1, note="runs, events, blobs and waits"),
    Migration(2, _V2, note="runs by creation time, newest first"),
)
