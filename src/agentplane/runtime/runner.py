"""The runtime: starts runs, drives them durably, resumes them after a crash.

Many runs execute concurrently in one asyncio process. Each run is leased by the process that
drives it; a lease whose owner died (or expired) is taken over by ``resume``. A run that waits
(for an approval, a person after an escalation, a timer) gives its lease back and holds no
memory: when the wait is resolved, any runtime resumes it by replaying its journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentplane.errors import AgentplaneError, ConfigError, NotFoundError
from agentplane.governance.residency import CLASSIFICATIONS as SENSITIVITIES
from agentplane.journal import (
    TERMINAL_STATUSES,
    Event,
    EventType,
    JournalError,
    JournalStore,
    JournalUnavailableError,
    LeaseLostError,
    NewEvent,
    RunNotActiveError,
    RunRecord,
    WaitNotOpenError,
    WaitRecord,
)
from agentplane.journal.events import (
    APPROVAL_KINDS as APPROVAL_KINDS,  # the runtime's name for it too
)
from agentplane.journal.events import STATUS_OF_EVENT, utc_now
from agentplane.models.base import ModelProvider
from agentplane.models.registry import Endpoint, ModelResolver
from agentplane.models.router import RouteBook
from agentplane.models.scripted import ScriptedProvider, ScriptedReply
from agentplane.tools.sources.base import SourceHost, SourceSite, ToolSources

from .admission import DEFAULT_MAX_ACTIVE, Admission
from .budgeted import RunMetering
from .context import NeedsReconciliation, RunContext, RunFailure, Suspended
from .contextual import forget_layers
from .elicitation import asker
from .gcpolicy import tune_for_many_runs
from .governed import review_output
from .memory_at_end import run_end_memories
from .patterns import run_steps
from .personal import PersonalData
from .rollback import compensate, plan_rollback
from .sampling import sampler
from .spec import WorkflowSpec
from .workflow import Workflow, resolve

if TYPE_CHECKING:
    from agentplane.tools.sources.registry import Registry

    from .perturb import PerturbFor

Sensitivity = str
"""One of ``SENSITIVITIES``: public, internal, personal, confidential."""

log = logging.getLogger("agentplane.runtime")


class RunStateError(AgentplaneError):
    """The requested action does not fit the run's (or approval's) current state."""


class ApprovalNotFoundError(RunStateError, NotFoundError):
    """No approval has the id given (exit code 3, like every "not found")."""


def new_run_id() -> str:
    """``run-`` + the time in milliseconds (12 hex digits) + 48 random bits (12 hex digits).

    Ids that sort in the order runs were made (as UUIDv7 does) keep the journal's indexes
    keyed by run id local: the events of the runs alive now land on the last pages of the
    index instead of anywhere in it, so a transaction writes a few pages however many runs the
    journal holds (measured on the 10,000-run fan-out: a group commit cost 0.6 ms instead of
    1.8 ms with random ids, and the SQL per run stopped growing with the journal)."""
    return f"run-{time.time_ns() // 1_000_000:012x}{os.urandom(6).hex()}"


def _owner_is_dead(owner: str) -> bool:
    """Whether a lease owner (``host:pid:tag``) is a process on this host that no longer runs."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def scripted_for(spec: WorkflowSpec) -> ScriptedProvider:
    scripts = {a.name: [ScriptedReply(**r.model_dump()) for r in a.script] for a in spec.agents}
    guardian = spec.guardians.agent
    if guardian is not None:
        scripts[guardian.name] = [ScriptedReply(**r) for r in guardian.script]
    return ScriptedProvider(scripts)


