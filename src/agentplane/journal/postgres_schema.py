"""The PostgreSQL journal's tables, as numbered migrations of component ``journal``.

The same tables and column names as the SQLite store (runs, events, blobs, waits), JSON kept as
TEXT exactly as written (the hash chain is verified from the stored text, so never JSONB), plus:

- ``events.tx`` / ``events.position``: the writing transaction's id and an insertion counter,
  so ``events_since`` can follow the journal in commit-safe order (see ``postgres.py``);
- ``events.tenant`` / ``waits.tenant``: copied from the run, for row-level security;
- row-level security on runs, events and waits: a session sees the rows of the tenant in its
  ``agentplane.tenant`` setting, or every row when that setting is ``*``. ``FORCE`` makes the
  tables' owner subject to it too (superusers and ``BYPASSRLS`` roles never are: run
  Agentplane as an ordinary role).
"""

from __future__ import annotations

from agentplane.storage import Migration

COMPONENT = "journal"

TENANT_SETTING = "agentplane.tenant"
"""The session setting row-level security reads; ``*`` sees every tenant."""

_POLICY = (f"tenant = current_setting('{TENANT_SETTING}', true)"
           f" OR current_setting('{TENANT_SETTING}', true) = '*'")

_TABLES = """
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
    last_seq BIGINT NOT NULL,
    head_hash TEXT NOT NULL,
    lease_owner TEXT,
    lease_until DOUBLE PRECISION,
    wake_at DOUBLE PRECISION
);
CREATE INDEX IF NOT EXISTS runs_status ON runs(status, created_at);
CREATE INDEX IF NOT EXISTS runs_created ON runs(created_at);
CREATE TABLE IF NOT EXISTS events (
    run_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    time TEXT NOT NULL,
    type TEXT NOT NULL,
    actor TEXT NOT NULL,
    step_key TEXT,
    data TEXT NOT NULL,
    usage TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    schema INTEGER NOT NULL,
    tenant TEXT NOT NULL,
    tx xid8 NOT NULL DEFAULT pg_current_xact_id(),
    position BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS events_order ON events(tx, position);
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
    deadline DOUBLE PRECISION,
    data TEXT NOT NULL,
    resolution TEXT,
    tenant TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS waits_open ON waits(status, deadline);
CREATE INDEX IF NOT EXISTS waits_run ON waits(run_id)
"""

_ROW_SECURITY = ";\n".join(
    f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n"
    f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY;\n"
    f"CREATE POLICY {table}_tenant ON {table} USING ({_POLICY})"
    for table in ("runs", "events", "waits"))

# A tenant's runs in one status, newest first (``runs list --status``, the console, a worker's
# claim under row-level security) without sorting every run of the tenant.
_V3 = "CREATE INDEX IF NOT EXISTS runs_tenant_status ON runs(tenant, status, created_at)"

MIGRATIONS = (
    Migration(1, _TABLES, note="runs, events, blobs, waits"),
    Migration(2, _ROW_SECURITY, note="row-level security on the tenant column"),
    Migration(3, _V3, note="runs by tenant, status and creation time"),
)
