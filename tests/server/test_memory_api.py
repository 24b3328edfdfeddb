"""Memories over REST against a real server on loopback: listing by kind, status and subject,
quarantine and release (out of recall and back), delete and forget with an audit that keeps
no content, roles (approvers decide), tenants, and clear 4xx answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from agentplane.memory.store import MemoryStore
from agentplane.memory.types import Memory
from agentplane.storage import open_database

from .live import as_, live_server

SECRET = "prefers refunds to the card ending 4242"
"""Content that must never reach the audit."""


@pytest.fixture
def seeded(db: Path, keys: dict[str, str]) -> dict[str, str]:
    """Memories of tenants acme and beta, written as runs would; their ids by name."""
    database = open_database(f"sqlite:///{db}")
    store = MemoryStore(database)
    ids: dict[str, str] = {}
    ids["language"] = store.remember_fact(
        "acme", "C-1042", "preferred_language", "zh", source="run:run-1/support",
        trust="trusted", created_by="agent:support").id
    ids["card"] = store.remember_fact(
        "acme", "C-1042", "refund_method", "card", text=f"C-1042 {SECRET}",
        source="run:run-1/support", trust="untrusted", created_by="agent:support").id
    ids["case"] = store.write(Memory(
        id="", tenant="acme", kind="experiential", subject="C-1042",
        text="Damaged kettle, order A-77: refund of 680 CNY needed a supervisor's approval "
             "(over 500 CNY); approved, paid.", source="run:run-1", created_by="agent:support"
    )).id
    ids["other"] = store.write(Memory(
        id="", tenant="acme", kind="experiential", subject="C-7",
        text="Late delivery of order B-12, apologised, no refund.", source="run:run-2",
        created_by="agent:support")).id
    ids["beta"] = store.remember_fact(
        "beta", "C-1042", "preferred_language", "en", source="run:run-9/support",
        trust="trusted", created_by="agent:support").id
    database.close()
    return ids


@pytest.fixture
def served(db: Path, seeded: dict[str, str]) -> Iterator[str]:
    with live_server(db) as url:
        yield url


def _recalled(db: Path, query: str) -> set[str]:
    database = open_database(f"sqlite:///{db}")
    try:
        return {m.id for m, _ in MemoryStore(database).recall("acme", query, limit=10)}
    finally:
        database.close()


def test_readers_list_and_read_memories(served: str, keys: dict[str, str],
                                        seeded: dict[str, str]) -> None:
    viewer = as_(served, keys, "viewer")
    every = viewer.ok("GET", "/memories")
    assert {m["id"] for m in every} == {seeded[n] for n in ("language", "card", "case",
                                                            "other")}
    facts = viewer.get("/memories", kind="factual").json()
    assert {m["id"] for m in facts} == {seeded["language"], seeded["card"]}
    about = viewer.get("/memories", subject="C-1042", kind="experiential").json()
    assert [m["id"] for m in about] == [seeded["case"]]
    one = viewer.ok("GET", f"/memories/{seeded['card']}")
    assert (one["trust"], one["relation"], one["value"]) == ("untrusted", "refund_method",
                                                             "card")
    assert one["source"] == "run:run-1/support" and one["status"] == "active"
    beta = as_(served, keys, "beta viewer")
    assert [m["value"] for m in beta.ok("GET", "/memories")] == ["en"]
    missing = beta.get(f"/memories/{seeded['card']}")
    assert missing.status_code == 404
    assert missing.json()["error"] == f"no memory {seeded['card']!r}"


def test_approvers_quarantine_release_delete_and_forget(served: str, keys: dict[str, str],
                                                        seeded: dict[str, str], db: Path
                                                        ) -> None:
    approver = as_(served, keys, "approver")
    card = seeded["card"]
    assert card in _recalled(db, "refund card")
    held = approver.ok("POST", f"/memories/{card}/quarantine",
                       {"reason": "came from a customer's message"})
    assert held["status"] == "quarantined"
    assert card not in _recalled(db, "refund card")
    listed = approver.get("/memories", status="quarantined").json()
    assert [m["id"] for m in listed] == [card]
    back = approver.ok("POST", f"/memories/{card}/release", {"reason": "checked: harmless"})
    assert back["status"] == "active" and card in _recalled(db, "refund card")
    again = approver.post(f"/memories/{card}/release", {"reason": "twice"})
    assert again.status_code == 409 and "not quarantined" in again.json()["error"]

    deleted = approver.http.delete(f"/memories/{seeded['other']}",
                                   params={"reason": "wrong customer"})
    assert deleted.status_code == 200 and deleted.json() == {"id": seeded["other"],
                                                             "deleted": True}
    assert seeded["other"] not in {m["id"] for m in approver.ok("GET", "/memories")}
    assert approver.http.delete(f"/memories/{seeded['other']}").status_code == 404

    forgot = approver.ok("POST", "/memories/forget",
                         {"subject": "C-1042", "reason": "erasure request (rule DP-3)"})
    assert forgot == {"subject": "C-1042", "deleted": 3}
    assert approver.ok("GET", "/memories", None) == []
    assert _recalled(db, "C-1042 kettle refund zh") == set()

    audit = approver.ok("GET", "/memories/audit")
    assert [a["action"] for a in audit] == ["forget", "delete", "release", "quarantine"]
    assert audit[0]["subject"] == "C-1042" and audit[0]["count"] == 3
    assert set(audit[0]["memory_ids"]) == {seeded["language"], card, seeded["case"]}
    assert audit[1]["reason"] == "wrong customer"
    assert {a["actor"] for a in audit} == {f"key:{keys['approver'].split('_')[1]}"}
    assert SECRET not in str(audit) and "kettle" not in str(audit)
    # the other tenant's memories are untouched
    assert len(as_(served, keys, "beta viewer").ok("GET", "/memories")) == 1


def test_only_approvers_and_admins_govern_memory(served: str, keys: dict[str, str],
                                                 seeded: dict[str, str]) -> None:
    card = seeded["card"]
    why = {"reason": "test"}
    for who in ("viewer", "operator"):
        api = as_(served, keys, who)
        refused = api.post(f"/memories/{card}/quarantine", why)
        assert refused.status_code == 403, who
        assert "may not do this" in refused.json()["error"]
        assert api.http.delete(f"/memories/{card}").status_code == 403
        assert api.post("/memories/forget", {"subject": "C-1042", **why}).status_code == 403
        assert api.get("/memories/audit").status_code == 200  # reading is for every role
    admin = as_(served, keys, "admin")
    assert admin.ok("POST", f"/memories/{card}/quarantine", why)["status"] == "quarantined"
    beta = as_(served, keys, "beta operator")
    assert beta.post(f"/memories/{card}/quarantine", why).status_code == 403
    root = as_(served, keys, "root")
    other_tenant = root.post(f"/memories/{seeded['beta']}/quarantine", why)
    assert other_tenant.status_code == 404  # a '*' key acts on 'default' unless it names one
    named = root.post(f"/memories/{seeded['beta']}/quarantine", {**why, "tenant": "beta"})
    assert named.status_code == 200


def test_clear_errors_for_bad_requests(served: str, keys: dict[str, str],
                                       seeded: dict[str, str]) -> None:
    approver = as_(served, keys, "approver")
    card = seeded["card"]
    no_reason = approver.post(f"/memories/{card}/quarantine", {})
    assert no_reason.status_code == 422 and "body.reason" in no_reason.json()["error"]
    blank = approver.post("/memories/forget", {"subject": " ", "reason": "x"})
    assert blank.status_code == 422 and "body.subject" in blank.json()["error"]
    assert approver.get("/memories", kind="semantic").status_code == 422
    assert approver.get("/memories", limit=0).status_code == 422
    assert approver.post("/memories/nope/quarantine", {"reason": "x"}).status_code == 404
    assert approver.post("/memories/mem:nope/quarantine", {"reason": "x"}).status_code == 404
    assert approver.get("/memories/mem:nope").status_code == 404


def test_the_openapi_document_describes_the_memory_routes(served: str, keys: dict[str, str]
                                                          ) -> None:
    document: dict[str, Any] = httpx.get(
        f"{served}/openapi.json", headers={"Authorization": f"Bearer {keys['viewer']}"}).json()
    paths = document["paths"]
    assert set(paths["/api/v1/memories/{memory_id}"]) == {"get", "delete"}
    for path in ("/api/v1/memories", "/api/v1/memories/audit", "/api/v1/memories/forget",
                 "/api/v1/memories/{memory_id}/quarantine",
                 "/api/v1/memories/{memory_id}/release"):
        assert path in paths, path
    assert "403" in paths["/api/v1/memories/forget"]["post"]["responses"]
    # /memories/forget and /audit are never taken for a memory id
    allow = httpx.options(f"{served}/api/v1/memories/forget").headers["allow"]
    assert allow == "OPTIONS, POST"
    allow = httpx.options(f"{served}/api/v1/memories/mem:x").headers["allow"]
    assert allow == "DELETE, GET, OPTIONS"
