"""Fixtures of the trigger tests: a journal on each back-end, a runtime, a trigger store, and a
workflow with triggers whose agent answers from a script."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml

from agentplane.journal import JournalStore, open_store
from agentplane.runtime import Workflow, load_workflow
from agentplane.triggers.store import TriggerStore


def write_workflow(folder: Path, *, name: str = "nightly-report",
                   triggers: list[dict[str, Any]] | None = None,
                   defer: dict[str, Any] | None = None, replies: int = 50) -> Path:
    """A workflow file whose agent answers ``done`` (enough times for ``replies`` runs)."""
    spec: dict[str, Any] = {
        "name": name,
        "agents": [{"name": "reporter", "instructions": "Report.",
                    "script": [{"content": "done"}] * replies}],
        "steps": [{"agent": "reporter"}],
        "triggers": triggers if triggers is not None else [
            {"name": "hourly", "schedule": "0 * * * *", "catch_up": "skip"}],
    }
    if defer is not None:
        spec["defer"] = defer
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


@pytest.fixture
def workflow_path(tmp_path: Path) -> Path:
    return write_workflow(tmp_path)


@pytest.fixture
def workflow(workflow_path: Path) -> Workflow:
    return load_workflow(workflow_path)


@pytest.fixture(params=["sqlite", "postgresql"])
def journal_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'agentplane.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest_asyncio.fixture
async def journal(journal_url: str) -> AsyncIterator[JournalStore]:
    store = open_store(journal_url)
    yield store
    await store.close()


@pytest.fixture
def store(journal: JournalStore) -> JournalStore:
    """The shared ``runtime`` fixture (tests/conftest.py) runs on this module's journal."""
    return journal


@pytest.fixture
def triggers(journal: JournalStore) -> TriggerStore:
    return TriggerStore(journal.database)
