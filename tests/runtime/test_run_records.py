"""A run driven from its creation is not read back: its journal holds only its creation, so
nothing is replayed, and the record ``run`` returns is built from its final write. Both must be
exactly what reading would have given."""

from __future__ import annotations

from typing import Any

import pytest

from agentplane.journal import EventType, JournalStore, NewEvent
from agentplane.runtime import Runtime

from .conftest import make_workflow


class _Reads:
    """Counts a store's reads of run records and events."""

    def __init__(self, store: JournalStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.events = 0
        self.runs = 0
        events, get_run = store.events, store.get_run

        async def counted_events(*args: Any, **kwargs: Any) -> Any:
            self.events += 1
            return await events(*args, **kwargs)

        async def counted_get_run(*args: Any, **kwargs: Any) -> Any:
            self.runs += 1
            return await get_run(*args, **kwargs)

        monkeypatch.setattr(store, "events", counted_events)
        monkeypatch.setattr(store, "get_run", counted_get_run)


async def test_a_run_driven_from_its_creation_is_not_read_back(
        store: JournalStore, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    wf = make_workflow([{"name": "a", "script": [{"content": "one"}, {"content": "two"}]}],
                       [{"agent": "a"}, {"agent": "a"}])
    reads = _Reads(store, monkeypatch)
    run = await runtime.run(wf, "go", tags={"team": "x"})
    assert (reads.events, run.status) == (0, "completed")
    assert reads.runs <= 1  # the journal's own read after the create, if it makes one
    assert run == await store.require_run(run.id)  # what reading it back gives


async def test_a_run_started_then_driven_is_built_the_same(
        store: JournalStore, runtime: Runtime) -> None:
    wf = make_workflow([{"name": "a", "script": [{"content": "one"}]}], [{"agent": "a"}])
    started = await runtime.start(wf, "go", lease=True)
    run = await runtime.drive(started)
    assert run.status == "completed"
    assert run == await store.require_run(run.id)
    claimed = await runtime.start(wf, "go")  # not leased: claimed by execute
    assert await runtime.execute(claimed.id) == await store.require_run(claimed.id)


@pytest.mark.parametrize(("agent", "steps", "status"), [
    ({"name": "a", "script": [{"content": "one"}]}, 2, "failed"),  # no second reply
    ({"name": "a", "tools": ["refund"], "autonomy": "in_the_loop", "script": [
        {"content": "call", "tool_calls": [{"name": "refund",
                                            "arguments": {"order": "o1", "amount": 5}}]}]},
     1, "waiting"),  # for a person's approval
])
async def test_a_run_that_does_not_complete_is_read_back(
        store: JournalStore, runtime: Runtime, agent: dict[str, Any], steps: int,
        status: str) -> None:
    wf = make_workflow([agent], [{"agent": "a"}] * steps)
    run = await runtime.run(wf, "go")
    assert run.status == status
    assert run == await store.require_run(run.id)


async def test_what_is_written_between_a_runs_creation_and_its_drive_is_replayed(
        store: JournalStore, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    """The drive does not read a run whose record shows only its creation, but the seq of
    its first write shows that something came in between: that is read, and replayed."""
    wf = make_workflow([{"name": "a", "script": [{"content": "from the model"}]}],
                       [{"agent": "a"}])
    run = await runtime.start(wf, "go", lease=True)
    await store.append(run.id, [NewEvent(
        EventType.MODEL_COMPLETED, "agent:a", "s0/a/m1",
        {"agent": "a", "model": "scripted", "latency_ms": 0.0,
         "response": {"content": "from the journal"}})])
    reads = _Reads(store, monkeypatch)
    done = await runtime.drive(run)  # the record it was given still says seq 1
    assert reads.events >= 1
    assert done == await store.require_run(run.id)
    events = await store.events(run.id)
    assert [e.type for e in events].count(EventType.MODEL_REQUESTED) == 0  # replayed, not called
    assert events[-1].data["output"] == "from the journal"
