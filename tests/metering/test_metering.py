"""Metering end to end on real SQLite: usage derived from runs, meters, invoices, FOCUS,
budgets enforced before calls."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from agentplane.journal import EventType, JournalStore, SQLiteJournal
from agentplane.metering.ledger import Meter, UsageLedger, Window, ledger_for
from agentplane.metering.plans import PlansFile, graduated, invoice
from agentplane.metering.reports import FOCUS_COLUMNS, export_focus, usage_report
from agentplane.metering.usage import ACTION, ACTIVE, MODEL, OUTCOME, TASK, Price, UsageEvent
from agentplane.runtime import Runtime, Workflow, workflow_from_dict
from agentplane.runtime.budgeted import RunMetering

from . import toolbox

HERE = Path(__file__).parent
TOOLS = [
    {"name": "lookup", "python": "tests.metering.toolbox:lookup", "effect": "read"},
    {"name": "send_sms", "python": "tests.metering.toolbox:send_sms", "effect": "write",
     "cost_usd": 0.4},
    {"name": "slow_sms", "python": "tests.metering.toolbox:slow_sms", "effect": "write",
     "cost_usd": 0.6},
]


def flow(script: list[dict[str, Any]], **extra: Any) -> Workflow:
    agent = {"name": "clerk", "tools": ["lookup", "send_sms", "slow_sms"], "script": script,
             **extra.pop("agent", {})}
    return workflow_from_dict({"name": "desk", "tools": TOOLS, "autonomy": "out_of_the_loop",
                               "agents": [agent], "steps": [{"agent": "clerk"}], **extra}, HERE)


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments}],
            "usage": {"input_tokens": 100, "output_tokens": 20}}


def said(text: str) -> dict[str, Any]:
    return {"content": text, "usage": {"input_tokens": 150, "output_tokens": 30,
                                       "cached_input_tokens": 50, "reasoning_tokens": 10}}


def price(model: str, usage: Any) -> Price:
    """A test price: 1 USD per million input tokens, 4 per million output tokens."""
    return Price(usage.get("input_tokens", 0) / 1e6 + usage.get("output_tokens", 0) * 4 / 1e6)


@pytest.fixture(autouse=True)
def _clear() -> None:
    toolbox.CALLS.clear()


@pytest_asyncio.fixture
async def store(tmp_path: Path) -> AsyncIterator[JournalStore]:
    journal = SQLiteJournal(tmp_path / "m.db")
    yield journal
    await journal.close()


async def run(store: JournalStore, wf: Workflow, **kw: Any) -> str:
    runtime = Runtime(store, metering=RunMetering(store, pricer=price))
    record = await runtime.run(wf, "go", **kw)
    await runtime.aclose()
    return record.id


async def test_usage_is_derived_from_runs_once(store: JournalStore) -> None:
    wf = flow([call("lookup", item="a"), call("send_sms", to="+1"), said("done")],
              tags={"department": "support"}, outcome="ticket_resolved")
    run_a = await run(store, wf, tenant="acme")
    run_b = await run(store, wf, tenant="globex", tags={"department": "sales"})
    ledger = ledger_for(store)
    before = ledger.events()  # the runtime kept the ledger current: there before any sync
    assert await ledger.sync(store, price) == 0  # idempotent
    ledger.close()
    again = ledger_for(store)  # a new process: each run's place is in the database
    assert await again.sync(store, price) == 0
    events = again.events()
    assert before == events
    for run_id in (run_a, run_b):
        mine = [e for e in events if e["run_id"] == run_id]
        kinds = sorted(e["type"] for e in mine)
        assert kinds == sorted([MODEL] * 3 + [ACTION] * 2 + [TASK, OUTCOME, ACTIVE])
        model = [e for e in mine if e["type"] == MODEL]
        assert sum(e["input_tokens"] for e in model) == 350
        assert sum(e["output_tokens"] for e in model) == 70
        assert sum(e["cached_input_tokens"] for e in model) == 50
        assert {e["model"] for e in model} == {"scripted:scripted"}
        assert sum(e["cost_usd"] for e in mine) == pytest.approx(
            350 / 1e6 + 280 / 1e6 + 0.4)
        assert next(e for e in mine if e["type"] == OUTCOME)["outcome"] == "ticket_resolved"
        assert next(e for e in mine if e["type"] == ACTIVE)["quantity"] >= 0
    depts = {e["run_id"]: e["tags"]["department"] for e in events}
    assert depts == {run_a: "support", run_b: "sales"}
    rows = usage_report(again, by=["department"])
    assert {r["department"]: (r["model_calls"], r["actions"], r["outcomes"]) for r in rows} == {
        "sales": (3, 2, 1), "support": (3, 2, 1)}
    assert all(r["cost_per_outcome_usd"] == pytest.approx(r["cost_usd"]) for r in rows)
    again.close()


def synthetic(database_url: str) -> UsageLedger:
    """A ledger with hand-made usage in November 2026 (and one event in October)."""
    ledger = UsageLedger(database_url)

    def event(i: int, kind: str, day: int = 5, **kw: Any) -> UsageEvent:
        base: dict[str, Any] = {"run_id": f"r{i % 3}", "tenant": "acme", "workflow": "desk",
                                "tags": {"department": "support" if i % 2 else "sales"}}
        base.update(kw)
        return UsageEvent(f"e{i}", kind, f"2026-11-{day:02d}T10:00:00Z", **base)

    events = [event(i, MODEL, agent="clerk" if i < 6 else "lead", model="openai:gpt-4o-mini",
                    input_tokens=1_000_000, output_tokens=200_000, cost_usd=0.3)
              for i in range(10)]  # 12M tokens
    events += [event(100 + i, ACTION, tool="send_sms", agent="clerk") for i in range(100)]
    events += [event(300 + i, OUTCOME, outcome="ticket_resolved") for i in range(25)]
    events += [event(400, ACTIVE, quantity=600.0), event(401, TASK, outcome="completed")]
    events += [UsageEvent("old", MODEL, "2026-10-31T23:59:59Z", "r9", "acme", "desk",
                          input_tokens=5, cost_usd=99.0)]
    events += [UsageEvent("other", MODEL, "2026-11-05T00:00:00Z", "r8", "globex", "desk",
                          input_tokens=7, cost_usd=1.0)]
    assert ledger.ingest(events) == len(events)
    assert ledger.ingest(events) == 0
    return ledger


def test_meters(database_url: str) -> None:
    ledger = synthetic(database_url)
    nov = Window.month(2026, 11)
    assert ledger.measure(Meter("t", "sum", "tokens", MODEL), nov,
                          where={"tenant": "acme"}) == [((), 12_000_000.0)]
    assert ledger.measure(Meter("c", "count", type=ACTION), nov) == [((), 100.0)]
    assert ledger.measure(Meter("u", "unique_count", "agent", MODEL), nov) == [((), 2.0)]
    assert ledger.measure(Meter("m", "max", "cost_usd", MODEL)) == [((), 99.0)]
    by_dept = dict(ledger.measure(Meter("d", "sum", "cost_usd", MODEL,
                                        group_by=("department",)), nov,
                                  where={"tenant": "acme"}))
    assert by_dept == {("sales",): pytest.approx(1.5), ("support",): pytest.approx(1.5)}
    assert ledger.measure(Meter("o", "sum", "cost_usd", MODEL), Window.month(2026, 10)) == [
        ((), 99.0)]
    ledger.close()


def test_graduated_tiers_hand_checked() -> None:
    from agentplane.metering.plans import Tier

    tiers = [Tier(up_to=10_000_000, price=0.000002), Tier(price=0.0000015)]
    # 12M used, 1M included: 10M at 2e-6 (20.00) + 1M at 1.5e-6 (1.50)
    billable, amount = graduated(12_000_000, 1_000_000, tiers)
    assert billable == 11_000_000
    assert amount == pytest.approx(21.5)
    assert graduated(500, 1_000, tiers) == (0.0, 0.0)


def test_invoice_combines_every_plan_kind(database_url: str) -> None:
    ledger = synthetic(database_url)
    plans = PlansFile.model_validate({
        "plans": [{"id": "team", "seats": {"count": 10, "price": 30},
                   "usage": [{"unit": "tokens", "included": 1_000_000,
                              "tiers": [{"up_to": 10_000_000, "price": 0.000002},
                                        {"price": 0.0000015}]},
                             {"unit": "actions", "price": 0.01},
                             {"unit": "active_minutes", "price": 0.05}],
                   "agents": {"price": 400},
                   "outcomes": [{"outcome": "ticket_resolved", "price": 1.5,
                                 "included": 10}]}],
        "tenants": {"acme": "team"}})
    bill = invoice(ledger, plans, tenant="acme", month="2026-11")
    amounts = {line.description.split(" (")[0]: line.amount for line in bill.lines}
    # seats 10 x 30 = 300; tokens 21.50 (above); actions 100 x 0.01 = 1.00;
    # active 600 s = 10 min x 0.05 = 0.50; agents clerk + lead x 400 = 800;
    # outcomes (25 - 10 included) x 1.50 = 22.50  =>  1145.50
    assert amounts == {"seats": 300, "tokens": pytest.approx(21.5), "actions": pytest.approx(1),
                       "active_minutes": pytest.approx(0.5), "agents": 800,
                       "outcome ticket_resolved": pytest.approx(22.5)}
    assert bill.total == 1145.5
    assert "clerk, lead" in next(line.description for line in bill.lines
                                 if line.description.startswith("agents"))
    ledger.close()


def test_focus_export(database_url: str) -> None:
    ledger = synthetic(database_url)
    buffer = io.StringIO()
    rows = export_focus(ledger, Window.month(2026, 11), buffer)
    parsed = list(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert len(parsed) == rows > 0
    assert tuple(parsed[0].keys()) == FOCUS_COLUMNS
    assert sum(float(r["BilledCost"]) for r in parsed) == pytest.approx(3.0 + 1.0)
    model_rows = [r for r in parsed if r["ResourceType"] == "model"]
    assert {r["ConsumedUnit"] for r in model_rows} == {"Tokens"}
    assert {r["BillingAccountId"] for r in parsed} == {"acme", "globex"}
    assert all(r["ChargePeriodStart"].startswith("2026-11-05") for r in parsed)
    ledger.close()


async def test_token_budget_fails_before_the_overspend(store: JournalStore) -> None:
    script = [call("lookup", item=str(i)) for i in range(10)] + [said("done")]
    wf = flow(script, agent={"max_output_tokens": 50},
              budgets=[{"id": "small", "scope": "run", "period": "run", "limit_tokens": 700,
                        "on_exceed": "fail"}])
    run_id = await run(store, wf)
    record = await store.require_run(run_id)
    events = await store.events(run_id)
    assert record.status == "failed"
    assert "budget small" in events[-1].data["error"]
    used = sum((e.usage or {}).get("input_tokens", 0) + (e.usage or {}).get("output_tokens", 0)
               for e in events if e.type == EventType.MODEL_COMPLETED)
    assert 0 < used <= 700  # stopped before, never discovered after


async def test_usd_budget_waits_for_a_person_then_goes_on(store: JournalStore) -> None:
    wf = flow([call("send_sms", to="+1"), call("send_sms", to="+2"), call("send_sms", to="+3"),
               said("done")],
              budgets=[{"id": "sms", "scope": "workflow", "period": "month", "limit_usd": 1.0,
                        "alerts": [0.5]}])
    run_id = await run(store, wf)
    assert (await store.require_run(run_id)).status == "waiting"
    assert toolbox.CALLS == ["sms +1", "sms +2"]  # 0.8 spent; a third 0.4 would pass 1.0
    [wait] = await store.waits(run_id=run_id)
    assert wait.kind == "budget" and wait.data["budget"] == "sms"
    assert "over the limit of 1.0000 USD" in wait.data["reason"]
    alerts = [e for e in await store.events(run_id) if e.type == "budget.alert"]
    assert [(a.data["threshold"], a.data["budget"]) for a in alerts] == [(0.5, "sms")]
    runtime = Runtime(store, metering=RunMetering(store, pricer=price))
    await runtime.decide(wait.id, approve=True, actor="user:cfo", reason="worth it")
    record = await runtime.execute(run_id)
    await runtime.aclose()
    assert record.status == "completed"
    assert toolbox.CALLS == ["sms +1", "sms +2", "sms +3"]


async def test_parallel_calls_cannot_both_slip_under_a_limit(store: JournalStore) -> None:
    both = {"tool_calls": [{"name": "slow_sms", "arguments": {"to": "+1"}},
                           {"name": "slow_sms", "arguments": {"to": "+2"}}]}
    wf = flow([both, said("done")],
              budgets=[{"id": "sms", "scope": "run", "period": "run", "limit_usd": 1.0,
                        "on_exceed": "fail"}])
    run_id = await run(store, wf)
    assert (await store.require_run(run_id)).status == "failed"
    assert len(toolbox.CALLS) == 1  # 0.6 in flight + 0.6 > 1.0: the second never started
