"""Conformance of the tables other components keep through ``storage``: the usage ledger, API
keys, the agent registry and telemetry cursors, each on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from agentplane.governance.keys import KeyRing
from agentplane.journal import JournalStore, open_store
from agentplane.metering.ledger import Meter, UsageLedger, Window
from agentplane.metering.reports import usage_report
from agentplane.metering.usage import ACTION, MODEL, OUTCOME, UsageEvent
from agentplane.storage import Database, schema_versions
from agentplane.telemetry._cursor import Cursor
from agentplane.tools.sources.registry import AgentEntry, Registry


def _usage(i: int, kind: str, **kw: object) -> UsageEvent:
    fields: dict[str, object] = {"run_id": f"r{i % 2}", "tenant": "acme", "workflow": "desk",
                                 "tags": {"department": "sales" if i % 2 else "support",
                                          "cost": {"centre": "c7"}}}
    fields.update(kw)
    return UsageEvent(f"u{i}", kind, "2026-11-05T10:00:00Z", **fields)  # type: ignore[arg-type]


def test_ledger_ingests_once_and_reports(database: Database) -> None:
    ledger = UsageLedger(database)
    events = [_usage(i, MODEL, model="m", input_tokens=3_000_000_000, output_tokens=10,
                     cost_usd=0.25) for i in range(4)]
    events += [_usage(10 + i, ACTION, tool="sms") for i in range(3)]
    events += [_usage(20, OUTCOME, outcome="resolved")]
    assert ledger.ingest(events) == len(events)
    assert ledger.ingest(events) == 0  # the same ids: nothing counted twice
    assert ledger.ingest([*events[:2], _usage(30, ACTION, tool="sms")]) == 1
    nov = Window.month(2026, 11)
    # tokens beyond 32 bits are kept exactly
    assert ledger.measure(Meter("t", "sum", "input_tokens", MODEL), nov) == [
        ((), 12_000_000_000.0)]
    assert ledger.measure(Meter("a", "count", type=ACTION), nov) == [((), 4.0)]
    [(centre, cost)] = ledger.measure(Meter("c", "sum", "cost_usd", MODEL,
                                            group_by=("cost.centre",)))
    assert centre == ("c7",) and cost == pytest.approx(1.0)
    rows = usage_report(ledger, nov, by=["department"])
    assert {r["department"]: (r["model_calls"], r["actions"], r["outcomes"]) for r in rows} == {
        "sales": (2, 1, 0), "support": (2, 3, 1)}
    assert all(isinstance(r["model_calls"], int) for r in rows)
    assert schema_versions(database)["usage"] == 2
    ledger.close()
    assert database.query_one("SELECT COUNT(*) FROM usage_events") == (9,)  # shared: still open


def test_keys_create_verify_revoke_rotate(database_url: str) -> None:
    ring = KeyRing(database_url)
    assert not ring.any_live()
    key, token = ring.create("ci", role="operator", tenant="acme")
    other, _ = ring.create("ops", role="admin", tenant="*")
    assert ring.any_live()
    assert ring.authenticate(token) == key
    assert ring.authenticate(token + "x") is None
    assert ring.authorize(token, "run", "acme") == key
    assert ring.authorize(token, "admin", "acme") is None
    assert ring.authorize(token, "run", "globex") is None
    assert [k.id for k in ring.list()] == [key.id, other.id]
    assert [k.id for k in ring.list(tenant="acme")] == [key.id]
    again = KeyRing(database_url)  # another process, same database
    assert again.authenticate(token) == key
    revoked = again.revoke(key.id)
    assert revoked.revoked_at is not None
    assert ring.authenticate(token) is None
    assert [k.id for k in ring.list()] == [other.id]
    assert [k.id for k in ring.list(include_revoked=True)] == [key.id, other.id]
    rotated, new_token = ring.rotate(key.id)
    assert rotated.revoked_at is None and rotated.id == key.id
    assert ring.authenticate(new_token) == rotated and ring.authenticate(token) is None
    again.close()
    ring.close()


def test_registry_add_list_and_round_robin(database_url: str) -> None:
    registry = Registry(database_url)
    entry = AgentEntry(id="desk", version="1", owner="us", description="Refunds.",
                       capabilities=["refunds"], trust="trusted", price={"per_task_usd": 0.5},
                       replicas=["http://a", "http://b"])
    stored = registry.register(entry)
    registry.register(AgentEntry(id="desk", version="2", owner="us", description="Refunds.",
                                 capabilities=["refunds"], replicas=["http://b"]))
    assert [(e.id, e.version) for e in registry.list()] == [("desk", "2")]
    assert [e.version for e in registry.list(all_versions=True)] == ["2", "1"]
    assert registry.get("desk", "1") == stored
    for _ in range(registry.max_failures):
        registry.record_health("http://b", False, 3.5, "refused")
    assert registry.health("http://b").failures == registry.max_failures
    assert registry.record_health("http://b", True, 2.0).failures == 0
    assert registry.remove("desk", "2") == 1
    assert [registry.pick("desk") for _ in range(3)] == ["http://a", "http://b", "http://a"]
    registry.close()


@pytest_asyncio.fixture
async def store() -> AsyncIterator[JournalStore]:
    journal = open_store("sqlite:///:memory:")
    yield journal
    await journal.close()


def test_cursor_get_set_survives_a_restart(database: Database, store: JournalStore) -> None:
    cursor = Cursor(store, "tracer", database=database)
    assert cursor.get() is None
    cursor.set(41)
    cursor.set(5_000_000_000)
    again = Cursor(store, "tracer", database=database)
    assert again.get() == 5_000_000_000
    assert Cursor(store, "other", database=database).get() is None
    cursor.close()
    assert database.query("SELECT name, position FROM telemetry_cursor") == [
        ("tracer", 5_000_000_000)]
