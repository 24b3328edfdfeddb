"""Remote agents found through the agent registry: replicas, failover, identity and resume.

Two Agentplane A2A servers (``agentplane a2a serve`` in subprocesses on loopback, each with its
own SQLite journal) serve the same agents: they are the replicas of one registry entry. The
test process is the calling Agentplane instance, with its journal and registry in one real
SQLite file. Servers are killed with SIGKILL to make a replica die.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest
import pytest_asyncio

from agentplane.errors import ConfigError
from agentplane.journal import Event, EventType, JournalStore, open_store
from agentplane.runtime import Runtime, Workflow, load_workflow, workflow_from_dict
from agentplane.runtime.workflow import SpecError
from agentplane.tools.sources.a2a import RegistryReplicas
from agentplane.tools.sources.a2a_client import (
    TASK_FINISHED,
    TASK_ROUTED,
    TASK_STARTED,
    TASK_UPDATED,
    RemoteAgentError,
)
from agentplane.tools.sources.registry import (
    AgentEntry,
    Registry,
    check_health,
    entry_from_card,
    fetch_agent_card,
    registry_for,
)

from .test_a2a import KEY_A, KEY_ENV, REFUND_DESK, Server, write_workflows

T = TypeVar("T")


# -- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    """Two servers of the refund desk and the slow desk: replicas A and B of each agent."""
    servers = []
    for name in ("replica-a", "replica-b"):
        folder = tmp_path / name
        folder.mkdir()
        _, slow = write_workflows(folder)
        servers.append(Server([REFUND_DESK, slow], folder / "server.db", folder))
    a, b = servers
    try:
        a.start()
        b.start()
        yield a, b
    finally:
        a.kill()
        b.kill()


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, KEY_A)
    return KEY_A


@pytest_asyncio.fixture
async def local(tmp_path: Path) -> AsyncIterator[JournalStore]:
    """The calling instance's journal (its registry lives in the same file)."""
    store = open_store(f"sqlite:///{tmp_path / 'front.db'}")
    yield store
    await store.close()


async def register(registry: Registry, servers: tuple[Server, ...], agent: str,
                   **changes: Any) -> AgentEntry:
    """Register ``agent`` from its card, with every server as a replica, A first."""
    urls = [server.agent_url(agent) for server in servers]
    card = await fetch_agent_card(urls[0])
    entry = entry_from_card(card, urls[0], owner="payments-team", trust="trusted",
                            replicas=urls[1:])
    return registry.register(replace(entry, **changes))


def front(folder: Path, where: str, *, message: str = "Refund order A1",
          retries: int = 1) -> Workflow:
    """The calling workflow: one agent whose tool is the remote agent at ``where``."""
    (folder / "front.yaml").write_text(f"""\
name: front
autonomy: out_of_the_loop
remote_agents:
  - name: desk
    {where}
    key_env: {KEY_ENV}
    retries: {retries}
agents:
  - name: concierge
    tools: [desk]
    script:
      - tool_calls: [{{name: desk, arguments: {{message: {message}}}}}]
      - content: The desk answered.
steps: [{{agent: concierge}}]
""")
    return load_workflow(folder / "front.yaml")


def of(events: list[Event], kind: str) -> list[Event]:
    return [e for e in events if e.type == kind]


async def runs_at(server: Server, workflow: str) -> list[str]:
    """The ids of the runs (= A2A tasks) a server's own journal has of ``workflow``."""
    store = open_store(f"sqlite:///{server.db}")
    try:
        return [r.id for r in await store.list_runs(workflow=workflow)]
    finally:
        await store.close()


async def eventually(probe: Callable[[], Awaitable[T | None]], what: str) -> T:
    """Poll ``probe`` (bounded: at most 600 × 0.05 s) until it gives a value."""
    for _ in range(600):
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


