"""The usage ledger kept current as runs happen, and caught up from the journal when it is not:
on SQLite and on PostgreSQL alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agentplane.journal import Event, EventType, JournalStore, open_store
from agentplane.journal.store import CorruptRunError
from agentplane.metering.follow import usage_of
from agentplane.metering.ledger import (
    BIG_BATCH,
    COLUMNS,
    MIGRATIONS,
    UsageLedger,
    _row,
    _rows_of,
    ledger_for,
)
from agentplane.metering.usage import (
    ACTION,
    ACTIVE,
    ESCALATION,
    MODEL,
    OUTCOME,
    REMOTE_TASK_FINISHED,
    TASK,
    USAGE_TYPES,
    Price,
    RunTags,
    UsageEvent,
    derive,
)
from agentplane.runtime import Runtime
from agentplane.runtime.budgeted import RunMetering
from agentplane.storage import migrate, open_database

from .test_metering import call, flow, price, said

WORKFLOW = flow([call("lookup", item="a"), call("send_sms", to="+1"), said("done")],
                tags={"department": "support"}, outcome="ticket_resolved")


@pytest_asyncio.fixture
async def store(database_url: str) -> AsyncIterator[JournalStore]:
    journal = open_store(database_url)
    yield journal
    await journal.close()


def rows(ledger: UsageLedger) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in ledger.events()}


def stored(ledger: UsageLedger) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """The ledger as stored: every usage row, column by column (tags as their JSON text), and
    every run's place."""
    return (ledger.query(f"SELECT {', '.join(COLUMNS)} FROM usage_events ORDER BY id"),
            dict(ledger.query("SELECT run_id, seq FROM usage_runs")))


async def run_all(store: JournalStore, count: int) -> list[str]:
    runtime = Runtime(store, metering=RunMetering(store, pricer=price))
    ids = [(await runtime.run(WORKFLOW, "go", tenant=f"t{i % 2}")).id for i in range(count)]
    await runtime.aclose()
    return ids


async def test_the_runtime_keeps_the_ledger_current(store: JournalStore) -> None:
    ids = await run_all(store, 3)
    ledger = ledger_for(store)
    metered = rows(ledger)  # read before any sync: the runtime wrote them as the runs went
    assert {e["run_id"] for e in metered.values()} == set(ids)
    assert sum(e["type"] == TASK for e in metered.values()) == 3
    places = dict(ledger.query("SELECT run_id, seq FROM usage_runs"))
    for run_id in ids:
        run = await store.get_run(run_id)
        assert run is not None and places[run_id] == run.last_seq
    assert await ledger.sync(store, price) == 0
    ledger.close()


async def test_catch_up_derives_the_same_usage_the_runtime_recorded(store: JournalStore
                                                                      ) -> None:
    await run_all(store, 4)
    ledger = ledger_for(store)
    recorded, places = stored(ledger)
    store.database.execute("DELETE FROM usage_events")  # as a journal the ledger never saw
    store.database.execute("DELETE FROM usage_runs")
    assert ledger.events() == []
    assert await ledger.sync(store, price) == len(recorded)
    assert stored(ledger) == (recorded, places)  # the same rows, value for value, and places
    assert {row[1] for row in recorded} == {MODEL, ACTION, ACTIVE, TASK, OUTCOME}
    assert await ledger.sync(store, price) == 0
    ledger.close()


def every_kind_of_usage() -> list[tuple[Event, str | None]]:
    """Journal events of every kind that gives rise to usage (and a few that give none), each
    with when the run's stretch of activity began."""
    def event(seq: int, kind: str, data: dict[str, Any], usage: dict[str, int] | None = None
              ) -> Event:
        return Event("run-1", seq, f"2026-11-02T10:00:{seq:02d}.{seq * 1013:06d}Z", kind,
                     "agent:clerk", None, data, usage, "", "")

    tokens = {"input_tokens": 150, "output_tokens": 30, "cached_input_tokens": 50,
              "reasoning_tokens": 10}
    began = "2026-11-02T09:59:58.250000Z"
    return [
        (event(2, EventType.MODEL_COMPLETED, {"agent": "clerk", "model": "scripted"}, tokens),
         None),
        (event(3, EventType.MODEL_COMPLETED, {"provider_model": "openai:gpt-4o"}, None), None),
        (event(4, EventType.TOOL_COMPLETED, {"tool": "send_sms", "agent": "clerk",
                                             "cost_usd": 0.4}), None),
        (event(5, EventType.TOOL_FAILED, {"tool": "lookup"}), None),
        (event(6, EventType.TOOL_COMPLETED, {"tool": "send_sms", "reconciled": True}), None),
        (event(7, REMOTE_TASK_FINISHED, {"tool": "helper"}, tokens), None),
        (event(8, REMOTE_TASK_FINISHED, {"tool": "helper"}), None),
        (event(9, EventType.MODEL_ROUTED, {"agent": "clerk", "chosen": "local:small",
                                           "escalated": True}), None),
        (event(10, EventType.MODEL_ROUTED, {"chosen": "local:small"}), None),
        (event(11, EventType.OUTCOME_RECORDED, {"outcome": "ticket_resolved",
                                                "quantity": 2}), None),
        (event(12, EventType.RUN_WAITING, {}), began),
        (event(13, EventType.RUN_WAITING, {}), None),
        (event(14, EventType.RUN_FAILED, {}), began),
        (event(15, EventType.RUN_CANCELLED, {}), None),
        (event(16, EventType.RUN_COMPLETED, {}), "2026-11-02T10:00:17Z"),  # a clock step back
        (event(17, EventType.AGENT_INVOKED, {"agent": "clerk"}), None),
    ]


