"""No input, tool or fault may crash a run, stop the runtime or lose a record (issue 11).

Each class of defect is tested at every entry point the runtime has: tool results, model
replies (from a real loopback server speaking the OpenAI wire format), run inputs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from agentplane.errors import ConfigError
from agentplane.journal import Event, EventType, JournalStore, verify
from agentplane.models.base import ModelRequest, ModelResponse, TextCallback
from agentplane.models.registry import Endpoint, ModelResolver
from agentplane.runtime import Runtime, SpecError, Workflow, workflow_from_dict
from tests.models.wire_servers import json_reply, openai_completion, openai_server

from . import faulty

HERE = Path(__file__).parent
MODULE = "tests.runtime.faulty"


@pytest.fixture(autouse=True)
def _reset_faulty() -> None:
    faulty.reset()


def flow(tools: Sequence[dict[str, Any]], calls: Sequence[tuple[str, dict[str, Any]]],
         **extra: Any) -> Workflow:
    """One agent that makes ``calls`` (name, arguments) in one turn, then answers "done"."""
    decls = [{"python": f"{MODULE}:{t.pop('fn', t['name'])}", **t} for t in
             (dict(t) for t in tools)]
    script = [{"tool_calls": [{"name": n, "arguments": a} for n, a in calls]},
              {"content": "done"}]
    return workflow_from_dict({"name": "faults", "tools": decls, "agents": [
        {"name": "a", "tools": sorted({t["name"] for t in decls}), "script": script}],
        "steps": [{"agent": "a"}], **extra}, HERE)


def of(events: Sequence[Event], kind: str) -> list[Event]:
    return [e for e in events if e.type == kind]


async def finish(store: JournalStore, run_id: str) -> list[Event]:
    report = await verify(store)
    assert report.ok, report
    return await store.events(run_id)


# -- unsafe text: one boundary, every entry point -------------------------------------------------

async def test_surrogates_from_a_write_tool_are_recorded_not_fatal(runtime: Runtime,
                                                                   store: JournalStore) -> None:
    wf = flow([{"name": "surrogate", "effect": "write"}], [("surrogate", {})])
    run = await runtime.run(wf, "go")
    events = await finish(store, run.id)
    assert run.status == "completed", events[-1].data
    done = of(events, EventType.TOOL_COMPLETED)[0]
    assert done.data["result"] == {"text": "bad \ufffd text", "bad \ufffd key": ["ok", "\ufffd"]}
    assert {c["path"] for c in done.data["sanitized"]} == {
        "data.result.text", "data.result.bad \ufffd key", "data.result.bad \ufffd key[1]"}
    assert faulty.CALLS == ["surrogate"]  # the write ran once


async def test_the_model_sees_what_the_journal_holds(store: JournalStore) -> None:
    """A model reply with lone surrogates (valid JSON from an OpenAI-compatible server): the run
    completes, and what the run went on with is the journaled (safe) text."""
    with openai_server() as server:
        server.script(json_reply(openai_completion(
            None, [("c\udc80", "ok", ['{"text": "x\\udc80"}'])])),
            json_reply(openai_completion("hello \udc80 world")))
        wf = workflow_from_dict({
            "name": "wire", "providers": [{"name": "local", "base_url": server.url + "/v1"}],
            "tools": [{"name": "ok", "python": f"{MODULE}:ok", "effect": "read"}],
            "agents": [{"name": "a", "model": "local:gpt-test", "tools": ["ok"]}],
            "steps": [{"agent": "a"}]}, HERE)
        runtime = Runtime(store)
        try:
            run = await runtime.run(wf, "hi")
        finally:
            await runtime.aclose()
        second = server.bodies[1]
    events = await finish(store, run.id)
    assert run.status == "completed", events[-1].data
    assert events[-1].data["output"] == "hello \ufffd world"
    replies = of(events, EventType.MODEL_COMPLETED)
    assert replies[1].data["sanitized"][0]["path"].startswith("data.response")
    # The tool ran with the safe argument, and the model was sent the safe tool result.
    assert of(events, EventType.TOOL_COMPLETED)[0].data["result"] == "x\ufffd"
    assert "\ufffd" in str(second["messages"])


async def test_run_input_with_surrogates(runtime: Runtime, store: JournalStore) -> None:
    wf = flow([{"name": "ok", "effect": "read"}], [("ok", {})])
    run = await runtime.run(wf, {"text": "\ud800", "\udc80": [float("nan")]})
    events = await finish(store, run.id)
    assert run.status == "completed"
    assert run.input == {"text": "\ufffd", "\ufffd": [None]}
    created = events[0]
    assert created.data["input"] == run.input
    assert {c["change"] for c in created.data["sanitized"]} == {
        "lone surrogates replaced by U+FFFD", "lone surrogates in the key replaced by U+FFFD",
        "nan is not JSON: replaced by null"}


def test_a_workflow_with_unsafe_text_is_a_spec_error() -> None:
    where = r"agents\[0\]\.script\[0\]\.content: text that is not valid"
    with pytest.raises(SpecError, match=where):
        workflow_from_dict({"name": "bad", "agents": [{"name": "a", "script": [
            {"content": "\udc80"}]}], "steps": [{"agent": "a"}]}, HERE)


# -- user code raising anything -------------------------------------------------------------------

KINDS = ["SystemExit", "KeyboardInterrupt", "GeneratorExit", "BaseException"]


@pytest.mark.parametrize("kind", KINDS)
async def test_any_base_exception_from_a_read_tool_fails_the_call(
        runtime: Runtime, store: JournalStore, kind: str) -> None:
    wf = flow([{"name": "raise_kind", "effect": "read"}], [("raise_kind", {"kind": kind})],
              tool_defaults={"retry": {"attempts": 2, "backoff_s": 0}})
    run = await runtime.run(wf, "go")
    events = await finish(store, run.id)
    assert run.status == "completed"
    failed = of(events, EventType.TOOL_FAILED)[0]
    assert f"the tool raised {kind}" in failed.data["error"]
    assert "attempt 2 of 2" in failed.data["error"]  # a crash of a read call is retried
    assert faulty.CALLS.count(f"raise_kind:{kind}") == 2


async def test_a_tool_raising_cancelled_error_is_not_a_cancellation(runtime: Runtime,
                                                                     store: JournalStore) -> None:
    wf = flow([{"name": "self_cancel", "effect": "read"}], [("self_cancel", {})],
              tool_defaults={"retry": {"attempts": 1}})
    run = await runtime.run(wf, "go")
    events = await finish(store, run.id)
    assert run.status == "completed"
    assert "the tool raised CancelledError" in of(events, EventType.TOOL_FAILED)[0].data["error"]


@pytest.mark.parametrize("fn", ["sys_exit", "async_exit", "raise_kind"])
async def test_a_crashing_write_waits_for_a_person(runtime: Runtime, store: JournalStore,
                                                   fn: str) -> None:
    """The write may have happened before the tool exited: never `failed`, never re-run."""
    args = {"kind": "RuntimeError"} if fn == "raise_kind" else {}
    wf = flow([{"name": fn, "effect": "write"}], [(fn, args)])
    run = await runtime.run(wf, "go")
    events = await finish(store, run.id)
    assert run.status == "needs_reconciliation"
    assert of(events, EventType.TOOL_FAILED) == []
    pending = of(events, EventType.RUN_NEEDS_RECONCILIATION)[0]
    assert pending.data["error"] and pending.data["tool"] == fn
    again = await runtime.execute(run.id)  # resuming does not run it again
    assert again.status == "needs_reconciliation" and len(faulty.CALLS) == 1


async def test_a_result_the_journal_refuses_is_reconciled_for_a_write(
        runtime: Runtime, store: JournalStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("agentplane.journal.safe.MAX_EVENT_DATA_CHARS", 50_000)
    wf = flow([{"name": "huge", "effect": "write"}], [("huge", {"chars": 60_000})],
              tool_defaults={"max_result_chars": 100_000})
    run = await runtime.run(wf, "go")
    events = await finish(store, run.id)
    assert run.status == "needs_reconciliation"
    assert "could not be journaled" in of(events, EventType.RUN_NEEDS_RECONCILIATION)[0].data[
        "error"]


# -- process isolation: exits, crashes and hangs end a child, not the runtime ---------------------

@pytest.mark.parametrize(("fn", "expected"), [
    ("hard_exit", "exited with code 7"), ("segfault", "killed by signal SIGSEGV"),
    ("sys_exit", "the tool raised SystemExit: bye"),
])
async def test_process_isolation_survives_exit_and_segfault(
        runtime: Runtime, store: JournalStore, fn: str, expected: str) -> None:
    wf = flow([{"name": fn, "effect": "read", "isolation": "process"},
               {"name": "surrogate", "effect": "read", "isolation": "process"}],
              [(fn, {}), ("surrogate", {})],
              tool_defaults={"retry": {"attempts": 1}})
    run = await runtime.run(wf, "go")
    events = await finish(store, run.id)
    assert run.status == "completed"
    assert expected in of(events, EventType.TOOL_FAILED)[0].data["error"]
    assert of(events, EventType.TOOL_COMPLETED)[0].data["result"]["text"] == "bad \ufffd text"


async def test_process_isolated_results_use_the_same_conversion(runtime: Runtime,
                                                                store: JournalStore) -> None:
    inline = flow([{"name": "non_json", "effect": "read"}], [("non_json", {})])
    isolated = flow([{"name": "non_json", "effect": "read", "isolation": "process"}],
                    [("non_json", {})])
    results = []
    for wf in (inline, isolated):
        run = await runtime.run(wf, "go")
        events = await finish(store, run.id)
        results.append(of(events, EventType.TOOL_COMPLETED)[0].data["result"])
    assert results[0] == results[1]


async def test_a_hung_isolated_write_is_killed_and_reconciled(runtime: Runtime,
                                                              store: JournalStore) -> None:
    wf = flow([{"name": "sleepy", "effect": "write", "isolation": "process", "timeout_s": 0.5}],
              [("sleepy", {"seconds": 60})])
    run = await runtime.run(wf, "go")
    events = await finish(store, run.id)
    assert run.status == "needs_reconciliation"
    assert "did not answer within 0.5 s" in of(events, EventType.RUN_NEEDS_RECONCILIATION)[0].data[
        "error"]


# -- timeouts, retries, cancellation --------------------------------------------------------------

async def test_a_hung_read_is_retried_with_backoff_then_failed(runtime: Runtime,
                                                               store: JournalStore) -> None:
    wf = flow([{"name": "hang", "effect": "read", "timeout_s": 0.2}], [("hang", {})],
              tool_defaults={"retry": {"attempts": 3, "backoff_s": 0.05, "factor": 2}})
    try:
        run = await runtime.run(wf, "go")
    finally:
        faulty.RELEASE.set()
    events = await finish(store, run.id)
    assert run.status == "completed"
    starts = of(events, EventType.TOOL_STARTED)
    assert [s.data["attempt"] for s in starts] == [1, 2, 3]
    assert "did not answer within 0.2 s" in starts[1].data["previous_error"]
    assert "attempt 3 of 3" in of(events, EventType.TOOL_FAILED)[0].data["error"]
    assert faulty.CALLS == ["hang"] * 3


async def test_cancelling_a_run_frees_it_from_a_hung_tool(runtime: Runtime,
                                                          store: JournalStore) -> None:
    wf = flow([{"name": "hang", "effect": "read"}], [("hang", {})])
    task = asyncio.create_task(runtime.run(wf, "go", run_id="run-hung"))
    try:
        while "hang" not in faulty.CALLS:
            await asyncio.sleep(0.01)
        await runtime.cancel("run-hung", actor="user:test")
        run = await asyncio.wait_for(task, 30)  # returns though the tool still hangs
    finally:
        faulty.RELEASE.set()
    assert run.status == "cancelled"
    assert "run-hung" not in runtime._active
    await finish(store, run.id)


# -- refused calls are on the record --------------------------------------------------------------

async def test_refused_calls_are_journaled_as_denied_decisions(runtime: Runtime,
                                                               store: JournalStore) -> None:
    wf = workflow_from_dict({"name": "refusals", "tools": [
        {"name": "ok", "python": f"{MODULE}:ok", "effect": "read"},
        {"name": "secret", "python": f"{MODULE}:ok", "effect": "write"}],
        "agents": [{"name": "a", "tools": ["ok"], "script": [
            {"tool_calls": [{"name": "secret", "arguments": {}},
                            {"name": "ok", "arguments": "{not json"},
                            {"name": "ok", "arguments": {"nope": 1}}]},
            {"content": "done"}]}], "steps": [{"agent": "a"}]}, HERE)
    run = await runtime.run(wf, "go")
    events = await finish(store, run.id)
    denied = [e for e in of(events, EventType.GUARD_DECIDED) if e.data["result"] == "deny"]
    assert [(d.data["tool"], d.data["policy_id"]) for d in denied] == [
        ("secret", "offered-tools"), ("ok", "tool-arguments"), ("ok", "tool-arguments")]
    assert "was not offered a tool 'secret'" in denied[0].data["reason"]
    assert "invalid arguments for ok" in denied[2].data["reason"]
    assert faulty.CALLS == []
    replayed = await runtime.execute(run.id)  # a finished run: nothing journaled twice
    assert len(await store.events(run.id)) == len(events) and replayed.status == "completed"


# -- non-JSON results -----------------------------------------------------------------------------

async def test_non_json_results_are_converted(runtime: Runtime, store: JournalStore) -> None:
    wf = flow([{"name": "non_json", "effect": "read"}], [("non_json", {})])
    run = await runtime.run(wf, "go")
    events = await finish(store, run.id)
    assert of(events, EventType.TOOL_COMPLETED)[0].data["result"] == {
        "when": "2026-12-02T17:30:00+00:00", "day": "2026-12-02", "time": "09:05:00",
        "money": "12.30", "id": "12345678-1234-5678-1234-567812345678", "colour": "red",
        "tags": ["a", "b", "c"], "frozen": [1, 2, 3], "pair": [1, "x"],
        "blob": {"$base64": "AP9oaQ=="}, "point": {"x": 1, "at": "2026-01-01"},
        "item": {"name": "pen", "price": "1.50"}, "7": "int key"}


@pytest.mark.parametrize(("fn", "message"), [
    ("nan", "result.values[1] is the float nan"),
    ("opaque", "result.rows[0].owner is a tests.runtime.faulty.Opaque, which has no JSON form"),
])
async def test_values_without_json_form_fail_the_call_by_type_and_path(
        runtime: Runtime, store: JournalStore, fn: str, message: str) -> None:
    wf = flow([{"name": fn, "effect": "read"}], [(fn, {})])
    run = await runtime.run(wf, "go")
    events = await finish(store, run.id)
    error = of(events, EventType.TOOL_FAILED)[0].data["error"]
    assert message in error and "0x" not in error


async def test_large_results_are_truncated_and_say_so(runtime: Runtime,
                                                      store: JournalStore) -> None:
    wf = flow([{"name": "huge", "effect": "read"}], [("huge", {"chars": 50_000})],
              tool_defaults={"max_result_chars": 10_000})
    run = await runtime.run(wf, "go")
    done = of(await finish(store, run.id), EventType.TOOL_COMPLETED)[0]
    assert len(done.data["result"]) == 10_000
    assert done.data["truncated"]["chars"] == 50_002 and done.data["truncated"]["limit"] == 10_000


# -- model timing ---------------------------------------------------------------------------------

class JournalProbe:
    """A model that, when called, notes which events of the run the journal already holds."""

    name = "probe"

    def __init__(self, store: JournalStore) -> None:
        self.store = store
        self.seen: list[list[str]] = []

    async def complete(self, request: ModelRequest, *,
                       on_text: TextCallback | None = None) -> ModelResponse:
        run_id = (await self.store.list_runs())[0].id
        self.seen.append([e.type for e in await self.store.events(run_id)])
        return ModelResponse(content="late")

    async def aclose(self) -> None:
        return None


async def test_model_latency_is_what_the_events_claim(store: JournalStore) -> None:
    """``model.requested`` is committed before the call, so the two events' times bracket it."""
    probe = JournalProbe(store)
    wf = workflow_from_dict({"name": "probed", "agents": [{"name": "a", "model": "openai:m"}],
                             "steps": [{"agent": "a"}]}, HERE)
    runtime = Runtime(store, providers={"openai": probe})  # stands in for the API
    try:
        run = await runtime.run(wf, "go")
    finally:
        await runtime.aclose()
    events = await finish(store, run.id)
    assert probe.seen and probe.seen[0][-1] == EventType.MODEL_REQUESTED
    assert EventType.MODEL_COMPLETED not in probe.seen[0]
    assert "latency_ms" in of(events, EventType.MODEL_COMPLETED)[0].data


