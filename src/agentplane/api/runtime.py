"""``Runtime``: where runs live (a journal) and the calls people make on them from Python.

It opens the journal itself (SQLite by default, or PostgreSQL), drives runs with the engine
(``agentplane.runtime.Runtime``, as ``engine``) and answers with ``RunResult``s. Use it as an
async context manager, so connections and model clients are closed.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import platformdirs

from agentplane.journal import TERMINAL_STATUSES, Event, JournalStore, open_store
from agentplane.models.base import ModelProvider
from agentplane.models.registry import EVERY_MODEL
from agentplane.runtime.admission import DEFAULT_MAX_ACTIVE

from .results import RunResult, result_of
from .workflows import Workflow

if TYPE_CHECKING:
    from agentplane.runtime.runner import Runtime as Engine

RESTING = TERMINAL_STATUSES | {"waiting", "needs_reconciliation"}
"""Statuses in which a run does nothing until a person acts."""


def default_db() -> str:
    """``AGENTPLANE_DB``, else the SQLite file the CLI uses (under ``AGENTPLANE_HOME``, else
    the user's data folder): runs started from Python show in ``agentplane runs list``."""
    configured = os.environ.get("AGENTPLANE_DB")
    if configured:
        return configured
    home = os.environ.get("AGENTPLANE_HOME")
    folder = Path(home).expanduser() if home else Path(
        platformdirs.user_data_dir("agentplane", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'agentplane.db'}"


def _url(db: str | Path | None) -> str:
    return default_db() if db is None else str(db)


class Runtime:
    """Runs workflows durably and lets Python approve, deny, stream and resume them.

    ``db``: a SQLite file path or URL (``sqlite:///runs.db``), or ``postgresql://...``;
    default: see ``default_db``. ``model``: a provider answering every agent's model calls (a
    test double such as ``agentplane.testing.FunctionModel``); ``providers``: providers by name
    (``openai``, ``scripted``, a declared provider) instead. ``actor``: who approvals and
    denials are recorded as (``user:NAME``). ``max_active``: how many runs it drives at once
    (default 1,000; ``None``: no limit); runs started beyond it are journaled at once and wait
    their turn, so a burst of runs holds bounded memory."""

    def __init__(self, db: str | Path | None = None, *, model: ModelProvider | None = None,
                 providers: Mapping[str, ModelProvider] | None = None,
                 actor: str = "user:python", lease_seconds: float = 30.0,
                 max_active: int | None = DEFAULT_MAX_ACTIVE) -> None:
        overrides = dict(providers or {})
        if model is not None:
            overrides[EVERY_MODEL] = model
        # the engine (and the protocol clients it may need) loads with the first Runtime
        from agentplane.runtime.runner import Runtime as Engine

        self.store: JournalStore = open_store(_url(db))
        self.engine: Engine = Engine(self.store, providers=overrides, lease_seconds=lease_seconds,
                                     max_active=max_active)
        """The engine (``agentplane.runtime.Runtime``), for what this class does not wrap."""
        self.actor = actor
        self._driving: dict[str, asyncio.Task[Any]] = {}

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Wait for runs started here with ``start``, then close the engine and the journal."""
        try:
            if self._driving:
                await asyncio.gather(*self._driving.values(), return_exceptions=True)
            await self.engine.aclose()
        finally:
            await self.store.close()

    # -- runs ---------------------------------------------------------------------------------

    async def run(self, flow: Workflow, input: Any = None, *, run_id: str | None = None,
                  tenant: str = "default", tags: dict[str, str] | None = None,
                  sensitivity: str | None = None) -> RunResult:
        """Start a run and drive it until it completes, fails, or waits for a person.
        ``sensitivity`` (``personal``, ``confidential``...) keeps the run's model calls on
        local models or allowed regions (docs/routing.md)."""
        record = await self.engine.run(flow.resolve(), input, run_id=run_id, tenant=tenant,
                                       tags=tags, sensitivity=sensitivity)
        return await self.result(record.id)

    async def start(self, flow: Workflow, input: Any = None, *, run_id: str | None = None,
                    tenant: str = "default", tags: dict[str, str] | None = None,
                    sensitivity: str | None = None) -> str:
        """Start a run driven in the background; returns its id at once (``stream`` it,
        ``wait`` for it)."""
        record = await self.engine.start(flow.resolve(), input, run_id=run_id, tenant=tenant,
                                         lease=True, tags=tags, sensitivity=sensitivity)
        self._driving[record.id] = asyncio.create_task(self.engine.drive(record))
        return record.id

    async def wait(self, run_id: str) -> RunResult:
        """The run's result once the drive ``start`` began has stopped."""
        task = self._driving.pop(run_id, None)
        if task is not None:
            await task
        return await self.result(run_id)

    async def resume(self, run_id: str) -> RunResult:
        """Drive a run that can go on (after an approval, a crash, in another process)."""
        await self.engine.execute(run_id)
        return await self.result(run_id)

    async def result(self, run_id: str) -> RunResult:
        """The run as it stands now."""
        run = await self.store.require_run(run_id)
        events = await self.store.events(run_id)
        waits = await self.store.waits(run_id=run_id)
        return result_of(run, events, waits, self.engine.metering.pricer)

    # -- people acting on runs ----------------------------------------------------------------

    async def approve(self, approval_id: str, *, reason: str = "", resume: bool = True
                      ) -> RunResult:
        """Grant an approval (``RunResult.waiting``); with ``resume`` the run goes on now."""
        return await self._decide(approval_id, True, reason, resume)

    async def deny(self, approval_id: str, *, reason: str = "", resume: bool = True
                   ) -> RunResult:
        """Deny an approval: the call is not made and the agent is told why."""
        return await self._decide(approval_id, False, reason, resume)

    async def _decide(self, approval_id: str, approve: bool, reason: str, resume: bool
                      ) -> RunResult:
        run = await self.engine.decide(approval_id, approve=approve, actor=self.actor,
                                       reason=reason)
        return await (self.resume(run.id) if resume else self.result(run.id))

    async def cancel(self, run_id: str, *, reason: str = "") -> RunResult:
        await self.engine.cancel(run_id, actor=self.actor, reason=reason)
        return await self.result(run_id)

    async def stream(self, run_id: str, *, after_seq: int = 0, poll_s: float = 0.05
                     ) -> AsyncIterator[Event]:
        """The run's events as they are journaled, from ``after_seq`` on, until the run
        rests (completed, failed, cancelled, waiting for a person). ``poll_s``: seconds
        between looks at a journal that cannot say it changed (SQLite)."""
        seen = after_seq
        while True:
            status = (await self.store.require_run(run_id)).status
            events = await self.store.events(run_id, after_seq=seen)
            for event in events:
                seen = event.seq
                yield event
            if not events and status in RESTING:
                return
            if not events:
                await self.store.wait_for_change(poll_s)
