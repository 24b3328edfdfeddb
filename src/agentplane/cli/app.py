"""The ``agentplane`` command line (stable interface: see SPEC.md).

Start-up time is part of the interface: a person types ``agentplane --help`` or ``agentplane runs
list`` and waits for the whole process. So this module imports only typer at the top; each command
imports what it uses (the journal for the read commands, the runtime for those that drive runs,
rich when there is something to print), and the sub-command modules keep the same rule.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from agentplane.errors import ConfigError

from . import render, settings
from ._exits import OK, outcome, run_main
from ._inputs import JSON_HELP, output_file, parse_json_option, write_text
from ._lazy_group import LazyGroup, command, subgroup
from ._typer import group
from .render import escape

if TYPE_CHECKING:
    from agentplane.journal import JournalStore, RunRecord
    from agentplane.runtime import Runtime

T = TypeVar("T")


def _of(module: str, name: str) -> Callable[[], Any]:
    """Gets ``name`` from the CLI's ``module`` (importing it then)."""
    return lambda: getattr(import_module(f"{__package__}.{module}"), name)


runs_app = group()
approvals_app = group()


@cache
def _audit_app() -> typer.Typer:
    """``audit``: the compliance module's signing commands, then export and verify."""
    from .compliance import add_audit_commands

    audit = group()
    add_audit_commands(audit)
    audit.command("export")(audit_export)
    audit.command("verify")(audit_verify)
    return audit


class Program(LazyGroup):
    """``agentplane``: its commands, in the order its help lists them (commands, then groups),
    each imported and made by typer when a command line uses it."""

    entries = (
        command("economics", _of("economics", "economics")),
        command("serve", _of("serve", "serve")),
        command("eval", _of("evals", "eval_command")),
        command("simulate", _of("evals", "simulate_command")),
        command("run", lambda: run),
        command("resume", lambda: resume),
        command("worker", lambda: worker),
        command("demo", lambda: demo),
        subgroup("runs", "List, inspect, cancel and reconcile runs.", lambda: runs_app),
        subgroup("approvals", "Pending approvals and escalations.", lambda: approvals_app),
        subgroup("audit", "Prove what happened: verify the journal's hash chain.", _audit_app),
        subgroup("usage", "Usage, spend and invoices, from the journal.",
                 _of("usage", "usage_app")),
        subgroup("mcp", "Serve workflows to MCP clients; log in to MCP servers.",
                 _of("mcp", "mcp_app")),
        subgroup("registry", "The agent registry: register, discover and health-check "
                 "agents.", _of("registry", "registry_app")),
        subgroup("a2a", "Serve workflows as A2A agents.", _of("a2a", "a2a_app")),
        subgroup("keys", "API keys for the server: roles and tenants.",
                 _of("serve", "keys_app")),
        subgroup("db", "The database's schema: upgrade it, show its versions.",
                 _of("db", "db_app")),
        subgroup("kb", "The knowledge base: add, list, search and remove documents; the "
                 "graph.", _of("kb", "kb_app")),
        subgroup("memory", "What agents remember: list, show, quarantine, delete, forget a "
                 "subject.", _of("memory", "memory_app")),
        subgroup("data", "Personal data: erase a subject (crypto-shredding), list "
                 "erasures.", _of("data", "data_app")),
        subgroup("triggers", "Schedules, webhooks and mailboxes that start runs: list, "
                 "enable, disable, fire.", _of("triggers", "triggers_app")),
        subgroup("compliance", "EU AI Act files: technical documentation and log "
                 "retention.", _of("compliance", "compliance_app")),
        subgroup("provenance", "C2PA manifests on the images and PDFs agents produce.",
                 _of("compliance", "provenance_app")),
    )


