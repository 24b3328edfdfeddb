"""Webhook triggers over real HTTP on loopback: signed deliveries, retries, schemas; and the
triggers API (list, enable / disable, manual fire)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentplane.journal import EventType, open_store
from agentplane.triggers.webhook import sign
from tests.triggers.conftest import write_workflow

from .live import live_server

SECRET = "s3cret-for-tests"
SCHEMA = {"type": "object", "required": ["ticket"],
          "properties": {"ticket": {"type": "integer"}, "title": {"type": "string"}}}


@pytest.fixture
def hooked(tmp_path: Path, db: Path, keys: dict[str, str],
           monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("TICKETS_SECRET", SECRET)
    flow = write_workflow(tmp_path, name="ticket-triage", triggers=[
        {"name": "tickets", "webhook": {"secret_env": "TICKETS_SECRET", "schema": SCHEMA}},
        {"name": "nightly", "schedule": "0 2 * * *", "timezone": "Europe/Berlin",
         "input": {"mode": "nightly"}}])
    with live_server(db, [flow]) as url:
        yield url


def post(url: str, body: bytes, *, delivery: str | None = "d-1",
         signature: str | None = None) -> httpx.Response:
    headers = {"Content-Type": "application/json",
               "X-Agentplane-Signature": signature or sign(SECRET, body)}
    if delivery is not None:
        headers["X-GitHub-Delivery"] = delivery
    return httpx.post(f"{url}/hooks/tickets", content=body, headers=headers)


def runs(db: Path) -> list[Any]:
    async def read() -> list[Any]:
        store = open_store(f"sqlite:///{db}")
        try:
            return [(r, await store.events(r.id)) for r in await store.list_runs()]
        finally:
            await store.close()

    return asyncio.run(read())


def test_a_delivery_retried_five_times_starts_one_run(hooked: str, db: Path) -> None:
    body = json.dumps({"ticket": 42, "title": "printer on fire"}).encode()
    answers = [post(hooked, body) for _ in range(5)]
    assert [a.status_code for a in answers] == [202, 200, 200, 200, 200]
    assert len({a.json()["run_id"] for a in answers}) == 1
    assert [a.json()["started"] for a in answers] == [True] + [False] * 4
    found = runs(db)
    assert len(found) == 1
    run, events = found[0]
    assert run.input == {"ticket": 42, "title": "printer on fire"}
    fired = next(e for e in events if e.type == EventType.TRIGGER_FIRED)
    assert fired.data["key"] == "d-1" and fired.data["kind"] == "webhook"
    assert fired.data["detail"]["header"] == "x-github-delivery"
    # another delivery id is another run
    assert post(hooked, body, delivery="d-2").status_code == 202
    assert len(runs(db)) == 2
    # without a delivery id, the body's digest is the key: the same body is one delivery
    bare = json.dumps({"ticket": 43}).encode()
    first, retry = post(hooked, bare, delivery=None), post(hooked, bare, delivery=None)
    assert (first.status_code, retry.status_code) == (202, 200)
    assert first.json()["delivery"] == "sha256:" + hashlib.sha256(bare).hexdigest()
    assert len(runs(db)) == 3


def test_a_bad_signature_is_401_and_starts_nothing(hooked: str, db: Path) -> None:
    body = json.dumps({"ticket": 1}).encode()
    forged = post(hooked, body, signature=sign("not-the-secret", body))
    assert forged.status_code == 401
    assert "signature does not match" in forged.json()["error"]
    unsigned = httpx.post(f"{hooked}/hooks/tickets", content=body)
    assert unsigned.status_code == 401 and "not signed" in unsigned.json()["error"]
    changed = post(hooked, json.dumps({"ticket": 2}).encode(), signature=sign(SECRET, body))
    assert changed.status_code == 401
    assert runs(db) == []


def test_a_payload_against_the_schema_is_422_naming_where(hooked: str, db: Path) -> None:
    answer = post(hooked, json.dumps({"ticket": "forty-two"}).encode())
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["status"] == 422
    assert problem["problems"] == [{"where": "body.ticket",
                                    "problem": "'forty-two' is not of type 'integer'"}]
    not_json = post(hooked, b"{not json")
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["error"]
    assert httpx.post(f"{hooked}/hooks/nope", content=b"{}").status_code == 404
    assert runs(db) == []


def test_the_triggers_api_lists_switches_and_fires(hooked: str, db: Path,
                                                   keys: dict[str, str]) -> None:
    viewer = {"Authorization": f"Bearer {keys['root']}"}
    assert post(hooked, json.dumps({"ticket": 7}).encode(), delivery="first").status_code == 202
    listed = httpx.get(f"{hooked}/api/v1/triggers?tenant=default", headers=viewer).json()
    by_name = {row["trigger"]: row for row in listed}
    assert by_name["tickets"]["kind"] == "webhook" and by_name["tickets"]["fires"] == 1
    assert by_name["tickets"]["last_run"] is not None
    assert by_name["nightly"]["kind"] == "schedule"
    assert by_name["nightly"]["next_fire"].endswith(("01:00:00Z", "00:00:00Z"))  # 02:00 Berlin
    off = httpx.post(f"{hooked}/api/v1/triggers/ticket-triage/tickets/disable?tenant=default",
                     headers=viewer)
    assert off.status_code == 200 and off.json()["enabled"] is False
    refused = post(hooked, json.dumps({"ticket": 8}).encode(), delivery="second")
    assert refused.status_code == 409 and "disabled" in refused.json()["error"]
    httpx.post(f"{hooked}/api/v1/triggers/ticket-triage/tickets/enable?tenant=default",
               headers=viewer)
    assert post(hooked, json.dumps({"ticket": 8}).encode(), delivery="second"
                ).status_code == 202
    fired = httpx.post(f"{hooked}/api/v1/triggers/ticket-triage/nightly/fire",
                       headers=viewer, json={"tenant": "default", "key": "by-hand-1"})
    assert fired.status_code == 201 and fired.json()["started"] is True
    again = httpx.post(f"{hooked}/api/v1/triggers/ticket-triage/nightly/fire",
                       headers=viewer, json={"tenant": "default", "key": "by-hand-1"})
    assert again.json() == {"run_id": fired.json()["run_id"], "started": False}
    fires = httpx.get(f"{hooked}/api/v1/triggers/ticket-triage/tickets/fires?tenant=default",
                      headers=viewer).json()
    assert [f["key"] for f in fires] == ["second", "first"]
    reader = {"Authorization": f"Bearer {keys['viewer']}"}
    assert httpx.post(f"{hooked}/api/v1/triggers/ticket-triage/tickets/disable",
                      headers=reader).status_code == 403
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the server drives the runs it started
        if all(r.status == "completed" for r, _ in runs(db)):
            break
        time.sleep(0.1)
    found = runs(db)
    assert len(found) == 3 and all(r.status == "completed" for r, _ in found)
    manual = next(r for r, _ in found if r.id == fired.json()["run_id"])
    assert manual.input == {"mode": "nightly"}


def test_a_run_started_over_the_api_may_be_deferred(tmp_path: Path, db: Path,
                                                    keys: dict[str, str]) -> None:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    points = [{"start": (hour + timedelta(hours=h)).isoformat(), "carbon": c}
              for h, c in enumerate([420, 380, 120, 300])]
    (tmp_path / "grid.json").write_text(json.dumps({"points": points}))
    flow = write_workflow(tmp_path, name="batch", triggers=[],
                          defer={"within": "1h", "prefer": "cheapest", "signal": "grid.json"})
    root = {"Authorization": f"Bearer {keys['root']}"}
    with live_server(db, [flow]) as url:
        started = httpx.post(f"{url}/api/v1/runs", headers=root, json={
            "workflow": "batch", "tenant": "default",
            "defer": {"within": "6h", "prefer": "greenest"}})
        assert started.status_code == 201, started.text
        run_id = started.json()["id"]
        assert started.json()["status"] == "waiting"
        events = httpx.get(f"{url}/api/v1/runs/{run_id}/events", headers=root).json()
        deferred = next(e for e in events if e["type"] == "run.deferred")
        assert deferred["data"]["prefer"] == "greenest"
        assert deferred["data"]["start_at"] == (hour + timedelta(hours=2)).isoformat(
            ).replace("+00:00", "Z")
        bad = httpx.post(f"{url}/api/v1/runs", headers=root, json={
            "workflow": "batch", "tenant": "default", "defer": {"within": "soon"}})
        assert bad.status_code in (400, 422) and "defer within 'soon'" in bad.json()["error"]


def test_two_servers_on_one_database_fire_each_slot_once(tmp_path: Path, db: Path) -> None:
    flow = write_workflow(tmp_path, name="minutely", triggers=[
        {"name": "tick", "schedule": "* * * * *"}])
    planes: list[Any] = []
    with live_server(db, [flow], planes=planes), live_server(db, [flow], planes=planes):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not runs(db):
            time.sleep(0.1)
        time.sleep(1.5)  # both schedulers have ticked more than once since
        assert all(p.scheduler is not None for p in planes) and len(planes) == 2
        found = runs(db)
    keys = [e.data["key"] for _, events in found for e in events
            if e.type == EventType.TRIGGER_FIRED]
    assert len(found) >= 1 and len(keys) == len(set(keys)) == len(found)