# -- the spec -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("remote", "problem"), [
    ({"url": "http://127.0.0.1:1", "registry": "acme/researcher"},
     "exactly one of url .* got url and registry"),
    ({"registry": "acme/researcher", "capability": "research"},
     "got registry and capability"),
    ({}, "exactly one of url"),
    ({"url": "http://127.0.0.1:1", "min_trust": "trusted"}, "min_trust applies to registry"),
])
def test_a_remote_agent_names_exactly_one_address(tmp_path: Path, remote: dict[str, Any],
                                                  problem: str) -> None:
    with pytest.raises(SpecError, match=problem):
        workflow_from_dict({
            "name": "front", "remote_agents": [{"name": "researcher", **remote}],
            "agents": [{"name": "a", "tools": ["researcher"], "script": [{"content": "ok"}]}],
            "steps": [{"agent": "a"}]}, tmp_path)


def test_registry_and_capability_remote_agents_are_valid(tmp_path: Path) -> None:
    workflow = workflow_from_dict({
        "name": "front",
        "remote_agents": [{"name": "researcher", "registry": "acme/researcher"},
                          {"name": "translator", "capability": "translation",
                           "min_trust": "trusted"}],
        "agents": [{"name": "a", "tools": ["researcher", "translator"],
                    "script": [{"content": "ok"}]}],
        "steps": [{"agent": "a"}]}, tmp_path)
    researcher, translator = workflow.spec.remote_agents
    assert (researcher.registry, researcher.url) == ("acme/researcher", None)
    assert (translator.capability, translator.min_trust) == ("translation", "trusted")


def test_registry_replicas_refuse_entries_they_cannot_use(tmp_path: Path) -> None:
    registry = Registry(tmp_path / "r.db")
    registry.register(AgentEntry(id="helpdesk/clerk", version="1", owner="us",
                                 capabilities=["billing"], replicas=["local:helpdesk/clerk"],
                                 kind="local"))
    registry.register(AgentEntry(id="partner", version="1", owner="them", trust="untrusted",
                                 capabilities=["refunds"], replicas=["http://127.0.0.1:9"]))
    with pytest.raises(RemoteAgentError, match="no agent 'nobody' in the registry"):
        RegistryReplicas(registry, id="nobody").pick()
    with pytest.raises(RemoteAgentError, match="local agent"):
        RegistryReplicas(registry, id="helpdesk/clerk").pick()
    with pytest.raises(RemoteAgentError, match="partner is untrusted"):
        RegistryReplicas(registry, id="partner", min_trust="trusted").pick()
    with pytest.raises(RemoteAgentError, match="capability 'refunds', at least trusted"):
        RegistryReplicas(registry, capability="refunds", min_trust="trusted").pick()
    picked = RegistryReplicas(registry, capability="refunds").pick()
    assert picked.url == "http://127.0.0.1:9"
    assert picked.identity == {"id": "agent:partner", "version": "1", "owner": "them",
                               "trust": "untrusted", "replica": "http://127.0.0.1:9"}
    with pytest.raises(ConfigError, match="exactly one"):
        RegistryReplicas(registry)
    registry.close()


async def test_a_registry_agent_is_looked_up_in_the_journals_own_database(
        tmp_path: Path) -> None:
    # A :memory: journal has its registry too (the store's own handle, the same database):
    # an agent nobody registered fails the call, naming the registry and how to fill it.
    store = open_store("sqlite:///:memory:")
    runtime = Runtime(store)
    record = await runtime.run(front(tmp_path, "registry: refund-desk"), "go")
    await runtime.aclose()
    [failed] = of(await store.events(record.id), EventType.TOOL_FAILED)
    assert failed.data["error"] == ("no agent 'refund-desk' in the registry; register it with "
                                    "`agentplane registry add`")
    await store.close()


# -- failover -----------------------------------------------------------------------------------


