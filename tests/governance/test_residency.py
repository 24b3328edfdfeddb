"""The data residency guardian: a fixed model outside the allowed regions is refused, with
the reason journaled as a denied ``guard.decided``; the rule itself, case by case."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentplane.governance.residency import (
    DataMarks,
    Placement,
    ToolMark,
    data_marks,
    refusal,
)
from agentplane.journal import EventType, JournalStore
from agentplane.runtime import Runtime, Workflow, workflow_from_dict

DEMO_TOOLS = Path(__file__).resolve().parents[2] / "src" / "agentplane" / "demo" / "workflows"



def flow(model: str, *, regions: list[str] | None = None,
         tool: dict[str, Any] | None = None) -> Workflow:
    script = [{"tool_calls": [{"name": "lookup_order", "arguments": {"order_id": "A1"}}]},
              {"content": "Order A1 is Ana's."}]
    data: dict[str, Any] = {
        "name": "residency-flow",
        "providers": [{"name": "us-cloud", "kind": "scripted", "model": "gpt-4o", "region": "us"},
                      {"name": "eu-cloud", "kind": "scripted", "model": "gpt-4o", "region": "eu"},
                      {"name": "onprem", "kind": "scripted", "model": "llama", "local": True}],
        "tools": [{"name": "lookup_order", "python": "tools:lookup_order", "effect": "read",
                   **(tool or {})}],
        "agents": [{"name": "clerk", "model": model, "tools": ["lookup_order"],
                    "script": script}],
        "steps": [{"agent": "clerk"}]}
    if regions is not None:
        data["compliance"] = {"regions": regions}
    return workflow_from_dict(data, DEMO_TOOLS)


async def denials(store: JournalStore, run_id: str) -> list[dict[str, Any]]:
    return [e.data for e in await store.events(run_id)
            if e.type == EventType.GUARD_DECIDED and e.data.get("guardian") == "residency"]


async def test_a_model_outside_the_workflows_regions_is_refused(runtime: Runtime,
                                                                store: JournalStore) -> None:
    run = await runtime.run(flow("us-cloud", regions=["eu"]), "Whose is order A1?")
    assert run.status == "failed"
    [denied] = await denials(store, run.id)
    assert denied["result"] == "deny" and denied["policy_id"] == "data-residency"
    assert "us-cloud (not local, region us) is outside the allowed regions (eu)" in (
        denied["reason"])
    assert not [e for e in await store.events(run.id) if e.type == EventType.MODEL_REQUESTED]
    failed = [e for e in await store.events(run.id) if e.type == EventType.RUN_FAILED]
    assert "data residency" in failed[0].data["error"]
    inside = await runtime.run(flow("eu-cloud", regions=["eu"]), "Whose is order A1?")
    assert inside.status == "completed" and not await denials(store, inside.id)


async def test_personal_tool_data_stops_a_cloud_call_after_the_tool(runtime: Runtime,
                                                                    store: JournalStore) -> None:
    run = await runtime.run(flow("us-cloud", tool={"classification": "personal"}), "A1?")
    assert run.status == "failed"
    events = await store.events(run.id)
    # the first call carried no personal data; the second would have carried the tool's result
    assert [e.step_key for e in events if e.type == EventType.MODEL_COMPLETED] == ["s0/clerk/m1"]
    [denied] = await denials(store, run.id)
    assert denied["call"] == "s0/clerk/m2"
    assert "personal data from tool lookup_order" in denied["reason"]
    local = await runtime.run(flow("onprem", tool={"classification": "personal"}), "A1?")
    assert local.status == "completed"


async def test_tool_region_and_unmarked_runs() -> None:
    assert refusal(DataMarks(), Placement("openai:gpt-4o")) is None
    marks = data_marks(sensitivity=None, regions=[],
                       tool_marks={"crm": ToolMark(None, "cn")}, tools_seen=["crm"])
    assert marks.regions == frozenset({"cn"})
    assert refusal(marks, Placement("cn-cloud", region="cn")) is None
    assert "outside the allowed regions (cn)" in str(refusal(marks, Placement("us", region="us")))
    assert refusal(marks, Placement("onprem", local=True)) is None
    both = data_marks(sensitivity="confidential", regions=["eu"],
                      tool_marks={"crm": ToolMark("internal", "cn")}, tools_seen=["crm"])
    assert both.classification == "confidential" and both.regions == frozenset()
    assert "only local models" in str(refusal(both, Placement("eu", region="eu")))
    unmarked = data_marks(sensitivity=None, regions=[], tool_marks={"crm": ToolMark("public",
                                                                                    None)},
                          tools_seen=["crm"])
    assert not unmarked.constrained


async def test_plain_scripted_is_local_a_stand_in_is_not(runtime: Runtime,
                                                         store: JournalStore) -> None:
    offline = await runtime.run(flow("scripted", regions=["eu"]), "A1?")
    assert offline.status == "completed"
    rehearsal = await runtime.run(flow("scripted:gpt-4o", regions=["eu"]), "A1?")
    assert rehearsal.status == "failed"
    [denied] = await denials(store, rehearsal.id)
    assert "scripted:gpt-4o (not local, no declared region) is outside" in denied["reason"]
