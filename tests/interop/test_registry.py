"""The agent registry: entries in real SQLite, discovery, round robin, failover, health checks
(with an injected card fetcher, and against a real HTTP server serving an agent card)."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.json_format import MessageToDict  # type: ignore[import-untyped,unused-ignore]

from agentplane.errors import NotFoundError
from agentplane.journal import open_store
from agentplane.runtime import Workflow, workflow_from_dict
from agentplane.runtime.loop import agent_identity
from agentplane.runtime.registered import entries_from_workflow
from agentplane.server.a2a_app import agent_card
from agentplane.tools.sources.registry import (
    AgentEntry,
    HealthChecker,
    Registry,
    RegistryError,
    check_health,
    description_capabilities,
    entry_from_card,
    registry_for,
)

A, B, C = "http://a.example:1", "http://b.example:2", "http://c.example:3"


def _entry(id: str = "refund-desk", *, version: str = "1.0", trust: str = "trusted",
           capabilities: list[str] | None = None, replicas: list[str] | None = None,
           owner: str = "payments") -> AgentEntry:
    return AgentEntry(id=id, version=version, owner=owner, description="Refunds orders.",
                      capabilities=capabilities or ["refunds", "billing"],
                      trust=trust,  # type: ignore[arg-type]
                      price={"per_task_usd": 0.05}, replicas=replicas or [A, B, C])


@pytest.fixture
def registry(database_url: str) -> Iterator[Registry]:
    reg = Registry(database_url)
    yield reg
    reg.close()


def _workflow(tmp_path: Path) -> Workflow:
    return workflow_from_dict({
        "name": "support",
        "agents": [{"name": "triage", "description": "Routes customer billing questions.",
                    "script": [{"content": "routed"}]},
                   {"name": "refunder", "description": "Issues refunds for orders.",
                    "script": [{"content": "refunded"}]}],
        "steps": [{"agent": "triage"}]}, tmp_path)


# -- entries ------------------------------------------------------------------------------------


def test_register_get_list_and_persist(database_url: str, registry: Registry) -> None:
    stored = registry.register(_entry())
    assert stored.registered_at
    got = registry.get("refund-desk")
    assert got == stored
    assert got.price == {"per_task_usd": 0.05} and got.replicas == [A, B, C]
    assert [e.id for e in registry.list()] == ["refund-desk"]
    again = Registry(database_url)  # another process, same database
    try:
        assert again.get("refund-desk") == stored
    finally:
        again.close()
    assert registry.get("nobody") is None


def test_upsert_by_id_and_version_and_newest_is_current(registry: Registry) -> None:
    registry.register(_entry(version="1.0"))
    registry.register(_entry(version="1.0", owner="finance"))
    assert len(registry.list(all_versions=True)) == 1
    assert registry.get("refund-desk") is not None
    assert registry.get("refund-desk").owner == "finance"  # type: ignore[union-attr]
    registry.register(_entry(version="2.0", replicas=[C]))
    assert len(registry.list(all_versions=True)) == 2
    current = registry.get("refund-desk")
    assert current is not None and current.version == "2.0"
    old = registry.get("refund-desk", "1.0")
    assert old is not None and old.replicas == [A, B, C]
    assert [e.version for e in registry.list()] == ["2.0"]


def test_remove(registry: Registry) -> None:
    registry.register(_entry(version="1.0"))
    registry.register(_entry(version="2.0"))
    assert registry.remove("refund-desk", "2.0") == 1
    current = registry.get("refund-desk")
    assert current is not None and current.version == "1.0"
    assert registry.remove("refund-desk") == 1
    assert registry.get("refund-desk") is None and registry.list() == []
    assert registry.remove("refund-desk") == 0


def test_bad_entries_are_refused(registry: Registry) -> None:
    with pytest.raises(RegistryError, match="trust"):
        registry.register(_entry(trust="sort-of"))
    with pytest.raises(RegistryError, match="replica"):
        registry.register(_entry(replicas=["ftp://x"]))


# -- discovery ----------------------------------------------------------------------------------


def test_find_by_capability_with_trust_filter(registry: Registry) -> None:
    registry.register(_entry("refund-desk", trust="trusted", replicas=[A]))
    registry.register(_entry("partner-refunds", trust="untrusted", replicas=[B],
                             capabilities=["Refunds"]))
    registry.register(_entry("shipping", capabilities=["shipping"], replicas=[C]))
    assert {e.id for e in registry.find("refunds")} == {"refund-desk", "partner-refunds"}
    assert [e.id for e in registry.find("REFUNDS", min_trust="trusted")] == ["refund-desk"]
    assert [e.id for e in registry.find("refunds", min_trust="untrusted")] == [
        "partner-refunds", "refund-desk"]
    assert registry.find("legal") == []
    with pytest.raises(RegistryError, match="min_trust"):
        registry.find("refunds", min_trust="very")  # type: ignore[arg-type]


def test_find_puts_healthy_replicas_first(registry: Registry) -> None:
    registry.register(_entry("a-desk", replicas=[A]))
    registry.register(_entry("b-desk", replicas=[B, C]))
    for _ in range(3):
        registry.record_health(A, False, None, "refused")
        registry.record_health(B, False, None, "refused")
    registry.record_health(C, True, 12.0, None)
    found = registry.find("refunds")
    assert [e.id for e in found] == ["b-desk", "a-desk"]  # a-desk's only replica is down
    assert found[0].replicas == [C, B]


# -- load balancing and failover ----------------------------------------------------------------


def test_round_robin_over_three_replicas(database_url: str, registry: Registry) -> None:
    registry.register(_entry())
    assert [registry.pick("refund-desk") for _ in range(7)] == [A, B, C, A, B, C, A]
    other = Registry(database_url)  # the position is shared through the database
    try:
        assert other.pick("refund-desk") == B
    finally:
        other.close()


def test_pick_skips_a_down_replica_until_it_recovers(registry: Registry) -> None:
    registry.register(_entry())
    for _ in range(registry.max_failures):
        registry.record_health(B, False, None, "connection refused")
    assert [registry.pick("refund-desk") for _ in range(4)] == [A, C, A, C]
    registry.record_health(B, True, 5.0, None)
    assert [registry.pick("refund-desk") for _ in range(3)] == [A, B, C]


def test_failing_but_not_down_replica_is_still_picked(registry: Registry) -> None:
    registry.register(_entry())
    registry.record_health(B, False, None, "timeout")  # 1 failure < 3
    assert [registry.pick("refund-desk") for _ in range(3)] == [A, B, C]


def test_failover_skips_the_failed_replica(registry: Registry) -> None:
    registry.register(_entry())
    assert registry.pick("refund-desk") == A
    assert registry.failover("refund-desk", A, "HTTP 503") == B
    assert registry.health(A).failures == 1 and registry.health(A).error == "HTTP 503"
    for _ in range(2):
        registry.record_health(C, False, None, "refused")
    assert registry.failover("refund-desk", B) == C  # C has 2 failures: still up
    assert registry.failover("refund-desk", C) == A  # C is down now; A has one failure


def test_no_healthy_replica_raises_naming_the_agent(registry: Registry) -> None:
    registry.register(_entry(replicas=[A, B]))
    for _ in range(3):
        registry.record_health(A, False, None, "connection refused")
    with pytest.raises(RegistryError, match=r"agent refund-desk .*no healthy replica") as exc:
        registry.failover("refund-desk", B)
    assert "connection refused" in str(exc.value) and B in str(exc.value)
    for _ in range(2):
        registry.record_health(B, False, None, "refused")
    with pytest.raises(RegistryError, match="refund-desk"):
        registry.pick("refund-desk")
    with pytest.raises(NotFoundError, match="nobody"):
        registry.pick("nobody")


# -- health -------------------------------------------------------------------------------------


def test_health_recording(registry: Registry) -> None:
    unknown = registry.health(A)
    assert unknown.ok is None and unknown.checked_at is None and unknown.failures == 0
    first = registry.record_health(A, False, None, "refused")
    second = registry.record_health(A, False, None, "timeout")
    assert first.failures == 1 and second.failures == 2
    assert second.ok is False and second.error == "timeout" and second.checked_at
    healed = registry.record_health(A, True, 42.5, None)
    assert (healed.ok, healed.failures, healed.latency_ms, healed.error) == (True, 0, 42.5, None)


async def test_check_health_with_injected_fetcher(registry: Registry) -> None:
    registry.register(_entry(replicas=[A, B, C]))
    registry.register(AgentEntry(id="support/triage", version="x", owner="us",
                                 replicas=["local:support/triage"], kind="local"))
    release = asyncio.Event()

    async def fetch(url: str) -> Mapping[str, Any]:
        if url == B:
            raise ConnectionError("connection refused")
        if url == C:
            await release.wait()  # never released: slower than the timeout
        return {"name": "refund-desk"}

    result = await check_health(registry, fetch_card=fetch, timeout_s=0.05)
    assert result == {A: True, B: False, C: False}  # local replicas are not checked
    assert registry.health(A).ok is True and registry.health(A).latency_ms is not None
    assert "connection refused" in (registry.health(B).error or "")
    assert "no answer within" in (registry.health(C).error or "")
    assert registry.health("local:support/triage").checked_at is None


async def test_health_checker_runs_bounded_rounds(registry: Registry) -> None:
    registry.register(_entry(replicas=[A]))
    calls: list[str] = []
    rounds: list[dict[str, bool]] = []

    async def fetch(url: str) -> Mapping[str, Any]:
        calls.append(url)
        if len(calls) > 1:
            raise ConnectionError("gone")
        return {}

    checker = HealthChecker(registry, interval_s=0.001, fetch_card=fetch, max_rounds=3,
                            on_round=rounds.append)
    checker.start()
    await asyncio.wait_for(checker.wait(), timeout=30)
    assert checker.rounds == 3 and not checker.running
    assert rounds == [{A: True}, {A: False}, {A: False}]
    assert registry.health(A).failures == 2


async def test_health_checker_stops(registry: Registry) -> None:
    registry.register(_entry(replicas=[A]))
    first = asyncio.Event()

    async def fetch(url: str) -> Mapping[str, Any]:
        first.set()
        return {}

    checker = HealthChecker(registry, interval_s=3600, fetch_card=fetch)
    checker.start()
    await asyncio.wait_for(first.wait(), timeout=30)
    assert checker.running
    await checker.stop()
    assert not checker.running


# -- entries from cards and workflows -----------------------------------------------------------


def test_entry_from_card() -> None:
    card = {"name": "refund-desk", "version": "3.1", "description": "Refunds.",
            "provider": {"organization": "Partner Inc"},
            "skills": [{"id": "refunds", "tags": ["refunds", "billing"]},
                       {"id": "disputes", "tags": ["chargebacks"]}]}
    entry = entry_from_card(card, A, trust="untrusted", price={"per_task_usd": 0.1},
                            replicas=[B])
    assert (entry.id, entry.version, entry.owner, entry.kind) == (
        "refund-desk", "3.1", "Partner Inc", "a2a")
    assert entry.capabilities == ["refunds", "billing", "disputes", "chargebacks"]
    assert entry.replicas == [A, B] and entry.price == {"per_task_usd": 0.1}
    assert entry_from_card(card, A, owner="partners-team").owner == "partners-team"
    with pytest.raises(RegistryError, match="no name"):
        entry_from_card({"skills": []}, A)


def test_entries_from_workflow(tmp_path: Path) -> None:
    workflow = _workflow(tmp_path)
    entries = entries_from_workflow(workflow, owner="support-team",
                                    capabilities={"refunder": ["refunds"]})
    triage, refunder = entries
    assert triage.id == "support/triage" and triage.kind == "local"
    assert triage.replicas == ["local:support/triage"] and triage.trust == "trusted"
    spec = workflow.spec
    assert triage.version == agent_identity(spec, spec.agents[0])["version"]
    assert triage.identity() == {**agent_identity(spec, spec.agents[0]),
                                 "owner": "support-team", "trust": "trusted"}
    assert "billing" in triage.capabilities and "customer" in triage.capabilities
    assert refunder.capabilities == ["refunds"]
    assert description_capabilities("x", "Issues refunds for the orders.") == [
        "x", "issues", "refunds", "orders"]


def test_local_agents_are_always_up(tmp_path: Path, registry: Registry) -> None:
    for entry in entries_from_workflow(_workflow(tmp_path), owner="us"):
        registry.register(entry)
    assert registry.pick("support/triage") == "local:support/triage"
    assert [e.id for e in registry.find("billing")] == ["support/triage"]


async def test_registry_shares_the_journal_file(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'j.db'}")
    try:
        reg = registry_for(store)
        reg.register(_entry())
        reg.close()  # the store's handle: closing the registry leaves it open
        assert [e.id for e in registry_for(store).list()] == [_entry().id]
    finally:
        await store.close()
    again = Registry(tmp_path / "j.db")  # another process opening the journal's file
    assert [e.id for e in again.list()] == [_entry().id]
    again.close()


# -- a real server ------------------------------------------------------------------------------


@pytest.fixture
def card_server(tmp_path: Path) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 serving an Agentplane agent card, in a thread."""
    holder: dict[str, str] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/.well-known/agent-card.json":
                self.send_error(404)
                return
            body = holder["card"].encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    url = f"http://127.0.0.1:{server.server_address[1]}"
    card = agent_card(_workflow(tmp_path), base_url=url, secured=False)
    holder["card"] = json.dumps(MessageToDict(card))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