def test_the_ledger_rows_are_the_rows_of_the_usage_events_derive_gives() -> None:
    tags = RunTags("acme", "desk", {"department": "support", "region": "eu"}, "ticket_resolved")

    def priced(model: str, usage: Any) -> Price:
        return Price(usage.get("input_tokens", 0) / 3e6, energy_kwh=0.25 if usage else None)

    make = _rows_of(tags)
    built: list[tuple[Any, ...]] = []
    for event, began in every_kind_of_usage():
        derived = [_row(u) for u in derive(event, tags, priced, active_since=began)]
        before = len(built)
        usage_of(built, [event], make, priced, since=began)
        assert built[before:] == derived
        assert [type(v) for row in built[before:] for v in row] == [
            type(v) for row in derived for v in row]
    assert {row[1] for row in built} == set(USAGE_TYPES)
    assert sum(row[1] == ESCALATION for row in built) == 1


async def test_catch_up_from_the_middle_of_a_run_keeps_its_active_time(store: JournalStore
                                                                        ) -> None:
    [run_id] = await run_all(store, 1)
    ledger = ledger_for(store)
    recorded = rows(ledger)
    events = await store.events(run_id)
    started = next(e.seq for e in events if e.type == EventType.RUN_STARTED)
    middle = started + 3  # metered up to here: the stretch of activity began before it
    store.database.execute("DELETE FROM usage_events WHERE id NOT IN (" + ", ".join(
        f"'{run_id}:{e.seq}'" for e in events if e.seq <= middle) + ")")
    store.database.execute("UPDATE usage_runs SET seq = ? WHERE run_id = ?", (middle, run_id))
    assert not any(e["type"] == ACTIVE for e in ledger.events())
    assert await ledger.sync(store, price) > 0
    assert rows(ledger) == recorded
    [active] = [e for e in recorded.values() if e["type"] == ACTIVE]
    assert active["quantity"] > 0
    ledger.close()


async def test_a_process_that_stops_before_writing_loses_nothing(store: JournalStore) -> None:
    runtime = Runtime(store, metering=RunMetering(store, pricer=price))
    run = await runtime.run(WORKFLOW, "go")
    # The runtime's usage is still buffered (it was never closed): another process sees none
    # of it, and no place moved, so a catch-up derives all of it from the journal.
    other = UsageLedger(store.database)
    assert other.events() == []
    assert other.query("SELECT COUNT(*) FROM usage_runs WHERE run_id = ?", (run.id,)) == [(0,)]
    derived = await other.sync(store, price)
    assert derived > 0 and len(other.events()) == derived
    await runtime.aclose()  # its buffer lands too: the same ids, stored once
    assert len(other.events()) == derived
    assert sum(e["type"] == MODEL for e in other.events()) == 3


def test_ingest_is_idempotent_by_usage_id(database_url: str) -> None:
    ledger = UsageLedger(database_url)
    events = [UsageEvent(f"r:{i}", MODEL, "2026-11-02T10:00:00Z", "r", "acme", "desk",
                         input_tokens=i) for i in range(1, 301)]
    assert ledger.ingest(events[:200]) == 200
    assert ledger.ingest(events) == 100  # the first 200 are already stored
    assert ledger.ingest(list(reversed(events))) == 0
    [(count, tokens)] = ledger.query("SELECT COUNT(*), SUM(input_tokens) FROM usage_events")
    assert (count, tokens) == (300, sum(range(1, 301)))
    ledger.close()


