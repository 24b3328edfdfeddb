"""``audit verify`` of a large SQLite journal shared between processes: the same report, the
same first break in each run, as verifying every run event by event in one process."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

import pytest

from agentplane.journal import (
    AuditReport,
    EventType,
    NewEvent,
    SQLiteJournal,
    canonical_json,
    verify,
    verify_run,
)
from agentplane.journal.audit_workers import PARALLEL_FROM_RUNS, _ranges, holding_in_parallel
from agentplane.journal.chain import holding_runs, join_shares, scan_share
from agentplane.journal.events import event_hash
from agentplane.journal.store import CorruptEventError, CorruptRunError

from .conformance import new_run

RUNS = PARALLEL_FROM_RUNS + 100


async def populate(path: Path) -> list[str]:
    store = SQLiteJournal(path)
    ids = [f"run-{i:05x}" for i in range(RUNS)]
    for run_id in ids:
        await new_run(store, run_id, input={"q": run_id}, events=[
            NewEvent(EventType.RUN_STARTED),
            NewEvent("model.completed", step_key="s1", data={"text": "ok"},
                     usage={"input_tokens": 3, "output_tokens": 1}),
            NewEvent(EventType.RUN_COMPLETED, data={"output": run_id})])
    await store.close()
    return ids


async def one_by_one(store: SQLiteJournal, ids: list[str]) -> AuditReport:
    """The reference: every run through ``verify_run``, in order."""
    report = AuditReport()
    for run_id in ids:
        checked, brk = await verify_run(store, run_id)
        report.runs += 1
        report.events += checked
        if brk is not None:
            report.breaks.append(brk)
    return report


def copy_of(source: Path, path: Path) -> sqlite3.Connection:
    """A copy of the journal at ``path``, opened raw for tampering."""
    with sqlite3.connect(source) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    return sqlite3.connect(path)


async def same_report_on_one_and_two_processes(store: SQLiteJournal,
                                               expected: AuditReport) -> None:
    for workers in (1, 2):
        report = await verify(store, workers=workers)
        assert (report.runs, report.events, report.breaks) == (
            expected.runs, expected.events, expected.breaks)


@pytest.fixture(scope="module")
def journal(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    import asyncio

    path = tmp_path_factory.mktemp("audit") / "big.db"
    ids = asyncio.run(populate(path))
    return path, ids


async def test_ranges_joined_give_every_run_once(journal: tuple[Path, list[str]]) -> None:
    path, ids = journal
    store = SQLiteJournal(path, create=False, readonly=True)
    whole = holding_runs(store)
    assert whole == {run_id: 4 for run_id in ids}
    low, high = store.database.query("SELECT min(rowid), max(rowid) FROM events")[0]
    for cut in range(4):  # a boundary before each event of a run: seams at every seq
        middle = low + 4 * 700 + cut
        ranges = [(low, middle - 1), (middle, middle + 4 * 500 - 1), (middle + 4 * 500, high)]
        shares = [scan_share(store, *bounds) for bounds in ranges]
        assert all(share.whole for share in shares)
        assert sum(len(share.whole) for share in shares) == len(ids) - (2 if cut else 0)
        assert join_shares(store, shares) == whole
    assert await holding_in_parallel(store, len(ids), workers=2) == whole
    await store.close()


async def test_a_tampered_journal_gives_the_same_report_on_two_processes(
        journal: tuple[Path, list[str]], tmp_path: Path) -> None:
    source, ids = journal
    path = tmp_path / "tampered.db"
    raw = copy_of(source, path)
    with raw:
        # an edited event, a removed one, an edited run record, unreadable data, a bad seq
        raw.execute("UPDATE events SET data = ? WHERE run_id = ? AND seq = 3",
                    (canonical_json({"text": "changed"}), ids[7]))
        raw.execute("DELETE FROM events WHERE run_id = ? AND seq = 2", (ids[10],))
        raw.execute("UPDATE runs SET input = ? WHERE id = ?", ('{"q":"other"}', ids[-1]))
        raw.execute("UPDATE events SET data = 'not json' WHERE run_id = ? AND seq = 4",
                    (ids[501],))
        raw.execute("UPDATE events SET seq = 'x' WHERE run_id = ? AND seq = 1", (ids[900],))
    raw.close()
    store = SQLiteJournal(path, create=False, readonly=True)
    expected = await one_by_one(store, ids)
    assert [b.run_id for b in expected.breaks] == [ids[7], ids[10], ids[501], ids[900],
                                                    ids[-1]]
    await same_report_on_one_and_two_processes(store, expected)
    await store.close()


async def test_a_share_whose_process_cannot_start_is_scanned_here(
        journal: tuple[Path, list[str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path, ids = journal
    store = SQLiteJournal(path, create=False, readonly=True)
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-such-python"))
    assert await holding_in_parallel(store, len(ids), workers=2) == {r: 4 for r in ids}
    await store.close()


async def forge(raw: sqlite3.Connection, store: SQLiteJournal, run_id: str, seq: int) -> None:
    """Change event ``seq``'s data and give it the hash its new fields have: the event holds on
    its own, only the next event's prev_hash shows the change."""
    event = (await store.events(run_id, resolve_blobs=False))[seq - 1]
    data = {**event.data, "forged": True}
    digest = event_hash(run_id=run_id, seq=seq, time=event.time, type=event.type,
                        actor=event.actor, step_key=event.step_key, data=data,
                        usage=event.usage, prev_hash=event.prev_hash, schema=event.schema)
    with raw:
        raw.execute("UPDATE events SET data = ?, hash = ? WHERE run_id = ? AND seq = ?",
                    (canonical_json(data), digest, run_id, seq))


