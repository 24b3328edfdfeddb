"""A runtime drives at most ``max_active`` runs at once; the others are journaled and wait."""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

import pytest

from agentplane.errors import ConfigError
from agentplane.journal import JournalStore
from agentplane.models.base import ModelRequest, ModelResponse, TextCallback
from agentplane.runtime import Runtime, Workflow
from agentplane.runtime.runner import new_run_id

from .conftest import make_workflow


class GatedModel:
    """Answers once ``release`` is set; counts the calls in flight and the order they came."""

    name = "scripted"

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.inside = 0
        self.most_inside = 0
        self.order: list[str] = []

    async def complete(self, request: ModelRequest, *,
                       on_text: TextCallback | None = None) -> ModelResponse:
        self.order.append(str(request.messages[-1].content))
        self.inside += 1
        self.most_inside = max(self.most_inside, self.inside)
        try:
            await self.release.wait()
        finally:
            self.inside -= 1
        return ModelResponse(content="done", model="gated")

    async def aclose(self) -> None:
        return None


def one_call() -> Workflow:
    return make_workflow([{"name": "a", "script": [{"content": "x"}]}], [{"agent": "a"}])


async def _until(check: Any) -> None:
    for _ in range(500):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


async def test_a_burst_is_driven_max_active_at_a_time_in_order(store: JournalStore) -> None:
    model = GatedModel()
    runtime = Runtime(store, providers={"scripted": model}, max_active=2)
    flow = one_call()
    going = [asyncio.create_task(runtime.run(flow, f"job {i}")) for i in range(6)]
    await _until(lambda: model.inside == 2)
    await asyncio.sleep(0.05)  # nothing else gets in while both places are held
    assert model.inside == 2
    # every run exists already, durable: two running, four waiting their turn (pending)
    runs = await store.list_runs(limit=100)
    assert len(runs) == 6
    assert sorted(r.status for r in runs) == ["pending"] * 4 + ["running"] * 2
    assert len(runtime.admission.waiting) == 4
    model.release.set()
    done = await asyncio.gather(*going)
    assert [r.status for r in done] == ["completed"] * 6
    assert model.most_inside == 2
    assert model.order == [f"job {i}" for i in range(6)]  # admitted in the order they came
    assert not runtime.admission.waiting
    await runtime.aclose()


async def test_no_limit_drives_every_run_at_once(store: JournalStore) -> None:
    model = GatedModel()
    runtime = Runtime(store, providers={"scripted": model}, max_active=None)
    going = [asyncio.create_task(runtime.run(one_call(), f"job {i}")) for i in range(5)]
    await _until(lambda: model.inside == 5)
    model.release.set()
    assert {r.status for r in await asyncio.gather(*going)} == {"completed"}
    await runtime.aclose()


async def test_a_run_started_inside_a_run_does_not_wait_for_a_place(store: JournalStore
                                                                    ) -> None:
    """With one place, held by the parent, a child run driven from inside it (here by the
    parent's model call) is admitted at once instead of waiting for ever."""
    runtime: Runtime
    children: list[str] = []

    class Delegating:
        name = "scripted"

        async def complete(self, request: ModelRequest, *,
                           on_text: TextCallback | None = None) -> ModelResponse:
            asked = str(request.messages[-1].content)
            if asked.startswith("parent"):
                child = await runtime.run(one_call(), "child")
                children.append(child.status)
                return ModelResponse(content="parent answer", model="d")
            return ModelResponse(content="child answer", model="d")

        async def aclose(self) -> None:
            return None

    runtime = Runtime(store, providers={"scripted": Delegating()}, max_active=1)
    parent = await asyncio.wait_for(runtime.run(one_call(), "parent"), timeout=30)
    assert parent.status == "completed"
    assert children == ["completed"]
    await runtime.aclose()


async def test_runs_waiting_for_a_place_keep_their_lease(store: JournalStore) -> None:
    model = GatedModel()
    runtime = Runtime(store, providers={"scripted": model}, max_active=1, lease_seconds=0.3)
    going = [asyncio.create_task(runtime.run(one_call(), f"job {i}")) for i in range(3)]
    await _until(lambda: model.inside == 1)
    waiting = sorted(runtime.admission.waiting)
    assert len(waiting) == 2
    await asyncio.sleep(0.9)  # three lease lengths: renewed by the heartbeat, not expired
    for run_id in waiting:
        run = await store.require_run(run_id)
        assert run.lease_owner == runtime.owner
        assert run.lease_until is not None and run.lease_until > time.time()
    model.release.set()
    assert {r.status for r in await asyncio.gather(*going)} == {"completed"}
    await runtime.aclose()


@pytest.mark.parametrize("bad", [0, -3, 1.5, True, "10"])
def test_max_active_must_be_a_whole_number_of_runs(store: JournalStore, bad: Any) -> None:
    with pytest.raises(ConfigError, match="max_active"):
        Runtime(store, max_active=bad)


def test_run_ids_sort_in_the_order_they_were_made() -> None:
    made: list[str] = []
    for _ in range(3):
        made += [new_run_id() for _ in range(2_000)]
        # the next batch is at least a millisecond later
        asyncio.run(asyncio.sleep(0.002))
    assert len(set(made)) == len(made)
    assert all(re.fullmatch(r"run-[0-9a-f]{24}", run_id) for run_id in made)
    batches = [made[i:i + 2_000] for i in range(0, 6_000, 2_000)]
    assert max(batches[0]) < min(batches[1]) and max(batches[1]) < min(batches[2])