def test_a_ledger_of_the_previous_release_is_upgraded(database_url: str) -> None:
    db = open_database(database_url)
    assert migrate(db, "usage", MIGRATIONS[:1]) == [1]
    old = UsageEvent("r:1", MODEL, "2026-11-02T10:00:00Z", "r", "acme", "desk",
                     {"department": "support"}, input_tokens=7, cost_usd=0.5)
    db.execute("INSERT INTO usage_events(id, type, time, ts, run_id, tenant, workflow, tags, "
               "input_tokens, cached_input_tokens, output_tokens, reasoning_tokens, quantity, "
               "cost_usd) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 7, 0, 0, 0, 1, 0.5)",
               (old.id, old.type, old.time, old.timestamp, old.run_id, old.tenant,
                old.workflow, '{"department":"support"}'))
    db.close()
    ledger = UsageLedger(database_url)  # upgrades to the current version
    [kept] = ledger.events()
    assert (kept["id"], kept["input_tokens"], kept["tags"]) == ("r:1", 7, {"department":
                                                                             "support"})
    assert ledger.ingest([old]) == 0  # still unique by id
    assert ledger.query("SELECT version FROM schema_versions WHERE component = 'usage'") == [
        (len(MIGRATIONS),)]
    if ledger.dialect == "sqlite":
        indexes = {r[0] for r in ledger.query(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'usage_events'")}
    else:
        indexes = {r[0] for r in ledger.query(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'usage_events'")}
    assert "usage_tenant_time" in indexes and "usage_tenant_type_time" not in indexes
    ledger.close()


def test_a_large_batch_is_ingested_once_and_leaves_the_cache_as_it_was(database_url: str
                                                                         ) -> None:
    ledger = UsageLedger(database_url)
    events = [UsageEvent(f"r{i // 10}:{i}", MODEL, "2026-11-02T10:00:00Z", f"r{i // 10}",
                         f"t{i % 3}", "desk", input_tokens=1) for i in range(BIG_BATCH + 500)]
    cache = ledger.query("PRAGMA cache_size") if ledger.dialect == "sqlite" else None
    assert ledger.ingest(events) == len(events)
    assert ledger.ingest(events[::2]) == 0
    assert ledger.query("SELECT COUNT(*), SUM(input_tokens) FROM usage_events") == [
        (len(events), len(events))]
    if cache is not None:
        assert ledger.query("PRAGMA cache_size") == cache
    ledger.close()


async def test_a_run_that_waits_and_resumes_is_metered_as_a_catch_up_would(
        store: JournalStore) -> None:
    wf = flow([call("send_sms", to="+1"), call("send_sms", to="+2"), call("send_sms", to="+3"),
               said("done")],
              budgets=[{"id": "sms", "scope": "workflow", "period": "month", "limit_usd": 1.0}])
    first = Runtime(store, metering=RunMetering(store, pricer=price))
    run = await first.run(wf, "go")
    await first.aclose()
    [wait] = await store.waits(run_id=run.id)
    second = Runtime(store, metering=RunMetering(store, pricer=price))  # another process
    await second.decide(wait.id, approve=True, actor="user:cfo", reason="worth it")
    assert (await second.execute(run.id)).status == "completed"
    await second.aclose()
    ledger = ledger_for(store)
    await ledger.sync(store, price)
    kept = stored(ledger)
    assert sum(row[1] == ACTIVE for row in kept[0]) == 2  # before the wait, after it
    store.database.execute("DELETE FROM usage_events")
    store.database.execute("DELETE FROM usage_runs")
    again = ledger_for(store)
    await again.sync(store, price)
    assert stored(again) == kept
    ledger.close()
    again.close()


async def test_catch_up_names_a_run_record_edited_out_of_shape(tmp_path: Path) -> None:
    """A run record whose tenant, workflow or meta a hand edit left as something the journal
    never writes (a BLOB, JSON that is no object) stops the catch-up with the run named, and
    books nothing to a tenant that is no text."""
    for column, value, said_of in [("tenant", "x'00'", "tenant or workflow"),
                                   ("meta", "x'7b7d'", "meta column holds no JSON object"),
                                   ("meta", "'[1]'", "meta column holds no JSON object"),
                                   ("meta", "'{'", "meta column holds unreadable JSON")]:
        journal = open_store(f"sqlite:///{tmp_path / f'{column}{len(value)}.db'}")
        _, second = await run_all(journal, 2)
        ledger = ledger_for(journal)
        journal.database.execute("DELETE FROM usage_events")
        journal.database.execute("DELETE FROM usage_runs")
        journal.database.execute(f"UPDATE runs SET {column} = {value} WHERE id = ?", [second])
        with pytest.raises(CorruptRunError, match=f"run {second} .*{said_of}"):
            await ledger.sync(journal, price)
        assert all(isinstance(e["tenant"], str) for e in ledger.events())
        ledger.close()
        await journal.close()
