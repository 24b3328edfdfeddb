"""Faults, as classes: the journal's file removed or replaced under a live server (writes are
refused with 503 and nothing is lost; ``/health`` turns unhealthy), a disk nearly full, and any
fault in a request — always a JSON answer with a reason, never a traceback or a plain-text 500;
the worker backs off instead of logging every second."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agentplane.journal import JournalUnavailableError, SQLiteJournal
from agentplane.server import Plane

from .live import Api, as_, finished, live_server


@pytest.fixture
def served(db: Path, keys: dict[str, str]) -> Iterator[tuple[str, Plane]]:
    planes: list[Plane] = []
    with live_server(db, planes=planes) as url:
        yield url, planes[0]


def _runs_in(db: Path) -> set[str]:
    with sqlite3.connect(db) as raw:
        return {row[0] for row in raw.execute("SELECT id FROM runs")}


@pytest.mark.parametrize("fault", ["removed", "replaced"])
def test_a_journal_file_gone_under_the_server_refuses_writes(
        served: tuple[str, Plane], keys: dict[str, str], db: Path, fault: str) -> None:
    base, _ = served
    operator = as_(base, keys, "operator")
    before = operator.ok("POST", "/runs", {"workflow": "refund-desk", "input": "Refund A1"})
    operator.wait_for(before["id"], finished)
    kept = db.with_name("kept.db")
    with sqlite3.connect(db) as live, sqlite3.connect(kept) as copy:
        live.backup(copy)  # what an operator would restore from
    db.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    if fault == "replaced":
        shutil.copy(kept, db)
    health = httpx.get(f"{base}/api/v1/health")
    assert health.status_code == 503
    assert health.json()["status"] == "unhealthy"
    assert health.json()["journal"]["present"] is False
    assert fault in health.json()["error"]
    refused = operator.post("/runs", {"workflow": "refund-desk", "input": "Refund A2"})
    assert refused.status_code == 503
    assert fault in refused.json()["error"] and "nothing was recorded" in refused.json()["error"]
    # key management is refused the same way (same file)
    created = as_(base, keys, "admin").post("/keys", {"name": "x", "role": "viewer"})
    assert created.status_code == 503
    # nothing was accepted that a restart would lose
    assert (_runs_in(db) if db.exists() else set()) <= {before["id"]}


def test_a_nearly_full_disk_makes_health_unhealthy(served: tuple[str, Plane]) -> None:
    base, plane = served
    assert httpx.get(f"{base}/api/v1/health").status_code == 200
    assert isinstance(plane.store, SQLiteJournal)
    plane.store.min_free_bytes = 2**62  # more than any disk has free
    health = httpx.get(f"{base}/api/v1/health")
    assert health.status_code == 503
    assert "free on the journal's disk" in health.json()["error"]
    assert health.json()["journal"]["free_bytes"] > 0


async def test_a_store_refuses_writes_once_its_file_is_replaced(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    store = SQLiteJournal(path)
    await store.create_run(run_id="r1", workflow="w", workflow_hash="h", input=None, meta={})
    os.replace(SQLiteJournal(tmp_path / "other.db").path, path)
    with pytest.raises(JournalUnavailableError, match="replaced"):
        await store.create_run(run_id="r2", workflow="w", workflow_hash="h", input=None,
                               meta={})
    assert not (await store.health()).ok
    await store.close()


def test_a_database_error_under_the_server_says_what_to_do(
        served: tuple[str, Plane], keys: dict[str, str], db: Path) -> None:
    base, _ = served
    with sqlite3.connect(db) as raw:
        raw.execute("DROP TABLE runs")
    answer = as_(base, keys, "viewer").get("/runs")
    assert answer.status_code == 503
    assert "no such table" in answer.json()["error"]
    assert "not a journal" in answer.json()["error"]  # journal.health.storage_hint's words


def test_every_fault_in_a_request_is_a_json_answer(served: tuple[str, Plane],
                                                   keys: dict[str, str]) -> None:
    base, _ = served
    operator = as_(base, keys, "operator")
    # A lone surrogate is valid JSON (as an escape) but not UTF-8: the run is accepted and the
    # journal's boundary replaces it, never a 500.
    started = operator.http.post(
        "/runs", content=b'{"workflow": "refund-desk", "input": "\\ud800"}',
        headers={"content-type": "application/json"})
    assert started.status_code == 201, started.text
    run = operator.http.get(f"/runs/{started.json()['id']}").json()
    assert run["input"] == "\ufffd"
    probes = [
        operator.http.post("/runs", content=b"\xff\xfe", headers={
            "content-type": "application/json"}),
        operator.http.post("/runs", content=b"[]", headers={"content-type": "application/json"}),
        operator.http.post("/runs", content=b"x", headers={"content-type": "text/plain"}),
        operator.http.get("/runs", params={"limit": "many"}),
        operator.http.get("/runs/r1/events", params={"after": str(2**70)}),
        operator.http.get("/runs/r1/stream", headers={"Last-Event-ID": str(2**70)}),
        operator.http.get("/nowhere"),
        operator.http.request("PATCH", "/runs"),
    ]
    for response in probes:
        assert response.headers["content-type"] == "application/json", response.text
        answer = response.json()
        assert answer["status"] == response.status_code
        assert answer["error"] and "Traceback" not in answer["error"]
        assert response.status_code != 500 or "ref " in answer["error"]


def test_options_and_405_name_every_method_of_the_path(served: tuple[str, Plane],
                                                       keys: dict[str, str]) -> None:
    base, _ = served
    for path, methods in (("/api/v1/runs", {"GET", "POST"}),
                          ("/api/v1/keys", {"GET", "POST"}),
                          ("/api/v1/keys/abc", {"DELETE"}),
                          ("/api/v1/runs/r1/cancel", {"POST"})):
        options = httpx.options(f"{base}{path}")
        assert options.status_code == 204
        assert set(options.headers["allow"].split(", ")) == methods | {"OPTIONS"}, path
        put = httpx.put(f"{base}{path}", headers={"Authorization": f"Bearer {keys['admin']}"})
        assert put.status_code == 405
        assert set(put.headers["allow"].split(", ")) == methods | {"OPTIONS"}, path


async def test_the_worker_backs_off_while_the_journal_cannot_be_written(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = SQLiteJournal(tmp_path / "j.db")
    plane = Plane.open(store)
    plane.poll_s = 0.001
    (tmp_path / "j.db").unlink()
    with caplog.at_level(logging.WARNING, logger="agentplane.worker"):
        await plane.start()
        assert plane.driver is not None
        assert [plane.driver.backoff_s(n) for n in range(4)] == [0.001, 0.002, 0.004, 0.008]
        assert plane.driver.backoff_s(100) == 60.0
        for _ in range(200):  # a few hundred rounds' worth of polls
            await _tick()
        await plane.stop()
    lines = [r for r in caplog.records if "cannot take runs" in r.getMessage()]
    assert 1 <= len(lines) <= 2
    assert all(r.exc_info is None for r in lines)  # one line, no traceback


async def _tick() -> None:
    import asyncio

    await asyncio.sleep(0.001)


def test_health_needs_no_key_and_shows_no_secret(served: tuple[str, Plane], db: Path) -> None:
    base, _ = served
    health = Api(base, None).get("/health").json()
    assert str(db) not in str(health)
    assert health["journal"]["writable"] is True


async def test_a_journal_busy_with_another_writer_is_still_healthy(tmp_path: Path) -> None:
    store = SQLiteJournal(tmp_path / "j.db")
    other = sqlite3.connect(tmp_path / "j.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process writing: the lock is taken
    try:
        health = await store.health()
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert health.ok and health.writable
    await store.close()


def test_a_record_edited_out_of_shape_is_named_not_an_internal_error(
        served: tuple[str, Plane], keys: dict[str, str], db: Path) -> None:
    """A row a hand edit left holding what the journal never writes (a BLOB in a TEXT column)
    answers 500 with the run and the column named, and the server goes on serving."""
    base, _ = served
    operator = as_(base, keys, "operator")
    first = operator.ok("POST", "/runs", {"workflow": "refund-desk", "input": "Refund A1"})
    second = operator.ok("POST", "/runs", {"workflow": "refund-desk", "input": "Refund A2"})
    for run in (first, second):
        operator.wait_for(run["id"], finished)
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE events SET actor = x'00' WHERE run_id = ? AND seq = 2",
                    (first["id"],))
        raw.execute("UPDATE runs SET status = x'00' WHERE id = ?", (second["id"],))
    for path, said in [(f"/runs/{first['id']}/events", "its actor column holds a BLOB"),
                       (f"/runs/{second['id']}", "its status column holds a BLOB")]:
        answer = operator.get(path)
        assert answer.status_code == 500, answer.text
        assert said in answer.json()["error"] and "Traceback" not in answer.json()["error"]
    assert httpx.get(f"{base}/api/v1/health").status_code == 200
