"""``agentplane usage report|invoice|export-focus``: what runs consumed, and what it costs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from . import render, settings
from ._inputs import OutputError, output_file
from ._typer import group
from .render import escape

if TYPE_CHECKING:  # the metering package is loaded by the command that runs, not by --help
    from agentplane.metering.ledger import UsageLedger, Window
    from agentplane.triggers.savings import Saving

usage_app = group()  # its help is where the program adds it (app.py)
out = render.lazy_console()

DbOption = Annotated[str | None, typer.Option("--db", help="Database URL.", show_default=False)]
MonthOption = Annotated[str | None, typer.Option(
    "--month", help="A calendar month, e.g. 2026-11 (default: all time).")]
PricesOption = Annotated[Path | None, typer.Option(
    "--prices", help="Your price overrides (YAML), on top of the bundled catalog.")]


def synced_ledger(db: str | None, prices: Path | None) -> UsageLedger:
    """The usage ledger, brought up to date with the journal. It has a handle of its own, as
    it outlives the store it synced from."""
    import asyncio

    from agentplane.journal import open_store
    from agentplane.metering.ledger import UsageLedger
    from agentplane.metering.pricing import catalog_pricing

    async def sync() -> UsageLedger:
        url = settings.database_url(db)
        store = open_store(url, create=False)
        try:
            ledger = UsageLedger(url)
            pricer, _ = catalog_pricing(prices)
            await ledger.sync(store, pricer)
            return ledger
        finally:
            await store.close()

    return asyncio.run(sync())


def _window(month: str | None) -> Window:
    from agentplane.metering.ledger import ALL_TIME, Window

    return Window.parse_month(month) if month else ALL_TIME


def _figure(name: str, value: float | None) -> str:
    if value is None:
        return "-"
    if "usd" in name or "kwh" in name:
        return render.money(value)
    return f"{value:,.2f}" if name == "active_minutes" else f"{value:,.0f}"


def _header(name: str) -> str:
    return name.upper().replace("_", " ")


@usage_app.command("report")
def report(
    by: Annotated[list[str] | None, typer.Option(
        "--by", help="Group by a tag: tenant, department, workflow, agent, model, tool, or "
                     "any workflow tag. Repeat for several.")] = None,
    month: MonthOption = None,
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    prices: PricesOption = None,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Showback and chargeback: tokens, actions, tasks, active time, outcomes, cost and energy
    per group, with the cost per outcome."""
    from agentplane.metering.reports import REPORT_FIGURES, usage_report

    from ._tables import Column, fitted

    ledger = synced_ledger(db, prices)
    groups = by or ["tenant"]
    rows = usage_report(ledger, _window(month), by=groups,
                        where={"tenant": tenant} if tenant else None)
    ledger.close()
    if as_json:
        print(render.dump_json(rows))
        return
    figures = [*REPORT_FIGURES, "cost_per_outcome_usd"]
    columns = [Column(_header(g)) for g in groups]
    columns += [Column(_header(name), justify="right") for name in figures]
    cells = [["-" if row[g] is None else str(row[g]) for g in groups]
             + [_figure(name, row[name]) for name in figures] for row in rows]
    out.print(fitted(columns, cells, out.width) if rows else "no usage recorded yet")
    saved = _deferrals(db, prices, tenant)
    if saved:
        from agentplane.triggers.savings import totals

        total = totals(saved)
        out.print(f"deferral: {total['deferred_runs']} deferred runs saved "
                  f"{render.money(float(total['saved_usd']))} and "
                  f"{float(total['saved_gco2e']):,.3f} gCO2e against starting at once "
                  "(`agentplane usage deferrals` for each)")


def _deferrals(db: str | None, prices: Path | None, tenant: str | None,
               limit: int = 1000) -> list[Saving]:
    """The deferred runs and what each saved (docs/deferral.md)."""
    import asyncio

    from agentplane.journal import open_store
    from agentplane.metering.pricing import catalog_pricing
    from agentplane.triggers.savings import deferral_savings
    from agentplane.triggers.store import TriggerStore

    async def read() -> list[Saving]:
        store = open_store(settings.database_url(db), create=False)
        try:
            pricer, _ = catalog_pricing(prices)
            return await deferral_savings(store, TriggerStore(store.database), tenant=tenant,
                                          pricer=pricer, limit=limit)
        finally:
            await store.close()

    return asyncio.run(read())


@usage_app.command("deferrals")
def deferrals(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    prices: PricesOption = None,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Deferred runs, newest first: when each started, why, and what waiting for the best
    window saved in money and gCO2e against starting at once."""
    from ._tables import Column, fitted

    saved = _deferrals(db, prices, tenant, limit)
    if as_json:
        print(render.dump_json([s.to_json() for s in saved]))
        return
    columns = [Column("RUN"), Column("WORKFLOW", drop=2), Column("STATUS"), Column("PREFER"),
               Column("START"), Column("WHY", wrap=True, drop=1),
               Column("SAVED USD", justify="right"), Column("SAVED GCO2E", justify="right")]
    cells = [[s.run_id, s.workflow, s.status, s.prefer, s.start_at, s.reason,
              "-" if s.saved_usd is None else render.money(s.saved_usd),
              "-" if s.saved_gco2e is None else f"{s.saved_gco2e:,.3f}"] for s in saved]
    out.print(fitted(columns, cells, out.width) if saved else "no deferred runs")


@usage_app.command("invoice")
def invoice_command(
    tenant: Annotated[str, typer.Option(help="The tenant to bill.")],
    month: Annotated[str, typer.Option(help="The month, e.g. 2026-11.")],
    plans: Annotated[Path, typer.Option(help="The price plans file (YAML).")],
    plan: Annotated[str | None, typer.Option(help="Bill under this plan instead.")] = None,
    prices: PricesOption = None,
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """A tenant's invoice for a month under its price plan."""
    from rich.table import Table
    from rich.text import Text

    from agentplane.metering.plans import invoice, load_plans

    plan_file = load_plans(plans)
    ledger = synced_ledger(db, prices)
    bill = invoice(ledger, plan_file, tenant=tenant, month=month, plan=plan)
    ledger.close()
    if as_json:
        print(render.dump_json(bill.to_json()))
        return
    table = Table(title=escape(f"{tenant} — {month} — plan {bill.plan}"), box=None,
                  header_style="bold")
    for name in ("LINE", "QUANTITY", "INCLUDED", "BILLABLE", f"AMOUNT ({bill.currency})"):
        table.add_column(name, justify="left" if name == "LINE" else "right")
    for line in bill.lines:
        table.add_row(Text(line.description), f"{line.quantity:,.2f}", f"{line.included:,.2f}",
                      f"{line.billable:,.2f}", f"{line.amount:,.2f}")
    table.add_row("[bold]total[/]", "", "", "", f"[bold]{bill.total:,.2f}[/]")
    out.print(table)


@usage_app.command("export-focus")
def export_focus_command(
    out_file: Annotated[Path, typer.Option("--out", help="CSV file to write.")],
    month: MonthOption = None,
    prices: PricesOption = None,
    db: DbOption = None,
) -> None:
    """Write usage and cost in the FinOps FOCUS columns (CSV), for FinOps tools."""
    from agentplane.metering.reports import write_focus

    target = output_file(out_file, "focus.csv")
    ledger = synced_ledger(db, prices)
    try:
        rows = write_focus(ledger, _window(month), target)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from exc
    finally:
        ledger.close()
    out.print(f"wrote {rows} FOCUS rows to {target}", markup=False)