app = group("Agentplane: durable, governed multi-agent workflows.", name="agentplane",
            top=True, cls=Program)

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (default: "
                                              "$AGENTPLANE_DB or a SQLite file in "
                                              "$AGENTPLANE_HOME).", show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
AsOption = Annotated[str | None, typer.Option("--as", help="Who is acting (default: "
                                              "$AGENTPLANE_USER or your login).")]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why; journaled.")]

out = render.lazy_console()
err = render.lazy_console(stderr=True)


def _read(db: str | None, body: Callable[[JournalStore], Awaitable[T]]) -> T:
    """Run ``body`` against an existing journal, without the runtime (commands that only read
    start fast: no agent, model or tool code is imported). A missing journal is "not found"."""
    import asyncio

    from agentplane.journal import open_store

    async def main() -> T:
        store = open_store(settings.database_url(db), create=False)
        try:
            return await body(store)
        finally:
            await store.close()

    return asyncio.run(main())


def _execute(db: str | None, body: Callable[[JournalStore, Runtime], Awaitable[T]], *,
             create: bool = True, wait_for_db: float = 0.0) -> T:
    """Run ``body`` against the journal; ``create=False`` for commands that only read (or change
    what exists): a missing journal is then "not found", never created. ``wait_for_db``:
    seconds to keep trying while the database cannot be reached (down, restarting)."""
    import asyncio

    from agentplane.runtime import Runtime

    async def main() -> T:
        store = await _open_waiting(settings.database_url(db), create, wait_for_db)
        runtime = Runtime(store)
        try:
            return await body(store, runtime)
        finally:
            await runtime.aclose()
            await store.close()

    return asyncio.run(main())


async def _open_waiting(url: str, create: bool, wait_s: float) -> JournalStore:
    """The journal at ``url``; while its server cannot be reached (a PostgreSQL restarting,
    not up yet), tried again every second for up to ``wait_s`` seconds, said once."""
    import asyncio
    import time

    from agentplane.journal import open_store
    from agentplane.storage import DatabaseUnavailableError

    deadline = time.monotonic() + wait_s
    said = False
    while True:
        try:
            return open_store(url, create=create)
        except DatabaseUnavailableError as exc:
            if time.monotonic() >= deadline:
                raise
            if not said:
                err.print(f"{exc}; trying again for up to {wait_s:g} s", markup=False)
                said = True
            await asyncio.sleep(1.0)


def _exit(code: int) -> None:
    if code:
        raise typer.Exit(code)


def _report(run: RunRecord, store: JournalStore, as_json: bool) -> Awaitable[None]:
    async def show() -> None:
        events = await store.events(run.id)
        if as_json:
            print(render.dump_json(render.run_json(run, events)))
            return
        out.print(f"run [bold]{escape(run.id)}[/] ({escape(run.workflow)}) is "
                  f"{render.status_text(run.status)}")
        last = events[-1] if events else None
        if run.status == "completed" and last is not None:
            output = last.data.get("output")
            out.print(output if isinstance(output, str) else render.dump_json(output),
                      markup=False)
        elif run.status == "failed" and last is not None:
            out.print(str(last.data.get("error")), style="red", markup=False)
        elif run.status == "waiting":
            waits = await store.waits(run_id=run.id)
            out.print(render.waits_table(waits, out.width))
            out.print("approve with `agentplane approvals approve ID` "
                      "(or deny with `agentplane approvals deny ID --reason ...`)")
        elif run.status == "needs_reconciliation" and last is not None:
            out.print(str(last.data.get("reason")), style="magenta", markup=False)
    return show()


def _who_must_act(records: list[RunRecord]) -> None:
    """Name each run that now needs a person, and the command to act on it."""
    for r in records:
        if r.status == "waiting":
            out.print(f"run {escape(r.id)} waits for a person: `agentplane approvals list` "
                      "shows what to decide")
        elif r.status == "needs_reconciliation":
            out.print(f"run {escape(r.id)} needs reconciliation: `agentplane runs show "
                      f"{escape(r.id)}` names the call to settle with `agentplane runs "
                      "reconcile`")


def run(
    file: Annotated[Path, typer.Argument(help="Workflow YAML file.")],
    input: Annotated[str | None, typer.Option("--input", help=f"Run input {JSON_HELP}.")
                     ] = None,
    run_id: Annotated[str | None, typer.Option("--run-id", help="Id for the new run.")] = None,
    tenant: Annotated[str, typer.Option(
        "--tenant", help="The tenant the run belongs to: its knowledge base, memories, "
        "usage and who may see it.")] = "default",
    sensitivity: Annotated[str | None, typer.Option(
        "--sensitivity", help="What the run's data is: public, internal, personal or "
        "confidential. Personal and confidential data stays on local models or in the "
        "workflow's allowed regions.")] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
    defer: Annotated[str | None, typer.Option(
        "--defer", help="The run may wait this long (30m, 12h, 2d) for the best window of a "
        "price / carbon signal (docs/deferral.md); a worker starts it then.")] = None,
    prefer: Annotated[str | None, typer.Option(
        "--prefer", help="With --defer: cheapest or greenest (default: the workflow's, "
        "else cheapest).")] = None,
    signal_ref: Annotated[str | None, typer.Option(
        "--signal", help="With --defer: the forecast, a JSON file or http(s) URL (default: "
        "the workflow's defer.signal).")] = None,
) -> None:
    """Run a workflow until it finishes, waits for a person, or needs reconciliation.
    Exits 1 when the run ended failed or needs reconciliation."""
    from agentplane.runtime import load_workflow

    if not tenant.strip():
        raise ConfigError("--tenant: a tenant needs a name (got an empty one)")
    value = parse_json_option(input, "--input")
    workflow = load_workflow(file)

    async def body(store: JournalStore, runtime: Runtime) -> int:
        from agentplane.triggers.deferred import start_run

        record, plan = await start_run(runtime, workflow, value, run_id=run_id, tenant=tenant,
                                       lease=True, within=defer, prefer=prefer,
                                       signal=signal_ref, sensitivity=sensitivity)
        if plan is not None and record.status == "waiting":
            data = plan.event_data()
            saving = data["expected_saving"]
            if not as_json:
                out.print(f"run [bold]{escape(record.id)}[/] deferred until "
                          f"{data['start_at']} (deadline {data['deadline']}): "
                          f"{escape(plan.reason)}" + (f"; expected {saving:.0%} less"
                                                      if saving else ""))
                out.print("a worker starts it then (`agentplane worker`, or `serve`)")
                return OK
        else:
            record = await runtime.drive(record)
        await _report(record, store, as_json)
        return outcome([record.status])

    _exit(_execute(db, body))


def resume(db: DbOption = None, as_json: JsonOption = False) -> None:
    """Recover every unfinished run (after a crash, an approval or a reconciliation).
    Exits 1 when one of them ended failed or needs reconciliation."""

    async def body(store: JournalStore, runtime: Runtime) -> int:
        records = await runtime.resume_all()
        if as_json:
            print(render.dump_json([r.summary() for r in records]))
        elif records:
            out.print(render.runs_table(records, out.width))
            _who_must_act(records)
        else:
            out.print("nothing to resume")
        return outcome(r.status for r in records)

    _exit(_execute(db, body))


def worker(
    db: DbOption = None,
    concurrency: Annotated[int, typer.Option(min=1, help="Runs driven at once.")] = 16,
    poll: Annotated[float, typer.Option(min=0.001, help=(
        "Seconds between looks for work and due timers when nothing wakes the worker "
        "(PostgreSQL wakes it at once; SQLite is polled)."))] = 1.0,
    grace: Annotated[float, typer.Option(min=0, help=(
        "On SIGTERM / Ctrl-C: seconds the runs being driven may go on before their leases "
        "are handed back to other workers."))] = 10.0,
    lease: Annotated[float, typer.Option(min=0.5, help=(
        "Seconds a run's lease lasts without renewal (renewed every third of it while driven):"
        " how soon another machine takes over the runs of a worker that died."))] = 30.0,
    once: Annotated[bool, typer.Option(help="Drive what is runnable now to its end, then "
                                            "exit.")] = False,
    wait_for_db: Annotated[float, typer.Option(min=0, help=(
        "Seconds to keep trying at start-up while the database cannot be reached (a server "
        "restarting or not up yet) before giving up."))] = 60.0,
) -> None:
    """Run a worker: drive runnable runs (up to --concurrency at once) and fire due timers and
    approval deadlines, until SIGTERM or Ctrl-C; any number of workers may share one database.
    With --once, exits 1 when a run it drove ended failed or needs reconciliation."""
    import asyncio
    import signal


    def report(r: RunRecord) -> None:
        out.print(f"{escape(r.id)} ({escape(r.workflow)}) → {render.status_text(r.status)}")

    from agentplane.runtime import Worker
    from agentplane.storage import parse_url
    from agentplane.telemetry import configure_logging

    configure_logging(json=False, level="WARNING")  # a run that cannot advance is said

    async def body(store: JournalStore, runtime: Runtime) -> int:
        runtime.lease_seconds = lease
        loop = Worker(runtime, concurrency=concurrency, poll_s=poll, grace_s=grace,
                      report=report)
        if once:
            return outcome(r.status for r in await loop.once())
        events = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            events.add_signal_handler(sig, loop.stop)
        where = escape(parse_url(store.url).safe)
        out.print(f"worker {escape(runtime.owner)} on {where}: up to {concurrency} runs at "
                  "once; SIGTERM or Ctrl-C stops it")
        await loop.run()
        out.print(f"worker stopped ({loop.driven} drives)")
        return OK

    _exit(_execute(db, body, wait_for_db=wait_for_db))


@runs_app.command("list")
def runs_list(
    status: Annotated[list[str] | None, typer.Option(
        help="Only runs with this status (e.g. waiting, failed); repeat for several.")
                      ] = None,
    workflow: Annotated[str | None, typer.Option(help="Only runs of this workflow.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first."""
    from agentplane.journal import RUN_STATUSES

    for s in status or []:
        if s not in RUN_STATUSES:
            raise ConfigError(f"--status {s!r} is not a run status; use one of "
                              f"{', '.join(RUN_STATUSES)}")

    async def body(store: JournalStore) -> None:
        records = await store.list_runs(statuses=status, workflow=workflow, limit=limit)
        if as_json:
            print(render.dump_json([r.summary() for r in records]))
        elif records:
            out.print(render.runs_table(records, out.width))
        else:
            out.print("no runs" + (" match" if status or workflow else " yet"))

    _read(db, body)


@runs_app.command("show")
def runs_show(run_id: str, db: DbOption = None, as_json: JsonOption = False) -> None:
    """Show a run and its journal."""

    async def body(store: JournalStore) -> None:
        record = await store.require_run(run_id)
        events = await store.events(run_id)
        if as_json:
            print(render.dump_json(render.run_json(record, events)))
            return
        out.print(f"run [bold]{escape(record.id)}[/] ({escape(record.workflow)} @ "
                  f"{record.workflow_hash[:12]}) is {render.status_text(record.status)}")
        out.print(render.events_table(events, out.width))

    _read(db, body)


@runs_app.command("cancel")
def runs_cancel(run_id: str, reason: ReasonOption = "", as_: AsOption = None,
                db: DbOption = None, as_json: JsonOption = False) -> None:
    """Cancel a run: no new step starts; a call already under way is still recorded."""

    async def body(store: JournalStore, runtime: Runtime) -> None:
        record = await runtime.cancel(run_id, actor=settings.actor(as_), reason=reason)
        await _report(record, store, as_json)

    _execute(db, body, create=False)


@runs_app.command("rollback")
def runs_rollback(
    run_id: str,
    step: Annotated[str | None, typer.Option(help="Reverse only this call (its step key).")
                    ] = None,
    as_: AsOption = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Reverse the run's completed write calls, newest first, with their compensating tools."""

    async def body(store: JournalStore, runtime: Runtime) -> bool:
        report = await runtime.rollback(run_id, actor=settings.actor(as_), step_key=step)
        if as_json:
            print(render.dump_json(report))
        elif not report:
            out.print(f"run {escape(run_id)} has no completed write call left to reverse")
        for entry in [] if as_json else report:
            style = "green" if entry["outcome"] == "compensated" else "yellow"
            out.print(f"[{style}]{escape(entry['outcome'])}[/] {escape(entry['step_key'])} "
                      f"({escape(entry['tool'])}): {escape(entry['detail'])}")
        return all(e["outcome"] == "compensated" for e in report)

    if not _execute(db, body, create=False):
        raise typer.Exit(1)  # something is left for a person to undo


@runs_app.command("reconcile")
def runs_reconcile(
    run_id: str,
    step: Annotated[str, typer.Option(help="Step key named by the run.")],
    happened: Annotated[bool | None, typer.Option(
        "--happened/--not-happened",
        help="Whether the call took effect: --happened records it as done (with --result), "
             "--not-happened lets the run make the call again.")] = None,
    result: Annotated[str | None, typer.Option(help=f"The call's result {JSON_HELP}.")
                      ] = None,
    reason: ReasonOption = "",
    as_: AsOption = None,
    resume_run: Annotated[bool, typer.Option("--resume/--no-resume",
                                             help="Resume the run at once.")] = True,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Settle a call that was started but never confirmed, then resume the run.
    Exits 1 when the resumed run ended failed or needs reconciliation again."""
    if happened is None:
        raise ConfigError("say whether the call took effect: --happened or --not-happened")
    value = parse_json_option(result, "--result")

    async def body(store: JournalStore, runtime: Runtime) -> int:
        record = await runtime.reconcile(run_id, step_key=step, happened=happened,
                                         actor=settings.actor(as_), result=value, reason=reason)
        if resume_run:
            record = await runtime.execute(run_id)
        await _report(record, store, as_json)
        return outcome([record.status])

    _exit(_execute(db, body, create=False))


def _decide(wait_id: str, approve: bool, reason: str, as_: str | None, resume_run: bool,
            db: str | None, as_json: bool) -> None:
    async def body(store: JournalStore, runtime: Runtime) -> int:
        record = await runtime.decide(wait_id, approve=approve, actor=settings.actor(as_),
                                      reason=reason)
        if resume_run:
            record = await runtime.execute(record.id)
        await _report(record, store, as_json)
        if not approve and record.status == "failed":
            return OK  # a run that fails because it was denied did what was asked
        return outcome([record.status])

    _exit(_execute(db, body, create=False))


ResumeOption = Annotated[bool, typer.Option("--resume/--no-resume",
                                            help="Resume the run at once in this process.")]


@approvals_app.command("list")
def approvals_list(db: DbOption = None, as_json: JsonOption = False) -> None:
    """List pending approvals and escalations."""

    from agentplane.journal.events import APPROVAL_KINDS

    async def body(store: JournalStore) -> None:
        waits = [w for w in await store.waits(status="open") if w.kind in APPROVAL_KINDS]
        if as_json:
            print(render.dump_json([render.wait_json(w) for w in waits]))
        elif waits:
            out.print(render.waits_table(waits, out.width))
        else:
            out.print("no pending approvals")

    _read(db, body)


@approvals_app.command("approve")
def approvals_approve(wait_id: str, reason: ReasonOption = "", as_: AsOption = None,
                      resume_run: ResumeOption = True, db: DbOption = None,
                      as_json: JsonOption = False) -> None:
    """Approve: the run goes on. Exits 1 when it then ends failed or needs reconciliation."""
    _decide(wait_id, True, reason, as_, resume_run, db, as_json)


@approvals_app.command("deny")
def approvals_deny(wait_id: str, reason: ReasonOption = "", as_: AsOption = None,
                   resume_run: ResumeOption = True, db: DbOption = None,
                   as_json: JsonOption = False) -> None:
    """Deny: the run is told no (an escalation denied fails the run, as asked: exit 0).
    Exits 1 when the run then needs reconciliation."""
    _decide(wait_id, False, reason, as_, resume_run, db, as_json)


def audit_export(
    run_id: str,
    out_file: Annotated[Path | None, typer.Option(
        "--out", help="Write to this file, or to RUN_ID.json in this folder (default: "
                      "standard output).")] = None,
    db: DbOption = None,
) -> None:
    """Write a run's record (events, approvals, guardian decisions, chain check) as JSON."""

    target = None if out_file is None else output_file(out_file, f"{run_id}.json")

    from agentplane.journal import export_run

    async def body(store: JournalStore) -> None:
        text = render.dump_json(await export_run(store, run_id))
        if target is None:
            print(text)
        else:
            write_text(target, text + "\n")
            out.print(f"wrote the record of run {run_id} to {target}", markup=False)

    _read(db, body)


def audit_verify(
    run_id: Annotated[list[str] | None, typer.Option("--run", help="Only these runs.")] = None,
    against: Annotated[str | None, typer.Option(
        "--against", help="Also compare every run with the heads a checkpoint file (or URL) "
                          "recorded: finds runs truncated or rewritten since.",
        show_default=False)] = None,
    public_key: Annotated[Path | None, typer.Option(
        "--public-key", help="With --against: the key the checkpoints must be signed with.",
        show_default=False)] = None,
    db: DbOption = None,
    as_json: JsonOption = False,
) -> None:
    """Recompute every hash chain; exit 0 when all hold, else name the first bad event."""

    from agentplane.journal import verify

    async def body(store: JournalStore) -> bool:
        for named in run_id or []:
            await store.require_run(named)  # a typo is "not found", not a broken chain
        report = await verify(store, run_id)
        if against is not None:
            from .compliance import add_checkpoint_breaks

            await add_checkpoint_breaks(store, report, against, public_key, run_id)
        if as_json:
            print(render.dump_json({
                "ok": report.ok, "runs": report.runs, "events": report.events,
                "breaks": [{"run_id": b.run_id, "seq": b.seq, "reason": b.reason}
                           for b in report.breaks]}))
        elif report.ok:
            out.print(f"[green]chain holds[/]: {report.runs} runs, {report.events} events")
        else:
            for b in report.breaks:
                where = f"event {b.seq}" if b.seq is not None else "run record"
                out.print(f"[red]chain broken[/] in run {escape(b.run_id)} at {where}: "
                          f"{escape(b.reason)}")
        return report.ok

    if not _read(db, body):
        raise typer.Exit(1)


def demo(
    db: DbOption = None,
    serve_: Annotated[bool, typer.Option("--serve/--no-serve", help="Then serve the console "
                                         "and API with the demo workflows.")] = True,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port for the console.")
                    ] = settings.DEFAULT_PORT,
) -> None:
    """Run the demo workflows offline with the scripted model, summarise them, then serve the
    console on 127.0.0.1 with a fresh admin key."""
    import asyncio

    from .demo import run_demo, serve_demo
    from .serve import require_server

    if serve_:
        require_server("the demo's console (or pass --no-serve)")

    _execute(db, lambda store, runtime: run_demo(store, runtime, out))
    if serve_:
        try:
            asyncio.run(serve_demo(settings.database_url(db), port, out))
        except KeyboardInterrupt:
            out.print("demo server stopped")


def main() -> None:
    """Entry point: errors meant for people print as one paragraph, never a traceback."""
    run_main(app)
