"""A2A: Agentplane's server and client with the official SDK, over real servers on loopback.

Each server is ``python -m agentplane.cli.a2a`` (the ``agentplane a2a serve`` command) in a
subprocess on a free 127.0.0.1 port with its own SQLite file; the test process reads and drives
the same journal, and is itself the second Agentplane instance that calls the first over A2A.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from a2a.client import A2ACardResolver, Client, ClientConfig, ClientFactory
from a2a.types import (
    CancelTaskRequest,
    GetTaskRequest,
    ListTasksRequest,
    Message,
    Part,
    Role,
    SendMessageRequest,
    Task,
    TaskNotCancelableError,
    TaskNotFoundError,
    TaskState,
    UnsupportedOperationError,
)
from a2a.utils.constants import TransportProtocol

from agentplane.governance.keys import KeyRing
from agentplane.journal import (
    Event,
    EventType,
    JournalStore,
    RunRecord,
    WaitRecord,
    open_store,
)
from agentplane.runtime import Runtime, Workflow, workflow_from_dict
from agentplane.server.a2a import A2A_RECEIVED, caller_of_key, task_state
from agentplane.tools import Trust
from agentplane.tools.sources.a2a import JournalTaskLog, a2a_tool
from agentplane.tools.sources.a2a_client import (
    TASK_FINISHED,
    TASK_STARTED,
    TASK_UPDATED,
    RemoteAgent,
    RemoteAgentError,
    RemoteUpdate,
    resume_or_send,
    state_name,
)

ROOT = Path(__file__).resolve().parents[2]
REFUND_DESK = ROOT / "examples" / "refund-desk" / "workflow.yaml"
KEY_A, KEY_B = "key-a-0123456789", "key-b-9876543210"
KEY_ENV = "A2A_TEST_KEY"

BOOKING_YAML = """\
name: booking-desk
description: Books meeting rooms; every booking waits for a person's approval.
autonomy: in_the_loop
tools:
  - name: book
    python: booking_tools:book
    effect: write
agents:
  - name: booker
    instructions: You book rooms.
    tools: [book]
    script:
      - tool_calls: [{name: book, arguments: {room: "R1"}}]
      - content: "Booked R1."
steps:
  - agent: booker
"""
BOOKING_TOOLS = '''\
def book(room: str) -> dict[str, str]:
    """Book a meeting room."""
    return {"room": room, "status": "booked"}
'''
SLOW_YAML = """\
name: slow-desk
description: A long job that waits until the test releases it.
autonomy: out_of_the_loop
tools:
  - name: wait_for_release
    python: slow_tools:wait_for_release
    effect: read
agents:
  - name: worker
    instructions: You do the long job.
    tools: [wait_for_release]
    script:
      - tool_calls: [{name: wait_for_release, arguments: {}}]
      - content: "Finished after the release."
steps:
  - agent: worker
