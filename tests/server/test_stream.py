"""Server-Sent Events: a run's live events in order, resumption with Last-Event-ID, and the
tenant-wide stream keeping to its tenant."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentplane.governance.keys import KeyRing

from .live import live_server


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    db = tmp_path / "agentplane.db"
    ring = KeyRing(db)
    keys = {"acme": ring.create("acme", role="admin", tenant="acme")[1],
            "beta": ring.create("beta", role="admin", tenant="beta")[1]}
    ring.close()
    with live_server(db) as base:
        yield base, keys


def sse(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Parse a text/event-stream into {id, event, data} messages (pings skipped)."""
    message: dict[str, Any] = {}
    for line in response.iter_lines():
        if not line:
            if "data" in message:
                yield message
            message = {}
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            message[field] = value.removeprefix(" ")


def headers(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}


def read_until(response: httpx.Response, last_type: str) -> list[dict[str, Any]]:
    out = []
    for message in sse(response):
        out.append(message)
        if message["event"] == last_type:
            break
    return out


def test_a_run_streams_live_in_order_and_resumes(setup: tuple[str, dict[str, str]]) -> None:
    base, keys = setup
    http = httpx.Client(base_url=base, headers=headers(keys["acme"]), timeout=30)
    run = http.post("/api/v1/runs", json={"workflow": "payment-approval", "input": "Pay"}).json()
    with http.stream("GET", f"/api/v1/runs/{run['id']}/stream") as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        before = read_until(response, "approval.requested")
    seqs = [int(m["id"]) for m in before]
    assert seqs == list(range(1, len(seqs) + 1))  # from the start, no gaps, no repeats
    assert [json.loads(m["data"])["seq"] for m in before] == seqs
    wait_id = json.loads(before[-1]["data"])["data"]["wait_id"]
    # Resume from the last id seen while the run goes on: only later events arrive.
    with http.stream("GET", f"/api/v1/runs/{run['id']}/stream",
                     headers={"Last-Event-ID": str(seqs[-1])}) as response:
        http.post(f"/api/v1/approvals/{wait_id}/approve", json={"reason": "ok"})
        after = read_until(response, "run.completed")
    later = [int(m["id"]) for m in after]
    assert later == list(range(seqs[-1] + 1, seqs[-1] + 1 + len(later)))
    types = [m["event"] for m in after]
    assert "approval.granted" in types and types[-1] == "run.completed"
    journal = http.get(f"/api/v1/runs/{run['id']}/events").json()
    assert [e["seq"] for e in journal] == seqs + later  # the stream lost nothing


def test_the_tenant_stream_keeps_to_its_tenant(setup: tuple[str, dict[str, str]]) -> None:
    base, keys = setup
    acme = httpx.Client(base_url=base, headers=headers(keys["acme"]), timeout=30)
    beta = httpx.Client(base_url=base, headers=headers(keys["beta"]), timeout=30)
    with beta.stream("GET", "/api/v1/events/stream") as response:
        acme.post("/api/v1/runs", json={"workflow": "refund-desk", "input": "Refund A1"})
        mine = beta.post("/api/v1/runs", json={"workflow": "refund-desk", "input": "Refund B2"})
        seen = read_until(response, "run.completed")
    run_ids = {json.loads(m["data"])["run_id"] for m in seen}
    assert run_ids == {mine.json()["id"]}
    # The ids are journal positions: resuming from the first replays the rest of that run.
    cursor = seen[0]["id"]
    with beta.stream("GET", "/api/v1/events/stream", params={"after": 0}) as response:
        replayed = read_until(response, "run.completed")
    assert [json.loads(m["data"])["seq"] for m in replayed] == [
        json.loads(m["data"])["seq"] for m in seen]
    assert int(cursor) > 0


def test_plain_messages_when_names_are_not_wanted(setup: tuple[str, dict[str, str]]) -> None:
    base, keys = setup
    http = httpx.Client(base_url=base, headers=headers(keys["acme"]), timeout=30)
    run = http.post("/api/v1/runs", json={"workflow": "refund-desk", "input": "Refund A1"}).json()
    with http.stream("GET", f"/api/v1/runs/{run['id']}/stream",
                     params={"named": "false"}) as response:
        messages = []
        for message in sse(response):
            messages.append(message)
            if json.loads(message["data"])["type"] == "run.completed":
                break
    assert messages and all("event" not in m for m in messages)
    assert [int(m["id"]) for m in messages] == list(range(1, len(messages) + 1))