async def test_a_new_task_fails_over_from_a_dead_replica_and_the_journal_names_the_replica(
        replicas: tuple[Server, Server], local: JournalStore, key: str, tmp_path: Path) -> None:
    a, b = replicas
    url_a, url_b = a.agent_url("refund-desk"), b.agent_url("refund-desk")
    registry = registry_for(local, max_failures=1)  # one failure and a replica is down
    entry = await register(registry, replicas, "refund-desk")
    a.kill()  # replica A dies; the registry does not know yet
    runtime = Runtime(local, registry=registry)
    workflow = front(tmp_path, "registry: refund-desk")

    first = await runtime.run(workflow, "Please refund A1")
    assert first.status == "completed"
    events = await local.events(first.id)
    routed = of(events, TASK_ROUTED)
    assert [e.data["url"] for e in routed] == [url_a, url_b]  # round robin began at A
    assert "failed_over_from" not in routed[0].data
    assert routed[1].data["failed_over_from"] == url_a
    assert "cannot be reached" in routed[1].data["error"]
    [started] = of(events, TASK_STARTED)
    [finished] = of(events, TASK_FINISHED)
    task_id = started.data["task_id"]
    assert started.data["url"] == finished.data["url"] == url_b
    identity = {"id": "agent:refund-desk", "version": "1", "owner": "payments-team",
                "trust": "trusted", "replica": url_b}
    assert entry.identity(replica=url_b) == identity
    assert started.data["identity"] == finished.data["identity"] == identity
    assert all(e.data["identity"] == identity for e in of(events, TASK_UPDATED))
    assert routed[0].data["identity"]["replica"] == url_a
    [done] = of(events, EventType.TOOL_COMPLETED)
    assert done.data["result"]["text"] == "Refunded 20 on order A1."
    assert done.data["result"]["task_id"] == task_id
    assert await runs_at(b, "refund-desk") == [task_id]

    # the registry's health has A's failure, and B's success
    health = registry.health(url_a)
    assert health.ok is False and health.failures == 1
    assert "cannot be reached" in (health.error or "")
    assert not registry.is_up(url_a)
    assert registry.health(url_b).ok is True

    # A is down now: the next task goes straight to B
    second = await runtime.run(workflow, "Please refund A1 again")
    assert second.status == "completed"
    assert [e.data["url"] for e in of(await local.events(second.id), TASK_ROUTED)] == [url_b]

    # A comes back; a health check sees it, and the rotation takes it in again
    a.start()
    assert await check_health(registry) == {url_a: True, url_b: True}
    third = await runtime.run(workflow, "And once more")
    assert third.status == "completed"
    [started] = of(await local.events(third.id), TASK_STARTED)
    assert started.data["url"] == url_a
    assert await runs_at(a, "refund-desk") == [started.data["task_id"]]
    await runtime.aclose()
    registry.close()


async def test_with_every_replica_dead_the_step_fails_naming_them(
        replicas: tuple[Server, Server], local: JournalStore, key: str, tmp_path: Path) -> None:
    a, b = replicas
    registry = registry_for(local)
    await register(registry, replicas, "refund-desk")
    a.kill()
    b.kill()
    runtime = Runtime(local, registry=registry)
    record = await runtime.run(front(tmp_path, "registry: refund-desk"), "Please refund A1")
    await runtime.aclose()
    assert record.status == "completed"  # the agent was told, and answered
    events = await local.events(record.id)
    [failed] = of(events, EventType.TOOL_FAILED)
    error = failed.data["error"]
    assert "no replica of the registry's agent refund-desk could be reached" in error
    assert a.agent_url("refund-desk") in error and b.agent_url("refund-desk") in error
    assert of(events, TASK_STARTED) == []
    assert [e.data["url"] for e in of(events, TASK_ROUTED)] == [
        a.agent_url("refund-desk"), b.agent_url("refund-desk")]
    assert registry.health(a.agent_url("refund-desk")).failures == 1
    assert registry.health(b.agent_url("refund-desk")).failures == 1
    registry.close()


# -- a started task stays on its replica --------------------------------------------------------


async def crash_mid_task(local: JournalStore, registry: Registry, workflow: Workflow,
                         a: Server) -> tuple[str, str]:
    """Start a run whose remote task is taken by replica A, and abandon it while the task
    works there: what a crash of the calling process leaves. Returns (run id, task id)."""
    crashed = Runtime(local, registry=registry, lease_seconds=0.05)
    run = await crashed.start(workflow, "Do the long job")
    driving = asyncio.create_task(crashed.execute(run.id))

    async def task_working_at_a() -> str | None:
        started = of(await local.events(run.id), TASK_STARTED)
        if started and (a.folder / f"started-{started[0].data['task_id']}-1").exists():
            return str(started[0].data["task_id"])
        return None

    task_id = await eventually(task_working_at_a, "the remote task to start at replica A")
    driving.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await driving
    await crashed.aclose()
    return run.id, task_id


