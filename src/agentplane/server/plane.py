"""The control plane a server process holds: the journal, a runtime that drives runs in the
background, the API keys, the workflows it may start, and the live event feed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentplane.errors import ConfigError, NotFoundError
from agentplane.governance.keys import ApiKey, KeyRing, keyring_for
from agentplane.journal import JournalStore, JournalUnavailableError, RunRecord
from agentplane.runtime import Runtime, Workflow, load_workflow
from agentplane.telemetry import JournalMetrics, JournalTracer, start_tracing

from .limits import Limits
from .stream import Broadcaster

log = logging.getLogger("agentplane.server")


@dataclass
class Plane:
    """Everything one ``agentplane serve`` process serves."""

    store: JournalStore
    runtime: Runtime
    keys: KeyRing
    workflows: dict[str, Workflow] = field(default_factory=dict)
    """The workflows the API may start, by name."""
    worker: bool = True
    """Drive runs in this process: new ones, resumed ones, and expired waits."""
    poll_s: float = 1.0
    """Seconds between the worker's looks for runnable runs and due waits."""
    max_active: int = 16
    """Runs driven at once by this process; more stay runnable and are taken as runs end (a
    bound on what a burst of new runs holds at once: tasks, model connections, memory)."""
    limits: Limits = field(default_factory=Limits)
    """Sizes the server accepts (request body, run input) and shows (previews)."""
    broadcaster: Broadcaster = field(init=False)
    metrics: JournalMetrics = field(init=False)
    """Prometheus metrics derived from the journal (``/metrics``)."""
    tracer: JournalTracer | None = field(default=None, init=False)
    """Exports runs as OpenTelemetry traces when a collector is configured (OTEL_* env)."""
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set, init=False)
    _loop: asyncio.Task[None] | None = field(default=None, init=False)
    _running: set[str] = field(default_factory=set, init=False)
    _wake: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    def __post_init__(self) -> None:
        self.broadcaster = Broadcaster(self.store)
        self.metrics = JournalMetrics(self.store, pricer=self.runtime.metering.pricer)

    @classmethod
    def open(cls, store: JournalStore, workflow_files: Iterable[Path] = (), *,
             runtime: Runtime | None = None, worker: bool = True) -> Plane:
        workflows: dict[str, Workflow] = {}
        for path in workflow_files:
            workflow = load_workflow(path)
            if workflow.spec.name in workflows:
                raise ConfigError(f"two workflows are named {workflow.spec.name!r} "
                                  f"({workflows[workflow.spec.name].source} and {path})")
            workflows[workflow.spec.name] = workflow
        return cls(store, runtime or Runtime(store), keyring_for(store), workflows,
                   worker=worker)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        await self.broadcaster.start()
        self.tracer = await start_tracing(self.store)
        if self.worker:
            self._loop = asyncio.create_task(self._work(), name="agentplane-worker")

    async def stop(self) -> None:
        if self._loop is not None:
            self._loop.cancel()
        for task in [self._loop, *self._tasks]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        await self.broadcaster.stop()
        if self.tracer is not None:
            await self.tracer.stop()
        await self.runtime.aclose()
        self.keys.close()

    async def _work(self) -> None:
        failures = 0
        while True:
            capacity = self.max_active - len(self._running)
            try:
                if capacity > 0:
                    for run in await self.runtime.claim_runnable(limit=capacity):
                        self._spawn(self.runtime.drive(run), run.id)
            except Exception as exc:  # a bad round must not stop the worker for every other run
                failures += 1
                if failures == 1 or failures % 20 == 0:  # one line, not one a second
                    log.error("the worker cannot take runs (%s: %s); retrying with back-off",
                              type(exc).__name__, exc)
            else:
                if failures:
                    log.warning("the worker takes runs again after %d failed rounds", failures)
                failures = 0
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.backoff_s(failures))

    def backoff_s(self, failures: int) -> float:
        """Seconds until the worker's next round: ``poll_s``, doubled per failed round in a row
        up to a minute (a journal that cannot be written is not retried every second)."""
        return self.poll_s if failures == 0 else min(60.0, self.poll_s * 2.0 ** min(failures, 16))

    def _spawn(self, work: Coroutine[Any, Any, Any], run_id: str) -> None:
        self._running.add(run_id)

        async def go() -> None:
            try:
                await work
            except JournalUnavailableError as exc:  # said once by the worker; no traceback
                log.error("run %s cannot advance: %s", run_id, exc)
            except Exception:
                log.exception("run %s failed to advance", run_id)
            finally:
                self._running.discard(run_id)
                self._wake.set()  # room for the next runnable run
            self.broadcaster.poke()

        task = asyncio.create_task(go(), name=f"run-{run_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self.broadcaster.poke()

    def drive(self, run_id: str) -> None:
        """Drive a run in the background now if there is room (``max_active``); otherwise it
        stays runnable and the worker loop takes it when a run ends (or a separate
        ``agentplane worker`` does, when this process runs none)."""
        if not self.worker:
            return
        if len(self._running) < self.max_active and run_id not in self._running:
            self._spawn(self.runtime.execute(run_id), run_id)
        else:
            self._wake.set()

    # -- lookups that respect tenants ---------------------------------------------------------

    def workflow(self, name: str) -> Workflow:
        workflow = self.workflows.get(name)
        if workflow is None:
            known = ", ".join(sorted(self.workflows)) or "none"
            raise NotFoundError(f"no workflow named {name!r} is served here (served: {known})")
        return workflow

    async def run_for(self, key: ApiKey, run_id: str) -> RunRecord:
        """The run, if the key's tenant may see it; not found otherwise (no hint it exists)."""
        run = await self.store.get_run(run_id)
        if run is None or not key.sees(run.tenant):
            raise NotFoundError(f"no run {run_id!r}")
        return run
