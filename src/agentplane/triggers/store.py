"""What triggers fired, and their switches: the at-most-once record behind every trigger.

A fire is claimed by its *key* — a schedule's slot (its UTC time), a webhook's delivery id, a
mail's ``uidvalidity:uid`` — once per ``(tenant, workflow, trigger, key)``: the row is inserted
before the run it starts exists, so two workers (or a retried delivery, or a restarted poller)
racing for one key start one run. The run id is stored with the claim.

Tables of component ``triggers`` in the journal's database (SQLite or PostgreSQL), JSON in
text columns:

- ``trigger_fires``: one row per claimed key (the run it started, when, a detail object);
- ``trigger_state``: one row per trigger that was switched, failed, or watched by a scheduler
  (``enabled`` override, failure count and last error, the scheduler's ``checked_until``);
- ``trigger_deferrals``: one row per deferred run, its plan (what ``run.deferred`` journals),
  so reports find deferred runs without reading every journal.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agentplane.storage import Database, Migration, open_component

COMPONENT = "triggers"

_V1 = """
CREATE TABLE IF NOT EXISTS trigger_fires (
    tenant TEXT NOT NULL,
    workflow TEXT NOT NULL,
    trigger_name TEXT NOT NULL,
    key TEXT NOT NULL,
    run_id TEXT NOT NULL,
    fired_at TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (tenant, workflow, trigger_name, key)
);
CREATE INDEX IF NOT EXISTS trigger_fires_recent ON trigger_fires (tenant, fired_at);
CREATE TABLE IF NOT EXISTS trigger_state (
    tenant TEXT NOT NULL,
    workflow TEXT NOT NULL,
    trigger_name TEXT NOT NULL,
    enabled INTEGER,
    failures INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    last_failure_at TEXT,
    checked_until TEXT,
    PRIMARY KEY (tenant, workflow, trigger_name)
);
CREATE TABLE IF NOT EXISTS trigger_deferrals (
    run_id TEXT PRIMARY KEY,
    tenant TEXT NOT NULL,
    workflow TEXT NOT NULL,
    created_at TEXT NOT NULL,
    plan TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS trigger_deferrals_recent ON trigger_deferrals (tenant, created_at)
"""

MIGRATIONS = (Migration(1, _V1, note="trigger fires, trigger switches, deferred runs"),)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True, slots=True)
class Fire:
    """One claimed fire of a trigger."""

    tenant: str
    workflow: str
    trigger: str
    key: str
    run_id: str
    fired_at: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TriggerState:
    """What the store knows of one trigger (the next fire is the schedule's business:
    ``triggers.schedule.next_fire``)."""

    tenant: str
    workflow: str
    trigger: str
    enabled: bool | None = None
    """Switched on or off by a person; None: as the workflow declares."""
    fires: int = 0
    last_fire: Fire | None = None
    failures: int = 0
    last_error: str | None = None
    last_failure_at: str | None = None
    checked_until: str | None = None
    """Schedules: the time up to which the scheduler has decided every slot."""


_FIRE_COLUMNS = "tenant, workflow, trigger_name, key, run_id, fired_at, detail"


def _fire(row: Any) -> Fire:
    return Fire(row[0], row[1], row[2], row[3], row[4], str(row[5]), json.loads(row[6]))


class TriggerStore:
    """Trigger fires and switches in the journal's database."""

    def __init__(self, db: Database | str | Path) -> None:
        self.db, self._owned = open_component(db, COMPONENT, MIGRATIONS)

    def close(self) -> None:
        if self._owned:
            self.db.close()

    def claim(self, tenant: str, workflow: str, trigger: str, key: str, *, run_id: str,
              detail: Mapping[str, Any] | None = None) -> bool:
        """Record that ``key`` fired, starting ``run_id``: True the first time, False when the
        key was already claimed (by anyone, ever)."""
        if not key:
            raise ValueError(f"trigger {workflow}/{trigger}: a fire needs a non-empty key")
        with self.db.transaction() as db:
            added = db.execute(
                f"INSERT INTO trigger_fires ({_FIRE_COLUMNS}) VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT (tenant, workflow, trigger_name, key) DO NOTHING",
                (tenant, workflow, trigger, key, run_id, _now(),
                 json.dumps(dict(detail or {}), sort_keys=True)))
        return added == 1

    def fire(self, tenant: str, workflow: str, trigger: str, key: str) -> Fire | None:
        """The fire claimed for ``key``, if any."""
        row = self.db.query_one(
            f"SELECT {_FIRE_COLUMNS} FROM trigger_fires "
            "WHERE tenant = ? AND workflow = ? AND trigger_name = ? AND key = ?",
            (tenant, workflow, trigger, key))
        return None if row is None else _fire(row)

    def fires(self, tenant: str, workflow: str | None = None, trigger: str | None = None,
              limit: int = 50) -> list[Fire]:
        """The latest fires, newest first."""
        clause, args = ["tenant = ?"], [tenant]
        if workflow is not None:
            clause.append("workflow = ?")
            args.append(workflow)
        if trigger is not None:
            clause.append("trigger_name = ?")
            args.append(trigger)
        rows = self.db.query(
            f"SELECT {_FIRE_COLUMNS} FROM trigger_fires WHERE {' AND '.join(clause)} "
            "ORDER BY fired_at DESC, key DESC LIMIT ?", (*args, int(limit)))
        return [_fire(r) for r in rows]

    def _ensure(self, db: Database, tenant: str, workflow: str, trigger: str) -> None:
        db.execute("INSERT INTO trigger_state (tenant, workflow, trigger_name) VALUES (?,?,?) "
                   "ON CONFLICT (tenant, workflow, trigger_name) DO NOTHING",
                   (tenant, workflow, trigger))

    def record_failure(self, tenant: str, workflow: str, trigger: str, key: str,
                       error: str) -> None:
        """Count a fire that could not start its run (bad input, a tool missing, ...)."""
        with self.db.transaction() as db:
            self._ensure(db, tenant, workflow, trigger)
            db.execute("UPDATE trigger_state SET failures = failures + 1, last_error = ?, "
                       "last_failure_at = ? WHERE tenant = ? AND workflow = ? AND trigger_name = ?",
                       (f"{key}: {error}"[:2000], _now(), tenant, workflow, trigger))

    def set_enabled(self, tenant: str, workflow: str, trigger: str, enabled: bool) -> None:
        """Switch a trigger on or off (over what the workflow declares)."""
        with self.db.transaction() as db:
            self._ensure(db, tenant, workflow, trigger)
            db.execute("UPDATE trigger_state SET enabled = ? "
                       "WHERE tenant = ? AND workflow = ? AND trigger_name = ?",
                       (1 if enabled else 0, tenant, workflow, trigger))

    def advance(self, tenant: str, workflow: str, trigger: str, until: str) -> str | None:
        """Move a schedule's ``checked_until`` forward to ``until`` (never back); returns the
        value it had (None the first time the trigger is watched)."""
        with self.db.transaction() as db:
            self._ensure(db, tenant, workflow, trigger)
            row = db.query_one("SELECT checked_until FROM trigger_state "
                               "WHERE tenant = ? AND workflow = ? AND trigger_name = ?",
                               (tenant, workflow, trigger))
            before = None if row is None or row[0] is None else str(row[0])
            db.execute("UPDATE trigger_state SET checked_until = ? WHERE tenant = ? AND "
                       "workflow = ? AND trigger_name = ? AND (checked_until IS NULL OR "
                       "checked_until < ?)", (until, tenant, workflow, trigger, until))
        return before

    def checked_until(self, tenant: str, workflow: str, trigger: str) -> str | None:
        row = self.db.query_one("SELECT checked_until FROM trigger_state "
                                "WHERE tenant = ? AND workflow = ? AND trigger_name = ?",
                                (tenant, workflow, trigger))
        return None if row is None or row[0] is None else str(row[0])

    def state(self, tenant: str, workflow: str, trigger: str) -> TriggerState:
        """Switch, last fire, fire count and failures of one trigger."""
        row = self.db.query_one(
            "SELECT enabled, failures, last_error, last_failure_at, checked_until "
            "FROM trigger_state WHERE tenant = ? AND workflow = ? AND trigger_name = ?",
            (tenant, workflow, trigger))
        count = self.db.query_one(
            "SELECT COUNT(*) FROM trigger_fires WHERE tenant = ? AND workflow = ? AND "
            "trigger_name = ?", (tenant, workflow, trigger))
        latest = self.fires(tenant, workflow, trigger, limit=1)
        base = TriggerState(tenant, workflow, trigger, fires=int(count[0]) if count else 0,
                            last_fire=latest[0] if latest else None)
        if row is None:
            return base
        return TriggerState(
            tenant, workflow, trigger, enabled=None if row[0] is None else bool(row[0]),
            fires=base.fires, last_fire=base.last_fire, failures=int(row[1]),
            last_error=row[2], last_failure_at=None if row[3] is None else str(row[3]),
            checked_until=None if row[4] is None else str(row[4]))

    def is_enabled(self, tenant: str, workflow: str, trigger: str, declared: bool) -> bool:
        """Whether the trigger fires: a person's switch if any, else what is declared."""
        row = self.db.query_one("SELECT enabled FROM trigger_state WHERE tenant = ? AND "
                                "workflow = ? AND trigger_name = ?", (tenant, workflow, trigger))
        return declared if row is None or row[0] is None else bool(row[0])

    # -- deferred runs ----------------------------------------------------------------------

    def record_deferral(self, run_id: str, tenant: str, workflow: str,
                        plan: Mapping[str, Any]) -> None:
        self.db.execute("INSERT INTO trigger_deferrals (run_id, tenant, workflow, created_at, "
                        "plan) VALUES (?,?,?,?,?) ON CONFLICT (run_id) DO NOTHING",
                        (run_id, tenant, workflow, _now(), json.dumps(dict(plan))))

    def deferrals(self, tenant: str | None = None, limit: int = 100
                  ) -> list[tuple[str, str, str, dict[str, Any]]]:
        """Deferred runs, newest first: (run id, tenant, workflow, plan); every tenant's
        without ``tenant``."""
        where, args = ("WHERE tenant = ?", [tenant]) if tenant is not None else ("", [])
        rows = self.db.query(f"SELECT run_id, tenant, workflow, plan FROM trigger_deferrals "
                             f"{where} ORDER BY created_at DESC, run_id LIMIT ?",
                             (*args, int(limit)))
        return [(r[0], r[1], r[2], json.loads(r[3])) for r in rows]
