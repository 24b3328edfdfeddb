"""The control plane a server process holds: the journal, a runtime that drives runs in the
background, the API keys, the workflows it may start, and the live event feed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from agentplane.errors import ConfigError, NotFoundError
from agentplane.governance.keys import ApiKey, KeyRing, keyring_for
from agentplane.journal import JournalStore, RunRecord
from agentplane.runtime import Runtime, Worker, Workflow, load_workflow
from agentplane.telemetry import JournalMetrics, start_tracing

from .limits import Limits
from .stream import Broadcaster

if TYPE_CHECKING:  # OpenTelemetry (the otel extra) is loaded only when tracing is configured
    from agentplane.knowledge._graph_query import GraphQueries
    from agentplane.knowledge.graph import KnowledgeGraph
    from agentplane.knowledge.ontology import Ontology
    from agentplane.knowledge.store import KnowledgeBase
    from agentplane.memory.store import MemoryStore
    from agentplane.telemetry import JournalTracer
    from agentplane.triggers.scheduler import Scheduler
    from agentplane.triggers.store import TriggerStore


T = TypeVar("T")
log = logging.getLogger("agentplane.server")


def _said_why(task: asyncio.Task[None]) -> None:
    """Log why a background loop of the plane ended early (e.g. a mailbox's credentials are
    not in the environment); the API goes on serving."""
    if not task.cancelled() and task.exception() is not None:
        log.error("%s stopped: %s", task.get_name(), task.exception())


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
    grace_s: float = 10.0
    """Seconds a stopping server lets its runs go on before it hands their leases back."""
    limits: Limits = field(default_factory=Limits)
    """Sizes the server accepts (request body, run input) and shows (previews)."""
    broadcaster: Broadcaster = field(init=False)
    metrics: JournalMetrics = field(init=False)
    """Prometheus metrics derived from the journal (``/metrics``)."""
    tracer: JournalTracer | None = field(default=None, init=False)
    """Exports runs as OpenTelemetry traces when a collector is configured (OTEL_* env)."""
    driver: Worker | None = field(default=None, init=False)
    """The worker loop driving runs here (while started, unless ``worker`` is off)."""
    ontology: Ontology | None = None
    """The ontology of the knowledge graph searches expand over (see ``graph_for``)."""
    scheduler: Scheduler | None = field(default=None, init=False)
    """Fires the schedule triggers of the served workflows (while started, if any)."""
    _loop: asyncio.Task[None] | None = field(default=None, init=False)
    _schedules: asyncio.Task[None] | None = field(default=None, init=False)
    _mail: asyncio.Task[None] | None = field(default=None, init=False)
    _mail_stop: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    _handles: dict[str, object] = field(default_factory=dict, init=False)

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
        for workflow in self.workflows.values():  # a tool a server lacks fails serve's start
            await self.runtime.check_tools(workflow)
        self.broadcaster.listen = not self.worker  # else the worker listens, and pokes it
        await self.broadcaster.start()
        self.tracer = await start_tracing(self.store)
        if self.worker:
            self.driver = Worker(self.runtime, concurrency=self.max_active, poll_s=self.poll_s,
                                 grace_s=self.grace_s, poke=self.broadcaster.poke)
            self._loop = asyncio.create_task(self.driver.run(), name="agentplane-worker")
        if any(t.schedule is not None for w in self.workflows.values()
               for t in w.spec.triggers or ()):
            from agentplane.triggers.scheduler import Scheduler

            self.scheduler = Scheduler(self.runtime, self.workflows.values(), self.triggers,
                                       poll_s=self.poll_s, on_fire=lambda r: self.drive(r.run_id))
            self._schedules = asyncio.create_task(self.scheduler.run(),
                                                  name="agentplane-scheduler")
        if any(t.mail is not None for w in self.workflows.values()
               for t in w.spec.triggers or ()):
            from agentplane.triggers.mail import watch_mail

            self._mail = asyncio.create_task(watch_mail(
                self.runtime, self.workflows.values(), store=self.triggers,
                stop=self._mail_stop, on_fire=lambda r: self.drive(r.run_id)),
                name="agentplane-mail")
            self._mail.add_done_callback(_said_why)

    async def stop(self) -> None:
        if self._mail is not None:
            self._mail_stop.set()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._mail
        if self.scheduler is not None and self._schedules is not None:
            self.scheduler.stop()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._schedules
        if self.driver is not None and self._loop is not None:
            self.driver.stop()  # the runs it drives go on for grace_s, then hand back leases
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._loop
        await self.broadcaster.stop()
        if self.tracer is not None:
            await self.tracer.stop()
        await self.runtime.aclose()
        self.keys.close()

    def drive(self, run_id: str) -> None:
        """Drive a run in the background now if there is room (``max_active``); otherwise it
        stays runnable and the worker loop takes it when a run ends (or a separate
        ``agentplane worker`` does, when this process runs none)."""
        if self.driver is not None:
            self.driver.drive(run_id)

    # -- the context layer and memory, opened on first use in the journal's database ---------

    @property
    def knowledge(self) -> KnowledgeBase:
        from agentplane.knowledge.store import KnowledgeBase

        return self._handle("knowledge", lambda: KnowledgeBase(self.store.database))

    @property
    def graph(self) -> GraphQueries:
        """The knowledge graph's queries (entities, facts, paths): no ontology needed to read."""
        from agentplane.knowledge._graph_query import GraphQueries
        from agentplane.knowledge.graph import COMPONENT, MIGRATIONS
        from agentplane.storage import migrate

        def make() -> GraphQueries:
            migrate(self.store.database, COMPONENT, MIGRATIONS)
            return GraphQueries(self.store.database)

        return self._handle("graph", make)

    def graph_for(self, tenant: str) -> KnowledgeGraph | None:
        """The tenant's graph for retrieval (graph expansion): with ``ontology``, else the
        first served workflow's (by name) ``knowledge.ontology``, else the one the tenant's
        graph was last built with; None when there is none."""
        from agentplane.knowledge.graph import KnowledgeGraph

        ontology = self.ontology
        if ontology is None:
            from agentplane.knowledge.ontology import load_ontology

            for name in sorted(self.workflows):
                workflow = self.workflows[name]
                knowledge = workflow.spec.knowledge
                if knowledge is not None and knowledge.ontology is not None:
                    ontology = self.ontology = load_ontology(workflow.base_dir
                                                             / knowledge.ontology)
                    break
        if ontology is None:
            ontology = KnowledgeGraph.stored_ontology(self.store.database, tenant)
        return None if ontology is None else KnowledgeGraph(self.store.database, ontology)

    @property
    def triggers(self) -> TriggerStore:
        """Trigger fires and switches (``agentplane.triggers``)."""
        from agentplane.triggers.store import TriggerStore

        return self._handle("triggers", lambda: TriggerStore(self.store.database))

    @property
    def memories(self) -> MemoryStore:
        from agentplane.memory.store import MemoryStore

        return self._handle("memories", lambda: MemoryStore(self.store.database))

    def _handle(self, name: str, make: Callable[[], T]) -> T:
        found = self._handles.get(name)
        if found is None:
            found = self._handles[name] = make()
        return found  # type: ignore[return-value]

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