class Runtime:
    """Drives runs of workflows against a journal store."""

    def __init__(
        self,
        store: JournalStore,
        *,
        providers: Mapping[str, ModelProvider] | None = None,
        lease_seconds: float = 30.0,
        metering: RunMetering | None = None,
        registry: Registry | None = None,
        max_active: int | None = DEFAULT_MAX_ACTIVE,
    ) -> None:
        self.store = store
        self.providers = dict(providers or {})
        """Providers that replace the configured ones by name (``scripted``, ``openai``, ...)."""
        self.lease_seconds = lease_seconds
        self.metering = metering or RunMetering.with_catalog(store)
        """Usage ledger and budgets (opened only when a workflow declares budgets)."""
        self.sources = ToolSources(SourceHost(store, registry))
        """Tools from outside the process (MCP servers, remote agents), opened as workflows
        declare them. ``registry``: the agent registry remote agents declared by ``registry:``
        or ``capability:`` are found in (default: the one in the journal's database)."""
        self._bound: dict[str, Workflow] = {}
        self.perturb: PerturbFor | None = None
        """A simulation's perturbations per run (``perturb.py``); None: runs as they are."""
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._workflows: dict[str, Workflow] = {}
        self._models: dict[str, ModelResolver] = {}
        self.routes = RouteBook()
        """Circuit breakers per endpoint and model health, shared by every workflow's routers."""
        self._active: set[str] = set()
        self.admission = Admission(max_active)
        """At most ``max_active`` runs driven at once (``None``: no limit); the others, already
        created, wait their turn (``admission.py``)."""
        self._heartbeat: asyncio.Task[None] | None = None
        tune_for_many_runs()  # once per process: see gcpolicy

    # -- workflows ----------------------------------------------------------------------------

    async def _workflow_for(self, run: RunRecord) -> Workflow:
        """The workflow version the run is pinned to (not whatever the file says today)."""
        workflow = self._workflows.get(run.workflow_hash)
        if workflow is None:
            spec = WorkflowSpec.model_validate(await self.store.get_blob(run.workflow_hash))
            workflow = resolve(spec, Path(run.meta["base_dir"]), source=run.meta["source"])
            self._workflows[run.workflow_hash] = workflow
        return workflow

    async def _with_sources(self, workflow: Workflow) -> Workflow:
        """The workflow with the tools its sources give (MCP servers' tools with the schemas
        the servers list, remote agents), made once per version: a new ``Workflow``, never
        the pinned one changed."""
        bound = self._bound.get(workflow.hash)
        if bound is None:
            site = SourceSite(workflow.base_dir, workflow.hash)
            outside = await self.sources.open(workflow.spec, site)
            bound = replace(workflow, tools={**workflow.tools, **outside}) if outside \
                else workflow
            self._bound[workflow.hash] = bound
        return bound

    async def check_tools(self, workflow: Workflow) -> None:
        """Open the workflow's outside tools now (once per version, kept for its runs): a tool
        an MCP server does not offer raises an ``AgentplaneError`` naming the ones it does."""
        await self._with_sources(workflow)

    def _resolver(self, workflow: Workflow) -> ModelResolver:
        resolver = self._models.get(workflow.hash)
        if resolver is None:
            endpoints = {p.name: Endpoint(**p.model_dump()) for p in workflow.spec.providers}
            resolver = ModelResolver(endpoints=endpoints, scripted=scripted_for(workflow.spec),
                                     overrides=self.providers, routes=self.routes)
            self._models[workflow.hash] = resolver
        return resolver

    # -- starting and driving runs ------------------------------------------------------------

    async def start(self, workflow: Workflow, input: Any = None, *, run_id: str | None = None,
                    tenant: str = "default", lease: bool = False,
                    tags: dict[str, str] | None = None, input_trust: str | None = None,
                    events: Sequence[NewEvent] = (),
                    sensitivity: Sensitivity | None = None) -> RunRecord:
        """Create a run (status ``pending``) pinned to the workflow's current version.

        With ``lease`` the run is created leased to this runtime, which must then drive it.
        ``tags`` (e.g. ``department``) add to and override the workflow's own, on every usage
        event of the run. ``input_trust="untrusted"`` marks input from outside (a mail, a
        webhook) in ``meta.input_trust``. ``events`` are journaled with the run's creation, in
        its one transaction (a trigger's fire, a deferral's timer wait). ``sensitivity`` marks
        the run's data (``personal``, ``confidential``...): its model calls stay on local models
        or allowed regions.
        """
        if sensitivity is not None and sensitivity not in SENSITIVITIES:
            raise ConfigError(f"sensitivity {sensitivity!r} is not one of "
                              f"{', '.join(SENSITIVITIES)}")
        await self.check_tools(workflow)  # before any run exists: a missing tool fails here
        if workflow.hash not in self._workflows:
            # The pinned spec is stored once per version, content-addressed.
            digest = await self.store.put_blob(workflow.spec.model_dump(mode="json"))
            assert digest == workflow.hash
            self._workflows[digest] = workflow
        run_id = run_id or new_run_id()
        personal = PersonalData.for_run(workflow.spec, run_id, input)
        if personal is not None:  # journaled sealed under the subject's key (erasable)
            input = personal.seal_value(input)
        return await self.store.create_run(
            run_id=run_id, workflow=workflow.spec.name,
            workflow_hash=workflow.hash, input=input, tenant=tenant,
            meta={"base_dir": str(workflow.base_dir), "source": workflow.source,
                  "tags": {**workflow.spec.tags, **(tags or {})},
                  "outcome": workflow.spec.outcome,
                  **({"input_trust": input_trust} if input_trust else {}),
                  **({"sensitivity": sensitivity} if sensitivity else {})},
            events=events, lease_owner=self.owner if lease else None,
            lease_seconds=self.lease_seconds,
        )

    async def run(self, workflow: Workflow, input: Any = None, *, run_id: str | None = None,
                  tenant: str = "default", tags: dict[str, str] | None = None,
                  sensitivity: Sensitivity | None = None) -> RunRecord:
        """Start a run and drive it until it finishes, waits, or needs a person."""
        run = await self.start(workflow, input, run_id=run_id, tenant=tenant, lease=True,
                               tags=tags, sensitivity=sensitivity)
        return await self._drive(run) or await self.store.require_run(run.id)

    async def execute(self, run_id: str) -> RunRecord:
        """Drive one run if it is runnable and nobody else holds it."""
        claimed = await self.store.claim(self.owner, lease_seconds=self.lease_seconds,
                                         run_id=run_id, owner_is_dead=_owner_is_dead)
        ended = await self._drive(claimed[0]) if claimed else None
        return ended or await self.store.require_run(run_id)

    async def resume_all(self) -> list[RunRecord]:
        """Recover every unfinished run: expire due waits, then drive every runnable run."""
        claimed = await self.claim_runnable()
        ended = await asyncio.gather(*(self._drive(run) for run in claimed))
        return [record or await self.store.require_run(run.id)
                for run, record in zip(claimed, ended, strict=True)]

    async def claim_runnable(self, limit: int = 1_000_000, *, expire_waits: bool = True,
                             driving: Collection[str] = ()) -> list[RunRecord]:
        """Expire due waits (unless told not to), then lease the runs that can go on and that
        this runtime is not already driving (nor the caller: ``driving``, e.g. drives handed
        to tasks that have not started yet); the caller drives them (``drive``)."""
        if expire_waits:
            await self.expire_due_waits()
        # A store hands an owner back the runs it already holds (renewing them), and those come
        # first (oldest first): ask for that many more, so ``limit`` new runs can be among them.
        active = self._active | set(driving)
        claimed = await self.store.claim(self.owner, lease_seconds=self.lease_seconds,
                                         limit=limit + len(active), owner_is_dead=_owner_is_dead)
        fresh = [run for run in claimed if run.id not in active]
        for extra in fresh[limit:]:  # leased beyond what was asked: free for other workers
            with contextlib.suppress(JournalError):
                await self.store.release(self.owner, extra.id)
        return fresh[:limit]

    async def drive(self, run: RunRecord) -> RunRecord:
        """Drive a run this runtime has leased (from ``claim_runnable``) until it finishes,
        waits, or needs a person."""
        return await self._drive(run) or await self.store.require_run(run.id)

    async def _drive(self, run: RunRecord) -> RunRecord | None:
        """Drive ``run``; returns its record after the drive when the runtime knows it without
        reading it back (``_completed``), else None (the caller reads it)."""
        if run.id in self._active:
            return None  # already being driven by this runtime (a worker round and a request met)
        self._ensure_heartbeat()  # a run waiting for its place keeps its lease too
        async with self.admission.place(run.id):
            return await self._drive_admitted(run)

    async def _drive_admitted(self, run: RunRecord) -> RunRecord | None:
        if run.id in self._active:
            return None  # driven meanwhile (it was asked for twice while waiting for a place)
        self._active.add(run.id)
        try:
            workflow = await self._with_sources(await self._workflow_for(run))
            ctx = RunContext(self.store, run, workflow, self._resolver(workflow), self.owner,
                             metering=self.metering, sampling=sampler, asking=asker,
                             personal=PersonalData.for_run(workflow.spec, run.id, run.input),
                             perturb=None if self.perturb is None else self.perturb(run))
            ctx.provenance.min_length = workflow.spec.guardians.provenance.min_length
            ctx.provenance.add_input(run.input, trust=run.meta.get("input_trust"))
            # the run's own clock: the day it was created (journaled with the run, so a replay
            # sees the same day) is a trusted date ("pay it today")
            ctx.provenance.add(run.created_at[:10], source="the run's clock", trusted=True)
            for agent in workflow.spec.agents:
                ctx.provenance.add(agent.instructions, source="the workflow", trusted=True,
                                   declared=True)
            # A run whose record shows only its creation (just created by ``start``, or
            # claimed before anything else happened to it) has nothing to replay: run.created
            # holds nothing a step reads back. Its journal is not read; the seq of the write
            # below shows whether anything was written meanwhile (a person's cancel), and then
            # that is read.
            fresh = run.last_seq == 1
            started = False
            if not fresh:
                events = await self.store.events(run.id)
                ctx.load(events)
                started = any(e.type == EventType.RUN_STARTED for e in events)
                del events  # the context keeps what it needs; the run may live long after this
            # ``require_active``: a run cancelled (or ended) while it waited to be driven — for
            # its place, or between its claim and here — is not started again.
            first = await ctx.append(NewEvent(
                EventType.RUN_RESUMED if started else EventType.RUN_STARTED,
                data={"worker": self.owner}), require_active=True)
            if fresh and first[0].seq != run.last_seq + 1:
                fresh = False
                ctx.load([e for e in await self.store.events(run.id, after_seq=run.last_seq)
                          if e.seq < first[0].seq])
            final = await self._finish(ctx, run)
            # the final event ended the lease: nothing to release
            return _completed(run, final) if fresh else None
        except (LeaseLostError, RunNotActiveError) as exc:
            log.info("stopped driving %s: %s", run.id, exc)
        except JournalUnavailableError as exc:
            # the run is fine, its journal is not (e.g. the database restarts): it stays
            # runnable, taken again once its lease is handed back (below) or expires
            log.error("run %s cannot advance now: %s", run.id, exc)
        except AgentplaneError as exc:
            # e.g. the pinned workflow's tools no longer import: the run cannot go on.
            await self._fail(run.id, str(exc))
        finally:
            self._active.discard(run.id)
        with contextlib.suppress(JournalError):
            await self.store.release(self.owner, run.id)
        return None

    async def _finish(self, ctx: RunContext, run: RunRecord) -> list[Event]:
        """Run the steps to their end; returns the run's final write, whose last event ends
        the drive and the lease (the run completed, failed, waits or needs a person)."""
        try:
            output = await run_steps(ctx, ctx.workflow.spec.steps, run.input)
            output, untrusted = await review_output(ctx, output)
        except Suspended as s:
            return await ctx.append(NewEvent(EventType.RUN_WAITING, data={"waits": s.wait_ids}))
        except NeedsReconciliation as n:
            return await ctx.append(NewEvent(
                EventType.RUN_NEEDS_RECONCILIATION, step_key=n.step_key,
                data={"tool": n.tool, "arguments": n.arguments,
                      **({"error": n.error} if n.error else {}),
                      "reason": f"call {n.step_key} to {n.tool} was started but not confirmed"
                                + (f" ({n.error})" if n.error else "")
                                + ", and the tool is neither read-only nor idempotent: check "
                                "whether it happened, then `agentplane runs reconcile`"}))
        except (RunFailure, AgentplaneError) as exc:
            if isinstance(exc, LeaseLostError | RunNotActiveError | JournalUnavailableError):
                raise
            failed = {"error": str(exc)}
            remembered = await run_end_memories(ctx, EventType.RUN_FAILED, failed)
            return await ctx.append(*remembered, NewEvent(EventType.RUN_FAILED, data=failed))
        except Exception as exc:
            log.exception("run %s failed with an internal error", run.id)
            return await ctx.append(NewEvent(
                EventType.RUN_FAILED,
                data={"error": f"internal error: {type(exc).__name__}: {exc}"}))
        outcome = ctx.workflow.spec.outcome
        recorded = [NewEvent(EventType.OUTCOME_RECORDED, data={"outcome": outcome})
                    ] if outcome else []
        marked = {"untrusted_values": untrusted} if untrusted else {}
        output, labels = await _labelled(ctx, output)
        completed = {"output": output, **marked}
        # what the run leaves in memory is journaled with its completion (see memory_at_end)
        remembered = await run_end_memories(ctx, EventType.RUN_COMPLETED, completed)
        return await ctx.append(*recorded, *remembered, *labels,
                                NewEvent(EventType.RUN_COMPLETED, data=completed))

    async def _fail(self, run_id: str, error: str) -> None:
        with contextlib.suppress(JournalError):
            await self.store.append(run_id, [NewEvent(EventType.RUN_FAILED,
                                                      data={"error": error})])

    def _ensure_heartbeat(self) -> None:
        if self._heartbeat is None or self._heartbeat.done():
            self._heartbeat = asyncio.create_task(self._beat())

    async def _beat(self) -> None:
        while self._active or self.admission.waiting:
            await asyncio.sleep(self.lease_seconds / 3)
            with contextlib.suppress(JournalError):
                await self.store.renew(self.owner, [*self._active, *self.admission.waiting],
                                       lease_seconds=self.lease_seconds)

    # -- people acting on runs ----------------------------------------------------------------

    async def expire_due_waits(self, now: float | None = None) -> list[WaitRecord]:
        """Resolve waits whose deadline passed: an approval expires (= deny), a timer fires."""
        expired = []
        for wait in await self.store.due_waits(time.time() if now is None else now):
            kind = (EventType.APPROVAL_EXPIRED if wait.kind in APPROVAL_KINDS
                    else EventType.WAIT_RESOLVED)
            with contextlib.suppress(WaitNotOpenError):
                await self.store.append(wait.run_id, [NewEvent(
                    kind, step_key=wait.step_key,
                    data={"wait_id": wait.id, "reason": "deadline passed"})])
                expired.append(wait)
        return expired

    async def decide(self, wait_id: str, *, approve: bool, actor: str,
                     reason: str = "") -> RunRecord:
        """Approve or deny a waiting approval; the run becomes ready to resume."""
        wait = await self.store.get_wait(wait_id)
        if wait is None:
            raise ApprovalNotFoundError(f"no approval with id {wait_id!r}; "
                                "`agentplane approvals list` shows the pending ones")
        if wait.status != "open":
            raise RunStateError(f"approval {wait_id} was already resolved "
                                f"({(wait.resolution or {}).get('type', 'resolved')})")
        kind = EventType.APPROVAL_GRANTED if approve else EventType.APPROVAL_DENIED
        try:
            await self.store.append(wait.run_id, [NewEvent(
                kind, actor=actor, step_key=wait.step_key,
                data={"wait_id": wait_id, "reason": reason})])
        except WaitNotOpenError as exc:
            raise RunStateError(f"approval {wait_id} was resolved by someone else meanwhile") \
                from exc
        return await self.store.require_run(wait.run_id)

    async def signal(self, wait_id: str, *, actor: str, data: dict[str, Any] | None = None
                     ) -> RunRecord:
        """Resolve a signal or timer wait early, handing ``data`` to the waiting step."""
        wait = await self.store.get_wait(wait_id)
        if wait is None or wait.kind in APPROVAL_KINDS:
            raise RunStateError(f"no signal wait with id {wait_id!r}"
                                + ("; approvals are decided with approve / deny" if wait else ""))
        try:
            await self.store.append(wait.run_id, [NewEvent(
                EventType.WAIT_RESOLVED, actor=actor, step_key=wait.step_key,
                data={**(data or {}), "wait_id": wait_id})])
        except WaitNotOpenError as exc:
            raise RunStateError(f"wait {wait_id} is already resolved") from exc
        return await self.store.require_run(wait.run_id)

    async def cancel(self, run_id: str, *, actor: str, reason: str = "") -> RunRecord:
        run = await self.store.require_run(run_id)
        if run.status in TERMINAL_STATUSES:
            raise RunStateError(f"run {run_id} is already {run.status}")
        closing = [NewEvent(EventType.WAIT_RESOLVED, actor=actor, step_key=w.step_key,
                            data={"wait_id": w.id, "reason": "run cancelled"})
                   for w in await self.store.waits(run_id=run_id)]
        await self.store.append(run_id, [*closing, NewEvent(EventType.RUN_CANCELLED, actor=actor,
                                                            data={"reason": reason})])
        return await self.store.require_run(run_id)

    async def reconcile(self, run_id: str, *, step_key: str, happened: bool, actor: str,
                        result: Any = None, reason: str = "") -> RunRecord:
        """Settle an unconfirmed call: it happened (with ``result``), or it did not (run it)."""
        run = await self.store.require_run(run_id)
        if run.status != "needs_reconciliation":
            raise RunStateError(f"run {run_id} is {run.status}, not needs_reconciliation")
        events = await self.store.events(run_id)
        pending = next((e for e in reversed(events)
                        if e.type == EventType.RUN_NEEDS_RECONCILIATION), None)
        if pending is None or pending.step_key != step_key:
            expected = pending.step_key if pending else "none"
            raise RunStateError(f"run {run_id} waits for reconciliation of step {expected}, "
                                f"not {step_key}")
        attempts = sum(1 for e in events
                       if e.type == EventType.TOOL_STARTED and e.step_key == step_key)
        decision = "completed" if happened else "retry"
        settle = [NewEvent(EventType.TOOL_COMPLETED, actor=actor, step_key=step_key,
                           data={"tool": pending.data.get("tool"), "result": result,
                                 "reconciled": True})] if happened else []
        await self.store.append(run_id, [*settle, NewEvent(
            EventType.RUN_RECONCILED, actor=actor, step_key=step_key,
            data={"decision": decision, "attempts_seen": attempts, "reason": reason})])
        return await self.store.require_run(run_id)

    async def rollback(self, run_id: str, *, actor: str, step_key: str | None = None
                       ) -> list[dict[str, Any]]:
        """Reverse a run's completed ``write`` calls, newest first, with their compensating
        tools. Irreversible calls and writes without a compensation are reported, not skipped
        silently. Safe to run again: calls already reversed are left alone.

        Returns one entry per call considered: ``{"step_key", "tool", "outcome", "detail"}``.
        """
        run = await self.store.require_run(run_id)
        if run.status not in TERMINAL_STATUSES | {"needs_reconciliation"}:
            raise RunStateError(f"run {run_id} is {run.status}; cancel it before rolling it "
                                "back (`agentplane runs cancel`)")
        workflow = await self._with_sources(await self._workflow_for(run))
        events = await self.store.events(run_id)
        plan = plan_rollback(events, step_key)
        if step_key is not None and not plan:
            raise RunStateError(f"run {run_id} has no completed call at step {step_key}")
        await self.store.append(run_id, [NewEvent(
            EventType.ROLLBACK_STARTED, actor=actor,
            data={"step_key": step_key, "calls": [p.step_key for p in plan]})])
        report = [await compensate(self.store, run_id, workflow, p, actor) for p in plan]
        await self.store.append(run_id, [NewEvent(EventType.ROLLBACK_COMPLETED, actor=actor,
                                                  data={"report": report})])
        return report

    async def retry(self, run_id: str, *, actor: str) -> RunRecord:
        """Start a new run (status ``pending``) of a failed or cancelled run: the same pinned
        workflow version, input, tenant and tags. The old run is left as it was (its journal is
        the record of what happened); the new one names it in ``meta.retry_of``."""
        run = await self.store.require_run(run_id)
        if run.status not in {"failed", "cancelled"}:
            raise RunStateError(f"run {run_id} is {run.status}; only failed or cancelled runs "
                                "are retried")
        workflow = await self._workflow_for(run)
        return await self.store.create_run(
            run_id=new_run_id(), workflow=run.workflow, workflow_hash=run.workflow_hash,
            input=run.input, tenant=run.tenant,
            meta={**run.meta, "retry_of": run_id, "retried_by": actor,
                  "base_dir": str(workflow.base_dir)},
            lease_owner=None, lease_seconds=self.lease_seconds,
        )

    async def aclose(self) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
        for resolver in self._models.values():
            await resolver.aclose()
        self.metering.close()
        await self.sources.aclose()
        self._bound.clear()
        forget_layers(self.store)


