from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentplane.journal import JournalStore, RunRecord
from agentplane.models.base import ModelRequest, ModelResponse, TextCallback
from agentplane.runtime import Runtime, Workflow, workflow_from_dict
from agentplane.runtime.runner import scripted_for

from . import toolbox

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def _reset_toolbox() -> None:
    toolbox.reset()


@pytest.fixture
def keep_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loading a workflow appends its folder to ``sys.path``; keep that out of other tests."""
    monkeypatch.setattr(sys, "path", list(sys.path))



TOOLS: list[dict[str, Any]] = [
    {"name": "lookup", "python": "tests.runtime.toolbox:lookup", "effect": "read"},
    {"name": "refund", "python": "tests.runtime.toolbox:refund", "effect": "write",
     "idempotent": True},
    {"name": "explode", "python": "tests.runtime.toolbox:explode", "effect": "read"},
    {"name": "rendezvous", "python": "tests.runtime.toolbox:rendezvous", "effect": "read"},
    {"name": "blocking_write", "python": "tests.runtime.toolbox:blocking_write",
     "effect": "write"},
    {"name": "blocking_idempotent", "python": "tests.runtime.toolbox:blocking_write",
     "effect": "write", "idempotent": True},
]


def make_workflow(agents: list[dict[str, Any]], steps: list[dict[str, Any]],
                  name: str = "test-flow") -> Workflow:
    return workflow_from_dict({"name": name, "tools": TOOLS, "agents": agents, "steps": steps},
                              HERE)


WorkflowFactory = Callable[[list[dict[str, Any]], list[dict[str, Any]]], Workflow]


async def run_recorded(store: JournalStore, workflow: Workflow, input: Any
                       ) -> tuple[RunRecord, RecordingProvider]:
    """Run a workflow on its scripted replies, keeping every request the model was sent."""
    recorder = RecordingProvider(scripted_for(workflow.spec))
    runtime = Runtime(store, providers={"scripted": recorder})
    run = await runtime.run(workflow, input)
    await runtime.aclose()
    return run, recorder


class RecordingProvider:
    """Wraps a provider and keeps every request it was sent."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.requests: list[ModelRequest] = []

    async def complete(self, request: ModelRequest, *,
                       on_text: TextCallback | None = None) -> ModelResponse:
        self.requests.append(request)
        response: ModelResponse = await self.inner.complete(request, on_text=on_text)
        return response

    async def aclose(self) -> None:
        return None