async def test_real_card_server(card_server: str, registry: Registry) -> None:
    from agentplane.tools.sources.registry import fetch_agent_card

    card = await fetch_agent_card(card_server)
    entry = entry_from_card(card, card_server, trust="untrusted")
    assert entry.id == "support" and entry.owner == "Agentplane"
    assert "support.refunder" in entry.capabilities and "agent" in entry.capabilities
    registry.register(entry)
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    registry.register(AgentEntry(id="ghost", version="1", owner="x", replicas=[dead]))
    result = await check_health(registry, timeout_s=10)  # the default fetcher
    assert result == {card_server: True, dead: False}
    assert registry.health(card_server).ok is True
    assert registry.health(dead).error
    assert registry.pick("support") == card_server


# -- the command line ---------------------------------------------------------------------------


def test_cli_add_list_find_check(card_server: str, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from agentplane.cli.registry import registry_add, registry_check, registry_find, registry_list

    app = typer.Typer()
    app.command("add")(registry_add)
    app.command("list")(registry_list)
    app.command("find")(registry_find)
    app.command("check")(registry_check)
    db = ["--db", f"sqlite:///{tmp_path / 'cli.db'}"]
    flow = tmp_path / "support.yaml"
    flow.write_text(
        "name: helpdesk\nagents:\n  - name: clerk\n    description: Answers billing questions.\n"
        "    script: [{content: ok}]\nsteps: [{agent: clerk}]\n", encoding="utf-8")
    runner = CliRunner()

    added = runner.invoke(app, ["add", card_server, str(flow), "--owner", "ops",
                                "--price-per-task", "0.05", "--json", *db])
    assert added.exit_code == 0, added.output
    assert {e["id"] for e in json.loads(added.stdout)} == {"support", "helpdesk/clerk"}
    again = runner.invoke(app, ["add", card_server + "/", *db])  # same replica: no duplicate
    assert again.exit_code == 0, again.output

    listed = json.loads(runner.invoke(app, ["list", "--json", *db]).stdout)
    support = next(e for e in listed if e["id"] == "support")
    assert support["replicas"] == [card_server] and support["trust"] == "untrusted"
    assert support["price"] == {"per_task_usd": 0.05}
    found = json.loads(runner.invoke(app, ["find", "billing", "--json", *db]).stdout)
    assert [e["id"] for e in found] == ["helpdesk/clerk"]
    remote = json.loads(runner.invoke(app, ["find", "agent", "--json", *db]).stdout)
    assert [e["id"] for e in remote] == ["support"]
    trusted = runner.invoke(app, ["find", "agent", "--min-trust", "trusted", "--json", *db])
    assert json.loads(trusted.stdout) == []

    checked = runner.invoke(app, ["check", "--json", *db])
    assert checked.exit_code == 0, checked.output
    assert [(h["url"], h["ok"]) for h in json.loads(checked.stdout)] == [(card_server, True)]
    table = runner.invoke(app, ["list", *db])
    assert table.exit_code == 0 and "helpdesk" in table.stdout