async def resume(runtime: Runtime, run_id: str) -> Any:
    """Drive the run again once the crashed runtime's lease has expired."""
    async def taken_over() -> Any:
        record = await runtime.execute(run_id)
        return record if record.status != "running" else None

    return await eventually(taken_over, "the crashed runtime's lease to expire")


async def test_after_a_local_crash_the_task_is_followed_on_its_replica_by_task_id(
        replicas: tuple[Server, Server], local: JournalStore, key: str, tmp_path: Path) -> None:
    a, b = replicas
    url_a = a.agent_url("slow-desk")
    registry = registry_for(local)
    entry = await register(registry, replicas, "slow-desk")
    workflow = front(tmp_path, "registry: slow-desk", message="long job")
    run_id, task_id = await crash_mid_task(local, registry, workflow, a)
    # the rotation has moved on to B: a step that sent its message again would go there
    (a.folder / f"release-{task_id}").touch()
    runtime = Runtime(local, registry=registry)
    record = await resume(runtime, run_id)
    await runtime.aclose()
    assert record.status == "completed"
    events = await local.events(run_id)
    [routed] = of(events, TASK_ROUTED)
    [started] = of(events, TASK_STARTED)
    [finished] = of(events, TASK_FINISHED)
    assert routed.data["url"] == started.data["url"] == finished.data["url"] == url_a
    assert finished.data["task_id"] == task_id and finished.data["state"] == "completed"
    assert finished.data["identity"] == entry.identity(replica=url_a)
    tool_calls = [e.data["attempt"] for e in of(events, EventType.TOOL_STARTED)]
    assert tool_calls == [1, 2]  # the step ran again after the crash...
    [done] = of(events, EventType.TOOL_COMPLETED)
    assert done.data["result"]["text"] == "Finished after the release."
    assert await runs_at(a, "slow-desk") == [task_id]  # ...and followed its task by id
    assert await runs_at(b, "slow-desk") == []  # never sent to the other replica
    registry.close()


async def test_a_crash_before_the_task_id_is_known_sends_again_to_the_same_replica(
        replicas: tuple[Server, Server], local: JournalStore, key: str, tmp_path: Path) -> None:
    a, b = replicas
    url_a = a.agent_url("refund-desk")
    registry = registry_for(local)
    await register(registry, replicas, "refund-desk")
    assert a.proc is not None
    a.proc.send_signal(signal.SIGSTOP)  # A accepts connections but answers nothing
    try:
        crashed = Runtime(local, registry=registry, lease_seconds=0.05)
        run = await crashed.start(front(tmp_path, "registry: refund-desk"), "Please refund A1")
        driving = asyncio.create_task(crashed.execute(run.id))

        async def routed_to_a() -> list[Event]:
            return of(await local.events(run.id), TASK_ROUTED)

        [routed] = await eventually(routed_to_a, "the step to choose replica A")
        assert routed.data["url"] == url_a
        driving.cancel()  # the caller crashes while its message may be on the way to A
        with contextlib.suppress(asyncio.CancelledError):
            await driving
        await crashed.aclose()
    finally:
        a.proc.send_signal(signal.SIGCONT)
    assert of(await local.events(run.id), TASK_STARTED) == []  # no task id was journaled
    runtime = Runtime(local, registry=registry)
    record = await resume(runtime, run.id)
    await runtime.aclose()
    assert record.status == "completed"
    events = await local.events(run.id)
    assert [e.data["url"] for e in of(events, TASK_ROUTED)] == [url_a]  # not routed again
    [started] = of(events, TASK_STARTED)
    assert started.data["url"] == url_a
    # the same message id at the same replica: one task there, whether or not the first
    # message had arrived; nothing at B, where the rotation would have sent a new task
    assert await runs_at(a, "refund-desk") == [started.data["task_id"]]
    assert await runs_at(b, "refund-desk") == []
    registry.close()


