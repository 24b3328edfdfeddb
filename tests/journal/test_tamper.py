"""Tamper with a journal file as an attacker would, and check that the audit names the spot.

Runs are written through ``SQLiteJournal``; the store is closed; then a separate ``sqlite3``
connection edits the file directly (as anyone with write access to it could); then the store is
reopened and ``verify`` must name the tampered run and the first event that no longer holds.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agentplane.journal import (
    AuditReport,
    ChainBreak,
    EventType,
    JournalError,
    NewEvent,
    RunNotFoundError,
    SQLiteJournal,
    canonical_json,
    sha256_hex,
    verify,
)
from agentplane.journal.events import event_hash

from .conformance import new_run

PAYLOAD_A = {"report": "run a " * 400}
PAYLOAD_B = {"document": "退款申请，订单 #1234。" * 100}  # offloaded to a blob (seq 3 of run-b)
RUN_EVENTS = {"run-a": 4, "run-b": 6, "run-c": 2}
TOTAL_EVENTS = sum(RUN_EVENTS.values())


async def populate(path: Path) -> None:
    """Three runs; run-b (6 events) is the one attacked, the others must stay clean."""
    store = SQLiteJournal(path)
    try:
        await new_run(store, "run-a", input={"q": "a"}, events=[
            NewEvent(EventType.RUN_STARTED),
            NewEvent("tool.completed", step_key="s1", data={"result": PAYLOAD_A}),
            NewEvent(EventType.RUN_COMPLETED, data={"output": "a"}),
        ])
        await new_run(store, "run-b", input={"q": "退款"})
        await store.append("run-b", [
            NewEvent(EventType.RUN_STARTED, data={"worker": "w1"}),  # 2
            NewEvent("tool.started", actor="agent:clerk", step_key="s1",  # 3
                     data={"tool": "refund", "arguments": {"amount": 120}, "payload": PAYLOAD_B}),
            NewEvent("tool.completed", actor="agent:clerk", step_key="s1",  # 4
                     data={"result": {"refunded": 120}}),
            NewEvent("model.completed", actor="agent:clerk", step_key="s2",  # 5
                     data={"text": "退款完成"}, usage={"input_tokens": 10, "output_tokens": 5}),
            NewEvent(EventType.RUN_COMPLETED, data={"output": "done"}),  # 6
        ])
        await new_run(store, "run-c", events=[NewEvent("note", data={"n": 1})])
    finally:
        await store.close()


def attack(path: Path, *statements: tuple[str, tuple[Any, ...]]) -> None:
    """Run SQL on the file through a connection of its own, as an attacker would."""
    db = sqlite3.connect(path)
    try:
        for sql, args in statements:
            db.execute(sql, args)
        db.commit()
    finally:
        db.close()


def read_row(path: Path, sql: str, args: tuple[Any, ...] = ()) -> tuple[Any, ...]:
    db = sqlite3.connect(path)
    try:
        row = db.execute(sql, args).fetchone()
    finally:
        db.close()
    assert row is not None
    return tuple(row)


async def audit(path: Path, run_ids: list[str] | None = None) -> AuditReport:
    store = SQLiteJournal(path)
    try:
        return await verify(store, run_ids)
    finally:
        await store.close()


def only_break(report: AuditReport) -> ChainBreak:
    assert not report.ok
    assert len(report.breaks) == 1, report.breaks
    return report.breaks[0]


def forged_event(path: Path, seq: int, prev_hash: str) -> tuple[str, tuple[Any, ...]]:
    """An INSERT of a well-formed event whose hash is correctly computed over its fields."""
    time, data, schema = "2030-01-01T00:00:00.000000Z", {"tool": "refund", "amount": 9999}, 1
    digest = event_hash(run_id="run-b", seq=seq, time=time, type="tool.started",
                        actor="agent:clerk", step_key="s9", data=data, usage=None,
                        prev_hash=prev_hash, schema=schema)
    return (
        "INSERT INTO events(run_id, seq, time, type, actor, step_key, data, usage, prev_hash,"
        " hash, schema) VALUES ('run-b', ?, ?, 'tool.started', 'agent:clerk', 's9', ?, NULL,"
        " ?, ?, ?)",
        (seq, time, json.dumps(data), prev_hash, digest, schema),
    )


def event_hash_of(path: Path, seq: int) -> str:
    return str(read_row(path, "SELECT hash FROM events WHERE run_id = 'run-b' AND seq = ?",
                        (seq,))[0])


@pytest_asyncio.fixture
async def journal_file(tmp_path: Path) -> Path:
    path = tmp_path / "journal.db"
    await populate(path)
    return path


# -- the untouched file -----------------------------------------------------------------------


async def test_untouched_file_verifies(journal_file: Path) -> None:
    report = await audit(journal_file)
    assert (report.ok, report.runs, report.events) == (True, 3, TOTAL_EVENTS)


# -- edits --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value", "seq"),
    [
        ("data", '{"result":{"refunded":12000}}', 4),
        ("data", '{"result":{"refunded":120},"extra":true}', 4),
        ("data", '{"workflow":"flow","workflow_hash":"' + "cd" * 32
         + '","input":{"q":"退款"},"tenant":"default"}', 1),
        ("actor", "user:mallory", 2),
        ("time", "2020-01-01T00:00:00.000000Z", 5),
        ("type", "tool.failed", 4),
        ("step_key", "s9", 3),
        ("usage", '{"input_tokens":1,"output_tokens":5}', 5),
        ("schema", 2, 6),
        ("hash", "f" * 64, 3),
    ],
)
async def test_edited_event_field(journal_file: Path, column: str, value: Any, seq: int) -> None:
    attack(journal_file, (f"UPDATE events SET {column} = ? WHERE run_id = 'run-b' AND seq = ?",
                          (value, seq)))
    brk = only_break(await audit(journal_file))
    assert (brk.run_id, brk.seq) == ("run-b", seq)
    assert "changed" in brk.reason


async def test_edited_data_reason_names_the_event_type(journal_file: Path) -> None:
    attack(journal_file, ("UPDATE events SET data = ? WHERE run_id = 'run-b' AND seq = 4",
                          ('{"result":{"refunded":12000}}',)))
    brk = only_break(await audit(journal_file))
    assert (brk.run_id, brk.seq) == ("run-b", 4)
    assert "tool.completed" in brk.reason
    assert "hash" in brk.reason


async def test_edit_with_recomputed_hash_breaks_the_next_link(journal_file: Path) -> None:
    # The attacker edits event 4 and recomputes its own hash: event 4 is self-consistent, so the
    # break shows where the chain no longer links - event 5, whose prev_hash still names the
    # original event 4.
    row = read_row(journal_file, "SELECT time, type, actor, step_key, usage, prev_hash, schema"
                   " FROM events WHERE run_id = 'run-b' AND seq = 4")
    time, type_, actor, step_key, usage, prev_hash, schema = row
    data = {"result": {"refunded": 12000}}
    digest = event_hash(run_id="run-b", seq=4, time=time, type=type_, actor=actor,
                        step_key=step_key, data=data,
                        usage=None if usage is None else json.loads(usage),
                        prev_hash=prev_hash, schema=schema)
    attack(journal_file, ("UPDATE events SET data = ?, hash = ? WHERE run_id = 'run-b'"
                          " AND seq = 4", (json.dumps(data), digest)))
    brk = only_break(await audit(journal_file))
    assert (brk.run_id, brk.seq) == ("run-b", 5)
    assert "prev_hash" in brk.reason


# -- deletions and reordering -------------------------------------------------------------------


async def test_deleted_middle_event(journal_file: Path) -> None:
    attack(journal_file, ("DELETE FROM events WHERE run_id = 'run-b' AND seq = 3", ()))
    brk = only_break(await audit(journal_file))
    assert (brk.run_id, brk.seq) == ("run-b", 3)
    assert "missing" in brk.reason


async def test_deleted_middle_event_with_renumbering(journal_file: Path) -> None:
    attack(journal_file,
           ("DELETE FROM events WHERE run_id = 'run-b' AND seq = 3", ()),
           *[("UPDATE events SET seq = ? WHERE run_id = 'run-b' AND seq = ?", (s - 1, s))
             for s in (4, 5, 6)],
           ("UPDATE runs SET last_seq = 5 WHERE id = 'run-b'", ()))
    brk = only_break(await audit(journal_file))
    assert (brk.run_id, brk.seq) == ("run-b", 3)
    assert "prev_hash" in brk.reason


async def test_deleted_last_event(journal_file: Path) -> None:
    attack(journal_file, ("DELETE FROM events WHERE run_id = 'run-b' AND seq = 6", ()))
    brk = only_break(await audit(journal_file))
    assert (brk.run_id, brk.seq) == ("run-b", 6)
    assert "removed" in brk.reason


async def test_deleted_last_event_with_last_seq_fixed(journal_file: Path) -> None:
    # The attacker also fixes runs.last_seq; the run record's head_hash still names the removed
    # event, so the truncation is still caught (against the run as a whole).
    attack(journal_file,
           ("DELETE FROM events WHERE run_id = 'run-b' AND seq = 6", ()),
           ("UPDATE runs SET last_seq = 5 WHERE id = 'run-b'", ()))
    brk = only_break(await audit(journal_file))
    assert brk.run_id == "run-b"
    assert brk.seq is None
    assert "removed" in brk.reason
    assert event_hash_of(journal_file, 5)[:12] in brk.reason


async def test_truncation_with_rewritten_head_is_not_detectable_inside(
    journal_file: Path,
) -> None:
    # Known limit of a hash chain kept in the same database: an attacker who deletes the LAST
    # events and also rewrites runs.last_seq and runs.head_hash to the new last event leaves a
    # shorter chain that is internally consistent. Detecting this needs the head hash anchored
    # outside the file (exported, signed or witnessed elsewhere). We only check that the rest
    # of the audit is unaffected and assert nothing about run-b being caught.
    attack(journal_file,
           ("DELETE FROM events WHERE run_id = 'run-b' AND seq = 6", ()),
           ("UPDATE runs SET last_seq = 5, head_hash = ? WHERE id = 'run-b'",
            (event_hash_of(journal_file, 5),)))
    report = await audit(journal_file)
    assert report.runs == 3
    assert report.events == TOTAL_EVENTS - 1
    assert all(b.run_id == "run-b" for b in report.breaks)


async def test_swapped_events(journal_file: Path) -> None:
    attack(journal_file,
           ("UPDATE events SET seq = -1 WHERE run_id = 'run-b' AND seq = 3", ()),
           ("UPDATE events SET seq = 3 WHERE run_id = 'run-b' AND seq = 4", ()),
           ("UPDATE events SET seq = 4 WHERE run_id = 'run-b' AND seq = -1", ()))
    brk = only_break(await audit(journal_file))
    assert (brk.run_id, brk.seq) == ("run-b", 3)
    assert "prev_hash" in brk.reason


# -- blobs --------------------------------------------------------------------------------------


async def test_edited_blob_body(journal_file: Path) -> None:
    digest = sha256_hex(canonical_json(PAYLOAD_B))
    attack(journal_file, ("UPDATE blobs SET body = ? WHERE hash = ?",
                          (canonical_json({"document": "退款申请，订单 #9999。"}), digest)))
    brk = only_break(await audit(journal_file))
    assert (brk.run_id, brk.seq) == ("run-b", 3)
    assert "blob" in brk.reason
    assert "payload" in brk.reason


async def test_deleted_blob(journal_file: Path) -> None:
    digest = sha256_hex(canonical_json(PAYLOAD_B))
    attack(journal_file, ("DELETE FROM blobs WHERE hash = ?", (digest,)))
    brk = only_break(await audit(journal_file))
    assert (brk.run_id, brk.seq) == ("run-b", 3)
    assert "missing" in brk.reason


@pytest.mark.parametrize("body", ["x'7b7d'", "'not json'"], ids=["a BLOB", "unreadable"])
async def test_a_blob_body_that_no_longer_reads(journal_file: Path, body: str) -> None:
    """A blob's text edited into a BLOB or into what is no JSON: the audit names the event, the
    run still reads (the value stays a reference, as for a missing blob) and fetching the blob
    says which one cannot be read, instead of failing on the JSON."""
    digest = sha256_hex(canonical_json(PAYLOAD_B))
    attack(journal_file, (f"UPDATE blobs SET body = {body} WHERE hash = ?", (digest,)))
    brk = only_break(await audit(journal_file))
    assert (brk.run_id, brk.seq) == ("run-b", 3) and "blob" in brk.reason
    store = SQLiteJournal(journal_file, create=False)
    events = await store.events("run-b")
    assert events[2].data["payload"] == {"$blob": digest}
    with pytest.raises(JournalError, match=f"blob {digest} .* cannot be read"):
        await store.get_blob(digest)
    await store.close()


# -- the run record ----------------------------------------------------------------------------


async def test_deleted_run_row(journal_file: Path) -> None:
    attack(journal_file, ("DELETE FROM runs WHERE id = 'run-b'", ()))
    report = await audit(journal_file)
    assert report.runs == 3  # found through its events
    brk = only_break(report)
    assert (brk.run_id, brk.seq) == ("run-b", None)
    assert "run record is gone" in brk.reason


# -- forged events -----------------------------------------------------------------------------


async def test_forged_event_with_wrong_prev_hash(journal_file: Path) -> None:
    # The attacker appends event 7 with a correctly computed hash but a made-up prev_hash, and
    # updates the run record to match.
    insert = forged_event(journal_file, 7, "e" * 64)
    attack(journal_file, insert,
           ("UPDATE runs SET last_seq = 7, head_hash = ? WHERE id = 'run-b'", (insert[1][4],)))
    brk = only_break(await audit(journal_file))
    assert (brk.run_id, brk.seq) == ("run-b", 7)
    assert "prev_hash" in brk.reason


async def test_forged_event_replacing_a_middle_one(journal_file: Path) -> None:
    attack(journal_file,
           ("DELETE FROM events WHERE run_id = 'run-b' AND seq = 4", ()),
           forged_event(journal_file, 4, "e" * 64))
    brk = only_break(await audit(journal_file))
    assert (brk.run_id, brk.seq) == ("run-b", 4)
    assert "prev_hash" in brk.reason


async def test_appended_event_without_run_record(journal_file: Path) -> None:
    # A perfectly chained extra event that the run record does not know about.
    attack(journal_file, forged_event(journal_file, 7, event_hash_of(journal_file, 6)))
    brk = only_break(await audit(journal_file))
    assert brk.run_id == "run-b"
    assert "says 6 events" in brk.reason
    assert "holds 7" in brk.reason


# -- regressions: bugs this suite found once -----------------------------------------------


async def test_event_data_that_is_not_json(journal_file: Path) -> None:
    attack(journal_file, ("UPDATE events SET data = '{not json' WHERE run_id = 'run-b'"
                          " AND seq = 4", ()))
    brk = only_break(await audit(journal_file))
    assert (brk.run_id, brk.seq) == ("run-b", 4)


async def test_verify_unknown_run(journal_file: Path) -> None:
    try:
        report = await audit(journal_file, ["no-such-run"])
    except RunNotFoundError:
        return
    assert all("events exist" not in b.reason for b in report.breaks)


async def test_appended_event_reason_does_not_say_removed(journal_file: Path) -> None:
    attack(journal_file, forged_event(journal_file, 7, event_hash_of(journal_file, 6)))
    brk = only_break(await audit(journal_file))
    assert "removed" not in brk.reason


# -- the command line ---------------------------------------------------------------------------


def cli(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("agentplane")
    assert exe.exists(), f"console script {exe} is missing: pip install -e . in the venv"
    env = {**os.environ, "AGENTPLANE_HOME": str(path.parent / "home"), "COLUMNS": "200",
           "NO_COLOR": "1"}
    env.pop("AGENTPLANE_DB", None)
    return subprocess.run(
        [str(exe), "audit", "verify", "--db", f"sqlite:///{path}", *args],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )


async def test_cli_audit_verify(journal_file: Path) -> None:
    clean = cli(journal_file)
    assert clean.returncode == 0, clean.stderr
    assert "chain holds" in clean.stdout
    clean_json = json.loads(cli(journal_file, "--json").stdout)
    assert clean_json == {"ok": True, "runs": 3, "events": TOTAL_EVENTS, "breaks": []}

    attack(journal_file, ("UPDATE events SET actor = 'user:mallory' WHERE run_id = 'run-b'"
                          " AND seq = 4", ()))
    broken = cli(journal_file)
    assert broken.returncode == 1, broken.stderr
    assert "run-b" in broken.stdout
    assert "event 4" in broken.stdout
    assert "run-a" not in broken.stdout

    broken_json = cli(journal_file, "--json")
    assert broken_json.returncode == 1
    report = json.loads(broken_json.stdout)
    assert report["ok"] is False
    assert [(b["run_id"], b["seq"]) for b in report["breaks"]] == [("run-b", 4)]
    assert report["breaks"][0]["reason"]

    only_a = cli(journal_file, "--run", "run-a")
    assert only_a.returncode == 0, only_a.stdout
