"""Routed runs end to end: the demo's sensitivity rule, fallback under real HTTP 503 / 429
from loopback servers, the circuit breaker across runs, and replay of journaled decisions."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentplane.demo import WORKFLOWS_DIR
from agentplane.journal import Event, EventType, JournalStore, NewEvent
from agentplane.metering.reports import usage_report
from agentplane.models.breaker import Breakers
from agentplane.runtime import Runtime, Workflow, load_workflow, workflow_from_dict

from .wire_servers import (
    WireServer,
    json_reply,
    openai_completion,
    openai_error,
    openai_server,
    stall,
)

KEY_ENV = "ROUTER_TEST_KEY"
USAGE = {"prompt_tokens": 1000, "completion_tokens": 100, "total_tokens": 1100}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now



@pytest.fixture
def servers(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[WireServer, WireServer]]:
    monkeypatch.setenv(KEY_ENV, "sk-router-test")
    with openai_server() as primary, openai_server() as backup:
        yield primary, backup


def of(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e.type == kind]


def demo() -> Workflow:
    return load_workflow(WORKFLOWS_DIR / "private-router.yaml")


async def test_demo_keeps_personal_data_on_the_local_model(runtime: Runtime,
                                                           store: JournalStore) -> None:
    run = await runtime.run(demo(), "How do vendors price agents?")
    assert run.status == "completed"
    events = await store.events(run.id)
    chosen = {e.step_key: e.data["chosen"] for e in of(events, EventType.MODEL_ROUTED)}
    assert chosen == {"s0/researcher/m1": "cloud", "s0/researcher/m2": "cloud",
                      "s1/account_clerk/m1": "cloud",  # no personal data seen yet
                      "s1/account_clerk/m2": "onprem"}  # the order's customer is in it now
    local = next(e for e in of(events, EventType.MODEL_ROUTED)
                 if e.step_key == "s1/account_clerk/m2")
    [cloud] = [c for c in local.data["candidates"] if c["model"] == "cloud"]
    assert "personal data from tool lookup_order" in cloud["rejected"]
    answered = {e.step_key: e.data["provider_model"] for e in of(events,
                                                                  EventType.MODEL_COMPLETED)}
    assert answered["s1/account_clerk/m2"] == "scripted:llama-3.1-8b"
    assert answered["s0/researcher/m1"] == "scripted:gpt-4o-mini"


async def test_a_personal_run_never_leaves_local_models(runtime: Runtime,
                                                        store: JournalStore) -> None:
    run = await runtime.run(demo(), "How do vendors price agents?", sensitivity="personal")
    assert run.status == "completed" and run.meta["sensitivity"] == "personal"
    events = await store.events(run.id)
    assert {e.data["chosen"] for e in of(events, EventType.MODEL_ROUTED)} == {"onprem"}
    assert {e.data["provider_model"] for e in of(events, EventType.MODEL_COMPLETED)} == {
        "scripted:llama-3.1-8b"}
    with pytest.raises(Exception, match="sensitivity 'secret' is not one of"):
        await runtime.run(demo(), "x", sensitivity="secret")


def fallback_flow(primary: WireServer, backup: WireServer, *, local: bool = False,
                  timeout_s: float = 5) -> Workflow:
    def provider(name: str, server: WireServer) -> dict[str, Any]:
        return {"name": name, "base_url": server.url + "/v1", "api_key_env": KEY_ENV,
                "model": "gpt-4o-mini" if name == "backup" else f"model-{name}",
                "max_retries": 0, "timeout_s": timeout_s,
                **({"local": True} if local and name == "primary" else {})}

    return workflow_from_dict({
        "name": "fallback-flow",
        "providers": [provider("primary", primary), provider("backup", backup)],
        "routers": [{"name": "desk", "prefer": "first",
                     "candidates": [{"model": "primary"}, {"model": "backup"}]}],
        "agents": [{"name": "a", "model": "router:desk"}],
        "steps": [{"agent": "a"}]}, Path(__file__).parent)


@pytest.mark.parametrize("status", [503, 429])
async def test_fallback_on_a_failing_endpoint(runtime: Runtime, store: JournalStore,
                                              servers: tuple[WireServer, WireServer],
                                              status: int) -> None:
    primary, backup = servers
    primary.script(openai_error(status, "overloaded", "server_error"))
    backup.script(json_reply(openai_completion("answered by the backup")))
    run = await runtime.run(fallback_flow(primary, backup), "hello")
    assert run.status == "completed"
    assert len(primary.received) == 1 and len(backup.received) == 1
    events = await store.events(run.id)
    routed = of(events, EventType.MODEL_ROUTED)
    assert [(e.step_key, e.data["chosen"], e.data["fallback_from"]) for e in routed] == [
        ("s0/a/m1", "primary", None), ("s0/a/m1/fallback1", "backup", "primary")]
    [failed] = of(events, EventType.MODEL_FAILED)
    assert (failed.step_key, failed.data["status"]) == ("s0/a/m1", status)
    [done] = of(events, EventType.MODEL_COMPLETED)
    assert done.step_key == "s0/a/m1/fallback1"
    assert of(events, EventType.RUN_COMPLETED)[0].data["output"] == "answered by the backup"


async def test_a_client_error_is_not_fallen_back_from(runtime: Runtime, store: JournalStore,
                                                      servers: tuple[WireServer, WireServer]
                                                      ) -> None:
    primary, backup = servers
    primary.script(openai_error(400, "bad request"))
    run = await runtime.run(fallback_flow(primary, backup), "hello")
    assert run.status == "failed" and not backup.received
    assert len(of(await store.events(run.id), EventType.MODEL_ROUTED)) == 1


async def test_breaker_opens_and_half_opens_across_runs(runtime: Runtime, store: JournalStore,
                                                        servers: tuple[WireServer, WireServer]
                                                        ) -> None:
    primary, backup = servers
    clock = Clock()
    runtime.routes.breakers = Breakers(threshold=2, cooldown_s=60, clock=clock)
    flow = fallback_flow(primary, backup)
    primary.script(openai_error(503, "down", "server_error"),
                   openai_error(503, "down", "server_error"))
    backup.script(*(json_reply(openai_completion(f"backup {i}")) for i in range(3)))
    for _ in range(2):
        assert (await runtime.run(flow, "hello")).status == "completed"
    assert len(primary.received) == 2
    third = await runtime.run(flow, "hello")  # open: primary is not even tried
    assert third.status == "completed" and len(primary.received) == 2
    [routed] = of(await store.events(third.id), EventType.MODEL_ROUTED)
    assert routed.data["chosen"] == "backup"
    assert {c["model"]: c.get("rejected") for c in routed.data["candidates"]} == {
        "primary": "circuit breaker of primary is open", "backup": None}
    clock.now += 61  # half-open: one trial goes to primary, which is back
    primary.script(json_reply(openai_completion("primary is back")))
    fourth = await runtime.run(flow, "hello")
    assert fourth.status == "completed" and len(primary.received) == 3
    assert runtime.routes.breakers.state("primary") == "closed"


async def test_resume_uses_the_journaled_choice(runtime: Runtime, store: JournalStore) -> None:
    """A decision journaled before a crash is the one the resumed run follows, though the
    router would choose otherwise now (the cloud model comes first)."""
    run = await runtime.start(demo(), "How do vendors price agents?")
    await store.append(run.id, [NewEvent(
        EventType.MODEL_ROUTED, "agent:researcher", "s0/researcher/m1",
        {"agent": "researcher", "router": "desk", "chosen": "onprem", "reason": "before the crash",
         "candidates": [], "fallback_from": None, "escalated": False})])
    resumed = await runtime.execute(run.id)
    assert resumed.status == "completed"
    events = await store.events(run.id)
    first = [e for e in events if e.step_key == "s0/researcher/m1"]
    assert len(of(first, EventType.MODEL_ROUTED)) == 1
    [done] = of(first, EventType.MODEL_COMPLETED)
    assert done.data["provider_model"] == "scripted:llama-3.1-8b"
    assert [e.data["chosen"] for e in of(events, EventType.MODEL_ROUTED)][1] == "cloud"


async def test_escalations_local_to_cloud_in_the_usage_report(
        runtime: Runtime, store: JournalStore, servers: tuple[WireServer, WireServer]) -> None:
    primary, backup = servers  # primary is the local server here
    primary.script(openai_error(502, "bad gateway", "server_error"),
                   json_reply(openai_completion("local answer", usage=USAGE)))
    backup.script(json_reply(openai_completion("cloud answer", usage=USAGE)))
    flow = fallback_flow(primary, backup, local=True)
    escalated = await runtime.run(flow, "hello")
    kept = await runtime.run(flow, "hello")
    assert (escalated.status, kept.status) == ("completed", "completed")
    [_, fallback] = of(await store.events(escalated.id), EventType.MODEL_ROUTED)
    assert fallback.data["escalated"] is True
    [stayed] = of(await store.events(kept.id), EventType.MODEL_ROUTED)
    assert stayed.data["escalated"] is False
    ledger = runtime.metering.ledger
    await ledger.sync(store, runtime.metering.pricer)
    rows = {r["model"]: r for r in usage_report(ledger, by=("model",))}
    cloud, local = rows["openai:gpt-4o-mini"], rows["openai:model-primary"]
    assert (cloud["escalations"], cloud["model_calls"]) == (1, 1)
    assert cloud["cost_usd"] > 0  # priced from the catalog as gpt-4o-mini
    assert (local["escalations"], local["model_calls"]) == (0, 1)


async def test_fallback_on_a_timeout(runtime: Runtime, store: JournalStore,
                                     servers: tuple[WireServer, WireServer]) -> None:
    primary, backup = servers
    primary.script(stall(5))
    backup.script(json_reply(openai_completion("in time")))
    run = await runtime.run(fallback_flow(primary, backup, timeout_s=0.3), "hello")
    assert run.status == "completed"
    events = await store.events(run.id)
    [failed] = of(events, EventType.MODEL_FAILED)
    assert "did not answer within the 0.3s timeout" in failed.data["error"]
    assert [e.data["chosen"] for e in of(events, EventType.MODEL_ROUTED)] == ["primary",
                                                                               "backup"]


async def test_budget_downgrades_instead_of_stopping_the_run(runtime: Runtime,
                                                             store: JournalStore) -> None:
    def flow(model: str) -> Workflow:
        return workflow_from_dict({
            "name": "budgeted",
            "budgets": [{"id": "per-run", "scope": "run", "period": "run", "limit_usd": 0.01,
                         "on_exceed": "fail"}],
            "routers": [{"name": "desk", "prefer": "first", "candidates": [
                {"model": "scripted:gpt-4o"}, {"model": "scripted:gpt-4o-mini"}]}],
            "agents": [{"name": "a", "model": model, "script": [{"content": "done"}]}],
            "steps": [{"agent": "a"}]}, Path(__file__).parent)

    fixed = await runtime.run(flow("scripted:gpt-4o"), "hello")  # 4096 tokens of gpt-4o
    assert fixed.status == "failed"
    routed = await runtime.run(flow("router:desk"), "hello")
    assert routed.status == "completed"
    [decision] = of(await store.events(routed.id), EventType.MODEL_ROUTED)
    assert decision.data["chosen"] == "scripted:gpt-4o-mini"
    assert decision.data["reason"].startswith("downgraded from scripted:gpt-4o")


def test_the_python_api_marks_a_run_personal(tmp_path: Path) -> None:
    from agentplane import Runtime as PlaneRuntime
    from agentplane.api import Workflow as PlaneWorkflow

    async def go() -> None:
        flow = PlaneWorkflow.load(WORKFLOWS_DIR / "private-router.yaml")
        async with PlaneRuntime(tmp_path / "runs.db") as rt:
            done = await rt.run(flow, "How do vendors price agents?", sensitivity="personal")
            assert done.status == "completed"
            assert {e.data["chosen"] for e in done.events
                    if e.type == EventType.MODEL_ROUTED} == {"onprem"}
    asyncio.run(go())


async def test_a_schema_checked_answer_goes_to_a_json_model(runtime: Runtime,
                                                            store: JournalStore) -> None:
    def flow(verify: dict[str, Any] | None) -> Workflow:
        return workflow_from_dict({
            "name": "json-flow",
            "routers": [{"name": "desk", "candidates": [
                {"model": "scripted:plain", "tags": []},  # free: the cheapest
                {"model": "scripted:gpt-4o-mini", "tags": ["json"]}]}],
            "agents": [{"name": "a", "model": "router:desk",
                        "script": [{"content": '{"total": 35}'}]}],
            "steps": [{"agent": "a", **({"verify": verify} if verify else {})}]},
            Path(__file__).parent)

    plain = await runtime.run(flow(None), "total?")
    checked = await runtime.run(flow({"schema": {"type": "object"}}), "total?")
    chosen = [[e.data["chosen"] for e in of(await store.events(r.id), EventType.MODEL_ROUTED)]
              for r in (plain, checked)]
    assert chosen == [["scripted:plain"], ["scripted:gpt-4o-mini"]]


async def test_a_new_process_learns_model_health_from_the_journal(
        runtime: Runtime, store: JournalStore, servers: tuple[WireServer, WireServer]) -> None:
    primary, backup = servers
    runtime.routes.breakers = Breakers(threshold=100)  # let every failure reach primary
    flow = fallback_flow(primary, backup)
    primary.script(*(openai_error(503, "down", "server_error") for _ in range(4)))
    backup.script(*(json_reply(openai_completion(f"backup {i}")) for i in range(5)))
    for _ in range(4):
        assert (await runtime.run(flow, "hello")).status == "completed"
    assert len(primary.received) == 4
    fresh = Runtime(store)  # another process: no breakers, no health of its own yet
    try:
        run = await fresh.run(flow, "hello")
    finally:
        await fresh.aclose()
    assert run.status == "completed" and len(primary.received) == 4  # failing: tried last
    [routed] = of(await store.events(run.id), EventType.MODEL_ROUTED)
    assert routed.data["chosen"] == "backup"
    assert fresh.routes.health.error_rate("primary") == 1.0
    assert fresh.routes.health.latency_ms("backup") is not None
