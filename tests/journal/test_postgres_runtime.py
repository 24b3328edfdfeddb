"""The runtime end to end on PostgreSQL: scripted workflows run to completion through
``Runtime(open_store(url))`` — the same tests as on SQLite (``tests/runtime/test_runs.py``),
with the store swapped."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from agentplane.journal import JournalStore, open_store, verify
from tests.pgserver import PostgresServer
from tests.runtime import toolbox
from tests.runtime.test_runs import (
    test_cancel_a_waiting_run_closes_its_waits,
    test_loop_escalates_and_approval_lets_it_go_on,
    test_many_runs_at_once,
    test_parallel_steps_then_sequential,
    test_sequential_agent_with_tools,
    test_two_parallel_approvals_are_both_kept,
)

from .pg_helpers import app_database

__all__ = [
    "test_cancel_a_waiting_run_closes_its_waits",
    "test_loop_escalates_and_approval_lets_it_go_on",
    "test_many_runs_at_once",
    "test_parallel_steps_then_sequential",
    "test_sequential_agent_with_tools",
    "test_two_parallel_approvals_are_both_kept",
]


@pytest.fixture(autouse=True)
def _reset_toolbox() -> None:
    toolbox.reset()


@pytest_asyncio.fixture
async def store(postgres_server: PostgresServer) -> AsyncIterator[JournalStore]:
    journal = open_store(app_database(postgres_server))
    yield journal
    assert (await verify(journal)).ok
    await journal.close()
