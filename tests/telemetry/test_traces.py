"""Runs become OpenTelemetry traces with GenAI semantic-convention spans."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from agentplane.errors import ConfigError
from agentplane.journal import EventType, JournalStore
from agentplane.runtime import Runtime
from agentplane.telemetry import JournalTracer, exporter_from_env, trace_id_for
from agentplane.telemetry.spans import time_ns

from .conftest import (
    approval_flow,
    approve,
    booking_flow,
    clerk_flow,
    failing_flow,
    handoff_flow,
    run,
)


async def export(store: JournalStore, name: str = "otel") -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    tracer = JournalTracer(store, exporter, name=name, start_at="beginning")
    await tracer.stop()  # a final sync, then shutdown
    return list(exporter.get_finished_spans())


def by_name(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name == name]


def parent_of(span: ReadableSpan, spans: Sequence[ReadableSpan]) -> ReadableSpan:
    assert span.parent is not None, f"{span.name} has no parent"
    [parent] = [s for s in spans if s.context.span_id == span.parent.span_id]
    return parent


def start(span: ReadableSpan) -> int:
    assert span.start_time is not None
    return span.start_time


def end(span: ReadableSpan) -> int:
    assert span.end_time is not None
    return span.end_time


async def test_a_run_is_one_trace_of_genai_spans(store: JournalStore) -> None:
    record = await run(store, clerk_flow())
    spans = await export(store)
    events = await store.events(record.id)

    assert {s.context.trace_id for s in spans} == {trace_id_for(record.id)}
    [root] = [s for s in spans if s.parent is None]
    assert root.name == "invoke_workflow clerk-flow"
    assert root.attributes is not None
    assert root.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert root.attributes["gen_ai.workflow.name"] == "clerk-flow"
    assert root.attributes["agentplane.run.status"] == "completed"
    assert (start(root), end(root)) == (time_ns(events[0].time), time_ns(events[-1].time))

    [agent] = by_name(spans, "invoke_agent clerk")
    assert parent_of(agent, spans) is root
    assert agent.attributes is not None
    assert agent.attributes["gen_ai.agent.name"] == "clerk"
    assert agent.attributes["gen_ai.agent.id"] == "agent:clerk-flow/clerk"
    invoked = next(e for e in events if e.type == EventType.AGENT_INVOKED)
    completed = next(e for e in events if e.type == EventType.AGENT_COMPLETED)
    assert (start(agent), end(agent)) == (time_ns(invoked.time), time_ns(completed.time))

    chats = by_name(spans, "chat scripted")
    model_events = [e for e in events if e.type == EventType.MODEL_COMPLETED]
    assert len(chats) == len(model_events) == 4
    for chat, event in zip(sorted(chats, key=start), model_events, strict=True):
        assert parent_of(chat, spans) is agent
        assert chat.attributes is not None
        assert chat.attributes["gen_ai.operation.name"] == "chat"
        assert chat.attributes["gen_ai.provider.name"] == "scripted"
        assert chat.attributes["gen_ai.request.model"] == "scripted"
        assert event.usage is not None
        assert chat.attributes["gen_ai.usage.input_tokens"] == event.usage["input_tokens"]
        assert chat.attributes["gen_ai.usage.output_tokens"] == event.usage["output_tokens"]
        # The span ends when the call was journaled and lasts as long as the runtime measured.
        assert end(chat) == time_ns(event.time)
        assert end(chat) - start(chat) == int(event.data["latency_ms"] * 1_000_000)

    [lookup] = by_name(spans, "execute_tool lookup")
    [explode] = by_name(spans, "execute_tool explode")
    [pay] = by_name(spans, "execute_tool pay")  # the refused one never started
    assert lookup.attributes is not None and explode.attributes is not None
    assert pay.attributes is not None
    assert lookup.attributes["gen_ai.tool.name"] == "lookup"
    assert lookup.attributes["gen_ai.tool.call.id"] == "call_0_0"
    assert explode.attributes["gen_ai.tool.call.id"] == "call_0_1"
    assert pay.attributes["gen_ai.tool.call.id"] == "call_2_0"
    assert lookup.status.status_code is StatusCode.UNSET
    assert explode.status.status_code is StatusCode.ERROR
    assert "boom: disk" in (explode.status.description or "")
    for tool in (lookup, explode, pay):
        assert parent_of(tool, spans) is agent
        assert start(agent) <= start(tool) < end(tool) <= end(agent)
    started = next(e for e in events if e.type == EventType.TOOL_STARTED
                   and e.data["tool"] == "lookup")
    done = next(e for e in events if e.type == EventType.TOOL_COMPLETED
                and e.data["tool"] == "lookup")
    assert (start(lookup), end(lookup)) == (time_ns(started.time), time_ns(done.time))

    guards = [s for s in spans if s.name.startswith("apply_guardrail ")]
    [deny] = [s for s in guards if s.attributes and
              s.attributes["gen_ai.guardrail.security.policy.id"] == "cap"]
    assert deny.name == "apply_guardrail policy"
    assert deny.attributes is not None
    assert deny.attributes["gen_ai.operation.name"] == "apply_guardrail"
    assert deny.attributes["gen_ai.guardrail.verdict.type"] == "deny"
    assert deny.attributes["gen_ai.guardrail.action.type"] == "block"
    assert deny.attributes["agentplane.guardrail.policy_version"] == 3
    assert deny.attributes["gen_ai.guardrail.target.id"] == "call_1_0"
    assert "above the maximum 100" in str(deny.attributes["gen_ai.guardrail.verdict.reason"])
    assert parent_of(deny, spans) is agent
    assert len(by_name(spans, "apply_guardrail guardians")) == 3  # the three allowed calls

    # Spans of one step follow in the order the run took them.
    ordered = sorted((s for s in spans if s.parent is not None and s is not agent), key=start)
    assert [s.name for s in ordered][:4] == ["chat scripted", "apply_guardrail guardians",
                                             "execute_tool lookup", "apply_guardrail guardians"]
    assert len({s.context.span_id for s in spans}) == len(spans)


async def test_ids_come_from_the_run_so_reexport_is_identical(store: JournalStore) -> None:
    await run(store, clerk_flow())
    first = await export(store, name="first")
    second = await export(store, name="second")
    assert first
    assert ([(s.name, s.context.trace_id, s.context.span_id, s.start_time, s.end_time)
             for s in first]
            == [(s.name, s.context.trace_id, s.context.span_id, s.start_time, s.end_time)
                for s in second])


async def test_a_waiting_run_resumes_after_a_restart_without_repeats(
        store: JournalStore) -> None:
    record = await run(store, approval_flow())
    assert record.status == "waiting"
    exporter = InMemorySpanExporter()
    before = JournalTracer(store, exporter, start_at="beginning")
    await before.stop()
    early = list(exporter.get_finished_spans())
    # The agent still waits: only what ended is exported, not the run or the agent.
    assert sorted(s.name for s in early) == ["apply_guardrail guardians", "chat scripted"]

    assert (await approve(store, record.id)).status == "completed"
    exporter = InMemorySpanExporter()
    after = JournalTracer(store, exporter)  # a new process: its cursor comes from the file
    await after.stop()
    late = list(exporter.get_finished_spans())
    assert sorted(s.name for s in late) == ["chat scripted", "execute_tool pay",
                                            "invoke_agent payer", "invoke_workflow approval-flow"]
    events = await store.events(record.id)
    [agent] = by_name(late, "invoke_agent payer")
    assert start(agent) == time_ns(next(e.time for e in events
                                        if e.type == EventType.AGENT_INVOKED))
    [root] = by_name(late, "invoke_workflow approval-flow")
    assert start(root) == time_ns(events[0].time)
    assert root.events and {e.name for e in root.events} >= {EventType.RUN_WAITING,
                                                             EventType.RUN_RESUMED}
    assert any(e.name == EventType.APPROVAL_GRANTED for e in agent.events)
    # Everything hangs together in one trace.
    ids = {s.context.span_id for s in early + late}
    assert len(ids) == len(early) + len(late)
    assert all(s.parent is None or s.parent.span_id in ids for s in early + late)


async def test_a_new_tracer_starts_from_now(store: JournalStore) -> None:
    await run(store, clerk_flow())
    exporter = InMemorySpanExporter()
    tracer = JournalTracer(store, exporter)  # start_at="now"
    await tracer.sync()
    assert exporter.get_finished_spans() == ()
    await run(store, handoff_flow())
    await tracer.stop()
    names = {s.name for s in exporter.get_finished_spans()}
    assert "invoke_workflow handoff-flow" in names
    assert "invoke_workflow clerk-flow" not in names


async def test_the_background_follower_exports_runs(store: JournalStore) -> None:
    exporter = InMemorySpanExporter()
    tracer = JournalTracer(store, exporter, interval=0.01)
    await tracer.start()
    record = await run(store, booking_flow())
    await tracer.stop()
    spans = exporter.get_finished_spans()
    assert {s.context.trace_id for s in spans} == {trace_id_for(record.id)}
    assert "invoke_workflow booking-flow" in {s.name for s in spans}


async def test_a_handed_off_agent_ends_with_the_work_it_handed_on(store: JournalStore) -> None:
    await run(store, handoff_flow())
    spans = await export(store)
    [front] = by_name(spans, "invoke_agent front")
    [billing] = by_name(spans, "invoke_agent billing")
    assert parent_of(billing, spans) is front
    assert end(front) == end(billing)
    [lookup] = by_name(spans, "execute_tool lookup")
    assert parent_of(lookup, spans) is billing
    assert any(e.name == EventType.HANDOFF for e in front.events)


async def test_failures_are_error_spans(store: JournalStore) -> None:
    record = await run(store, failing_flow())
    assert record.status == "failed"
    spans = await export(store)
    [chat] = by_name(spans, "chat scripted")
    assert chat.status.status_code is StatusCode.ERROR
    assert "rate limited upstream" in (chat.status.description or "")
    [root] = [s for s in spans if s.parent is None]
    assert root.status.status_code is StatusCode.ERROR
    assert root.attributes is not None and root.attributes["agentplane.run.status"] == "failed"
    [agent] = by_name(spans, "invoke_agent a")  # never completed: ended with the run
    assert agent.status.status_code is StatusCode.UNSET


async def test_a_rollback_is_a_span_under_the_finished_run(store: JournalStore) -> None:
    record = await run(store, booking_flow())
    exporter = InMemorySpanExporter()
    tracer = JournalTracer(store, exporter, start_at="beginning")
    await tracer.sync()
    runtime = Runtime(store)
    [outcome] = await runtime.rollback(record.id, actor="user:ana")
    await runtime.aclose()
    assert outcome["outcome"] == "compensated"
    exporter.clear()
    await tracer.stop()
    spans = exporter.get_finished_spans()
    [rollback] = by_name(spans, "rollback booking-flow")
    assert rollback.parent is not None
    assert rollback.parent.span_id != rollback.context.span_id
    [cancel] = by_name(spans, "execute_tool cancel_booking")
    assert parent_of(cancel, spans) is rollback


def test_the_environment_chooses_the_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                 "OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL",
                 "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"):
        monkeypatch.delenv(name, raising=False)
    assert exporter_from_env() is None
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
    exporter = exporter_from_env()
    assert exporter is not None and type(exporter).__name__ == "OTLPSpanExporter"
    exporter.shutdown()
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    assert exporter_from_env() is None
    monkeypatch.delenv("OTEL_TRACES_EXPORTER")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    with pytest.raises(ConfigError, match="http/protobuf"):
        exporter_from_env()


async def test_following_a_live_run_step_by_step_gives_the_same_trace(
        store: JournalStore) -> None:
    import asyncio

    exporter = InMemorySpanExporter()
    tracer = JournalTracer(store, exporter, name="live", batch=3)
    await tracer.sync()  # "now" is before the runs
    done = asyncio.Event()

    async def follow() -> None:
        while not done.is_set():
            await tracer.sync()
            await asyncio.sleep(0)

    follower = asyncio.create_task(follow())
    await run(store, clerk_flow())
    await run(store, handoff_flow())
    done.set()
    await follower
    await tracer.stop()
    live = sorted((s.context.span_id, s.name, s.start_time, s.end_time, s.parent)
                  for s in exporter.get_finished_spans())
    whole = sorted((s.context.span_id, s.name, s.start_time, s.end_time, s.parent)
                   for s in await export(store, name="whole"))
    assert live == whole