"""
SLOW_TOOLS = '''\
import os
import time
from pathlib import Path

from agentplane.tools import ToolContext


def wait_for_release(context: ToolContext) -> str:
    """Mark that the job started, then wait (at most 60 s) for the test to release it."""
    folder = Path(os.environ["A2A_TEST_DIR"])
    (folder / f"started-{context.run_id}-{context.attempt}").touch()
    release = folder / f"release-{context.run_id}"
    for _ in range(1200):
        if release.exists():
            return "released"
        time.sleep(0.05)
    raise TimeoutError("the test never released the job")
'''
FRONT_TOOLS = '''\
def ask_refunds(message: str) -> str:
    """Replaced by the remote refund desk (an A2A tool) in the test."""
    raise RuntimeError("not replaced")


def file_note(text: str) -> str:
    """File a note."""
    return "filed"
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(condition: Any, what: str, tries: int = 600) -> None:
    """Poll ``condition`` (bounded: at most ``tries`` × 0.05 s), else fail naming ``what``."""
    for _ in range(tries):
        if condition():
            return
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}")


@dataclass
class Server:
    """``agentplane a2a serve`` in a subprocess on loopback."""

    workflows: list[Path]
    db: Path
    folder: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def agent_url(self, name: str) -> str:
        return f"{self.url}/agents/{name}"

    def start(self) -> None:
        env = {**os.environ, "AGENTPLANE_A2A_KEYS": f"{KEY_A}, {KEY_B}",
               "REFUND_LEDGER": str(self.folder / "ledger.jsonl"),
               "A2A_TEST_DIR": str(self.folder)}
        self.starts += 1
        log = (self.folder / f"server-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agentplane.cli.a2a", *map(str, self.workflows),
             "--port", str(self.port), "--db", f"sqlite:///{self.db}"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        log.close()
        wait_until(self._ready, f"the A2A server on port {self.port}")

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            text = (self.folder / f"server-{self.starts}.log").read_text()
            pytest.fail(f"the A2A server exited ({self.proc.returncode}):\n{text}")
        try:
            return httpx.get(f"{self.url}/agents", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def kill(self) -> None:
        """Kill -9: no shutdown, no goodbye (a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


def write_workflows(folder: Path) -> tuple[Path, Path]:
    (folder / "booking.yaml").write_text(BOOKING_YAML)
    (folder / "booking_tools.py").write_text(BOOKING_TOOLS)
    (folder / "slow.yaml").write_text(SLOW_YAML)
    (folder / "slow_tools.py").write_text(SLOW_TOOLS)
    return folder / "booking.yaml", folder / "slow.yaml"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server with three agents: the refund desk, the booking desk and the slow desk."""
    folder = tmp_path_factory.mktemp("a2a")
    booking, slow = write_workflows(folder)
    running = Server([REFUND_DESK, booking, slow], folder / "server.db", folder)
    try:
        running.start()
        yield running
    finally:
        running.kill()


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_ENV, KEY_A)
    return KEY_A


@pytest_asyncio.fixture
async def store(server: Server) -> AsyncIterator[JournalStore]:
    """The server's own journal, opened by the test process."""
    journal = open_store(f"sqlite:///{server.db}")
    yield journal
    await journal.close()


@pytest_asyncio.fixture
async def sdk(server: Server) -> AsyncIterator[Any]:
    """Makes official-SDK clients for an agent of the server (with key A)."""
    http = httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY_A}"}, timeout=30)

    async def make(name: str, *, streaming: bool = False, polling: bool = False,
                   http_client: httpx.AsyncClient = http) -> Client:
        card = await A2ACardResolver(http_client, server.agent_url(name)).get_agent_card()
        config = ClientConfig(streaming=streaming, polling=polling, httpx_client=http_client)
        return ClientFactory(config).create(card)

    yield make
    await http.aclose()


def user_message(text: str, **extra: Any) -> SendMessageRequest:
    return SendMessageRequest(message=Message(message_id=str(uuid.uuid4()), role=Role.ROLE_USER,
                                              parts=[Part(text=text)], **extra))


async def send(client: Client, text: str) -> Task:
    [response] = [r async for r in client.send_message(user_message(text))]
    assert response.HasField("task")
    return response.task


# -- the server -------------------------------------------------------------------------------


def test_agent_cards_list_skills_interfaces_and_security(server: Server) -> None:
    card = httpx.get(f"{server.agent_url('booking-desk')}/.well-known/agent-card.json").json()
    assert card["name"] == "booking-desk"
    assert card["description"].startswith("Books meeting rooms")
    assert {s["id"] for s in card["skills"]} == {"booking-desk", "booking-desk.booker"}
    interfaces = {(i["protocolBinding"], i["protocolVersion"]): i["url"]
                  for i in card["supportedInterfaces"]}
    agent = server.agent_url("booking-desk")
    assert interfaces == {("JSONRPC", "1.0"): agent, ("HTTP+JSON", "1.0"): agent + "/rest",
                          ("JSONRPC", "0.3"): agent}
    assert "protocolVersion" not in card and "url" not in card  # a pure 1.0 card by default
    legacy = httpx.get(f"{agent}/.well-known/agent-card.json",
                       headers={"A2A-Version": "0.3"}).json()
    assert legacy["protocolVersion"] == "0.3" and legacy["url"] == agent  # 0.3 clients read
    assert card["capabilities"]["streaming"] is True
    assert set(card["securitySchemes"]) == {"bearer", "apiKey"}
    assert card["securitySchemes"]["apiKey"]["apiKeySecurityScheme"]["name"] == "X-API-Key"
    listed = httpx.get(f"{server.url}/agents").json()["agents"]
    assert [a["name"] for a in listed] == ["refund-desk", "booking-desk", "slow-desk"]
    # with several agents there is no single root card
    assert httpx.get(f"{server.url}/.well-known/agent-card.json").status_code == 404