async def test_a_replica_crashing_mid_task_is_waited_for_not_replaced(
        replicas: tuple[Server, Server], local: JournalStore, key: str, tmp_path: Path) -> None:
    a, b = replicas
    url_a = a.agent_url("slow-desk")
    registry = registry_for(local)
    await register(registry, replicas, "slow-desk")
    runtime = Runtime(local, registry=registry)
    workflow = front(tmp_path, "registry: slow-desk", message="long job", retries=40)
    running = asyncio.create_task(runtime.run(workflow, "Do the long job"))

    async def task_working_at_a() -> str | None:
        runs = await local.list_runs(workflow="front")
        started = of(await local.events(runs[0].id), TASK_STARTED) if runs else []
        if started and (a.folder / f"started-{started[0].data['task_id']}-1").exists():
            return str(started[0].data["task_id"])
        return None

    task_id = await eventually(task_working_at_a, "the remote task to start at replica A")
    a.kill()  # replica A crashes mid-task (B is healthy all along)...
    a.start()  # ...and comes back with its journal, resuming the task
    (a.folder / f"release-{task_id}").touch()
    record = await running
    await runtime.aclose()
    assert record.status == "completed"
    events = await local.events(record.id)
    assert [e.data["url"] for e in of(events, TASK_ROUTED)] == [url_a]
    [finished] = of(events, TASK_FINISHED)
    assert finished.data["task_id"] == task_id and finished.data["url"] == url_a
    assert of(events, EventType.TOOL_COMPLETED)[0].data["result"]["text"] == (
        "Finished after the release.")
    assert await runs_at(a, "slow-desk") == [task_id]
    assert await runs_at(b, "slow-desk") == []
    registry.close()


async def test_when_the_replica_with_the_task_is_down_on_resume_the_step_fails_clearly(
        replicas: tuple[Server, Server], local: JournalStore, key: str, tmp_path: Path) -> None:
    a, b = replicas
    url_a = a.agent_url("slow-desk")
    registry = registry_for(local)
    await register(registry, replicas, "slow-desk")
    workflow = front(tmp_path, "registry: slow-desk", message="long job")
    run_id, task_id = await crash_mid_task(local, registry, workflow, a)
    a.kill()  # and replica A, which has the task, is gone too
    runtime = Runtime(local, registry=registry)
    record = await resume(runtime, run_id)
    await runtime.aclose()
    assert record.status == "completed"  # the agent was told, and answered
    events = await local.events(run_id)
    [failed] = of(events, EventType.TOOL_FAILED)
    error = failed.data["error"]
    assert f"{url_a} unreachable while following task {task_id}" in error
    assert "not sent to another replica" in error
    assert [e.data["url"] for e in of(events, TASK_STARTED)] == [url_a]
    assert await runs_at(b, "slow-desk") == []  # B never got it
    health = registry.health(url_a)
    assert health.ok is False and task_id in (health.error or "")
    registry.close()


# -- identity of an agent named by URL ----------------------------------------------------------


async def test_an_agent_named_by_url_is_identified_by_its_url(
        replicas: tuple[Server, Server], local: JournalStore, key: str, tmp_path: Path) -> None:
    _, b = replicas
    url = b.agent_url("refund-desk")
    runtime = Runtime(local)
    record = await runtime.run(front(tmp_path, f"url: {url}"), "Please refund A1")
    await runtime.aclose()
    assert record.status == "completed"
    events = await local.events(record.id)
    assert of(events, TASK_ROUTED) == []  # one address: nothing to choose
    for kind in (TASK_STARTED, TASK_UPDATED, TASK_FINISHED):
        assert of(events, kind) and all(e.data["identity"] == {"url": url}
                                        for e in of(events, kind))


# -- a supervisor whose worker is a remote agent ------------------------------------------------

SUPERVISED_YAML = """\
name: refund-team
autonomy: out_of_the_loop
remote_agents:
  - name: refund_desk
    capability: refunds           # the registry's trusted entry with this capability
    min_trust: trusted
    key_env: {key_env}
agents:
  - name: lead
    instructions: You lead the refund team.
    script:
      - tool_calls: [{{name: assign_task, arguments: {{worker: refunder, task: Refund order A1}}}}]
      - content: "Checked: order A1 was refunded 20."
  - name: refunder
    description: Hands refunds to the refund desk over A2A.
    tools: [refund_desk]
    script:
      - tool_calls: [{{name: refund_desk, arguments: {{message: Refund order A1}}}}]
      - content: "Refunded 20 on order A1."
steps:
  - supervisor: lead
    workers: [refunder]
"""