async def test_a_run_across_the_boundary_forged_at_the_seam(
        journal: tuple[Path, list[str]], tmp_path: Path) -> None:
    source, ids = journal
    path = tmp_path / "seam.db"
    raw = copy_of(source, path)
    with raw:  # the first run's events gone: the two ranges' boundary falls inside a run
        raw.execute("DELETE FROM events WHERE run_id = ?", (ids[0],))
    low, high = raw.execute("SELECT min(rowid), max(rowid) FROM events").fetchone()
    seam = _ranges(low, high, 2)[1][0]
    run_id, seq = raw.execute("SELECT run_id, seq FROM events WHERE rowid = ?",
                              (seam,)).fetchone()
    assert seq > 1  # the run crosses the boundary
    store = SQLiteJournal(path, create=False, readonly=True)
    intact = await verify(store, workers=2)
    assert [b.run_id for b in intact.breaks] == [ids[0]] and intact.events == 4 * len(ids) - 4
    await forge(raw, store, run_id, seq - 1)  # the last event before the boundary
    raw.close()
    expected = await one_by_one(store, ids)
    assert [(b.run_id, b.seq) for b in expected.breaks] == [(ids[0], 1), (run_id, seq)]
    assert "prev_hash" in expected.breaks[1].reason
    await same_report_on_one_and_two_processes(store, expected)
    await store.close()


def edited_copy(source: Path, path: Path, edits: list[tuple[str, str]], runs: dict[str, str],
                sql: str) -> SQLiteJournal:
    """A copy of the journal with ``sql`` made once per edit (its column and SQL value), each
    on the next of ``runs``; opened read-only."""
    raw = copy_of(source, path)
    with raw:
        for (column, value), run_id in zip(edits, runs, strict=True):
            raw.execute(sql.format(column=column, value=value), (run_id,))
    raw.close()
    return SQLiteJournal(path, create=False, readonly=True)


EDITS = [  # a column of one event given a type the journal never writes there
    ("run_id", "x'72756e'"), ("seq", "'two'"), ("time", "x'3230'"), ("type", "x'6d6f64656c'"),
    ("actor", "x'6869'"), ("step_key", "x'7331'"), ("data", "x'7b7d'"), ("usage", "x'7b7d'"),
    ("prev_hash", "x'00'"), ("hash", "x'00'"), ("schema", "'one'"), ("schema", "x'31'"),
]