def test_requests_without_a_valid_key_are_refused(server: Server) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "run-x"}}
    url = server.agent_url("refund-desk")
    version = {"A2A-Version": "1.0"}
    assert httpx.post(url, json=body, headers=version).status_code == 401
    wrong = httpx.post(url, json=body, headers={**version, "Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
    assert KEY_A not in wrong.text
    assert httpx.get(f"{url}/rest/tasks/run-x", headers=version).status_code == 401
    known = httpx.post(url, json=body, headers={**version, "X-API-Key": KEY_B})
    assert known.status_code == 200 and known.json()["error"]["message"].startswith("no task")


def test_json_rpc_answers_with_a_trailing_slash_too(server: Server) -> None:
    # Clients that join paths to the card's URL (httpx's base_url, the A2A TCK) post to
    # ".../agents/NAME/"; a redirect would lose the POST.
    body = {"jsonrpc": "2.0", "id": 1, "method": "GetTask", "params": {"id": "run-x"}}
    headers = {"A2A-Version": "1.0", "Authorization": f"Bearer {KEY_A}"}
    response = httpx.post(server.agent_url("refund-desk") + "/", json=body, headers=headers)
    assert response.status_code == 200
    assert response.json()["error"]["code"] == -32001  # TaskNotFoundError


def test_agent_cards_may_be_cached(server: Server) -> None:
    response = httpx.get(f"{server.agent_url('refund-desk')}/.well-known/agent-card.json")
    assert response.status_code == 200
    assert "max-age=" in response.headers["cache-control"]


def test_a_message_with_an_unsupported_media_type_is_refused(server: Server) -> None:
    # A2A 1.0, SendMessage: a media type the agent does not support MUST be refused with
    # ContentTypeNotSupportedError (-32005) — here a file part, which a run cannot take.
    message = {"role": "ROLE_USER", "messageId": f"m-{uuid.uuid4()}",
               "parts": [{"raw": "dGNr", "mediaType": "application/x-unsupported"}]}
    body = {"jsonrpc": "2.0", "id": 1, "method": "SendMessage", "params": {"message": message}}
    headers = {"A2A-Version": "1.0", "Authorization": f"Bearer {KEY_A}"}
    error = httpx.post(server.agent_url("refund-desk"), json=body,
                       headers=headers).json()["error"]
    assert error["code"] == -32005
    assert "application/x-unsupported" in error["message"]
    # text with a text/* media type, and JSON data, are taken
    message["parts"] = [{"text": "Refund order A1", "mediaType": "text/markdown"}]
    message["messageId"] = f"m-{uuid.uuid4()}"
    body["params"] = {"message": message, "configuration": {"returnImmediately": True}}
    result = httpx.post(server.agent_url("refund-desk"), json=body, headers=headers).json()
    assert "error" not in result and result["result"]["task"]["id"].startswith("run-")


async def test_send_runs_the_workflow_and_returns_the_completed_task(
        server: Server, sdk: Any, store: JournalStore) -> None:
    client = await sdk("refund-desk")
    task = await send(client, "Refund order A1")
    assert task.status.state == TaskState.TASK_STATE_COMPLETED
    [artifact] = task.artifacts
    assert artifact.name == "output" and artifact.parts[0].text == "Refunded 20 on order A1."
    assert task.metadata["usage"]["inputTokens"] > 0
    assert not [k for k in (*task.metadata["usage"], *task.metadata["agentplane"]) if "_" in k]
    run = await store.require_run(task.id)  # the task id is the run id
    assert run.status == "completed" and run.input == "Refund order A1"
    received = [e for e in await store.events(task.id) if e.type == A2A_RECEIVED]
    assert received[0].actor == caller_of_key(KEY_A) == received[0].data["caller"]
    again = await client.get_task(GetTaskRequest(id=task.id))
    assert again.status.state == TaskState.TASK_STATE_COMPLETED
    listed = await client.list_tasks(ListTasksRequest())
    assert task.id in [t.id for t in listed.tasks]
    await client.close()


async def test_streaming_send_reports_the_run_as_it_proceeds(sdk: Any) -> None:
    client = await sdk("refund-desk", streaming=True)
    states: list[str] = []
    texts: list[str] = []
    artifacts: list[str] = []
    async for response in client.send_message(user_message("Refund order A1")):
        if response.HasField("task"):
            states.append(state_name(response.task.status.state))
        elif response.HasField("status_update"):
            status = response.status_update.status
            states.append(state_name(status.state))
            texts += [p.text for p in status.message.parts]
        elif response.HasField("artifact_update"):
            artifacts += [p.text for p in response.artifact_update.artifact.parts]
    collapsed = [s for i, s in enumerate(states) if i == 0 or states[i - 1] != s]
    assert collapsed == ["submitted", "working", "completed"]
    assert texts == ["calling lookup_order", "calling issue_refund"]
    assert artifacts == ["Refunded 20 on order A1."]
    await client.close()


async def test_a_run_waiting_for_approval_is_input_required_until_a_person_decides(
        server: Server, sdk: Any, store: JournalStore) -> None:
    client = await sdk("booking-desk")
    task = await send(client, "Book room R1")
    assert task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
    [wait] = await store.waits(run_id=task.id)
    question = task.status.message.parts[0].text
    assert wait.id in question and "book" in question and "in_the_loop" in question
    # the caller cannot approve its own request: the approval is for the agent's people
    follow_up = user_message("approve", task_id=task.id, context_id=task.context_id)
    with pytest.raises(UnsupportedOperationError, match=wait.id):
        async for _ in client.send_message(follow_up):
            pass
    runtime = Runtime(store)  # a person approves, in another process, on the same journal
    await runtime.decide(wait.id, approve=True, actor="user:ana", reason="fine")
    assert (await runtime.execute(task.id)).status == "completed"
    await runtime.aclose()
    done = await client.get_task(GetTaskRequest(id=task.id))
    assert done.status.state == TaskState.TASK_STATE_COMPLETED
    assert done.artifacts[0].parts[0].text == "Booked R1."
    await client.close()


async def test_cancel_a_waiting_and_a_working_task(server: Server, sdk: Any,
                                                   store: JournalStore) -> None:
    booking = await sdk("booking-desk")
    waiting = await send(booking, "Book room R2")
    cancelled = await booking.cancel_task(CancelTaskRequest(id=waiting.id))
    assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
    assert (await store.require_run(waiting.id)).status == "cancelled"
    assert await store.waits(run_id=waiting.id) == []  # the approval is closed too

    slow = await sdk("slow-desk", polling=True)  # returns at once with the task
    working = await send(slow, "long job")
    wait_until(lambda: (server.folder / f"started-{working.id}-1").exists(), "the job to start")
    now = await slow.get_task(GetTaskRequest(id=working.id))
    assert now.status.state == TaskState.TASK_STATE_WORKING
    cancelled = await slow.cancel_task(CancelTaskRequest(id=working.id))
    assert cancelled.status.state == TaskState.TASK_STATE_CANCELED
    (server.folder / f"release-{working.id}").touch()
    with pytest.raises(TaskNotCancelableError, match="already cancelled"):
        await slow.cancel_task(CancelTaskRequest(id=working.id))  # no longer cancelable
    await booking.close()
    await slow.close()


async def test_callers_see_only_their_own_tasks(server: Server, sdk: Any) -> None:
    mine = await send(await sdk("refund-desk"), "Refund order A1")
    other_http = httpx.AsyncClient(headers={"X-API-Key": KEY_B}, timeout=30)
    theirs = await sdk("refund-desk", http_client=other_http)
    with pytest.raises(TaskNotFoundError):
        await theirs.get_task(GetTaskRequest(id=mine.id))
    assert mine.id not in [t.id for t in (await theirs.list_tasks(ListTasksRequest())).tasks]
    await theirs.close()
    await other_http.aclose()


async def test_a_0_3_client_of_the_sdk_streams_from_the_same_endpoint(server: Server) -> None:
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY_A}"},
                                 timeout=30) as http:
        card = await A2ACardResolver(http, server.agent_url("refund-desk")).get_agent_card()
        legacy = [i for i in card.supported_interfaces if i.protocol_version == "0.3"]
        del card.supported_interfaces[:]
        card.supported_interfaces.extend(legacy)  # as a 0.3-only client sees the agent
        client = ClientFactory(ClientConfig(streaming=True, httpx_client=http)).create(card)
        states = [state_name(r.status_update.status.state)
                  async for r in client.send_message(user_message("Refund order A1"))
                  if r.HasField("status_update")]
        assert states[-1] == "completed"
        await client.close()