def _completed(run: RunRecord, final: Sequence[Event]) -> RunRecord | None:
    """The record of a run driven from its creation to its completion without a break, after
    its final write: what the journal's ``runs`` row then holds, built instead of read back.
    The write's last event gives the status, time, seq and head; a completed run holds no
    lease; nothing else in the row changed (its waits, hence its wake-up time: a wait the run
    opened would have ended this drive waiting). None for any other ending."""
    last = final[-1]
    if last.type != EventType.RUN_COMPLETED:
        return None
    # built field by field: ``dataclasses.replace`` costs several times as much
    return RunRecord(id=run.id, workflow=run.workflow, workflow_hash=run.workflow_hash,
                     status=STATUS_OF_EVENT[last.type], tenant=run.tenant,
                     created_at=run.created_at, updated_at=last.time, input=run.input,
                     meta=run.meta, last_seq=last.seq, head_hash=last.hash, wake_at=run.wake_at)


async def _labelled(ctx: RunContext, output: Any) -> tuple[Any, list[NewEvent]]:
    """The output with its AI-content label and the ``content.labelled`` event, when the
    workflow's ``compliance`` asks for labels (see ``agentplane.compliance.labels``)."""
    compliance = ctx.workflow.spec.compliance
    labels = compliance.labelled if compliance is not None else None
    if labels is None:
        return output, []
    from agentplane.compliance.labels import label_output, models_used

    output, event = label_output(output, run_id=ctx.run_id, time=utc_now(),
                                 models=models_used(await ctx.store.events(ctx.run_id)),
                                 visible=labels.visible, texts=labels.text)
    return output, [event]