async def test_columns_edited_to_another_type_are_breaks_not_crashes(
        journal: tuple[Path, list[str]], tmp_path: Path) -> None:
    """SQLite keeps a BLOB written into a TEXT column (and text into an INTEGER one that does
    not read as a number): every such edit is reported, naming the column, the same on one and
    two processes, and reading the run says what is wrong instead of failing on the type."""
    source, ids = journal
    edited = {ids[100 + 50 * i]: column for i, (column, _) in enumerate(EDITS)}
    store = edited_copy(source, tmp_path / "retyped.db", EDITS, edited,
                        "UPDATE events SET {column} = {value} WHERE run_id = ? AND seq = 3")
    expected = await one_by_one(store, await store.all_run_ids())
    by_run = {b.run_id: b for b in expected.breaks}
    for run_id, column in edited.items():
        brk = by_run.pop(run_id)
        if column in ("run_id", "prev_hash", "hash"):
            assert brk.seq in (3, 4)  # the chain shows it: a missing event, a wrong hash
        else:
            assert f"its {column} column holds" in brk.reason and "the row was edited" in \
                brk.reason, brk
            with pytest.raises(CorruptEventError, match=f"its {column} column"):
                await store.events(run_id)
    # the row whose run_id became a BLOB is named as a run of its own, not crashed on
    assert [b.run_id for b in by_run.values()] == ["b'run'"]
    await same_report_on_one_and_two_processes(store, expected)
    await store.close()


RUN_EDITS = [  # a column of one run record given a type (or text) the journal never writes
    ("workflow", "x'77'"), ("status", "x'6869'"), ("tenant", "x'00'"), ("created_at", "x'00'"),
    ("input", "x'7b7d'"), ("input", "'not json'"), ("meta", "'[1]'"), ("last_seq", "'four'"),
    ("head_hash", "x'00'"), ("lease_owner", "x'00'"), ("lease_until", "'soon'"),
    ("wake_at", "x'00'"),
]


async def test_run_records_edited_to_another_type_are_breaks_not_crashes(
        journal: tuple[Path, list[str]], tmp_path: Path) -> None:
    source, ids = journal
    edited = {ids[120 + 50 * i]: column for i, (column, _) in enumerate(RUN_EDITS)}
    store = edited_copy(source, tmp_path / "records.db", RUN_EDITS, edited,
                        "UPDATE runs SET {column} = {value} WHERE id = ?")
    expected = await one_by_one(store, ids)
    assert {b.run_id: b.seq for b in expected.breaks} == dict.fromkeys(edited, None)
    for brk in expected.breaks:
        column = edited[brk.run_id]
        assert (f"its {column} column" in brk.reason
                or (column == "input" and "unreadable" in brk.reason)), brk
        with pytest.raises(CorruptRunError, match=brk.run_id):
            await store.get_run(brk.run_id)
    with pytest.raises(CorruptRunError):  # a listing says which record, instead of crashing
        await store.list_runs(limit=len(ids))
    await same_report_on_one_and_two_processes(store, expected)
    await store.close()


async def test_a_usage_stored_in_another_layout_holds_and_a_changed_one_breaks(
        journal: tuple[Path, list[str]], tmp_path: Path) -> None:
    """The scan hashes the usage's stored text as it is; a usage stored in another layout (as
    journals before 2026-12-03 did: the standard json module, keys as given) still holds,
    through its canonical form, while a changed value is a break."""
    source, ids = journal
    path = tmp_path / "usage.db"
    raw = copy_of(source, path)
    relaid, changed = ids[3], ids[4]
    with raw:
        raw.execute("UPDATE events SET usage = ? WHERE run_id = ? AND seq = 3",
                    ('{"output_tokens": 1, "input_tokens": 3}', relaid))
        raw.execute("UPDATE events SET usage = ? WHERE run_id = ? AND seq = 3",
                    ('{"input_tokens":4,"output_tokens":1}', changed))
    raw.close()
    store = SQLiteJournal(path, create=False, readonly=True)
    holding = holding_runs(store)
    assert holding[relaid] == 4 and changed not in holding
    assert len(holding) == len(ids) - 1
    expected = await one_by_one(store, ids)
    assert [(b.run_id, b.seq) for b in expected.breaks] == [(changed, 3)]
    await same_report_on_one_and_two_processes(store, expected)
    await store.close()