# -- missing provider keys ------------------------------------------------------------------------

def test_a_named_key_variable_that_is_unset_is_diagnosed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_KEY", raising=False)
    resolver = ModelResolver(endpoints={"local": Endpoint(
        name="local", base_url="http://127.0.0.1:9/v1", api_key_env="LOCAL_KEY")})
    with pytest.raises(ConfigError, match="no API key in LOCAL_KEY"):
        resolver.resolve("local:m")
    monkeypatch.setenv("LOCAL_KEY", "k")
    assert resolver.resolve("local:m")[1] == "m"


@pytest.mark.parametrize(("model", "env"), [("openai:gpt-x", "OPENAI_API_KEY"),
                                             ("anthropic:claude-x", "ANTHROPIC_API_KEY")])
def test_the_public_api_without_a_key_is_diagnosed(monkeypatch: pytest.MonkeyPatch,
                                                   model: str, env: str) -> None:
    monkeypatch.delenv(env, raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match=f"no API key in {env}"):
        ModelResolver().resolve(model)


def test_a_local_server_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    resolver = ModelResolver(endpoints={"llama": Endpoint(name="llama",
                                                          base_url="http://127.0.0.1:9/v1")})
    assert resolver.resolve("llama:m")[1] == "m"


async def test_a_missing_key_fails_the_run_before_any_call(store: JournalStore,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_KEY", raising=False)
    with openai_server() as server:
        wf = workflow_from_dict({
            "name": "keyless", "providers": [{"name": "local", "base_url": server.url + "/v1",
                                              "api_key_env": "LOCAL_KEY"}],
            "agents": [{"name": "a", "model": "local:m"}], "steps": [{"agent": "a"}]}, HERE)
        runtime = Runtime(store)
        try:
            run = await runtime.run(wf, "hi")
        finally:
            await runtime.aclose()
        assert server.bodies == []
    events = await store.events(run.id)
    assert run.status == "failed" and "no API key in LOCAL_KEY" in events[-1].data["error"]
