"""Copy one Agentplane database into another (SQLite ⇄ PostgreSQL), then prove the copy.

Every table of every component is copied through the two sides' :class:`Database` handles, in
batches read by key order (never a whole table in memory). The journal's tables are copied so
that every chain keeps verifying: each event's stored columns (``time``, ``data`` text,
``prev_hash``, ``hash``) are written exactly as read, and a run's projection rows (``runs``,
``waits``) are written only after its events, so an interrupted copy is finished by running it
again.

Re-running is safe. Rows already in the target are left alone (``ON CONFLICT DO NOTHING``); a run
whose source has grown since is brought up to date; a run the target holds with another history
(another chain under the same id) is refused by name and never overwritten.

Positions in the journal's event order (the usage ledger's and telemetry's cursors) mean nothing
in another database, so each is translated: to the target's position of the last event the cursor
had passed in the source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from agentplane.errors import ConfigError
from agentplane.storage import Database, Row, parse_url

from ._schema_info import (
    INTERNAL_TABLES,
    columns,
    event_order,
    generated_columns,
    primary_key,
    read_order,
    tables,
)
from .chain import ChainBreak, verify_run
from .postgres_schema import TENANT_SETTING
from .store import JournalError, JournalStore

BATCH_ROWS = 2_000
"""Rows read and written per transaction."""
RUN_BATCH = 400
"""Runs compared with the target per round of queries."""
PAIRS_PER_QUERY = 100
"""``(run_id, seq)`` pairs looked up per query (SQLite allows expressions 1,000 deep)."""
JOURNAL_TABLES = ("runs", "events", "waits", "blobs")
DERIVED = {("events", "tenant"), ("waits", "tenant")}
"""Columns one back-end keeps as a copy of the run's tenant (PostgreSQL, for row-level
security): filled from the run when the source has none, and not reported when dropped."""
JOURNAL_CURSORS = ("usage_cursor", "telemetry_cursor")
"""Tables whose ``position`` is a place in the journal's event order (``events_since``)."""

Progress = Callable[[str], None]


class CopyError(JournalError):
    """The copy cannot be made as asked (same database, a table the target lacks)."""


@dataclass(slots=True)
class CopyReport:
    """What a copy did."""

    source: str
    target: str
    """Both URLs without passwords."""
    rows: dict[str, int] = field(default_factory=dict)
    """Rows added (or brought up to date) in the target, per table."""
    runs_new: int = 0
    runs_grown: int = 0
    """Runs the target held a shorter history of, brought up to date."""
    runs_unchanged: int = 0
    conflicts: list[str] = field(default_factory=list)
    """Runs the target holds with another history: refused, one sentence each."""
    dropped_columns: list[str] = field(default_factory=list)
    """``table.column`` the source has and the target does not (not copied)."""
    run_ids: list[str] = field(default_factory=list)
    """Every source run the target now holds (the runs to verify)."""
    verified_runs: int = 0
    verified_events: int = 0
    breaks: list[ChainBreak] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.conflicts and not self.breaks


def same_database(a: str, b: str) -> bool:
    """Whether two URLs name the same database (the same SQLite file; the same PostgreSQL
    host, port and database)."""
    pa, pb = parse_url(a), parse_url(b)
    if pa.scheme != pb.scheme:
        return False
    if pa.scheme == "sqlite":
        if ":memory:" in (pa.path, pb.path):
            return False
        return Path(pa.path).expanduser().resolve() == Path(pb.path).expanduser().resolve()
    ua, ub = urlparse(pa.raw), urlparse(pb.raw)
    return ((ua.hostname or "localhost", ua.port or 5432, ua.path.strip("/"))
            == (ub.hostname or "localhost", ub.port or 5432, ub.path.strip("/")))


def refuse_same(source: str, target: str) -> None:
    """A clear error when the two URLs name one database (a copy onto itself)."""
    if same_database(source, target):
        raise ConfigError(f"the source and the target are the same database "
                          f"({parse_url(source).safe}); name another target")


def _portable(row: Row) -> tuple[Any, ...]:
    """A row as values both drivers take (PostgreSQL's NUMERIC comes back as ``Decimal``)."""
    return tuple(float(v) if isinstance(v, Decimal) else v for v in row)


def _marks(count: int) -> str:
    return ",".join("?" * count)


