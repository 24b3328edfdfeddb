"""The journal-level audit record of runs removed by retention: one row per run deleted, with
its last seq and head hash and the archive it went to, hash-chained row to row so the record
itself cannot be edited unseen. Checkpoint verification reads it: a run deleted here, after it
was archived, is not a run deleted by an attacker.
"""

from __future__ import annotations

from dataclasses import dataclass

from agentplane.journal.events import GENESIS_HASH, canonical_json, sha256_hex
from agentplane.storage import Database, Migration, migrate, schema_versions

COMPONENT = "compliance"

_V1 = """
CREATE TABLE IF NOT EXISTS compliance_retention (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    actor TEXT NOT NULL,
    run_id TEXT NOT NULL,
    workflow TEXT NOT NULL,
    last_seq INTEGER NOT NULL,
    head_hash TEXT NOT NULL,
    archive TEXT NOT NULL,
    archive_sha256 TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
)
"""
MIGRATIONS = (
    Migration(1, _V1, postgresql=_V1.replace("INTEGER", "BIGINT"),
              note="compliance_retention: runs deleted by retention, hash-chained"),
)
_COLUMNS = ("seq", "time", "actor", "run_id", "workflow", "last_seq", "head_hash", "archive",
            "archive_sha256", "prev_hash")


@dataclass(frozen=True, slots=True)
class Retired:
    """A run removed by retention."""

    seq: int
    time: str
    actor: str
    run_id: str
    workflow: str
    last_seq: int
    head_hash: str
    archive: str
    """The archive file the run was written to (its name, as given)."""
    archive_sha256: str
    prev_hash: str
    hash: str


def ensure(db: Database) -> None:
    migrate(db, COMPONENT, MIGRATIONS)


def _row_hash(values: dict[str, object]) -> str:
    return sha256_hex(canonical_json(values))


def record(db: Database, *, time: str, actor: str, run_id: str, workflow: str, last_seq: int,
           head_hash: str, archive: str, archive_sha256: str) -> Retired:
    """Append one row (call inside the transaction that deletes the run)."""
    last = db.query_one("SELECT seq, hash FROM compliance_retention ORDER BY seq DESC LIMIT 1")
    seq, prev = (1, GENESIS_HASH) if last is None else (int(last[0]) + 1, str(last[1]))
    values: dict[str, object] = {
        "seq": seq, "time": time, "actor": actor, "run_id": run_id, "workflow": workflow,
        "last_seq": last_seq, "head_hash": head_hash, "archive": archive,
        "archive_sha256": archive_sha256, "prev_hash": prev}
    digest = _row_hash(values)
    db.execute(f"INSERT INTO compliance_retention({', '.join(_COLUMNS)}, hash) "
               f"VALUES ({', '.join('?' * (len(_COLUMNS) + 1))})",
               [*values.values(), digest])
    return Retired(seq, time, actor, run_id, workflow, last_seq, head_hash, archive,
                   archive_sha256, prev, digest)


def retired(db: Database) -> list[Retired]:
    """Every row, in order (empty when retention never ran)."""
    if not _exists(db):
        return []
    rows = db.query(f"SELECT {', '.join(_COLUMNS)}, hash FROM compliance_retention "
                    "ORDER BY seq")
    return [Retired(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), int(r[5]),
                    str(r[6]), str(r[7]), str(r[8]), str(r[9]), str(r[10])) for r in rows]


def problems(rows: list[Retired]) -> list[str]:
    """Where the record's own chain does not hold (a row edited, removed or reordered)."""
    out = []
    prev = GENESIS_HASH
    for expected, row in enumerate(rows, start=1):
        values = {name: getattr(row, name) for name in _COLUMNS}
        if row.seq != expected or row.prev_hash != prev or _row_hash(values) != row.hash:
            out.append(f"retention record row {expected} was changed, removed or reordered")
            break
        prev = row.hash
    return out


def _exists(db: Database) -> bool:
    return COMPONENT in schema_versions(db)
