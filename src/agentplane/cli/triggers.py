"""``agentplane triggers``: what starts runs by itself — schedules, webhooks, mailboxes.

``list`` shows the triggers of workflow files with their last and next fire and failures,
``enable`` / ``disable`` switch one (over what the file declares), ``fire`` fires one by hand
with an input, ``run`` fires due schedule slots in the foreground (and drives the runs, unless
``--no-worker``), like ``agentplane serve`` does for the workflows it serves.
Everything is imported inside the commands: ``agentplane --help`` pays for none of it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from . import render, settings
from ._inputs import parse_json_option
from ._typer import group
from .render import escape
from .serve import DbOption

if TYPE_CHECKING:
    from agentplane.journal import JournalStore
    from agentplane.runtime import Runtime, Workflow
    from agentplane.triggers.store import TriggerStore

T = TypeVar("T")

triggers_app = group()  # its help is where the program adds it (app.py)
out = render.lazy_console()

TenantOption = Annotated[str, typer.Option("--tenant", help="Whose triggers and runs.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
FilesArgument = Annotated[list[Path], typer.Argument(help="Workflow YAML files.",
                                                     show_default=False)]
FileArgument = Annotated[Path, typer.Argument(help="The workflow's YAML file.",
                                              show_default=False)]
TriggerArgument = Annotated[str, typer.Argument(help="The trigger's name.", show_default=False)]


def _with(db: str | None, body: Callable[[JournalStore, Runtime, TriggerStore], Awaitable[T]]
          ) -> T:
    import asyncio

    from agentplane.journal import open_store
    from agentplane.runtime import Runtime
    from agentplane.triggers.store import TriggerStore

    async def main() -> T:
        store = open_store(settings.database_url(db))
        runtime = Runtime(store)
        try:
            return await body(store, runtime, TriggerStore(store.database))
        finally:
            await runtime.aclose()
            await store.close()

    return asyncio.run(main())


def _workflow(file: Path, trigger: str) -> Workflow:
    from agentplane.runtime import load_workflow
    from agentplane.triggers.fire import find_trigger

    workflow = load_workflow(file)
    find_trigger(workflow, trigger)
    return workflow


@triggers_app.command("list")
def triggers_list(files: FilesArgument, tenant: TenantOption = "default", db: DbOption = None,
                  as_json: JsonOption = False) -> None:
    """The triggers of the workflow files: kind, on or off, last and next fire, failures."""
    from datetime import UTC, datetime

    from agentplane.runtime import load_workflow
    from agentplane.triggers.listing import trigger_rows

    from ._tables import Column, fitted

    workflows = [load_workflow(f) for f in files]

    async def body(_: JournalStore, __: Runtime, store: TriggerStore) -> None:
        rows = trigger_rows(workflows, store, tenant=tenant, now=datetime.now(UTC))
        if as_json:
            print(render.dump_json([r.to_json() for r in rows]))
            return
        columns = [Column("WORKFLOW"), Column("TRIGGER"), Column("KIND"), Column("ON"),
                   Column("WHAT", wrap=True, drop=2), Column("FIRES", justify="right"),
                   Column("LAST FIRE", drop=3), Column("NEXT FIRE"),
                   Column("FAILURES", justify="right", drop=1)]
        cells = [[r.workflow, r.trigger, r.kind, "yes" if r.enabled else "no", r.what,
                  str(r.fires), (r.last_fire or "-")[:19], r.next_fire or "-",
                  str(r.failures) + (f" ({r.last_error})" if r.last_error else "")]
                 for r in rows]
        out.print(fitted(columns, cells, out.width) if rows else "no triggers declared")

    _with(db, body)


def _switch(file: Path, trigger: str, tenant: str, db: str | None, enabled: bool) -> None:
    workflow = _workflow(file, trigger)

    async def body(_: JournalStore, __: Runtime, store: TriggerStore) -> None:
        store.set_enabled(tenant, workflow.spec.name, trigger, enabled)

    _with(db, body)
    out.print(f"{escape(workflow.spec.name)}/{escape(trigger)} is "
              f"{'enabled' if enabled else 'disabled'}")


@triggers_app.command("enable")
def triggers_enable(file: FileArgument, trigger: TriggerArgument,
                    tenant: TenantOption = "default", db: DbOption = None) -> None:
    """Switch a trigger on (over what the file declares)."""
    _switch(file, trigger, tenant, db, True)


@triggers_app.command("disable")
def triggers_disable(file: FileArgument, trigger: TriggerArgument,
                     tenant: TenantOption = "default", db: DbOption = None) -> None:
    """Switch a trigger off: its schedule slots pass, its webhook answers 409."""
    _switch(file, trigger, tenant, db, False)


@triggers_app.command("fire")
def triggers_fire(
    file: FileArgument, trigger: TriggerArgument,
    input: Annotated[str | None, typer.Option("--input", help="The run's input: JSON, @FILE "
                                              "or - (default: the trigger's).")] = None,
    key: Annotated[str | None, typer.Option(help="Idempotency key: a second fire with it "
                                                 "starts nothing.")] = None,
    drive: Annotated[bool, typer.Option(help="Drive the run here until it finishes or "
                                             "waits (else leave it to a worker).")] = True,
    tenant: TenantOption = "default", db: DbOption = None, as_json: JsonOption = False,
) -> None:
    """Fire a trigger by hand (journaled as kind manual)."""
    import getpass
    import uuid

    from agentplane.triggers.fire import find_trigger, fire

    workflow = _workflow(file, trigger)
    value = parse_json_option(input, "--input")
    if value is None:
        value = find_trigger(workflow, trigger).input

    async def body(journal: JournalStore, runtime: Runtime, store: TriggerStore) -> None:
        result = await fire(runtime, workflow, trigger, key or f"manual:{uuid.uuid4().hex}",
                            value, store=store, tenant=tenant, kind="manual",
                            detail={"by": f"user:{getpass.getuser()}"}, drive=drive)
        run = await journal.require_run(result.run_id)
        if as_json:
            print(render.dump_json({"run_id": run.id, "started": result.started,
                                    "status": run.status}))
            return
        said = "started" if result.started else "already fired with this key:"
        out.print(f"{said} run [bold]{escape(run.id)}[/] ({escape(run.workflow)}) is "
                  f"{render.status_text(run.status)}")

    _with(db, body)


@triggers_app.command("run")
def triggers_run(
    files: FilesArgument, tenant: TenantOption = "default", db: DbOption = None,
    worker: Annotated[bool, typer.Option(help="Drive the runs in this process too (else "
                                              "leave them to `agentplane worker`).")] = True,
    poll: Annotated[float, typer.Option(min=0.01, help="Seconds between looks at most.")
                    ] = 1.0,
    once: Annotated[bool, typer.Option(help="Fire what is due now, then exit.")] = False,
) -> None:
    """Fire the due schedule slots of the workflow files, and watch their mailboxes, until
    SIGTERM or Ctrl-C. Any number may run on one database (and next to `agentplane serve`):
    each slot, and each mail, starts one run. With --once: the due slots only."""
    import asyncio
    import signal

    from agentplane.runtime import Worker, load_workflow
    from agentplane.telemetry import configure_logging
    from agentplane.triggers.fire import FireResult
    from agentplane.triggers.scheduler import Scheduler

    configure_logging(json=False, level="WARNING")
    workflows = [load_workflow(f) for f in files]

    async def body(_: JournalStore, runtime: Runtime, store: TriggerStore) -> None:
        def said(result: FireResult) -> None:
            run_id = result.run_id
            out.print(f"fired: run {escape(run_id)}")
            if driver is not None:
                driver.drive(run_id)

        driver = Worker(runtime, poll_s=poll) if worker and not once else None
        scheduler = Scheduler(runtime, workflows, store, tenant=tenant, poll_s=poll,
                              on_fire=said)
        if once:
            await scheduler.tick()
            return
        mail_stop = asyncio.Event()

        def stop() -> None:
            scheduler.stop()
            mail_stop.set()
            if driver is not None:
                driver.stop()

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop)
        count = len(scheduler.schedules)
        out.print(f"scheduler {escape(runtime.owner)}: {count} schedule"
                  f"{'' if count == 1 else 's'}; SIGTERM or Ctrl-C stops it")
        tasks = [asyncio.create_task(scheduler.run())]
        if any(t.mail is not None for w in workflows for t in w.spec.triggers or ()):
            from agentplane.triggers.mail import watch_mail

            tasks.append(asyncio.create_task(watch_mail(runtime, workflows, store=store,
                                                        tenant=tenant, stop=mail_stop,
                                                        on_fire=said)))
        if driver is not None:
            tasks.append(asyncio.create_task(driver.run()))
        await asyncio.gather(*tasks)
        out.print("scheduler stopped")

    _with(db, body)