async def test_a_supervisor_assigns_work_to_a_remote_agent_over_a2a(
        replicas: tuple[Server, Server], local: JournalStore, key: str, tmp_path: Path) -> None:
    a, b = replicas
    registry = registry_for(local)
    # a trusted entry on replica A, an untrusted one with the same capability on B
    trusted = await register(registry, (a,), "refund-desk", capabilities=["refunds"])
    await register(registry, (b,), "refund-desk", id="partner-refunds", trust="untrusted",
                   capabilities=["refunds"])
    (tmp_path / "team.yaml").write_text(SUPERVISED_YAML.format(key_env=KEY_ENV))
    workflow = load_workflow(tmp_path / "team.yaml")
    runtime = Runtime(local)  # the registry in the journal's file, opened by the runtime
    record = await runtime.run(workflow, "Refund A1, please")
    await runtime.aclose()
    assert record.status == "completed"
    again = Runtime(local)  # the same workflow in another runtime, the first one closed
    assert (await again.run(workflow, "Refund A1 again")).status == "completed"
    await again.aclose()
    events = await local.events(record.id)
    [completed] = of(events, EventType.RUN_COMPLETED)
    assert completed.data["output"] == "Checked: order A1 was refunded 20."
    [assigned] = of(events, EventType.HANDOFF)
    assert (assigned.data["from"], assigned.data["to"], assigned.data["mode"]) == (
        "lead", "refunder", "assign")
    [started] = of(events, TASK_STARTED)
    assert started.step_key is not None and started.step_key.startswith(assigned.step_key or "")
    url_a = a.agent_url("refund-desk")
    assert started.data["identity"] == trusted.identity(replica=url_a)
    [done] = [e for e in of(events, EventType.TOOL_COMPLETED) if e.data["tool"] == "refund_desk"]
    assert done.data["result"]["text"] == "Refunded 20 on order A1."
    assert started.data["task_id"] in await runs_at(a, "refund-desk")
    assert len(await runs_at(a, "refund-desk")) == 2
    assert await runs_at(b, "refund-desk") == []  # the untrusted entry was not used
    registry.close()


DIRECT_WORKER_YAML = """\
name: refund-team-direct
autonomy: out_of_the_loop
remote_agents:
  - name: refund_desk
    registry: refund-desk
    key_env: {key_env}
agents:
  - name: lead
    instructions: You lead the refund team.
    script:
      - tool_calls: [{{name: assign_task,
                       arguments: {{worker: refund_desk, task: Refund order A1}}}}]
      - content: "Checked: the refund desk refunded order A1."
steps:
  - supervisor: lead
    workers: [refund_desk]
"""


async def test_a_remote_agent_is_a_supervisors_worker_directly(
        replicas: tuple[Server, Server], local: JournalStore, key: str, tmp_path: Path) -> None:
    a, _ = replicas
    registry = registry_for(local)
    entry = await register(registry, (a,), "refund-desk", capabilities=["refunds"])
    (tmp_path / "direct.yaml").write_text(DIRECT_WORKER_YAML.format(key_env=KEY_ENV))
    workflow = load_workflow(tmp_path / "direct.yaml")
    runtime = Runtime(local)
    record = await runtime.run(workflow, "Refund A1, please")
    await runtime.aclose()
    assert record.status == "completed"
    events = await local.events(record.id)
    [assigned] = of(events, EventType.HANDOFF)
    assert (assigned.data["from"], assigned.data["to"]) == ("lead", "refund_desk")
    # the assignment went through the guardians and was journaled as a tool step
    assert [e for e in of(events, EventType.GUARD_DECIDED)
            if e.data.get("tool") == "refund_desk"]
    [started] = of(events, TASK_STARTED)
    assert started.step_key == f"{assigned.step_key}"
    assert started.data["identity"] == entry.identity(replica=a.agent_url("refund-desk"))
    [done] = [e for e in of(events, EventType.TOOL_COMPLETED) if e.data["tool"] == "refund_desk"]
    assert done.data["result"]["text"] == "Refunded 20 on order A1."
    # only the supervisor called a model: no stand-in worker agent in between
    assert {e.data["agent"] for e in of(events, EventType.MODEL_COMPLETED)} == {"lead"}
    registry.close()
