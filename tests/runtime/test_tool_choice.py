"""Tool relevance: with ``max_tools``, each model call is offered the few relevant tools of a
100-tool catalogue — those used in the run first — and the choice is journaled and replayed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentplane.journal import EventType, JournalStore
from agentplane.models.base import ToolDefinition
from agentplane.runtime import Runtime, Workflow, workflow_from_dict
from agentplane.runtime.runner import scripted_for
from agentplane.runtime.tool_choice import choose

from .conftest import RecordingProvider
from .ctx_tools import call, crash_mid_call

HERE = Path(__file__).parent
THINGS = ["invoice", "customer", "order", "shipment", "ticket", "refund", "payment", "product",
          "supplier", "employee"]
ACTIONS = {"get": "Get one {t} by its id", "list": "List the {t}s of an account",
           "create": "Create a new {t}", "update": "Change fields of a {t}",
           "delete": "Delete a {t} for ever", "search": "Search {t}s by free text",
           "export": "Export {t}s as CSV", "archive": "Archive an old {t}",
           "approve": "Approve a pending {t}", "tag": "Put a label on a {t}"}
CATALOGUE = [{"name": f"{t}_{a}", "python": "tests.runtime.ctx_tools:refund", "effect": "read",
              "description": d.format(t=t) + "."} for t in THINGS for a, d in ACTIONS.items()]
TASK = "Where is the shipment of order 7? Search the shipments and track the parcel."


def flow(script: list[dict[str, Any]], max_tools: int = 5, extra: tuple[str, ...] = ()
         ) -> Workflow:
    tools = [*CATALOGUE, {"name": "blocking_idempotent",
                          "python": "tests.runtime.toolbox:blocking_write", "effect": "write",
                          "idempotent": True}]
    return workflow_from_dict({"name": "many", "tools": tools, "agents": [{
        "name": "desk", "tools": [t["name"] for t in CATALOGUE] + list(extra),
        "max_tools": max_tools, "memory": {"tools": True}, "script": script}],
        "steps": [{"agent": "desk"}]}, HERE)


async def run(store: JournalStore, workflow: Workflow) -> tuple[str, RecordingProvider]:
    recorder = RecordingProvider(scripted_for(workflow.spec))
    runtime = Runtime(store, providers={"scripted": recorder})
    record = await runtime.run(workflow, TASK)
    await runtime.aclose()
    return record.id, recorder


def selections(events: list[Any]) -> list[Any]:
    return [e for e in events if e.type == EventType.TOOLS_SELECTED]


async def test_the_relevant_few_are_offered_and_the_choice_journaled(
        store: JournalStore) -> None:
    script = [call("invoice_get", order_id="7"), {"content": "in transit"}]
    run_id, recorder = await run(store, flow(script))
    first, second = recorder.requests
    offered = [t.name for t in first.tools]
    assert offered[-2:] == ["remember", "recall"]  # control tools are always offered
    chosen = offered[:-2]
    assert len(chosen) == 5 and chosen[0] == "shipment_search"
    assert sum(name.startswith("shipment_") for name in chosen) >= 3
    events = await store.events(run_id)
    one, two = selections(events)
    assert one.step_key == "s0/desk/m1/tools"
    assert (one.data["tools"], one.data["offered"], one.data["limit"], one.data["used"]) == (
        chosen, 100, 5, [])
    assert one.data["scores"]["shipment_search"] > 0 and "BM25" in one.data["reason"]
    # the tool used in turn 1 comes first in turn 2, though the task does not name it
    assert two.data["used"] == ["invoice_get"] and two.data["tools"][0] == "invoice_get"
    assert [t.name for t in second.tools][:5] == two.data["tools"]


async def test_a_declared_tool_not_offered_may_still_be_called(store: JournalStore) -> None:
    script = [call("employee_tag", order_id="E-1"), {"content": "ok"}]
    run_id, recorder = await run(store, flow(script))
    assert "employee_tag" not in {t.name for t in recorder.requests[0].tools}
    events = await store.events(run_id)
    assert [e.data["tool"] for e in events if e.type == EventType.TOOL_COMPLETED] == [
        "employee_tag"]
    assert (await store.require_run(run_id)).status == "completed"


async def test_no_choice_when_the_tools_fit_the_limit(store: JournalStore) -> None:
    run_id, recorder = await run(store, flow([{"content": "ok"}], max_tools=100))
    assert len(recorder.requests[0].tools) == 102
    assert selections(await store.events(run_id)) == []


async def test_replay_offers_the_journaled_choice(store: JournalStore) -> None:
    wf = flow([call("blocking_idempotent", item="x"), {"content": "done"}], max_tools=3,
              extra=("blocking_idempotent",))
    first = RecordingProvider(scripted_for(wf.spec))
    run_id = await crash_mid_call(Runtime(store, providers={"scripted": first},
                                          lease_seconds=0.05), wf, TASK, "default")
    second = RecordingProvider(scripted_for(wf.spec))
    resumed = Runtime(store, providers={"scripted": second})
    assert (await resumed.execute(run_id)).status == "completed"
    await resumed.aclose()
    one, two = selections(await store.events(run_id))  # m1's was not chosen again
    assert [t.name for t in first.requests[0].tools][:3] == one.data["tools"]
    assert two.data["tools"][0] == "blocking_idempotent"
    assert [t.name for t in second.requests[0].tools][:3] == two.data["tools"]


def test_choose_ranks_by_relevance_then_declaration_order() -> None:
    tools = [ToolDefinition(str(t["name"]), str(t["description"]), {}) for t in CATALOGUE]
    picked = choose(tools, [], "export the invoices as CSV", 3)
    assert picked.tools[0] == "invoice_export" and picked.used == []
    none = choose(tools, [], "zzz", 2)  # nothing relevant: the first declared
    assert none.tools == ["invoice_get", "invoice_list"]
    used = choose(tools, ["ticket_tag", "order_get", "ticket_tag"], "export invoices", 3)
    assert used.tools[:2] == ["ticket_tag", "order_get"] and used.used == used.tools[:2]
