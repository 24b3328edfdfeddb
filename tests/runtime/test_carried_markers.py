"""An agent's invoked/completed markers ride with the run's next write (fewer transactions,
the same events in the same order), and never wait longer than one turn of the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from agentplane.journal import Event, EventType, NewEvent, SQLiteJournal, verify
from agentplane.models.base import ModelRequest, ModelResponse, TextCallback
from agentplane.runtime import Runtime

from .conftest import make_workflow


class CountingJournal(SQLiteJournal):
    """A real SQLite journal that keeps the event types of each append (one transaction)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writes: list[list[str]] = []

    async def append(self, run_id: str, events: Sequence[NewEvent], *, owner: str | None = None,
                     require_active: bool = False) -> list[Event]:
        written = await super().append(run_id, events, owner=owner,
                                       require_active=require_active)
        self.writes.append([e.type for e in events])
        return written


async def test_markers_go_with_the_next_write_and_the_journal_is_unchanged(tmp_path: Path
                                                                           ) -> None:
    store = CountingJournal(tmp_path / "j.db")
    runtime = Runtime(store)
    flow = make_workflow([{"name": "a", "script": [{"content": "one"}, {"content": "two"},
                                                   {"content": "three"}]}],
                         [{"agent": "a", "input": f"part {i}"} for i in range(3)])
    run = await runtime.run(flow, "go")
    assert run.status == "completed"
    kinds = [e.type for e in await store.events(run.id)]
    step = [EventType.AGENT_INVOKED, EventType.MODEL_REQUESTED, EventType.MODEL_COMPLETED,
            EventType.AGENT_COMPLETED]
    assert kinds == [EventType.RUN_CREATED, EventType.RUN_STARTED, *step * 3,
                     EventType.RUN_COMPLETED]
    # each marker shares the transaction of the write that follows it
    assert store.writes == [
        [EventType.RUN_STARTED],
        [EventType.AGENT_INVOKED, EventType.MODEL_REQUESTED], [EventType.MODEL_COMPLETED],
        [EventType.AGENT_COMPLETED, EventType.AGENT_INVOKED, EventType.MODEL_REQUESTED],
        [EventType.MODEL_COMPLETED],
        [EventType.AGENT_COMPLETED, EventType.AGENT_INVOKED, EventType.MODEL_REQUESTED],
        [EventType.MODEL_COMPLETED],
        [EventType.AGENT_COMPLETED, EventType.RUN_COMPLETED],
    ]
    report = await verify(store)
    assert report.ok
    await runtime.aclose()
    await store.close()


class HeldModel:
    """Holds ``slow`` until released; answers ``fast`` once ``slow`` is held (so ``slow``'s
    request is written before ``fast`` completes, and nothing of the run is written after)."""

    name = "scripted"

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.slow_held = asyncio.Event()

    async def complete(self, request: ModelRequest, *,
                       on_text: TextCallback | None = None) -> ModelResponse:
        if request.agent == "slow":
            self.slow_held.set()
            await self.release.wait()
        else:
            await self.slow_held.wait()
        return ModelResponse(content=f"{request.agent} done", model="held")

    async def aclose(self) -> None:
        return None


async def test_a_marker_with_no_write_after_it_is_written_once_the_turn_ends(tmp_path: Path
                                                                             ) -> None:
    """Branch ``fast`` completes while branch ``slow`` waits on its model: nothing else of the
    run is written for as long as ``slow`` waits, yet ``fast``'s completion is journaled."""
    store = SQLiteJournal(tmp_path / "j.db")
    model = HeldModel()
    runtime = Runtime(store, providers={"scripted": model})
    agents = [{"name": n, "script": [{"content": "x"}]} for n in ("fast", "slow")]
    flow = make_workflow(agents, [{"parallel": [{"agent": "fast"}, {"agent": "slow"}]}])
    going = asyncio.create_task(runtime.run(flow, "go"))
    fast_done: list[Event] = []
    for _ in range(500):
        runs = await store.list_runs()
        if runs:
            fast_done = [e for e in await store.events(runs[0].id)
                         if e.type == EventType.AGENT_COMPLETED]
            if fast_done:
                break
        await asyncio.sleep(0.01)
    assert [e.data["agent"] for e in fast_done] == ["fast"]
    assert not going.done()  # slow still waits: the marker did not wait for it
    model.release.set()
    run = await going
    assert run.status == "completed"
    assert (await verify(store)).ok
    await runtime.aclose()
    await store.close()


async def test_a_run_that_fails_before_its_next_write_keeps_its_marker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The model cannot be reached at all (no API key): nothing is written between the agent's
    invocation and the run's failure, which carries the marker."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    store = SQLiteJournal(tmp_path / "j.db")
    runtime = Runtime(store)
    flow = make_workflow([{"name": "a", "model": "openai:gpt-4o-mini", "instructions": "hi"}],
                         [{"agent": "a"}])
    run = await runtime.run(flow, "go")
    assert run.status == "failed"
    kinds = [e.type for e in await store.events(run.id)]
    assert kinds[-2:] == [EventType.AGENT_INVOKED, EventType.RUN_FAILED]
    await runtime.aclose()
    await store.close()