async def test_the_http_json_binding_serves_the_same_tasks(server: Server, sdk: Any) -> None:
    task = await send(await sdk("refund-desk"), "Refund order A1")
    async with httpx.AsyncClient(headers={"X-API-Key": KEY_A}, timeout=30) as http:
        card = await A2ACardResolver(http, server.agent_url("refund-desk")).get_agent_card()
        config = ClientConfig(httpx_client=http,
                              supported_protocol_bindings=[TransportProtocol.HTTP_JSON])
        rest = ClientFactory(config).create(card)
        again = await rest.get_task(GetTaskRequest(id=task.id))
        assert again.status.state == TaskState.TASK_STATE_COMPLETED
        assert again.artifacts[0].parts[0].text == "Refunded 20 on order A1."
        await rest.close()


def test_a_0_3_client_is_answered_on_the_same_endpoint(server: Server) -> None:
    body = {"jsonrpc": "2.0", "id": "1", "method": "message/send", "params": {"message": {
        "kind": "message", "role": "user", "messageId": str(uuid.uuid4()),
        "parts": [{"kind": "text", "text": "Refund order A1"}]}}}
    # no A2A-Version header: a 0.3 client
    answer = httpx.post(server.agent_url("refund-desk"), json=body,
                        headers={"Authorization": f"Bearer {KEY_A}"}, timeout=30).json()
    task = answer["result"]
    assert task["kind"] == "task" and task["status"]["state"] == "completed"
    assert task["artifacts"][0]["parts"] == [{"kind": "text", "text": "Refunded 20 on order A1."}]