def _quote(names: Sequence[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


class _Copier:
    def __init__(self, source: Database, target: Database, report: CopyReport,
                 progress: Progress | None, batch: int) -> None:
        self.source, self.target, self.report = source, target, report
        self.progress, self.batch = progress, batch

    def say(self, text: str) -> None:
        if self.progress is not None:
            self.progress(text)

    def shared_columns(self, table: str) -> list[str]:
        """The columns both sides have, minus those each side numbers itself."""
        theirs = set(columns(self.target, table)) - generated_columns(self.target, table)
        ours = [c for c in columns(self.source, table)
                if c not in generated_columns(self.source, table)]
        self.report.dropped_columns.extend(f"{table}.{c}" for c in ours
                                           if c not in theirs and (table, c) not in DERIVED)
        return [c for c in ours if c in theirs]

    def needs_tenant(self, table: str, cols: Sequence[str]) -> bool:
        """Whether the target keeps a tenant column in ``table`` that the source lacks."""
        return "tenant" not in cols and "tenant" in columns(self.target, table)

    def pages(self, table: str, cols: Sequence[str], key: Sequence[str],
              where: str = "", args: Sequence[Any] = ()) -> Iterator[list[Row]]:
        """The source table's rows (``key`` columns first), a batch at a time, by key order."""
        select = f"SELECT {_quote([*key, *cols])} FROM \"{table}\""
        order = f" ORDER BY {_quote(key)} LIMIT {self.batch}"
        last: Row | None = None
        while True:
            conds = [where] if where else []
            params: list[Any] = list(args)
            if last is not None:
                conds.append(f"({_quote(key)}) > ({_marks(len(key))})")
                params.extend(last)
            clause = f" WHERE {' AND '.join(conds)}" if conds else ""
            rows = self.source.query(select + clause + order, params)
            if not rows:
                return
            yield [r[len(key):] for r in rows]
            if len(rows) < self.batch:
                return
            last = rows[-1][:len(key)]

    def insert(self, table: str, cols: Sequence[str], rows: Sequence[Row],
               upsert_key: Sequence[str] = ()) -> int:
        sql = f"INSERT INTO \"{table}\" ({_quote(cols)}) VALUES ({_marks(len(cols))})"
        updates = [c for c in cols if c not in upsert_key]
        if upsert_key and updates:
            sql += (f" ON CONFLICT ({_quote(upsert_key)}) DO UPDATE SET "
                    + ", ".join(f'"{c}" = excluded."{c}"' for c in updates))
        else:
            sql += " ON CONFLICT DO NOTHING"
        with self.target.transaction():
            changed = self.target.executemany(sql, [_portable(r) for r in rows])
        self.report.rows[table] = self.report.rows.get(table, 0) + max(changed, 0)
        return changed

    # -- whole tables ---------------------------------------------------------------------------

    def copy_table(self, table: str) -> None:
        cols = self.shared_columns(table)
        key = read_order(self.source, table) or cols
        done = 0
        self.report.rows.setdefault(table, 0)
        for page in self.pages(table, cols, key):
            self.insert(table, cols, page)
            done += len(page)
            self.say(f"{table}: {done} rows read")

    # -- the journal ----------------------------------------------------------------------------

    def plan_runs(self) -> dict[str, tuple[int, str]]:
        """Each source run the target needs, with the last event the target already holds of
        it (0: none) and its tenant. Runs the target holds with another history are reported
        as conflicts."""
        plan: dict[str, tuple[int, str]] = {}
        for page in self.pages("runs", ["id", "last_seq", "tenant"], ["id"]):
            ids = [str(r[0]) for r in page]
            source_last = {str(r[0]): (int(r[1]), str(r[2])) for r in page}
            heads = {str(r[0]): (int(r[1]), str(r[2])) for r in self.target.query(
                "SELECT e.run_id, e.seq, e.hash FROM events e WHERE e.run_id IN"
                f" ({_marks(len(ids))}) AND e.seq = (SELECT MAX(m.seq) FROM events m"
                " WHERE m.run_id = e.run_id)", ids)}
            records = {str(r[0]): int(r[1]) for r in self.target.query(
                f"SELECT id, last_seq FROM runs WHERE id IN ({_marks(len(ids))})", ids)}
            theirs = {(rid, seq): digest for rid, (seq, digest) in heads.items()}
            ours = self._source_hashes(list(theirs))
            for rid in ids:
                self._classify(rid, source_last[rid], heads.get(rid), ours, records, plan)
        return plan

    def _source_hashes(self, keys: list[tuple[str, int]]) -> dict[tuple[str, int], str]:
        """The source's hash of each ``(run_id, seq)``, asked ``PAIRS_PER_QUERY`` at a time
        (SQLite caps how deep one expression may be)."""
        found: dict[tuple[str, int], str] = {}
        for start in range(0, len(keys), PAIRS_PER_QUERY):
            chunk = keys[start:start + PAIRS_PER_QUERY]
            where = " OR ".join("(run_id = ? AND seq = ?)" for _ in chunk)
            found.update({(str(r[0]), int(r[1])): str(r[2]) for r in self.source.query(
                f"SELECT run_id, seq, hash FROM events WHERE {where}",
                [v for k in chunk for v in k])})
        return found

    def _classify(self, rid: str, source: tuple[int, str], head: tuple[int, str] | None,
                  ours: dict[tuple[str, int], str], records: dict[str, int],
                  plan: dict[str, tuple[int, str]]) -> None:
        last, tenant = source
        if head is None:
            plan[rid] = (0, tenant)
            self.report.runs_new += 1
            return
        seq, digest = head
        if seq > last:
            self.report.conflicts.append(
                f"run {rid}: the target holds {seq} events, the source only {last} (another "
                "history under the same id); not overwritten")
            return
        if ours.get((rid, seq)) != digest:
            self.report.conflicts.append(
                f"run {rid}: event {seq} differs between source and target (another chain "
                "under the same id); not overwritten — copy into another database, or remove "
                "the target's run first")
            return
        self.report.run_ids.append(rid)
        if seq == last and records.get(rid) == last:
            self.report.runs_unchanged += 1
            return
        plan[rid] = (seq, tenant)
        self.report.runs_grown += 1

    def copy_events(self, plan: dict[str, tuple[int, str]]) -> None:
        """Events in the source's ``events_since`` order, so the target's keeps it."""
        cols = self.shared_columns("events")
        tenant = self.needs_tenant("events", cols)
        run_at, seq_at = cols.index("run_id"), cols.index("seq")
        self.report.rows.setdefault("events", 0)
        read = 0
        for page in self.pages("events", cols, event_order(self.source).keys):
            read += len(page)
            wanted = [(*r, plan[str(r[run_at])][1]) if tenant else r for r in page
                      if str(r[run_at]) in plan and int(r[seq_at]) > plan[str(r[run_at])][0]]
            if wanted:
                self.insert("events", [*cols, "tenant"] if tenant else cols, wanted)
            self.say(f"events: {read} read, {self.report.rows['events']} copied")

    def copy_projections(self, plan: dict[str, tuple[int, str]]) -> None:
        """``runs`` and ``waits`` rows of the planned runs, after their events: a target run
        record never claims events the target does not hold yet."""
        ids = sorted(plan)
        run_cols, wait_cols = self.shared_columns("runs"), self.shared_columns("waits")
        self.report.rows.setdefault("runs", 0)
        self.report.rows.setdefault("waits", 0)
        for start in range(0, len(ids), RUN_BATCH):
            chunk = ids[start:start + RUN_BATCH]
            marks = _marks(len(chunk))
            tenant = self.needs_tenant("waits", wait_cols)
            run_at = wait_cols.index("run_id")
            for wait_rows in self.pages("waits", wait_cols, ["id"], f"run_id IN ({marks})",
                                        chunk):
                if tenant:
                    wait_rows = [(*r, plan[str(r[run_at])][1]) for r in wait_rows]
                self.insert("waits", [*wait_cols, "tenant"] if tenant else wait_cols,
                            wait_rows, upsert_key=["id"])
            for run_rows in self.pages("runs", run_cols, ["id"], f"id IN ({marks})", chunk):
                self.insert("runs", run_cols, run_rows, upsert_key=["id"])
            self.say(f"runs: {min(start + RUN_BATCH, len(ids))} of {len(ids)} recorded")

    def copy_cursor(self, table: str) -> None:
        """Cursor rows, each position translated to the target's event order; a target cursor
        that is already further along is left alone."""
        cols = self.shared_columns(table)
        key = primary_key(self.source, table) or cols
        self.report.rows.setdefault(table, 0)
        if "position" not in cols:
            return
        at = cols.index("position")
        for page in self.pages(table, cols, key):
            rows = []
            for row in page:
                moved = list(row)
                moved[at] = self._translate(int(row[at]))
                rows.append(tuple(moved))
            sql = (f"INSERT INTO \"{table}\" ({_quote(cols)}) VALUES ({_marks(len(cols))})"
                   f" ON CONFLICT ({_quote(key)}) DO UPDATE SET position = excluded.position"
                   f" WHERE excluded.position > \"{table}\".position")
            with self.target.transaction():
                changed = self.target.executemany(sql, rows)
            self.report.rows[table] += max(changed, 0)

    def _translate(self, position: int) -> int:
        """The target's cursor for a source cursor: at the last event the source cursor had
        passed — or just before the target transaction holding it, when that transaction
        holds events after it too (reading an event again is harmless: what follows the
        journal takes each event once; skipping one is not)."""
        ours, theirs = event_order(self.source), event_order(self.target)
        backwards = ", ".join(f'"{k}" DESC' for k in ours.keys)
        last = self.source.query_one(
            f"SELECT run_id, seq FROM events WHERE {ours.cursor} <= ? ORDER BY {backwards}"
            " LIMIT 1", (position,))
        found = None if last is None else self.target.query_one(
            f"SELECT {theirs.cursor}, {theirs.unique} FROM events WHERE run_id = ? AND seq = ?",
            (last[0], last[1]))
        if found is None:
            return 0
        place, unique = int(found[0]), found[1]
        if self.target.query_one(f"SELECT 1 FROM events WHERE {theirs.cursor} = ? AND"
                                 f" {theirs.unique} > ? LIMIT 1", (place, unique)) is None:
            return place
        before = self.target.query_one(
            f"SELECT MAX({theirs.cursor}) FROM events WHERE {theirs.cursor} < ?", (place,))
        return int(before[0]) if before and before[0] is not None else 0


def _check_tables(source: Database, target: Database) -> list[str]:
    """The source's tables to copy; refuses one with rows that the target lacks (its rows
    would be lost)."""
    theirs = set(tables(target))
    wanted = [t for t in tables(source) if t not in INTERNAL_TABLES]
    missing = [t for t in wanted if t not in theirs
               and source.query_one(f'SELECT 1 FROM "{t}" LIMIT 1') is not None]
    if missing:
        raise CopyError(
            f"the target {target.url} has no table {', '.join(missing)} (the source has rows "
            "there); upgrade the target with `agentplane db upgrade` using an Agentplane that "
            "knows them")
    for name in JOURNAL_TABLES:
        if name not in wanted or name not in theirs:
            raise CopyError(f"{source.url if name not in wanted else target.url} has no "
                            f"{name} table: is it an Agentplane database?")
    return [t for t in wanted if t in theirs]


def copy_database(source: Database, target: Database, *, progress: Progress | None = None,
                  batch: int = BATCH_ROWS) -> CopyReport:
    """Copy every table of ``source`` into ``target`` (whose schema is already current).
    Verification is :func:`verify_copy`'s."""
    refuse_same(source.url, target.url)
    if batch < 1:
        raise ConfigError(f"batch must be at least 1 row (got {batch})")
    for db in (source, target):
        if db.dialect == "postgresql":  # row-level security: this session sees every tenant
            db.query("SELECT set_config(?, '*', false)", (TENANT_SETTING,))
    report = CopyReport(source.url, target.url)
    copier = _Copier(source, target, report, progress, batch)
    names = _check_tables(source, target)
    copier.copy_table("blobs")
    plan = copier.plan_runs()
    report.run_ids.extend(rid for rid, (seq, _) in plan.items() if seq == 0)
    report.run_ids.sort()
    copier.copy_events(plan)
    copier.copy_projections(plan)
    for name in names:
        if name in JOURNAL_TABLES:
            continue
        if name in JOURNAL_CURSORS:
            copier.copy_cursor(name)
        else:
            copier.copy_table(name)
    return report


async def verify_copy(store: JournalStore, report: CopyReport,
                      progress: Progress | None = None) -> None:
    """Verify, on the target, the chain of every run the copy covered (one run in memory at a
    time); the outcome goes into ``report``."""
    for done, run_id in enumerate(report.run_ids, start=1):
        checked, brk = await verify_run(store, run_id)
        report.verified_runs += 1
        report.verified_events += checked
        if brk is not None:
            report.breaks.append(brk)
        if progress is not None and (done % 500 == 0 or done == len(report.run_ids)):
            progress(f"verified {done} of {len(report.run_ids)} runs")