def test_the_servers_api_keys_work_by_role_and_tenant(server: Server) -> None:
    ring = KeyRing(server.db)
    operator = ring.create("partner", role="operator")[1]
    viewer = ring.create("auditor", role="viewer")[1]
    elsewhere = ring.create("other", role="operator", tenant="beta")[1]

    def send(key: str) -> httpx.Response:
        body = {"jsonrpc": "2.0", "id": "1", "method": "message/send", "params": {"message": {
            "kind": "message", "role": "user", "messageId": str(uuid.uuid4()),
            "parts": [{"kind": "text", "text": "Refund order A1"}]}}}
        return httpx.post(server.agent_url("refund-desk"), json=body,
                          headers={"Authorization": f"Bearer {key}"}, timeout=30)

    answer = send(operator)
    assert answer.status_code == 200
    assert answer.json()["result"]["status"]["state"] == "completed"
    # a viewer passes the front door (it may read) but may not start runs
    refused = send(viewer)
    assert "'run' permission" in refused.json()["error"]["message"]
    assert "result" not in refused.json()
    assert send(elsewhere).status_code == 403  # nor a key of another tenant
    ring.revoke(operator.split("_")[1])
    assert send(operator).status_code == 401
    ring.close()


def test_the_server_does_not_start_without_keys(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "AGENTPLANE_A2A_KEYS"}
    env["AGENTPLANE_HOME"] = str(tmp_path)  # an empty key ring
    done = subprocess.run([sys.executable, "-m", "agentplane.cli.a2a", str(REFUND_DESK)],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "AGENTPLANE_A2A_KEYS" in done.stderr and "Traceback" not in done.stderr


# -- the client, and two Agentplane instances -------------------------------------------------


async def test_remote_agent_follows_a_task_and_reports_usage(server: Server, key: str) -> None:
    remote = RemoteAgent(server.agent_url("refund-desk"), key_env=KEY_ENV)
    seen: list[str] = []
    updates: list[RemoteUpdate] = []

    async def on_task(task_id: str) -> None:
        seen.append(task_id)

    async def on_update(update: RemoteUpdate) -> None:
        updates.append(update)

    result = await remote.send("Refund order A1", on_task=on_task, on_update=on_update)
    assert result.state == "completed" and result.text == "Refunded 20 on order A1."
    assert seen == [result.task_id] and result.agent == "refund-desk"
    assert result.usage["input_tokens"] > 0 and result.usage["output_tokens"] > 0
    assert updates[-1].state == "completed"
    polling = RemoteAgent(server.agent_url("refund-desk"), key_env=KEY_ENV, streaming=False,
                          poll_s=0.05)
    polled = await polling.send("Refund order A1")
    assert polled.state == "completed" and polled.text == result.text
    assert polled.task_id != result.task_id


async def test_remote_agent_needs_its_key(server: Server, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    remote = RemoteAgent(server.agent_url("refund-desk"), key_env=KEY_ENV)
    with pytest.raises(RemoteAgentError, match=KEY_ENV):
        await remote.send("Refund order A1")
    monkeypatch.setenv(KEY_ENV, "wrong-key")
    with pytest.raises(RemoteAgentError, match="401"):
        await remote.send("Refund order A1")


def front_desk(tmp_path: Path, remote: RemoteAgent, store: JournalStore,
               script: list[dict[str, Any]]) -> Workflow:
    """A workflow of this (second) Agentplane instance whose tool is the remote refund desk."""
    (tmp_path / "front_tools.py").write_text(FRONT_TOOLS)
    workflow = workflow_from_dict({
        "name": "front-desk", "autonomy": "out_of_the_loop",
        "tools": [{"name": "ask_refunds", "python": "front_tools:ask_refunds",
                   "effect": "write"},
                  {"name": "file_note", "python": "front_tools:file_note", "effect": "write"}],
        "agents": [{"name": "concierge", "tools": ["ask_refunds", "file_note"],
                    "script": script}],
        "steps": [{"agent": "concierge"}]}, tmp_path)
    workflow.tools["ask_refunds"] = a2a_tool(remote, "ask_refunds",
                                             log=JournalTaskLog(store, remote.url))
    return workflow


ASK = {"tool_calls": [{"name": "ask_refunds", "arguments": {"message": "Refund order A1"}}]}


async def test_two_agentplane_instances_a_workflow_step_is_a_remote_agent(
        server: Server, key: str, tmp_path: Path) -> None:
    remote = RemoteAgent(server.agent_url("refund-desk"), key_env=KEY_ENV)
    local = open_store(f"sqlite:///{tmp_path / 'front.db'}")
    workflow = front_desk(tmp_path, remote, local, [
        ASK, {"content": "The refund desk has refunded order A1."}])
    tool = workflow.tools["ask_refunds"]
    assert tool.trust is Trust.UNTRUSTED and tool.idempotent
    runtime = Runtime(local)
    record = await runtime.run(workflow, "Please refund A1")
    await runtime.aclose()
    assert record.status == "completed"
    events = await local.events(record.id)
    [started] = [e for e in events if e.type == TASK_STARTED]
    [finished] = [e for e in events if e.type == TASK_FINISHED]
    [done] = [e for e in events if e.type == EventType.TOOL_COMPLETED]
    task_id = started.data["task_id"]
    assert done.data["result"]["task_id"] == task_id == finished.data["task_id"]
    assert done.data["result"]["text"] == "Refunded 20 on order A1."
    assert finished.usage is not None and finished.usage["input_tokens"] > 0
    assert started.seq < done.seq  # journaled before the result was awaited
    progress = [e.data["text"] for e in events if e.type == TASK_UPDATED]
    assert "calling issue_refund" in progress  # the remote's progress, in our journal
    # the remote side's journal has the task as a completed run
    remote_store = open_store(f"sqlite:///{server.db}")
    assert (await remote_store.require_run(task_id)).status == "completed"
    await remote_store.close()
    await local.close()


async def test_what_a_remote_agent_says_is_untrusted_for_the_guardians(
        server: Server, key: str, tmp_path: Path) -> None:
    remote = RemoteAgent(server.agent_url("refund-desk"), key_env=KEY_ENV)
    local = open_store(f"sqlite:///{tmp_path / 'front.db'}")
    workflow = front_desk(tmp_path, remote, local, [
        ASK, {"tool_calls": [{"name": "file_note", "arguments": {"text": "refund of 20"}}]},
        {"content": "noted"}])
    runtime = Runtime(local)
    record = await runtime.run(workflow, "Please refund A1")
    await runtime.aclose()
    assert record.status == "completed"  # out of the loop: the call is refused, the agent told
    events = await local.events(record.id)
    decision = next(e for e in events if e.type == EventType.GUARD_DECIDED
                    and e.data["result"] != "allow")
    assert decision.data["guardian"] == "provenance" and decision.data["result"] == "deny"
    assert "ask_refunds" in decision.data["reason"]
    await local.close()


# -- a remote agent that crashes mid-task -----------------------------------------------------


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[Server]:
    _, slow = write_workflows(tmp_path)
    running = Server([slow], tmp_path / "slow.db", tmp_path)
    try:
        running.start()
        yield running
    finally:
        running.kill()


async def test_a_task_survives_the_server_crashing_and_is_resumed_not_resent(
        slow_server: Server, key: str) -> None:
    server = slow_server
    url = server.agent_url("slow-desk")
    # a single agent is also at the root
    assert httpx.get(f"{server.url}/.well-known/agent-card.json").json()["name"] == "slow-desk"
    journaled: list[str] = []

    async def on_task(task_id: str) -> None:
        journaled.append(task_id)  # what a runtime writes to its journal at this point

    message_id = "msg-" + uuid.uuid4().hex
    sending = asyncio.create_task(RemoteAgent(url, key_env=KEY_ENV).send(
        "long job", message_id=message_id, on_task=on_task))
    for _ in range(600):  # bounded: until the task is accepted and its job has started
        if journaled and (server.folder / f"started-{journaled[0]}-1").exists():
            break
        await asyncio.sleep(0.05)
    [task_id] = journaled
    server.kill()  # the remote crashes mid-task...
    sending.cancel()  # ...and so does the caller that followed it
    with pytest.raises(asyncio.CancelledError):
        await sending

    server.start()  # same port, same journal
    remote = RemoteAgent(url, key_env=KEY_ENV, poll_s=0.05)
    now = await remote.get(task_id)  # the task is still known: the journal is the task store
    assert now.state == "working" and now.task_id == task_id
    (server.folder / f"release-{task_id}").touch()
    result = await resume_or_send(remote, "long job", task_id=task_id)
    assert result.state == "completed" and result.text == "Finished after the release."

    store = open_store(f"sqlite:///{server.db}")
    runs = await store.list_runs(workflow="slow-desk")
    assert [r.id for r in runs] == [task_id]  # followed by id: nothing was sent again
    events = await store.events(task_id)
    attempts = [e.data["attempt"] for e in events if e.type == EventType.TOOL_STARTED]
    assert attempts == [1, 2]  # the restarted server resumed the run from its journal
    assert any(e.type == EventType.RUN_RESUMED for e in events)
    # sending the same message again (a caller that crashed before journaling the task id)
    # finds the same task instead of starting another
    again = await remote.send("long job", message_id=message_id)
    assert again.task_id == task_id and again.state == "completed"
    assert len(await store.list_runs(workflow="slow-desk")) == 1
    await store.close()


async def test_a_caller_keeps_following_its_task_across_the_remote_restarting(
        slow_server: Server, key: str) -> None:
    server = slow_server
    journaled: list[str] = []

    async def on_task(task_id: str) -> None:
        journaled.append(task_id)

    remote = RemoteAgent(server.agent_url("slow-desk"), key_env=KEY_ENV, poll_s=0.05,
                         retries=40)
    following = asyncio.create_task(remote.send("long job", on_task=on_task))
    for _ in range(600):
        if journaled and (server.folder / f"started-{journaled[0]}-1").exists():
            break
        await asyncio.sleep(0.05)
    [task_id] = journaled
    server.kill()  # the stream breaks under the caller
    server.start()
    (server.folder / f"release-{task_id}").touch()
    result = await following
    assert result.task_id == task_id and result.state == "completed"
    store = open_store(f"sqlite:///{server.db}")
    assert [r.id for r in await store.list_runs(workflow="slow-desk")] == [task_id]
    await store.close()


# -- run statuses as task states --------------------------------------------------------------

T = "2026-01-01T00:00:00.000000Z"


def _run(status: str) -> RunRecord:
    return RunRecord(id="run-1", workflow="w", workflow_hash="h", status=status,
                     tenant="default", created_at=T, updated_at=T, input="x", meta={},
                     last_seq=1, head_hash="")


def _event(kind: str, **data: Any) -> Event:
    return Event("run-1", 1, T, kind, "system", None, data, None, "", "")


def _wait(kind: str) -> WaitRecord:
    return WaitRecord(id="w-1", run_id="run-1", step_key="s0", kind=kind, status="open",
                      created_at=T, deadline=None,
                      data={"tool": "book", "reason": "in_the_loop: a person approves"})


@pytest.mark.parametrize(("status", "events", "waits", "state", "text"), [
    ("pending", [], [], "submitted", ""),
    ("pending", [_event(EventType.RUN_STARTED)], [], "working", ""),
    ("running", [], [], "working", ""),
    ("waiting", [], [_wait("tool_call")], "input-required",
     "approval w-1 (tool_call on book): in_the_loop: a person approves"),
    ("waiting", [], [_wait("timer")], "working", "waiting for a timer"),
    ("completed", [], [], "completed", ""),
    ("failed", [_event(EventType.RUN_FAILED, error="boom")], [], "failed", "boom"),
    ("cancelled", [_event(EventType.RUN_CANCELLED, reason="no longer needed")], [],
     "canceled", "no longer needed"),
    ("needs_reconciliation", [_event(EventType.RUN_NEEDS_RECONCILIATION, reason="check it")],
     [], "input-required", "check it"),
])
def test_run_statuses_map_to_task_states(status: str, events: list[Event],
                                         waits: list[WaitRecord], state: str,
                                         text: str) -> None:
    got, message = task_state(_run(status), events, waits)
    assert (state_name(got), message) == (state, text)


async def test_remote_agents_declared_in_workflow_yaml_are_tools_and_metered(
        server: Server, key: str, tmp_path: Path) -> None:
    from agentplane.metering.ledger import ledger_for
    from agentplane.metering.usage import free
    from agentplane.runtime import load_workflow

    (tmp_path / "front.yaml").write_text(f"""\
name: front
autonomy: out_of_the_loop
remote_agents:
  - name: refunds
    url: {server.agent_url("refund-desk")}
    key_env: {KEY_ENV}
agents:
  - name: concierge
    tools: [refunds]
    script:
      - tool_calls: [{{name: refunds, arguments: {{message: Refund order A1}}}}]
      - content: The refund desk refunded A1.
steps: [{{agent: concierge}}]
""")
    local = open_store(f"sqlite:///{tmp_path / 'front.db'}")
    runtime = Runtime(local)
    record = await runtime.run(load_workflow(tmp_path / "front.yaml"), "Please refund A1")
    await runtime.aclose()
    assert record.status == "completed"
    events = await local.events(record.id)
    [done] = [e for e in events if e.type == EventType.TOOL_COMPLETED]
    assert done.data["result"]["text"] == "Refunded 20 on order A1."
    ledger = ledger_for(local)
    await ledger.sync(local, free)
    remote = [e for e in ledger.events() if e["model"] == "a2a:refunds"]
    assert len(remote) == 1 and remote[0]["input_tokens"] > 0  # the remote's tokens, metered
    ledger.close()
    await local.close()
